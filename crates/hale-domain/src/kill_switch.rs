//! Runtime kill switches (seed 002, layer 1), layered
//! global -> tenant -> strategy -> action kind.
//!
//! A switch is either set (`on` / `off`) or absent (inherit). An action is
//! allowed only if no layer on its path is `off`: an `off` anywhere wins over
//! any `on` above it, and an `on` below an `off` cannot re-enable what an
//! operator switched off (the global switch is the emergency stop). The
//! verdict names the most specific layer that is off.
//!
//! The seed's environment flags (`FEATURE_AUTO_HEALING_ENABLED=false`, ...)
//! parse into the global layer; parsing is pure: it takes the values.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::StrategyId;
use crate::strategy::ActionKind;

/// An automation feature that the global layer can switch (seed 002 flags,
/// plus the execution freeze).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// `FEATURE_AUTO_HEALING_ENABLED`: any healing action.
    AutoHealing,
    /// `FEATURE_AUTO_DETECTION_MONITORING`: the periodic detection job.
    AutoDetection,
    /// `FEATURE_PREVENTIVE_HEALING_ENABLED`: the periodic preventive job.
    PreventiveHealing,
    /// `FEATURE_PROCESS_MONITORING_ENABLED`: accepted and ignored. Seed
    /// 002 names it for a process monitor that Hale does not have (Hale
    /// acts on alerts, it watches no processes), so it gates nothing; a
    /// server that finds it set says so once at start
    /// ([`Feature::gates_anything`]).
    ProcessMonitoring,
    /// `FEATURE_EXECUTION_ENABLED`: every execution, automatic, approved
    /// and manual alike. Off is the freeze: nothing acts, checked right
    /// before every action.
    Execution,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 5] = [
        Feature::AutoHealing,
        Feature::AutoDetection,
        Feature::PreventiveHealing,
        Feature::ProcessMonitoring,
        Feature::Execution,
    ];

    /// The seed's environment variable for this feature.
    pub fn env_var(self) -> &'static str {
        match self {
            Feature::AutoHealing => "FEATURE_AUTO_HEALING_ENABLED",
            Feature::AutoDetection => "FEATURE_AUTO_DETECTION_MONITORING",
            Feature::PreventiveHealing => "FEATURE_PREVENTIVE_HEALING_ENABLED",
            Feature::ProcessMonitoring => "FEATURE_PROCESS_MONITORING_ENABLED",
            Feature::Execution => "FEATURE_EXECUTION_ENABLED",
        }
    }

    /// Whether the switch stops anything in Hale. Only
    /// `process_monitoring` does not: it is accepted for compatibility with
    /// seed 002's flags and ignored.
    pub fn gates_anything(self) -> bool {
        !matches!(self, Feature::ProcessMonitoring)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::AutoHealing => "auto_healing",
            Feature::AutoDetection => "auto_detection",
            Feature::PreventiveHealing => "preventive_healing",
            Feature::ProcessMonitoring => "process_monitoring",
            Feature::Execution => "execution",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Feature {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Feature::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!("unknown feature {s:?}; expected auto_healing, auto_detection, preventive_healing, process_monitoring or execution")
            })
    }
}

/// A set switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Switch {
    /// Allowed (unless a broader layer is off).
    On,
    /// Stopped.
    Off,
}

impl Switch {
    /// Reads the usual spellings: true/false, 1/0, yes/no, on/off, enabled/disabled.
    pub fn parse(value: &str) -> Option<Switch> {
        match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" | "enabled" => Some(Switch::On),
            "0" | "false" | "no" | "off" | "disabled" => Some(Switch::Off),
            _ => None,
        }
    }
}

/// A flag had a value that is not a boolean.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} is not a boolean (use true/false, 1/0, on/off, yes/no)")]
pub struct FlagParseError {
    /// The variable.
    pub variable: String,
    /// Its value.
    pub value: String,
}

/// The platform-wide layer: one switch per feature. Absent means on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalSwitches {
    /// Set switches by feature.
    #[serde(default)]
    pub features: BTreeMap<Feature, Switch>,
}

