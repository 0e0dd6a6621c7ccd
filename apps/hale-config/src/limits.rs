//! `[limits]`: how large one alert may be.
//!
//! The body limit bounds a request, not what one alert may carry: without
//! these caps a single 1 MiB label value would be stored in the incident,
//! the audit log and every timeline entry that copies it, and served back
//! on every read. Intake answers 422 naming the alert, the label or
//! annotation and the limit (docs/api.md "Limits").
//!
//! Every field has a default sized well above what Prometheus rules and
//! Alertmanager produce, so a file without `[limits]` accepts every real
//! alert.

use serde::Deserialize;

use super::errors::ConfigError;
use super::sections::de_bytes;

/// Default cap on a label name, in bytes.
const DEFAULT_LABEL_NAME_BYTES: usize = 128;
/// Default cap on a label value, in bytes.
const DEFAULT_LABEL_VALUE_BYTES: usize = 1024;
/// Default cap on the number of labels of one alert.
const DEFAULT_LABELS_PER_ALERT: usize = 64;
/// Default cap on one annotation value (and on `generatorURL`), in bytes.
const DEFAULT_ANNOTATION_VALUE_BYTES: usize = 8 * 1024;
/// Default cap on all annotations of one alert, names and values, in bytes.
const DEFAULT_ANNOTATIONS_BYTES_PER_ALERT: usize = 32 * 1024;
/// Default cap on deliveries in flight at intake, in all.
const DEFAULT_INTAKE_IN_FLIGHT: usize = 256;
/// Default cap on one tenant's deliveries in flight at intake.
const DEFAULT_INTAKE_IN_FLIGHT_PER_TENANT: usize = 64;

/// `[limits]`: caps on what one alert may carry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Longest label name (default 128 bytes).
    #[serde(deserialize_with = "de_bytes")]
    pub label_name_bytes: usize,
    /// Longest label value (default 1 KiB).
    #[serde(deserialize_with = "de_bytes")]
    pub label_value_bytes: usize,
    /// Most labels on one alert (default 64).
    pub labels_per_alert: usize,
    /// Longest annotation value, and longest `generatorURL` (default 8 KiB).
    #[serde(deserialize_with = "de_bytes")]
    pub annotation_value_bytes: usize,
    /// All annotation names and values of one alert together (default
    /// 32 KiB).
    #[serde(deserialize_with = "de_bytes")]
    pub annotations_bytes_per_alert: usize,
    /// Deliveries (webhook requests) in flight at intake, in all (default
    /// 256); more answer 503 with `Retry-After`.
    pub intake_in_flight: usize,
    /// One tenant's deliveries in flight at intake (default 64); keep it
    /// below `intake_in_flight` so one tenant's flood cannot take every
    /// permit.
    pub intake_in_flight_per_tenant: usize,
    /// Admitted deliveries at work at once (default: twice the CPUs, at
    /// least 4); the others wait their turn, a freed slot going to the
    /// tenant running the fewest. Keep it at most the store's pool size.
    pub intake_concurrency: Option<usize>,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            label_name_bytes: DEFAULT_LABEL_NAME_BYTES,
            label_value_bytes: DEFAULT_LABEL_VALUE_BYTES,
            labels_per_alert: DEFAULT_LABELS_PER_ALERT,
            annotation_value_bytes: DEFAULT_ANNOTATION_VALUE_BYTES,
            annotations_bytes_per_alert: DEFAULT_ANNOTATIONS_BYTES_PER_ALERT,
            intake_in_flight: DEFAULT_INTAKE_IN_FLIGHT,
            intake_in_flight_per_tenant: DEFAULT_INTAKE_IN_FLIGHT_PER_TENANT,
            intake_concurrency: None,
        }
    }
}

impl LimitsSection {
    /// Admitted deliveries at work at once: `intake_concurrency`, or twice
    /// the CPUs this process may use (at least 4).
    pub fn intake_concurrency(&self) -> usize {
        self.intake_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(4, |n| n.get() * 2)
                .max(4)
        })
    }

    /// Every limit as (key, value), in file order.
    pub fn entries(&self) -> [(&'static str, usize); 7] {
        [
            ("label_name_bytes", self.label_name_bytes),
            ("label_value_bytes", self.label_value_bytes),
            ("labels_per_alert", self.labels_per_alert),
            ("annotation_value_bytes", self.annotation_value_bytes),
            (
                "annotations_bytes_per_alert",
                self.annotations_bytes_per_alert,
            ),
            ("intake_in_flight", self.intake_in_flight),
            (
                "intake_in_flight_per_tenant",
                self.intake_in_flight_per_tenant,
            ),
        ]
    }
}

/// Every limit must be positive: a zero would refuse every alert.
pub(super) fn validate(limits: &LimitsSection, text: &str, origin: &str) -> Vec<ConfigError> {
    let mut out: Vec<ConfigError> = limits
        .entries()
        .into_iter()
        .filter(|(_, v)| *v == 0)
        .map(|(key, _)| {
            ConfigError::at_path(
                origin,
                text,
                &format!("limits.{key}"),
                "must be positive (a zero would refuse every alert)",
            )
        })
        .collect();
    if limits.intake_concurrency == Some(0) {
        out.push(ConfigError::at_path(
            origin,
            text,
            "limits.intake_concurrency",
            "must be positive (a zero would refuse every alert)",
        ));
    }
    if limits.intake_in_flight_per_tenant > limits.intake_in_flight {
        out.push(ConfigError::at_path(
            origin,
            text,
            "limits.intake_in_flight_per_tenant",
            format!(
                "is {}, above limits.intake_in_flight ({}): one tenant could take every \
                 permit; keep it at most the global limit",
                limits.intake_in_flight_per_tenant, limits.intake_in_flight
            ),
        ));
    }
    out
}
