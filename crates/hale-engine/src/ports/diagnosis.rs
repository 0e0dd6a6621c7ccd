//! Diagnosis: the root cause and confidence a run records before it heals
//! (seed 004's DIAGNOSING state).
//!
//! Seed 004's rule table ([`hale_domain::diagnosis::DiagnosisRules`], per
//! tenant) is the default advisor, [`RuleTableAdvisor`]. An embedder may
//! plug in another (a model, a runbook service, a knowledge base) through
//! [`crate::Ports::diagnosis`]; the rule table stays the fallback.
//!
//! Contract:
//! * `diagnose` is read-only: it MUST NOT act on the target or change any
//!   record; the diagnosis is advice the run records, never a decision
//!   (what runs is the strategy's plan, what may run is the guard's);
//! * it answers within its own bound, a few seconds at most; the engine
//!   also cuts it off after [`ADVISOR_TIMEOUT`];
//! * it returns `Err(AdvisorError)` when it has no advice (unreachable,
//!   timed out, nothing applies); it never fails the run: the engine
//!   records the tenant's rule-table diagnosis instead and logs why;
//! * a confidence outside `0.0..=1.0` (or not a number) is clamped (NaN
//!   counts as 0) by the engine before it is recorded.
//!
//! An embedder's advisor (docs/diagnosis.md walks through it) that knows
//! one alert and leaves the rest to the rule table:
//!
//! ```
//! use async_trait::async_trait;
//! use hale_domain::alert::Alert;
//! use hale_domain::diagnosis::{Diagnosis, DiagnosisRules};
//! use hale_domain::{ResourceRef, TenantId};
//! use hale_engine::ports::{AdvisorError, DiagnosisAdvisor, DiagnosisRequest};
//!
//! /// Asks the team's runbook service; knows nothing about other alerts.
//! struct RunbookAdvisor;
//!
//! #[async_trait]
//! impl DiagnosisAdvisor for RunbookAdvisor {
//!     async fn diagnose(&self, req: DiagnosisRequest<'_>) -> Result<Diagnosis, AdvisorError> {
//!         if req.alert.alertname() != Some("CheckoutSlow") {
//!             // No advice: Hale records the tenant's rule-table diagnosis.
//!             return Err(AdvisorError("not a checkout alert".into()));
//!         }
//!         Ok(Diagnosis {
//!             component: req.resource.name.clone(),
//!             metric: "latency_p99".into(),
//!             root_cause: "payment provider slow (runbook CHK-7)".into(),
//!             confidence: 0.8,
//!             suggested_fix: "fail over to the secondary provider".into(),
//!         })
//!     }
//! }
//!
//! // Plugged in with `ports.diagnosis = Arc::new(RunbookAdvisor);` before
//! // `Engine::builder(ports)`. Asked directly here:
//! let tenant = TenantId::new("shop").unwrap();
//! let resource = ResourceRef::parse("prod:deployment/checkout").unwrap();
//! let rules = DiagnosisRules::default();
//! let ask = |alert: &Alert| {
//!     futures::executor::block_on(RunbookAdvisor.diagnose(DiagnosisRequest {
//!         tenant: &tenant,
//!         alert,
//!         resource: &resource,
//!         rules: &rules,
//!     }))
//! };
//! let slow = Alert::firing([("alertname", "CheckoutSlow")]);
//! assert_eq!(ask(&slow).unwrap().root_cause, "payment provider slow (runbook CHK-7)");
//! let memory = Alert::firing([("alertname", "ContainerMemoryHigh"), ("metric", "memory"), ("value", "93.5")]);
//! assert!(ask(&memory).is_err());
//! // ... so the run records the rule table's diagnosis:
//! assert_eq!(rules.diagnose(&memory, "checkout").root_cause, "memory_exhaustion");
//! ```

use std::time::Duration;

use async_trait::async_trait;
use hale_domain::alert::Alert;
use hale_domain::diagnosis::{Diagnosis, DiagnosisRules};
use hale_domain::{ResourceRef, TenantId};

/// How long the engine waits for an advisor before it falls back to the
/// rule table.
pub const ADVISOR_TIMEOUT: Duration = Duration::from_secs(10);

/// What to diagnose.
#[derive(Debug, Clone, Copy)]
pub struct DiagnosisRequest<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The alert the run heals.
    pub alert: &'a Alert,
    /// The target.
    pub resource: &'a ResourceRef,
    /// The tenant's rule table (the default advisor's rules; another
    /// advisor may use it as a prior or ignore it).
    pub rules: &'a DiagnosisRules,
}

/// The advisor has no advice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no diagnosis: {0}")]
pub struct AdvisorError(pub String);

/// Diagnoses an alert on a target (see the module docs).
#[async_trait]
pub trait DiagnosisAdvisor: Send + Sync {
    /// The root cause, confidence and suggested fix.
    async fn diagnose(&self, req: DiagnosisRequest<'_>) -> Result<Diagnosis, AdvisorError>;
}

/// The default advisor: the tenant's rule table (seed 004's table unless
/// the tenant configures its own). Never fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleTableAdvisor;

#[async_trait]
impl DiagnosisAdvisor for RuleTableAdvisor {
    async fn diagnose(&self, req: DiagnosisRequest<'_>) -> Result<Diagnosis, AdvisorError> {
        Ok(req.rules.diagnose(req.alert, &req.resource.name))
    }
}
