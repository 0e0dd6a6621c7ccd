//! Conformance suites: each port contract written once and run unchanged
//! against every adapter.

pub mod locks;
pub mod stores;
