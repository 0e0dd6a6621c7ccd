//! # hale-testkit
//!
//! In-memory adapters for every Hale port, a manual clock, and conformance
//! suites that every store and lock adapter must pass.

#![warn(missing_docs)]

pub mod clock;
pub mod conformance;
pub mod fixtures;
pub mod memory;
pub mod services;

pub use clock::{ManualClock, TokioClock};
pub use memory::MemoryStore;
