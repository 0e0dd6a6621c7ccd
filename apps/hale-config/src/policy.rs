//! A tenant's policy sections of issue 16: `[tenants.budgets]`,
//! `[[tenants.maintenance_windows]]` and `[tenants.alertmanager]`.

use std::collections::BTreeMap;
use std::time::Duration;

use hale_domain::StrategyId;
use hale_domain::Timestamp;
use hale_domain::maintenance::{
    Day, LocalTime, MaintenanceWindow, Schedule, TimeZoneName, WindowMode, WindowScope,
};
use hale_domain::remediation::{BudgetLimits, RemediationBudgets};
use hale_domain::silence::OnUnreachable;
use hale_engine::SilencePolicy;
use serde::Deserialize;

fn one_hour() -> Duration {
    Duration::from_secs(3_600)
}

/// One budget's caps (`[tenants.budgets]` itself, or one of
/// `[tenants.budgets.namespaces.<ns>]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Runs in flight at once.
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// Runs started within `window`.
    #[serde(default)]
    pub max_started: Option<u32>,
    /// Pods disrupted by runs started within `window`.
    #[serde(default)]
    pub max_pods_disrupted: Option<u32>,
    /// The sliding window (default 1h).
    #[serde(default = "one_hour", with = "hale_domain::time::duration")]
    pub window: Duration,
}

impl LimitsConfig {
    fn to_limits(self) -> BudgetLimits {
        BudgetLimits {
            max_in_flight: self.max_in_flight,
            max_started: self.max_started,
            max_pods_disrupted: self.max_pods_disrupted,
            window: self.window,
        }
    }
}

/// `[tenants.budgets]`: the tenant-wide caps, per-namespace caps, and how
/// long an in-flight slot whose run never reported its end counts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetsConfig {
    /// The tenant-wide caps.
    #[serde(flatten)]
    pub tenant: LimitsConfig,
    /// Per-namespace caps.
    #[serde(default)]
    pub namespaces: BTreeMap<String, LimitsConfig>,
    /// Default 1h.
    #[serde(default = "one_hour", with = "hale_domain::time::duration")]
    pub stale_after: Duration,
}

impl BudgetsConfig {
    /// The engine's budgets.
    pub fn to_budgets(&self) -> RemediationBudgets {
        RemediationBudgets {
            tenant: Some(self.tenant.to_limits()),
            namespaces: self
                .namespaces
                .iter()
                .map(|(ns, l)| (ns.clone(), l.to_limits()))
                .collect(),
            stale_after: self.stale_after,
        }
    }
}

/// `[[tenants.maintenance_windows]]`: weekly (`days`, `start`, `duration`,
/// `time_zone`) or one-off (`from`, `until`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawWindow")]
pub struct WindowConfig(pub MaintenanceWindow);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    name: String,
    mode: WindowMode,
    reason: String,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    strategies: Vec<StrategyId>,
    #[serde(default)]
    days: Option<Vec<Day>>,
    #[serde(default)]
    start: Option<LocalTime>,
    #[serde(default, with = "opt_duration")]
    duration: Option<Duration>,
    #[serde(default)]
    time_zone: Option<TimeZoneName>,
    #[serde(default)]
    from: Option<Timestamp>,
    #[serde(default)]
    until: Option<Timestamp>,
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "hale_domain::time::duration")] Duration);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

impl TryFrom<RawWindow> for WindowConfig {
    type Error = String;

    fn try_from(r: RawWindow) -> Result<Self, String> {
        let weekly = (r.days, r.start, r.duration, r.time_zone);
        let schedule = match ((r.from, r.until), weekly) {
            ((Some(start), Some(end)), (None, None, None, None)) => Schedule::OneOff { start, end },
            ((None, None), (Some(days), Some(start), Some(duration), Some(time_zone))) => {
                Schedule::Weekly {
                    days,
                    start,
                    duration,
                    time_zone,
                }
            }
            _ => {
                return Err(format!(
                    "window {:?}: give either `from` and `until` (one-off) or `days`, `start`, `duration` and `time_zone` (weekly)",
                    r.name
                ));
            }
        };
        Ok(WindowConfig(MaintenanceWindow {
            id: r.name,
            mode: r.mode,
            scope: WindowScope {
                namespaces: r.namespaces,
                strategies: r.strategies,
            },
            schedule,
            reason: r.reason,
            created_by: None,
            created_at: None,
            ended: None,
        }))
    }
}

fn block() -> OnUnreachable {
    OnUnreachable::Block
}

/// `[tenants.alertmanager]`: the tenant's Alertmanager, asked about
/// silences before automatic actions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Its base URL (`http://alertmanager:9093`).
    pub url: String,
    /// What automation does when it cannot be asked: `"block"` (the
    /// default) or `"allow"`.
    #[serde(default = "block")]
    pub on_unreachable: OnUnreachable,
}

impl AlertmanagerConfig {
    /// The engine's silence policy.
    pub fn to_policy(&self) -> SilencePolicy {
        SilencePolicy {
            alertmanager: self.url.clone(),
            on_unreachable: self.on_unreachable,
        }
    }
}
