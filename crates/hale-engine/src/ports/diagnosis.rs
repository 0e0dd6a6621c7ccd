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
