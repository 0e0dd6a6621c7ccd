//! Fail-safes an alert must not switch on.

use super::world::*;

/// Seen from outside: a tenant limited to `prod` got one alert for
/// namespace `unauthorized`; the refusal quoted it, the fatal pattern
/// matched, the breaker latched and the tenant went dormant.
#[tokio::test]
async fn an_alert_for_namespace_unauthorized_cannot_put_its_tenant_to_sleep() {
    hostile(|w| async move {
        let labels = [
            ("alertname", "HighErrorRate"),
            ("service", "checkout"),
            ("namespace", "unauthorized"),
        ];
        let r = w.post("/v1/alerts", A_INGEST, &alert(&labels)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let outcome = &r.body["decisions"][0]["outcome"];
        assert_eq!(outcome["decision"], "blocked", "{}", r.text);
        assert_eq!(outcome["guard"], "out_of_scope", "{}", r.text);
        w.engine.wait_idle().await;
        assert!(
            w.kit
                .executor
                .calls()
                .iter()
                .all(|c| c.tenant.as_str() != "a"),
            "an action ran outside the tenant's namespaces"
        );
        w.a_is_awake_and_closed().await;
        w.a_heals_then_audit("HighErrorRate", "payments").await;
    })
    .await;
}

/// The target quotes the alert's values back in its refusal, and the
/// labels carry every fatal pattern: the failure counts as transient, no
/// breaker latches, the tenant stays awake.
#[tokio::test]
async fn fatal_patterns_in_labels_quoted_back_by_the_target_latch_nothing() {
    hostile(|w| async move {
        w.kit.executor.push(
            "rollout_restart",
            Scripted::FailQuotingTarget(FailureClass::Transient),
        );
        let labels = [
            ("alertname", "HighErrorRate"),
            ("service", "unauthorized-no-active-api-keys"),
            ("reason", "Unauthorized: no active API keys"),
        ];
        let r = w.post("/v1/alerts", A_INGEST, &alert(&labels)).await;
        let outcome = &r.body["decisions"][0]["outcome"];
        assert_eq!(outcome["decision"], "operation_started", "{}", r.text);
        w.engine.wait_idle().await;
        w.a_is_awake_and_closed().await;
    })
    .await;
}