impl GlobalSwitches {
    /// Reads the seed's `FEATURE_*` variables from `(name, value)` pairs;
    /// other variables are ignored.
    pub fn from_env<I, K, V>(vars: I) -> Result<Self, FlagParseError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut out = GlobalSwitches::default();
        for (k, v) in vars {
            let (k, v) = (k.as_ref(), v.as_ref());
            if let Some(feature) = Feature::ALL.into_iter().find(|f| f.env_var() == k) {
                let switch = Switch::parse(v).ok_or_else(|| FlagParseError {
                    variable: k.to_owned(),
                    value: v.to_owned(),
                })?;
                out.features.insert(feature, switch);
            }
        }
        Ok(out)
    }

    /// Combines layers that each may set a feature: off if any layer says
    /// off, else on if any says on, else unset. The one rule for merging the
    /// global layer's sources (the config file's `[flags]`, the
    /// `FEATURE_*` environment, switches set at run time): a source can only
    /// add an "off", never lift another's.
    pub fn combine<'a>(layers: impl IntoIterator<Item = &'a GlobalSwitches>) -> GlobalSwitches {
        let mut out = GlobalSwitches::default();
        for layer in layers {
            for (feature, switch) in &layer.features {
                let merged = match (out.features.get(feature), switch) {
                    (Some(Switch::Off), _) | (_, Switch::Off) => Switch::Off,
                    _ => Switch::On,
                };
                out.features.insert(*feature, merged);
            }
        }
        out
    }

    /// Whether the feature is on at the global layer.
    pub fn is_on(&self, feature: Feature) -> bool {
        self.features.get(&feature) != Some(&Switch::Off)
    }
}

/// The effective global layer: the flag source's last good read combined
/// with the switches set at run time ([`GlobalSwitches::combine`]). Until the
/// flag source has been read once (`flags` is `None`), automatic healing is
/// off: Hale fails closed when it cannot know whether an operator switched it
/// off.
pub fn effective_global(
    flags: Option<&GlobalSwitches>,
    runtime: &GlobalSwitches,
) -> GlobalSwitches {
    let never_read = GlobalSwitches {
        features: BTreeMap::from([(Feature::AutoHealing, Switch::Off)]),
    };
    GlobalSwitches::combine([flags.unwrap_or(&never_read), runtime])
}

/// One tenant's layers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSwitches {
    /// The tenant-wide switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Switch>,
    /// Per strategy.
    #[serde(default)]
    pub strategies: BTreeMap<StrategyId, Switch>,
    /// Per action kind.
    #[serde(default)]
    pub action_kinds: BTreeMap<ActionKind, Switch>,
}

impl TenantSwitches {
    /// The effective tenant layers: the configuration's floor combined with
    /// the switches set at run time, any `off` winning. An API call can add
    /// an `off` on top of the configuration, never lift one.
    pub fn combine(config: &TenantSwitches, runtime: &TenantSwitches) -> TenantSwitches {
        fn merge(a: Option<Switch>, b: Option<Switch>) -> Option<Switch> {
            match (a, b) {
                (Some(Switch::Off), _) | (_, Some(Switch::Off)) => Some(Switch::Off),
                (None, None) => None,
                _ => Some(Switch::On),
            }
        }
        fn merge_map<K: Ord + Clone>(
            a: &BTreeMap<K, Switch>,
            b: &BTreeMap<K, Switch>,
        ) -> BTreeMap<K, Switch> {
            let mut out = a.clone();
            for (k, s) in b {
                let merged = merge(out.get(k).copied(), Some(*s));
                if let Some(m) = merged {
                    out.insert(k.clone(), m);
                }
            }
            out
        }
        TenantSwitches {
            tenant: merge(config.tenant, runtime.tenant),
            strategies: merge_map(&config.strategies, &runtime.strategies),
            action_kinds: merge_map(&config.action_kinds, &runtime.action_kinds),
        }
    }
}

/// Which layer stopped an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "layer", content = "key")]
pub enum SwitchLayer {
    /// The global switch for a feature.
    Global(Feature),
    /// The tenant-wide switch.
    Tenant,
    /// A strategy's switch.
    Strategy(StrategyId),
    /// An action kind's switch.
    ActionKind(ActionKind),
}

impl fmt::Display for SwitchLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchLayer::Global(feat) => write!(f, "global:{feat}"),
            SwitchLayer::Tenant => f.write_str("tenant"),
            SwitchLayer::Strategy(s) => write!(f, "strategy:{s}"),
            SwitchLayer::ActionKind(k) => write!(f, "action_kind:{k}"),
        }
    }
}

/// The outcome of evaluating the switches on a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum SwitchVerdict {
    /// Every layer on the path allows it.
    Enabled,
    /// Stopped; `by` is the most specific layer that is off.
    Disabled {
        /// The deciding layer.
        by: SwitchLayer,
    },
}

impl SwitchVerdict {
    /// True when enabled.
    pub fn is_enabled(&self) -> bool {
        matches!(self, SwitchVerdict::Enabled)
    }
}

