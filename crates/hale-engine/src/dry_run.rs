//! A dry-run executor that records what would be done (the embedded default).
