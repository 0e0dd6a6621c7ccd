//! Silences: whether a human silenced the alert in the tenant's
//! Alertmanager, as the guard reads it.
//!
//! Before an automatic action the engine asks the tenant's Alertmanager
//! (when one is configured) whether the alert is silenced. A silence is a
//! human saying "we know, leave it": Hale records the alert and does not
//! act (`silenced`). When the Alertmanager cannot be asked, the tenant's
//! `on_unreachable` decides: `block` (the default: automation fails
//! closed, `silence_check_unavailable`) or `allow`. Either way it is never
//! a failure: nothing ran, so nothing feeds backoff, breakers or dormancy.
//! Proposals and approved runs are a human's decision and are not asked
//! about.

use serde::{Deserialize, Serialize};

use crate::wire::wire_enum;

wire_enum!(
    /// What automation does when the Alertmanager cannot be asked.
    OnUnreachable {
        /// Do not act (fail closed).
        Block => "block",
        /// Act as if nothing were silenced.
        Allow => "allow",
    }
);

/// What the engine learned about the alert's silences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "silence")]
pub enum SilenceCheck {
    /// Not asked: no Alertmanager is configured, the path does not ask, or
    /// an earlier stage already blocked.
    #[default]
    NotAsked,
    /// Asked; no silence matches.
    NotSilenced,
    /// Silenced by these silences.
    Silenced {
        /// The silence ids.
        silences: Vec<String>,
    },
    /// The Alertmanager could not answer.
    Unavailable {
        /// Why.
        error: String,
        /// What the tenant configured for this case.
        on_unreachable: OnUnreachable,
    },
}

/// What the check means for automation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SilenceVerdict {
    /// Go on.
    Proceed,
    /// The alert is silenced.
    Silenced(Vec<String>),
    /// It could not be checked and the tenant fails closed.
    Unavailable(String),
}

impl SilenceCheck {
    /// The error of a check the Alertmanager did not answer while the
    /// tenant's `on_unreachable = "allow"` lets automation go on: an
    /// allowance a person must be able to see afterwards, so the engine
    /// records it with the run it let through. `None` otherwise.
    pub fn unanswered_but_allowed(&self) -> Option<&str> {
        match self {
            SilenceCheck::Unavailable {
                error,
                on_unreachable: OnUnreachable::Allow,
            } => Some(error),
            _ => None,
        }
    }

    /// The rule.
    pub fn verdict(&self) -> SilenceVerdict {
        match self {
            SilenceCheck::NotAsked | SilenceCheck::NotSilenced => SilenceVerdict::Proceed,
            SilenceCheck::Silenced { silences } => SilenceVerdict::Silenced(silences.clone()),
            SilenceCheck::Unavailable {
                error,
                on_unreachable: OnUnreachable::Block,
            } => SilenceVerdict::Unavailable(error.clone()),
            SilenceCheck::Unavailable {
                on_unreachable: OnUnreachable::Allow,
                ..
            } => SilenceVerdict::Proceed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_blocks_unless_allowed_and_silences_always_block() {
        let unavailable = |on_unreachable| SilenceCheck::Unavailable {
            error: "connection refused".into(),
            on_unreachable,
        };
        assert_eq!(
            unavailable(OnUnreachable::Block).verdict(),
            SilenceVerdict::Unavailable("connection refused".into())
        );
        assert_eq!(
            unavailable(OnUnreachable::Allow).verdict(),
            SilenceVerdict::Proceed
        );
        // Only the allowed unanswered check is an allowance to record.
        assert_eq!(
            unavailable(OnUnreachable::Allow).unanswered_but_allowed(),
            Some("connection refused")
        );
        assert_eq!(
            unavailable(OnUnreachable::Block).unanswered_but_allowed(),
            None
        );
        assert_eq!(SilenceCheck::NotSilenced.unanswered_but_allowed(), None);
        assert_eq!(SilenceCheck::NotAsked.unanswered_but_allowed(), None);
        assert_eq!(SilenceCheck::NotAsked.verdict(), SilenceVerdict::Proceed);
        assert_eq!(SilenceCheck::NotSilenced.verdict(), SilenceVerdict::Proceed);
        assert_eq!(
            SilenceCheck::Silenced {
                silences: vec!["s1".into()]
            }
            .verdict(),
            SilenceVerdict::Silenced(vec!["s1".into()])
        );
        for (o, name) in [
            (OnUnreachable::Block, "block"),
            (OnUnreachable::Allow, "allow"),
        ] {
            crate::wire::assert_wire_name(o, o.as_str(), name);
        }
    }
}
