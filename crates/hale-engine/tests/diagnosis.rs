//! The diagnosis advisor port (issue 16): an embedder's own advisor is
//! asked before a run heals and its diagnosis is recorded on the
//! operation; an advisor with no advice, or none in time, falls back to the
//! tenant's rule table (seed 004's), and never fails the run.

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use hale_domain::OperationId;
use hale_domain::diagnosis::Diagnosis;
use hale_domain::healing::{HealingOperation, HealingState};
use hale_engine::ports::{AdvisorError, DiagnosisAdvisor, DiagnosisRequest, OperationStore};
use hale_engine::{Engine, TenantPolicy};
use hale_testkit::Kit;
use support::*;

/// What the test advisor does.
enum Advice {
    /// Its own diagnosis (with this confidence).
    Own(f64),
    /// No advice.
    Fails,
    /// Never answers.
    Hangs,
}

struct TestAdvisor(Advice);

#[async_trait]
impl DiagnosisAdvisor for TestAdvisor {
    async fn diagnose(&self, req: DiagnosisRequest<'_>) -> Result<Diagnosis, AdvisorError> {
        match self.0 {
            Advice::Own(confidence) => Ok(Diagnosis {
                component: req.resource.name.clone(),
                metric: req.alert.alertname().unwrap_or_default().to_owned(),
                root_cause: format!("the advisor's view of {}", req.resource),
                confidence,
                suggested_fix: "roll back the last config push".into(),
            }),
            Advice::Fails => Err(AdvisorError("model endpoint unreachable".into())),
            Advice::Hangs => std::future::pending().await,
        }
    }
}

/// The operation a `HighErrorRate` run left, with `advice` as the advisor
/// (`None`: the default one).
async fn healed_with(advice: Option<Advice>) -> HealingOperation {
    let kit = Kit::new();
    let t = tenant("t");
    let mut ports = kit.ports();
    if let Some(advice) = advice {
        ports.diagnosis = Arc::new(TestAdvisor(advice));
    }
    let e = Engine::builder(ports)
        .tenant(TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]))
        .build()
        .await
        .unwrap();
    let id = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    e.wait_idle().await;
    kit.store
        .get_operation(&t, &OperationId::new(id))
        .await
        .unwrap()
        .unwrap()
}

/// Seed 004's table for an alert named `HighErrorRate` with no value.
fn rule_table_cause() -> String {
    let kit_rules = hale_domain::diagnosis::DiagnosisRules::default();
    kit_rules
        .diagnose(&alert("HighErrorRate", "checkout"), "checkout")
        .root_cause
}

#[tokio::test(start_paused = true)]
async fn an_embedders_advisor_diagnoses_the_run_and_its_confidence_is_clamped() {
    let op = healed_with(Some(Advice::Own(1.7))).await;
    assert_eq!(op.state, HealingState::Completed);
    let d = op.diagnosis.unwrap();
    assert_eq!(
        d.root_cause,
        "the advisor's view of prod:deployment/checkout"
    );
    assert_eq!(d.suggested_fix, "roll back the last config push");
    assert!(
        (d.confidence - 1.0).abs() < f64::EPSILON,
        "{}",
        d.confidence
    );
    let op = healed_with(Some(Advice::Own(f64::NAN))).await;
    assert_eq!(op.diagnosis.unwrap().confidence, 0.0);
}

#[tokio::test(start_paused = true)]
async fn an_advisor_without_advice_or_too_slow_falls_back_to_the_rule_table() {
    for advice in [Advice::Fails, Advice::Hangs] {
        let op = healed_with(Some(advice)).await;
        assert_eq!(
            op.state,
            HealingState::Completed,
            "advice never fails a run"
        );
        let d = op.diagnosis.unwrap();
        assert_eq!(d.root_cause, rule_table_cause());
        assert_eq!(d.component, "checkout");
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_advisor_is_the_tenants_rule_table() {
    let op = healed_with(None).await;
    assert_eq!(op.diagnosis.unwrap().root_cause, rule_table_cause());
}
