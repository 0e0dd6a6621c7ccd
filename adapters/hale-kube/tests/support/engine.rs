//! The engine (the testkit's in-memory stores and locks) with the
//! Kubernetes executor connected to the fake API server as its only
//! executor: for tests of what the engine decides about real requests.

use std::sync::Arc;

use hale_domain::TenantId;
use hale_domain::alert::Alert;
use hale_domain::record::audit::AuditEntry;
use hale_domain::strategy::Strategy;
use hale_engine::ports::{AuditFilter, AuditLog, PageRequest};
use hale_engine::{Engine, Outcome, TenantPolicy};
use hale_testkit::Kit;
use serde_json::{Value, json};

use super::prod;
use super::world::World;

/// A LOW-risk automatic strategy for `HighLatency` on a deployment,
/// running `action` with no verification.
pub(crate) fn strategy(action: Value, allow_gitops_managed: bool) -> Strategy {
    serde_json::from_value(json!({
        "id": "fix-checkout",
        "risk": "low",
        "trigger": {"alertnames": ["HighLatency"]},
        "target": {"kind": "deployment"},
        "actions": [action],
        "verify": {"check": "none"},
        "cooldown": "1s",
        "allow_gitops_managed": allow_gitops_managed,
    }))
    .unwrap()
}

/// `HighLatency` firing for `prod/checkout`.
pub(crate) fn alert() -> Alert {
    Alert::firing([
        ("alertname", "HighLatency"),
        ("namespace", "prod"),
        ("service", "checkout"),
        ("severity", "critical"),
    ])
}

/// An engine whose only executor is the world's Kubernetes executor.
pub(crate) async fn engine(w: &World, strategy: Strategy) -> (Engine, Kit, TenantId) {
    let kit = Kit::new();
    let t = TenantId::new("acme").unwrap();
    let mut ports = kit.ports();
    ports.executors = vec![Arc::new(w.exec.clone())];
    let mut policy = TenantPolicy::new(t.clone(), vec![strategy]);
    policy.namespaces = prod();
    let e = Engine::builder(ports).tenant(policy).build().await.unwrap();
    (e, kit, t)
}

/// Ingests `alert` and waits for the run it starts, if any.
pub(crate) async fn ingest(e: &Engine, t: &TenantId, alert: Alert) -> Outcome {
    let mut r = e.ingest(t, vec![alert]).await.unwrap();
    e.wait_idle().await;
    r.decisions.pop().unwrap().outcome
}

/// A fresh engine over `w` with `strategy`, fed one [`alert`].
pub(crate) async fn heal(w: &World, strategy: Strategy) -> (Outcome, Kit, TenantId) {
    let (e, kit, t) = engine(w, strategy).await;
    let outcome = ingest(&e, &t, alert()).await;
    (outcome, kit, t)
}

/// The audit entries of one kind.
pub(crate) async fn audit(kit: &Kit, t: &TenantId, kind: &str) -> Vec<AuditEntry> {
    kit.store
        .list_audit(
            t,
            &AuditFilter {
                operation_type: Some(kind.into()),
                page: PageRequest::new(100, 0),
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap()
        .items
}
