//! Risk levels, severities and who acted through which channel.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How much harm an action can do if it is wrong (seed 003 `RiskLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Safe to run automatically (the failure watcher may act).
    Low,
    /// Needs one human signature.
    Medium,
    /// Needs two signatures.
    High,
    /// Needs three signatures.
    Critical,
}

/// Incident severity (seed 003: P0 is the worst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Total outage.
    P0,
    /// Major degradation.
    P1,
    /// Minor degradation.
    P2,
    /// Informational.
    P3,
}

impl Severity {
    /// Maps an Alertmanager `severity` label to an incident severity.
    /// Unknown or missing labels are treated as P3 (informational).
    pub fn from_label(label: Option<&str>) -> Severity {
        match label.map(str::to_ascii_lowercase).as_deref() {
            Some("critical" | "page" | "p0" | "emergency") => Severity::P0,
            Some("error" | "high" | "major" | "p1") => Severity::P1,
            Some("warning" | "warn" | "medium" | "p2") => Severity::P2,
            _ => Severity::P3,
        }
    }
}

/// Which system asked for an action (seed 000, ADR-043 `source_system`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceSystem {
    /// Automatic repair after a failure; LOW risk only; yields to decisions.
    FailureWatcher,
    /// Alert -> proposal -> approval -> execution; outranks the watcher.
    DecisionManager,
    /// A human or script through the API.
    Api,
}

/// Through which channel the action was authorized (ADR-043
/// `authorization_channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationChannel {
    /// The engine decided on its own (failure watcher path).
    AutoRepair,
    /// Approved through the decision path.
    DecisionManager,
    /// A human acted directly through the JSON API (or the CLI).
    Manual,
    /// A human acted through the operator console (`/console`), signed in
    /// with an API token; the same rules as `Manual`, told apart in the
    /// audit log.
    Web,
}

/// Who or what acted, and through which channel: the tags every audit
/// entry and operation carries (ADR-043).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The acting identity.
    pub actor: crate::ids::Actor,
    /// The system that asked.
    pub source_system: SourceSystem,
    /// The authorization channel.
    pub channel: AuthorizationChannel,
}

impl Origin {
    /// The failure watcher acting on its own.
    pub fn failure_watcher() -> Origin {
        Origin {
            actor: crate::ids::Actor::new("hale:failure_watcher"),
            source_system: SourceSystem::FailureWatcher,
            channel: AuthorizationChannel::AutoRepair,
        }
    }

    /// The decision path (after approval, or while proposing).
    pub fn decision_manager() -> Origin {
        Origin {
            actor: crate::ids::Actor::new("hale:decision_manager"),
            source_system: SourceSystem::DecisionManager,
            channel: AuthorizationChannel::DecisionManager,
        }
    }

    /// A human acting through the API.
    pub fn manual(actor: crate::ids::Actor) -> Origin {
        Origin {
            actor,
            source_system: SourceSystem::Api,
            channel: AuthorizationChannel::Manual,
        }
    }

    /// A human acting through the operator console.
    pub fn web(actor: crate::ids::Actor) -> Origin {
        Origin {
            actor,
            source_system: SourceSystem::Api,
            channel: AuthorizationChannel::Web,
        }
    }
}

/// A human's act through the API: a bare actor means channel `manual`.
impl From<&crate::ids::Actor> for Origin {
    fn from(actor: &crate::ids::Actor) -> Origin {
        Origin::manual(actor.clone())
    }
}

/// A human's act through the API: a bare actor means channel `manual`.
impl From<crate::ids::Actor> for Origin {
    fn from(actor: crate::ids::Actor) -> Origin {
        Origin::manual(actor)
    }
}

impl From<&Origin> for Origin {
    fn from(origin: &Origin) -> Origin {
        origin.clone()
    }
}

macro_rules! snake_case_str {
    ($ty:ty { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            /// The wire name (`snake_case`).
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(Self::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", stringify!($ty), " {:?}; expected one of: ", $($s, " "),+),
                        other
                    )),
                }
            }
        }
    };
}

snake_case_str!(RiskLevel { Low => "low", Medium => "medium", High => "high", Critical => "critical" });
snake_case_str!(Severity { P0 => "P0", P1 => "P1", P2 => "P2", P3 => "P3" });
snake_case_str!(SourceSystem {
    FailureWatcher => "failure_watcher",
    DecisionManager => "decision_manager",
    Api => "api",
});
snake_case_str!(AuthorizationChannel {
    AutoRepair => "auto_repair",
    DecisionManager => "decision_manager",
    Manual => "manual",
    Web => "web",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for r in [
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
            RiskLevel::Critical,
        ] {
            assert_eq!(r.as_str().parse::<RiskLevel>().unwrap(), r);
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert_eq!(
            "auto_repair".parse::<AuthorizationChannel>().unwrap(),
            AuthorizationChannel::AutoRepair
        );
        for c in [
            AuthorizationChannel::AutoRepair,
            AuthorizationChannel::DecisionManager,
            AuthorizationChannel::Manual,
            AuthorizationChannel::Web,
        ] {
            assert_eq!(c.as_str().parse::<AuthorizationChannel>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert_eq!(
            Origin::web(crate::ids::Actor::new("ann")).channel.as_str(),
            "web"
        );
        assert!(
            "bogus"
                .parse::<SourceSystem>()
                .unwrap_err()
                .contains("failure_watcher")
        );
    }

    #[test]
    fn every_severity_spelling_maps() {
        let table = [
            (["critical", "PAGE", "p0", "emergency"], Severity::P0),
            (["error", "high", "Major", "p1"], Severity::P1),
            (["warning", "warn", "medium", "P2"], Severity::P2),
            (["info", "low", "", "p3"], Severity::P3),
        ];
        for (labels, severity) in table {
            for label in labels {
                assert_eq!(Severity::from_label(Some(label)), severity, "{label}");
            }
        }
    }

    #[test]
    fn origins_carry_their_actor_system_and_channel() {
        use crate::ids::Actor;
        let o = Origin::failure_watcher();
        assert_eq!(
            (o.actor.as_str(), o.source_system, o.channel),
            (
                "hale:failure_watcher",
                SourceSystem::FailureWatcher,
                AuthorizationChannel::AutoRepair
            )
        );
        let o = Origin::decision_manager();
        assert_eq!(
            (o.actor.as_str(), o.source_system, o.channel),
            (
                "hale:decision_manager",
                SourceSystem::DecisionManager,
                AuthorizationChannel::DecisionManager
            )
        );
        let ann = Actor::new("ann");
        let manual = Origin::manual(ann.clone());
        assert_eq!(
            (&manual.actor, manual.source_system, manual.channel),
            (&ann, SourceSystem::Api, AuthorizationChannel::Manual)
        );
        let web = Origin::web(ann.clone());
        assert_eq!(
            (&web.actor, web.source_system, web.channel),
            (&ann, SourceSystem::Api, AuthorizationChannel::Web)
        );
        assert_eq!(Origin::from(&ann), manual);
        assert_eq!(Origin::from(ann), manual);
        assert_eq!(Origin::from(&web), web);
        assert_eq!(crate::ids::Actor::system().as_str(), "hale:system");
    }

    #[test]
    fn severity_labels_map() {
        assert_eq!(Severity::from_label(Some("critical")), Severity::P0);
        assert_eq!(Severity::from_label(Some("Warning")), Severity::P2);
        assert_eq!(Severity::from_label(None), Severity::P3);
    }
}