/// Evaluates the path global(feature) -> tenant -> strategy -> action kinds.
/// Any `off` on the path disables; the most specific one is reported.
pub fn evaluate(
    global: &GlobalSwitches,
    tenant: &TenantSwitches,
    feature: Feature,
    strategy: Option<&StrategyId>,
    action_kinds: &[&ActionKind],
) -> SwitchVerdict {
    evaluate_features(global, tenant, &[feature], strategy, action_kinds)
}

/// Like [`evaluate`] with several global features on the path (the
/// automatic path needs both `execution` and `auto_healing`; a path may
/// need none). The first feature of `features` that is off is reported
/// when no more specific layer is off.
pub fn evaluate_features(
    global: &GlobalSwitches,
    tenant: &TenantSwitches,
    features: &[Feature],
    strategy: Option<&StrategyId>,
    action_kinds: &[&ActionKind],
) -> SwitchVerdict {
    let mut most_specific_off = features
        .iter()
        .find(|f| !global.is_on(**f))
        .map(|f| SwitchLayer::Global(*f));
    if tenant.tenant == Some(Switch::Off) {
        most_specific_off = Some(SwitchLayer::Tenant);
    }
    if let Some(s) = strategy
        && tenant.strategies.get(s) == Some(&Switch::Off)
    {
        most_specific_off = Some(SwitchLayer::Strategy(s.clone()));
    }
    for k in action_kinds {
        if tenant.action_kinds.get(*k) == Some(&Switch::Off) {
            most_specific_off = Some(SwitchLayer::ActionKind((*k).clone()));
            break;
        }
    }
    match most_specific_off {
        None => SwitchVerdict::Enabled,
        Some(by) => SwitchVerdict::Disabled { by },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn env_flags_parse_into_the_global_layer() {
        let g = GlobalSwitches::from_env([
            ("FEATURE_AUTO_HEALING_ENABLED", "false"),
            ("FEATURE_PREVENTIVE_HEALING_ENABLED", " TRUE "),
            ("PATH", "/usr/bin"),
        ])
        .unwrap();
        assert!(!g.is_on(Feature::AutoHealing));
        assert!(g.is_on(Feature::PreventiveHealing));
        assert!(g.is_on(Feature::AutoDetection));
        let err =
            GlobalSwitches::from_env([("FEATURE_AUTO_DETECTION_MONITORING", "maybe")]).unwrap_err();
        assert_eq!(err.variable, "FEATURE_AUTO_DETECTION_MONITORING");
        assert!(err.to_string().contains("maybe"));
    }

    /// Each feature's wire name and seed environment variable, exactly;
    /// the wire name parses back and nothing else does.
    #[test]
    fn feature_wire_names_and_env_vars_are_exact() {
        let table = [
            (
                Feature::AutoHealing,
                "auto_healing",
                "FEATURE_AUTO_HEALING_ENABLED",
            ),
            (
                Feature::AutoDetection,
                "auto_detection",
                "FEATURE_AUTO_DETECTION_MONITORING",
            ),
            (
                Feature::PreventiveHealing,
                "preventive_healing",
                "FEATURE_PREVENTIVE_HEALING_ENABLED",
            ),
            (
                Feature::ProcessMonitoring,
                "process_monitoring",
                "FEATURE_PROCESS_MONITORING_ENABLED",
            ),
            (Feature::Execution, "execution", "FEATURE_EXECUTION_ENABLED"),
        ];
        assert_eq!(table.map(|row| row.0), Feature::ALL);
        for (feature, name, var) in table {
            crate::wire::assert_wire_name(feature, feature.as_str(), name);
            assert_eq!(feature.env_var(), var);
            assert_eq!(name.parse::<Feature>(), Ok(feature));
            let off = GlobalSwitches::from_env([(var, "off")]).unwrap();
            assert_eq!(off.features, BTreeMap::from([(feature, Switch::Off)]));
        }
        assert!("Execution".parse::<Feature>().is_err());
        assert!("".parse::<Feature>().is_err());
    }

    /// Combining tenant layers sets only what a layer sets: unset stays
    /// unset, an `on` stays `on` unless the other layer says `off`.
    #[test]
    fn tenant_layers_combine_without_inventing_switches() {
        let none = TenantSwitches::default();
        assert_eq!(TenantSwitches::combine(&none, &none), none);
        let s = StrategyId::new("s");
        let on = TenantSwitches {
            tenant: Some(Switch::On),
            strategies: BTreeMap::from([(s.clone(), Switch::On)]),
            ..TenantSwitches::default()
        };
        assert_eq!(TenantSwitches::combine(&on, &none), on);
        assert_eq!(TenantSwitches::combine(&none, &on), on);
        let off = TenantSwitches {
            strategies: BTreeMap::from([(s.clone(), Switch::Off)]),
            ..TenantSwitches::default()
        };
        let both = TenantSwitches::combine(&on, &off);
        assert_eq!(both.tenant, Some(Switch::On));
        assert_eq!(both.strategies, BTreeMap::from([(s, Switch::Off)]));
    }

    /// Several global features on a path: the first one that is off is
    /// reported; none on the path means only the tenant layers count.
    #[test]
    fn the_first_feature_off_is_reported() {
        let mut g = GlobalSwitches::default();
        g.features.insert(Feature::AutoHealing, Switch::Off);
        g.features.insert(Feature::Execution, Switch::Off);
        let t = TenantSwitches::default();
        let by = |features: &[Feature]| evaluate_features(&g, &t, features, None, &[]);
        assert_eq!(
            by(&[Feature::Execution, Feature::AutoHealing]),
            SwitchVerdict::Disabled {
                by: SwitchLayer::Global(Feature::Execution)
            }
        );
        assert_eq!(
            by(&[Feature::AutoDetection, Feature::AutoHealing]),
            SwitchVerdict::Disabled {
                by: SwitchLayer::Global(Feature::AutoHealing)
            }
        );
        assert_eq!(by(&[]), SwitchVerdict::Enabled);
        assert_eq!(by(&[Feature::AutoDetection]), SwitchVerdict::Enabled);
        let kind = ActionKind::new("evict_pod").unwrap();
        let other = ActionKind::new("rollout_restart").unwrap();
        let t = TenantSwitches {
            action_kinds: BTreeMap::from([(kind.clone(), Switch::Off)]),
            ..TenantSwitches::default()
        };
        let v = evaluate_features(&GlobalSwitches::default(), &t, &[], None, &[&other, &kind]);
        assert_eq!(
            v,
            SwitchVerdict::Disabled {
                by: SwitchLayer::ActionKind(kind)
            }
        );
        assert_eq!(
            evaluate_features(&GlobalSwitches::default(), &t, &[], None, &[&other]),
            SwitchVerdict::Enabled
        );
    }

    #[test]
    fn switch_spellings() {
        for on in ["1", "true", "YES", " on ", "Enabled"] {
            assert_eq!(Switch::parse(on), Some(Switch::On), "{on}");
        }
        for off in ["0", "FALSE", "no", "off", " disabled"] {
            assert_eq!(Switch::parse(off), Some(Switch::Off), "{off}");
        }
        for neither in ["", "2", "maybe"] {
            assert_eq!(Switch::parse(neither), None, "{neither}");
        }
    }

    #[test]
    fn switch_layers_display_their_key() {
        let kind = ActionKind::new("rollout_restart").unwrap();
        assert_eq!(
            SwitchLayer::Global(Feature::Execution).to_string(),
            "global:execution"
        );
        assert_eq!(SwitchLayer::Tenant.to_string(), "tenant");
        assert_eq!(
            SwitchLayer::Strategy(StrategyId::new("s1")).to_string(),
            "strategy:s1"
        );
        assert_eq!(
            SwitchLayer::ActionKind(kind).to_string(),
            "action_kind:rollout_restart"
        );
        assert!(SwitchVerdict::Enabled.is_enabled());
        assert!(
            !SwitchVerdict::Disabled {
                by: SwitchLayer::Tenant
            }
            .is_enabled()
        );
    }

    #[test]
    fn an_on_below_an_off_does_not_reenable() {
        let mut g = GlobalSwitches::default();
        g.features.insert(Feature::AutoHealing, Switch::Off);
        let mut t = TenantSwitches {
            tenant: Some(Switch::On),
            ..TenantSwitches::default()
        };
        let s = StrategyId::new("restart");
        t.strategies.insert(s.clone(), Switch::On);
        let v = evaluate(&g, &t, Feature::AutoHealing, Some(&s), &[]);
        assert_eq!(
            v,
            SwitchVerdict::Disabled {
                by: SwitchLayer::Global(Feature::AutoHealing)
            }
        );
    }

    fn switches() -> impl Strategy<Value = GlobalSwitches> {
        prop::collection::btree_map(
            prop::sample::select(Feature::ALL.to_vec()),
            prop_oneof![Just(Switch::On), Just(Switch::Off)],
            0..4,
        )
        .prop_map(|features| GlobalSwitches { features })
    }

    fn switch() -> impl Strategy<Value = Option<Switch>> {
        prop_oneof![Just(None), Just(Some(Switch::On)), Just(Some(Switch::Off))]
    }

    proptest! {
        /// Combining global layers: a feature is off iff some layer says off,
        /// on iff some layer says on and none off, unset iff no layer sets
        /// it; the order of the layers does not matter.
        #[test]
        fn prop_any_off_wins_when_layers_combine(a in switches(), b in switches(), c in switches()) {
            let all = GlobalSwitches::combine([&a, &b, &c]);
            prop_assert_eq!(&all, &GlobalSwitches::combine([&c, &a, &b]));
            for f in Feature::ALL {
                let said: Vec<Switch> = [&a, &b, &c].iter().filter_map(|l| l.features.get(&f).copied()).collect();
                let expected = if said.contains(&Switch::Off) {
                    Some(Switch::Off)
                } else if said.is_empty() { None } else { Some(Switch::On) };
                prop_assert_eq!(all.features.get(&f).copied(), expected);
            }
        }

        /// Flags never read means automatic healing off, whatever was set at
        /// run time; once read, the effective layer is the combination.
        #[test]
        fn prop_flags_never_read_means_automatic_healing_off(flags in switches(), runtime in switches()) {
            prop_assert!(!effective_global(None, &runtime).is_on(Feature::AutoHealing));
            prop_assert_eq!(
                effective_global(Some(&flags), &runtime),
                GlobalSwitches::combine([&flags, &runtime])
            );
        }

        /// The configuration is a floor: whatever the runtime layer says, a
        /// switch the configuration sets off stays off, and the runtime can
        /// add an off the configuration does not have.
        #[test]
        fn prop_config_off_is_a_floor_the_runtime_cannot_lift(
            ct in switch(), cs in switch(), ck in switch(), rt in switch(), rs in switch(), rk in switch()
        ) {
            let strategy = StrategyId::new("s");
            let kind = ActionKind::new("rollout_restart").unwrap();
            let layer = |t: Option<Switch>, s: Option<Switch>, k: Option<Switch>| {
                let mut l = TenantSwitches { tenant: t, ..TenantSwitches::default() };
                if let Some(sw) = s { l.strategies.insert(strategy.clone(), sw); }
                if let Some(sw) = k { l.action_kinds.insert(kind.clone(), sw); }
                l
            };
            let config = layer(ct, cs, ck);
            let runtime = layer(rt, rs, rk);
            let eff = TenantSwitches::combine(&config, &runtime);
            let off = Some(Switch::Off);
            prop_assert_eq!(eff.tenant == off, ct == off || rt == off);
            prop_assert_eq!(eff.strategies.get(&strategy) == Some(&Switch::Off), cs == off || rs == off);
            prop_assert_eq!(eff.action_kinds.get(&kind) == Some(&Switch::Off), ck == off || rk == off);
            let verdict = evaluate(&GlobalSwitches::default(), &eff, Feature::AutoHealing, Some(&strategy), &[&kind]);
            let any_off = [ct, cs, ck, rt, rs, rk].contains(&off);
            prop_assert_eq!(verdict.is_enabled(), !any_off);
        }

        /// Kill switch precedence: enabled iff no layer on the path is off;
        /// when disabled, the reported layer is the most specific off.
        #[test]
        fn prop_kill_switch_precedence(g in switch(), t in switch(), s in switch(), a in switch()) {
            let mut global = GlobalSwitches::default();
            if let Some(sw) = g { global.features.insert(Feature::AutoHealing, sw); }
            let strategy = StrategyId::new("s");
            let kind = ActionKind::new("rollout_restart").unwrap();
            let mut tenant = TenantSwitches { tenant: t, ..TenantSwitches::default() };
            if let Some(sw) = s { tenant.strategies.insert(strategy.clone(), sw); }
            if let Some(sw) = a { tenant.action_kinds.insert(kind.clone(), sw); }
            let v = evaluate(&global, &tenant, Feature::AutoHealing, Some(&strategy), &[&kind]);
            let off = Some(Switch::Off);
            let expected = if a == off {
                SwitchVerdict::Disabled { by: SwitchLayer::ActionKind(kind) }
            } else if s == off {
                SwitchVerdict::Disabled { by: SwitchLayer::Strategy(strategy) }
            } else if t == off {
                SwitchVerdict::Disabled { by: SwitchLayer::Tenant }
            } else if g == off {
                SwitchVerdict::Disabled { by: SwitchLayer::Global(Feature::AutoHealing) }
            } else {
                SwitchVerdict::Enabled
            };
            prop_assert_eq!(v, expected);
        }
    }
}
