//! Two automatic strategies on the same deployments, so that two alerts
//! of different names ask two replicas to act on one resource at once:
//! only its lock keeps them apart.

use hale_chaos::unix_now;
use hale_load::alerts::LoadAlert;

/// A second automatic strategy on the same deployments, for `HighLatency`
/// (appended to the generated configuration, whose own strategy is for
/// `HighErrorRate`).
pub(crate) const SECOND_STRATEGY: &str = r#"
[[tenants.strategies]]
id = "restart-latency"
risk = "low"
trigger = { alertnames = ["HighLatency"] }
target = { kind = "deployment", name_labels = ["deployment", "service"] }
actions = [{ kind = "rollout_restart", timeout = "30s" }]
verify = { check = "rollout_complete", timeout = "30s", interval = "500ms" }
cooldown = "15m"
"#;

/// A firing alert on `svc-0000`: `HighErrorRate` for 0, `HighLatency`
/// for 1.
pub(crate) fn alert(alertname: usize) -> LoadAlert {
    LoadAlert {
        alertname,
        service: 0,
        pod: None,
        starts_at: unix_now() - 60,
        ends_at: None,
    }
}
