//! A production-quality single-process `ResourceLocks` (the embedded default).
