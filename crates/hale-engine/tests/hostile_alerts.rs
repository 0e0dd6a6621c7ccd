//! Alerts written to switch Hale's fail-safes on: nothing an alert carries
//! may latch a breaker, back a tenant off or put it to sleep (issue 15).

mod support;

use std::time::Duration;

use hale_domain::alert::Alert;
use hale_domain::breaker::BreakerState;
use hale_domain::failure::FailureClass;
use hale_domain::guard::Guard;
use hale_engine::ports::NamespacePolicy;
use hale_engine::{Outcome, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

fn policy(t: &hale_domain::TenantId) -> TenantPolicy {
    let mut p = TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
    p.namespaces = NamespacePolicy::Only(vec!["prod".to_owned()]);
    p.dormancy_threshold = 2;
    p
}

fn alert_in(namespace: &str, service: &str, extra: &[(&str, &str)]) -> Alert {
    let mut labels = vec![
        ("alertname", "HighErrorRate"),
        ("namespace", namespace),
        ("service", service),
        ("severity", "critical"),
    ];
    labels.extend_from_slice(extra);
    Alert::firing(labels)
}

/// The case seen from outside: a tenant limited to `prod` got one alert
/// for namespace `unauthorized`; the executor's refusal quoted it, the
/// fatal pattern matched, the breaker latched and the tenant went dormant.
#[tokio::test(start_paused = true)]
async fn an_alert_for_namespace_unauthorized_is_out_of_scope_and_switches_nothing_on() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(&kit, vec![policy(&t)]).await;
    let out = ingest_one(&e, &t, alert_in("unauthorized", "checkout", &[])).await;
    match &out {
        Outcome::Blocked { guard, detail, .. } => {
            assert_eq!(*guard, Guard::OutOfScope);
            assert!(detail.contains("\"unauthorized\""), "{detail}");
        }
        other => panic!("expected out_of_scope, got {other:?}"),
    }
    e.wait_idle().await;
    assert!(
        kit.executor.calls().is_empty(),
        "nothing ran, not even a dry run"
    );
    let s = e.status(&t).await.unwrap();
    assert!(!s.self_healing.is_dormant);
    assert_eq!(s.self_healing.consecutive_failures, 0);
    assert_eq!(s.self_healing.next_healing_at, None);
    assert!(
        s.circuit_breakers
            .iter()
            .all(|b| b.state == BreakerState::Closed)
    );
    // The next legitimate alert heals.
    started(&ingest_one(&e, &t, alert_in("prod", "checkout", &[])).await);
}

/// The target quotes the alert's values back in its refusal; labels and
/// annotations carry every fatal pattern. Only transient failures are
/// counted, no breaker latches, and healing goes on.
#[tokio::test(start_paused = true)]
async fn fatal_patterns_in_labels_quoted_by_the_target_never_latch_a_breaker() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let mut p = policy(&t);
    p.dormancy_threshold = 10;
    let e = engine(&kit, vec![p]).await;
    let names = [
        "unauthorized",
        "no-active-api-keys",
        "unauthorized-no-active-api-keys",
    ];
    for (i, name) in names.iter().enumerate() {
        kit.executor.push(
            "rollout_restart",
            Scripted::FailQuotingTarget(FailureClass::Transient),
        );
        let extra = [
            ("reason", "Unauthorized"),
            ("detail", "no active api keys"),
            ("unauthorized", "no active api keys"),
        ];
        started(&ingest_one(&e, &t, alert_in("prod", name, &extra)).await);
        e.wait_idle().await;
        let s = e.status(&t).await.unwrap();
        assert!(
            s.circuit_breakers
                .iter()
                .all(|b| b.state != BreakerState::PermanentOpen && b.permanent_reason.is_none()),
            "{:?}",
            s.circuit_breakers
        );
        assert!(!s.self_healing.is_dormant);
        assert_eq!(
            s.self_healing.consecutive_failures,
            u32::try_from(i).unwrap() + 1
        );
        advance(Duration::from_secs(3600)).await;
    }
    // The target's own words still latch (seed 002's rule is kept).
    kit.executor.push(
        "rollout_restart",
        Scripted::Fail(FailureClass::Transient, "No active API keys".into()),
    );
    started(&ingest_one(&e, &t, alert_in("prod", "payments", &[])).await);
    e.wait_idle().await;
    let s = e.status(&t).await.unwrap();
    assert_eq!(s.circuit_breakers[0].state, BreakerState::PermanentOpen);
}

/// Failures the alert caused (its target is gone, its action is invalid)
/// never feed backoff or dormancy, however many; a failure of the system
/// still does.
#[tokio::test(start_paused = true)]
async fn failures_the_alert_caused_never_back_off_or_put_the_tenant_to_sleep() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(&kit, vec![policy(&t)]).await;
    for (i, class) in [
        FailureClass::TargetGone,
        FailureClass::InvalidAction,
        FailureClass::TargetGone,
        FailureClass::InvalidAction,
        FailureClass::Fenced,
    ]
    .into_iter()
    .enumerate()
    {
        kit.executor
            .push("rollout_restart", Scripted::FailQuotingTarget(class));
        let service = format!("svc-{i}");
        started(&ingest_one(&e, &t, alert_in("prod", &service, &[])).await);
        e.wait_idle().await;
        let s = e.status(&t).await.unwrap();
        assert!(!s.self_healing.is_dormant, "after {class}");
        assert_eq!(s.self_healing.consecutive_failures, 0, "after {class}");
        assert_eq!(s.self_healing.next_healing_at, None, "after {class}");
        assert!(
            s.circuit_breakers
                .iter()
                .all(|b| b.state == BreakerState::Closed)
        );
    }
    kit.executor.push(
        "rollout_restart",
        Scripted::Fail(FailureClass::Transient, "connection reset".into()),
    );
    started(&ingest_one(&e, &t, alert_in("prod", "checkout", &[])).await);
    e.wait_idle().await;
    let s = e.status(&t).await.unwrap();
    assert_eq!(s.self_healing.consecutive_failures, 1);
    assert!(s.self_healing.next_healing_at.is_some());
}
