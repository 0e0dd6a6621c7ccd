//! # hale-domain
//!
//! The pure policy core of Hale, a self-healing governance engine. Every rule
//! here is a deterministic function of state, event and time: nothing reads a
//! clock, sleeps, or does IO. The engine (`hale-engine`) carries out the
//! decisions this crate returns; the server, the CLI's offline replay and
//! embedders all share these rules.
//!
//! | rule | module | seed |
//! | --- | --- | --- |
//! | exponential backoff with jitter | [`backoff`] | 002 |
//! | circuit breaker with PERMANENT_OPEN | [`breaker`] | 002 |
//! | dormant mode | [`dormancy`] | 002 |
//! | may Hale heal here: the guard chain per path | [`guard`] | 002, 000, 004 |
//! | a tenant's safety state and a run's aftermath | [`safety`] | 002, 004 |
//! | layered kill switches, `FEATURE_*` flags | [`kill_switch`] | 002 |
//! | strategies and triggers | [`strategy`] | 004 |
//! | healing state machine | [`healing`] | 004 |
//! | rule-based diagnosis | [`diagnosis`] | 004 |
//! | decision path vs failure watcher | [`coordination`] | 000 |
//! | alert storm convergence | [`convergence`] | 003 |
//! | approvals and signatures | [`approval`] | 003 |
//! | anti-pattern memory | [`anti_pattern`] | 003 |
//! | cooldown and max attempts | [`budget`] | 004 |
//! | did a completed fix fix: effectiveness, ineffective chains | [`effectiveness`] | issue 16 |
//! | tenancy | [`tenant`] | 001 |
//! | where a tenant may act | [`namespaces`] | 001 |
//! | failure classes, never from the alert's own words | [`failure`] | 002 |
//! | what humans hear about, and through which channel | [`notification`] | 002, issue 17 |
//!
//! ## Example
//!
//! A breaker with the seed defaults opens after three failures, rejects
//! calls for 60 s, then admits exactly one probe:
//!
//! ```
//! use std::time::Duration;
//! use hale_domain::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
//! use hale_domain::failure::FailureClass;
//! use hale_domain::time::Timestamp;
//!
//! let breaker = CircuitBreaker::new(BreakerConfig::default()).unwrap();
//! let t0 = Timestamp::from_unix_secs(1_800_000_000);
//! for _ in 0..3 {
//!     let permit = breaker.admit(|| t0).unwrap();
//!     breaker.record_failure(&permit, FailureClass::Transient, t0);
//! }
//! assert_eq!(breaker.state(), BreakerState::Open);
//! assert!(breaker.admit(|| t0 + Duration::from_secs(59)).is_err());
//! let probe = breaker.admit(|| t0 + Duration::from_secs(60)).unwrap();
//! breaker.record_success(&probe, || t0 + Duration::from_secs(61));
//! assert_eq!(breaker.state(), BreakerState::Closed);
//! ```
//!
//! A duplicate delivery of a claimed alert episode never starts healing:
//!
//! ```
//! use hale_domain::alert::Alert;
//! use hale_domain::convergence::*;
//! use hale_domain::time::Timestamp;
//!
//! let rule = IdentityRule::default();
//! let alert = Alert::firing([("alertname", "HighErrorRate"), ("namespace", "prod"), ("service", "checkout")]);
//! let now = Timestamp::from_unix_secs(1_800_000_000);
//! let mut rec = converge(None, &Delivery::of(&rule, &alert, now));
//! assert!(rec.verdict().may_start_healing());
//! let episode = rec.episode;
//! assert!(rec.try_claim(episode, EpisodeClaim { kind: ClaimKind::Operation, id: "op-1".into(), at: now }));
//! let dup = converge(Some(&rec), &Delivery::of(&rule, &alert, now));
//! assert!(!dup.verdict().may_start_healing());
//! ```

#![warn(missing_docs)]

pub mod alert;
pub mod alertmanager;
pub mod anti_pattern;
pub mod approval;
pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod convergence;
pub mod coordination;
pub mod diagnosis;
pub mod dormancy;
pub mod effectiveness;
pub mod escalation;
pub mod failure;
pub mod gitops;
pub mod guard;
pub mod healing;
pub mod ids;
pub mod kill_switch;
pub mod maintenance;
pub mod namespaces;
pub mod notification;
pub mod reason;
pub mod record;
pub mod remediation;
pub mod resource;
pub mod risk;
pub mod rng;
pub mod safety;
pub mod silence;
pub mod strategy;
pub mod tenant;
pub mod time;
mod wire;

pub use ids::{Actor, ApprovalId, IncidentId, KnowledgeId, OperationId, StrategyId};
pub use resource::ResourceRef;
pub use risk::{AuthorizationChannel, Origin, RiskLevel, Severity, SourceSystem};
pub use tenant::{Scope, TenantId};
pub use time::Timestamp;
