//! # hale-postgres
//!
//! Hale's production store: every store port of `hale-engine` on Postgres
//! 15+ through sqlx, on one type, [`PgStore`].
//!
//! * **Schema.** Versioned migrations in `migrations/` (embedded), applied by
//!   [`migrate`] as the `hale_migrator` role, which owns the schema. Seed
//!   003's tables, each with a `tenant` column leading its key and indexes.
//! * **Isolation.** Row-level security, forced, on every tenant table:
//!   a row is visible only when `tenant = current_setting('hale.tenant')`.
//!   The store sets it per transaction; with nothing set, nothing is
//!   visible. The application role `hale_app` has no BYPASSRLS and owns
//!   nothing. [`role_setup_sql`] creates both roles.
//! * **Atomicity.** Every port call is one transaction; pairs that belong
//!   together (operation + audit, approval + timeline) share it. Revisions
//!   are compared and set in the `UPDATE`'s `WHERE`. Convergence is one
//!   `INSERT ... ON CONFLICT DO UPDATE`.
//! * **Faults.** Bounded acquire, connect, statement and whole-call timeouts
//!   turn a dead database into [`StoreError::Unavailable`]; constraint
//!   violations become `Conflict`/`Invalid`, never panics.
//!
//! Operators: see `docs/stores.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), hale_engine::ports::StoreError> {
//! use std::sync::Arc;
//! use hale_engine::ports::Stores;
//! use hale_postgres::{PgStore, PgStoreConfig};
//!
//! let config = PgStoreConfig::new("postgres://hale_app:secret@db/hale")
//!     .with_migrations("postgres://hale_migrator:secret@db/hale");
//! let stores = Stores::from_adapter(Arc::new(PgStore::connect(&config).await?));
//! # let _ = stores; Ok(()) }
//! ```
//!
//! [`StoreError::Unavailable`]: hale_engine::ports::StoreError::Unavailable

mod approvals;
mod audit;
mod codec;
mod config;
mod error;
mod fingerprints;
mod incidents;
mod intake;
mod knowledge;
mod migrate;
mod operations;
mod outbox;
mod roles;
mod state;
mod store;
mod timeline;

pub use config::{PgStoreConfig, redact};
pub use migrate::{latest_version, migrate};
pub use roles::{APP_ROLE, MIGRATOR_ROLE, RoleSetup, role_setup_sql, setup_roles};
pub use store::PgStore;
