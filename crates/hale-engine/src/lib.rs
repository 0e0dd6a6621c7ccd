//! # hale-engine
//!
//! The healing pipeline over ports. (Crate docs are completed with the
//! pipeline.)

#![warn(missing_docs)]

pub mod dry_run;
pub mod local_locks;
pub mod ports;

pub use ports::SystemClock;
