//! `[[tenants]]` and `[[tokens]]`: who may do what, and each tenant's
//! policy (strategies and fail-safe settings).

use std::collections::BTreeMap;
use std::fmt;

use hale_domain::TenantId;
use hale_domain::approval::SignaturePolicy;
use hale_domain::backoff::BackoffPolicy;
use hale_domain::breaker::BreakerConfig;
use hale_domain::effectiveness::EffectivenessPolicy;
use hale_domain::failure::{FailureClass, PatternClassifier};
use hale_domain::ids::StrategyId;
use hale_domain::kill_switch::{Switch, TenantSwitches};
use hale_domain::strategy::{ActionKind, Strategy};
use hale_engine::TenantPolicy;
use hale_engine::ports::NamespacePolicy;
use serde::Deserialize;

use crate::policy::{AlertmanagerConfig, BudgetsConfig, WindowConfig};
use crate::role::Role;

/// `[[tokens]]`: one API token, configured by its SHA-256 (never the token
/// itself; `hale-server hash-token` prints the hash).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The identity: the actor in audit entries and signatures.
    pub name: String,
    /// The tenant the token acts for, or `*` for a platform token.
    pub tenant: String,
    /// `ingest`, `viewer`, `operator` or `admin`.
    pub role: Role,
    /// Lower-case hex SHA-256 of the token.
    pub sha256: String,
}

impl fmt::Debug for TokenConfig {
    // A hash is not the secret, but there is no reason to print it whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .field("role", &self.role)
            .field("sha256", &"<redacted>")
            .finish()
    }
}

fn default_dormancy_threshold() -> u32 {
    10
}

/// A tenant's configured kill switches (`[tenants.switches]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwitchesConfig {
    /// The tenant-wide switch, `"on"` or `"off"`.
    pub tenant: Option<Switch>,
    /// Per strategy id.
    pub strategies: BTreeMap<StrategyId, Switch>,
    /// Per action kind.
    pub action_kinds: BTreeMap<ActionKind, Switch>,
}

/// `[[tenants]]`: one tenant's policy. Field names match the paths that
/// [`TenantPolicy::validate`] reports, so its problems map back to keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant id (`[a-z0-9_-]`, 1-63).
    pub id: TenantId,
    /// Namespaces actions may touch; `["*"]` for any. Required: there is no
    /// implicit "everywhere".
    pub namespaces: Vec<String>,
    /// Breaker thresholds (seed 002 defaults).
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Backoff between failed healings (seed 002 defaults).
    #[serde(default)]
    pub backoff: BackoffPolicy,
    /// Consecutive failures before the tenant goes dormant (seed: 10).
    #[serde(default = "default_dormancy_threshold")]
    pub dormancy_threshold: u32,
    /// Signatures per risk level and approval expiry.
    #[serde(default)]
    pub signatures: SignaturePolicy,
    /// Error texts that latch the breaker (added to seed 002's
    /// "no active api keys" and "unauthorized").
    #[serde(default)]
    pub fatal_patterns: Vec<String>,
    /// Kill switches at start (runtime changes are persisted and win).
    #[serde(default)]
    pub switches: SwitchesConfig,
    /// When a completed fix counts as effective (docs/effectiveness.md).
    #[serde(default)]
    pub effectiveness: EffectivenessPolicy,
    /// Strategies in priority order.
    #[serde(default)]
    pub strategies: Vec<Strategy>,
    /// Remediation budgets (`[tenants.budgets]`; none by default).
    #[serde(default)]
    pub budgets: Option<BudgetsConfig>,
    /// Maintenance windows (`[[tenants.maintenance_windows]]`).
    #[serde(default)]
    pub maintenance_windows: Vec<WindowConfig>,
    /// The tenant's Alertmanager, asked about silences
    /// (`[tenants.alertmanager]`; none by default).
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerConfig>,
}

impl TenantConfig {
    /// The engine's policy for this tenant.
    pub fn to_policy(&self) -> TenantPolicy {
        let mut policy = TenantPolicy::new(self.id.clone(), self.strategies.clone());
        policy.namespaces = NamespacePolicy::from_list(&self.namespaces);
        policy.breaker = self.breaker.clone();
        policy.backoff = self.backoff.clone();
        policy.dormancy_threshold = self.dormancy_threshold;
        policy.signatures = self.signatures.clone();
        policy.effectiveness = self.effectiveness;
        policy.switches = TenantSwitches {
            tenant: self.switches.tenant,
            strategies: self.switches.strategies.clone(),
            action_kinds: self.switches.action_kinds.clone(),
        };
        let mut classifier = PatternClassifier::default();
        for p in &self.fatal_patterns {
            classifier = classifier.with_rule(p.clone(), FailureClass::Fatal);
        }
        policy.classifier = classifier;
        if let Some(b) = &self.budgets {
            policy.remediation = b.to_budgets();
        }
        policy.windows = self
            .maintenance_windows
            .iter()
            .map(|w| w.0.clone())
            .collect();
        policy.silences = self
            .alertmanager
            .as_ref()
            .map(AlertmanagerConfig::to_policy);
        policy
    }
}
