//! # hale-engine
//!
//! Hale's healing engine: the pipeline that carries out the rules of
//! [`hale_domain`] over ports. Embed it in a tokio service, or run it behind
//! `hale-server`.
//!
//! ```text
//! alerts ─▶ idempotency key ─▶ convergence (fingerprint upsert; duplicates stop)
//!        ─▶ incident (durable) ─▶ strategy match ─▶ guards
//!           (kill switches, dormancy, breaker, backoff, cooldown,
//!            max attempts, anti-pattern)
//!        ─▶ coordination (lock, pending approval; fail closed)
//!        ─▶ automatic run (LOW risk)     │ approval request (decision path)
//!             lock ▸ claim ▸ operation   │   lock (decision priority) ▸ dry run
//!        ─▶ diagnose ▸ heal (timeouts, on_error, checkpoints) ▸ verify
//!        ─▶ rollback ▸ escalate ▸ backoff / dormancy ▸ audit + timeline
//! ```
//!
//! Every port is a trait object ([`ports`]); `hale-testkit` has in-memory
//! implementations of all of them, which the example below uses.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use hale_domain::alert::Alert;
//! use hale_domain::TenantId;
//! use hale_engine::{Engine, TenantPolicy};
//! use hale_testkit::Kit;
//!
//! let kit = Kit::new();
//! let tenant = TenantId::new("team-a")?;
//! let strategy = serde_json::from_value(serde_json::json!({
//!     "id": "restart-on-errors", "risk": "low",
//!     "trigger": {"alertnames": ["HighErrorRate"]},
//!     "target": {"kind": "deployment"},
//!     "actions": [{"kind": "rollout_restart"}]
//! }))?;
//! let engine = Engine::builder(kit.ports())
//!     .tenant(TenantPolicy::new(tenant.clone(), vec![strategy]))
//!     .build()
//!     .await?;
//! let alert = Alert::firing([("alertname", "HighErrorRate"), ("namespace", "prod"), ("service", "checkout")]);
//! let report = engine.ingest(&tenant, vec![alert]).await?;
//! assert_eq!(report.decisions[0].outcome.label(), "operation_started");
//! engine.wait_idle().await;
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```

#![warn(missing_docs)]

mod aftermath;
mod approvals;
mod approved;
mod budgets;
pub mod config;
pub mod control;
pub mod decision;
mod deferred;
pub mod delivery;
mod draft;
pub mod dry_run;
pub mod effectiveness;
mod engine;
pub mod error;
mod escalation;
mod evaluate;
mod guards;
pub mod heartbeat;
pub mod ids;
pub mod intake;
mod jobs;
pub mod knowledge;
mod ledger_pruning;
pub mod local_locks;
pub mod metrics;
mod not_acted;
pub mod ports;
mod propose;
mod record;
mod recovery;
mod redrive;
mod runner;
mod safety_trail;
mod safety_view;
mod start;
pub mod status;
pub mod tasks;
mod tenant;
mod unchecked;
pub mod windows;

pub use approvals::ApprovalResult;
pub use config::{EngineConfig, SilencePolicy, TenantPolicy};
pub use control::{BreakerView, SwitchesView, TenantSwitchTarget};
pub use decision::{AlertDecision, IngestReport, Outcome};
pub use delivery::{DeliveryPass, DeliverySetup, OutboxDelivery};
pub use engine::{Engine, EngineBuilder, Ports};
pub use error::{EngineError, ErrorKind};
pub use jobs::task_id;
pub use knowledge::NewRunbook;
pub use ports::SystemClock;
pub use status::StatusSnapshot;
