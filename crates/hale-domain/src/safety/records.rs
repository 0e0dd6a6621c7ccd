//! The safety state's records: what replicas share through the store, one
//! record per key, each changed only by an atomic update.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::LedgerKey;
use crate::breaker::shared::SharedBreaker;
use crate::budget::AttemptLedger;
use crate::dormancy::Dormancy;
use crate::kill_switch::{GlobalSwitches, TenantSwitches};
use crate::maintenance::MaintenanceWindow;
use crate::remediation::RemediationUsage;
use crate::time::Timestamp;

/// A record's key within its scope (the platform or one tenant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SafetyKey {
    /// The runtime switch layer of the scope.
    Switches,
    /// The scope's dormancy.
    Dormancy,
    /// The tenant's backoff between failed healings.
    Backoff,
    /// A strategy's attempt ledger on a target.
    Ledger(LedgerKey),
    /// The shared part of an executor's breaker.
    Breaker(String),
    /// The tenant's use of its remediation budgets.
    Remediation,
    /// The tenant's maintenance windows created through the API.
    Windows,
}

impl SafetyKey {
    /// The record's kind as stored (`switches`, `dormancy`, `backoff`,
    /// `ledger`, `breaker`, `remediation`, `windows`).
    pub fn kind(&self) -> &'static str {
        match self {
            SafetyKey::Switches => "switches",
            SafetyKey::Dormancy => "dormancy",
            SafetyKey::Backoff => "backoff",
            SafetyKey::Ledger(_) => "ledger",
            SafetyKey::Breaker(_) => "breaker",
            SafetyKey::Remediation => "remediation",
            SafetyKey::Windows => "windows",
        }
    }

    /// The record's name within its kind as stored (empty for the
    /// singletons).
    pub fn name(&self) -> &str {
        match self {
            SafetyKey::Switches
            | SafetyKey::Dormancy
            | SafetyKey::Backoff
            | SafetyKey::Remediation
            | SafetyKey::Windows => "",
            SafetyKey::Ledger(k) => k.as_str(),
            SafetyKey::Breaker(b) => b,
        }
    }

    /// The key of a stored (kind, name) pair; `None` for a kind this
    /// version does not know.
    pub fn from_stored(kind: &str, name: &str) -> Option<SafetyKey> {
        Some(match kind {
            "switches" => SafetyKey::Switches,
            "dormancy" => SafetyKey::Dormancy,
            "backoff" => SafetyKey::Backoff,
            "ledger" => SafetyKey::Ledger(LedgerKey::from_stored(name)),
            "breaker" => SafetyKey::Breaker(name.to_owned()),
            "remediation" => SafetyKey::Remediation,
            "windows" => SafetyKey::Windows,
            _ => return None,
        })
    }
}

impl fmt::Display for SafetyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "" => f.write_str(self.kind()),
            name => write!(f, "{}:{name}", self.kind()),
        }
    }
}

/// The tenant's backoff as stored: the failure streak (the delays follow
/// from it and the configured policy) and when healing may start again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackoffRecord {
    /// Consecutive failed healings since the last success or resume.
    pub failures: u32,
    /// No automatic healing before this.
    pub next_healing_at: Option<Timestamp>,
}

/// A record's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SafetyValue {
    /// A tenant's runtime switch layer.
    TenantSwitches(TenantSwitches),
    /// The platform's runtime switch layer.
    GlobalSwitches(GlobalSwitches),
    /// Dormancy.
    Dormancy(Dormancy),
    /// Backoff.
    Backoff(BackoffRecord),
    /// An attempt ledger.
    Ledger(AttemptLedger),
    /// A breaker's shared part.
    Breaker(SharedBreaker),
    /// Remediation budget usage.
    Remediation(RemediationUsage),
    /// Maintenance windows created through the API.
    Windows(Vec<MaintenanceWindow>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_stored_form() {
        let keys = [
            SafetyKey::Switches,
            SafetyKey::Dormancy,
            SafetyKey::Backoff,
            SafetyKey::Ledger(LedgerKey::from_stored("restart|prod:deployment/a")),
            SafetyKey::Breaker("kubernetes".into()),
            SafetyKey::Remediation,
            SafetyKey::Windows,
        ];
        for k in keys {
            assert_eq!(SafetyKey::from_stored(k.kind(), k.name()), Some(k.clone()));
        }
        assert_eq!(SafetyKey::from_stored("budget", ""), None);
        assert_eq!(
            SafetyKey::Breaker("kubernetes".into()).to_string(),
            "breaker:kubernetes"
        );
        assert_eq!(SafetyKey::Dormancy.to_string(), "dormancy");
        let v = SafetyValue::Backoff(BackoffRecord::default());
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"backoff": {"failures": 0, "next_healing_at": null}})
        );
        assert_eq!(serde_json::from_value::<SafetyValue>(json).unwrap(), v);
    }
}
