//! # hale-sqlite
//!
//! Hale's embedded default store: every store port of `hale-engine` on one
//! SQLite file (bundled SQLite through sqlx), on one type, [`SqliteStore`].
//! A newcomer runs the server with no services at all.
//!
//! * **Schema.** Versioned migrations in `migrations/` (embedded), applied
//!   by [`SqliteStore::open`]. Each row stores the domain record as its
//!   serde JSON document; seed 003's fields are generated columns over it,
//!   with the CHECKs and the tenant-leading indexes. Timestamps are RFC 3339
//!   UTC text with microseconds.
//! * **Isolation.** One file serves every tenant; every query names its
//!   tenant (there is no row-level security in SQLite).
//! * **Atomicity and durability.** Writes run in `BEGIN IMMEDIATE`
//!   transactions (pairs that belong together share one); WAL with
//!   `synchronous = FULL`, so `Ok` means on disk. Convergence applies the
//!   pure domain rule under the write lock.
//! * **Faults.** A writer waits at most the busy timeout, then the call
//!   answers [`StoreError::Unavailable`]; constraint violations become
//!   `Conflict`/`Invalid`, never panics.
//!
//! ```no_run
//! # async fn run() -> Result<(), hale_engine::ports::StoreError> {
//! use std::sync::Arc;
//! use hale_engine::ports::Stores;
//! use hale_sqlite::SqliteStore;
//!
//! let stores = Stores::from_adapter(Arc::new(SqliteStore::open("hale.db").await?));
//! # let _ = stores; Ok(()) }
//! ```
//!
//! [`StoreError::Unavailable`]: hale_engine::ports::StoreError::Unavailable

mod approvals;
mod config;
mod error;
mod fingerprints;
mod incidents;
mod intake;
mod journal;
mod knowledge;
mod operations;
mod outbox;
mod state;
mod store;

pub use config::SqliteStoreConfig;
pub use store::{SqliteStore, latest_version, migrate};
