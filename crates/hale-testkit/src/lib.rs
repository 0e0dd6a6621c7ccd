//! # hale-testkit
//!
//! In-memory adapters for every Hale port, a manual clock, and conformance
//! suites that every store and lock adapter must pass.
//!
//! ## Stores
//!
//! [`MemoryStore`] implements every store port
//! ([`hale_engine::ports::StoreAdapter`]) in memory with the full contract:
//! tenancy, revision compare-and-set, atomic pairs, newest-first paging and
//! atomic convergence. It passes the same conformance suite as the durable
//! adapters, so embedders may use it where durability does not matter.
//! [`MemoryStore::set_unavailable`] makes every call fail with
//! `StoreError::Unavailable`, for fault tests.
//!
//! ```
//! use hale_domain::alert::AlertStatus;
//! use hale_domain::convergence::{ClaimKind, ConvergenceVerdict};
//! use hale_domain::Timestamp;
//! use hale_engine::ports::{FingerprintStore, StoreError};
//! use hale_testkit::{fixtures, MemoryStore};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let tenant = fixtures::tenant("team-a");
//! let now = Timestamp::from_unix_secs(1_800_000_000);
//! let alert = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, now);
//!
//! // The first delivery starts an episode; the engine claims it.
//! let rec = store.converge(&tenant, &alert).await?;
//! assert_eq!(rec.verdict(), ConvergenceVerdict::NewEpisode);
//! let claim = fixtures::claim(ClaimKind::Operation, "op-1", now);
//! assert!(store.claim_episode(&tenant, &rec.fingerprint, rec.episode, &claim).await?);
//!
//! // Alertmanager delivers again: a claimed duplicate never heals twice.
//! let dup = store.converge(&tenant, &alert).await?;
//! assert_eq!(dup.hit_count, 2);
//! assert!(!dup.verdict().may_start_healing());
//!
//! // Fault injection.
//! store.set_unavailable(true);
//! assert!(matches!(store.converge(&tenant, &alert).await, Err(StoreError::Unavailable(_))));
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```
//!
//! ## Conformance
//!
//! An adapter runs the whole store suite with one line in its `tests/`;
//! each check becomes a test of its own (details in
//! [`conformance::stores`]):
//!
//! ```
//! // tests/memory_conformance.rs
//! use std::sync::Arc;
//! use hale_testkit::MemoryStore;
//!
//! hale_testkit::store_conformance_tests!(async { Arc::new(MemoryStore::new()) });
//! # fn main() {}
//! ```
//!
//! The factory's future may also yield `Option<Arc<S>>`: `None` skips, which
//! is how service-backed adapters skip when
//! [`services::database_url`] finds no database.
//!
//! ## Clocks and fixtures
//!
//! [`ManualClock`] moves only when told; [`TokioClock`] follows tokio's
//! (possibly paused) clock from a fixed wall time. [`fixtures`] builds
//! realistic records by tenant, id and time.

#![warn(missing_docs)]

pub mod clock;
pub mod conformance;
pub mod fakes;
pub mod fixtures;
pub mod kit;
pub mod memory;
pub mod services;

pub use clock::{ManualClock, TokioClock};
pub use kit::Kit;
pub use memory::MemoryStore;
