//! Alert storm convergence (seed 003 "strategy B").
//!
//! Alerts with the same identity share a [`Fingerprint`]: by default a SHA-256
//! over `namespace:deployment-or-service:alertname`, as seed 003 does. Per
//! tenant, one [`FingerprintRecord`] counts deliveries and tracks *episodes*:
//! an episode starts when the alert fires after being new or resolved and
//! ends when it resolves. Alertmanager delivers at least once (every HA peer
//! may send the same group, and it repeats), so within an episode:
//!
//! * the first firing delivery is [`ConvergenceVerdict::NewEpisode`];
//! * later firing deliveries are [`ConvergenceVerdict::Duplicate`]; once the
//!   episode is *claimed* by a healing operation or approval request, a
//!   duplicate never yields a second healing start.
//!
//! [`converge`] is the rule; stores implement it as one atomic upsert and
//! the conformance suite checks them against this function.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alert::{Alert, AlertStatus};
use crate::time::Timestamp;

/// How many recent episode starts a record remembers (for triggers that need
/// N firings within a window).
pub const RECENT_FIRINGS_KEPT: usize = 16;

/// A stable hash of an alert's identity (64 lower-case hex characters).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Wraps a stored fingerprint.
    pub fn from_hex(hex: impl Into<String>) -> Self {
        Fingerprint(hex.into())
    }

    /// The hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", &self.0[..self.0.len().min(12)])
    }
}

/// Which labels make up an alert's identity. Each part is a list of labels
/// tried in order; the first present one is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRule {
    /// The parts, joined with `:` before hashing.
    pub parts: Vec<Vec<String>>,
}

impl Default for IdentityRule {
    /// Seed 003: `namespace:deployment:alert_name`, with `service` standing in
    /// for a missing `deployment` label.
    fn default() -> Self {
        IdentityRule {
            parts: vec![
                vec!["namespace".into()],
                vec!["deployment".into(), "service".into()],
                vec!["alertname".into()],
            ],
        }
    }
}

impl IdentityRule {
    /// The identity labels found on the alert (for display and storage).
    pub fn identity(&self, alert: &Alert) -> BTreeMap<String, String> {
        self.parts
            .iter()
            .filter_map(|part| {
                part.iter()
                    .find_map(|l| alert.label(l).map(|v| (l.clone(), v.to_owned())))
            })
            .collect()
    }

    /// The fingerprint of an alert.
    pub fn fingerprint(&self, alert: &Alert) -> Fingerprint {
        let joined = self
            .parts
            .iter()
            .map(|part| part.iter().find_map(|l| alert.label(l)).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(":");
        Fingerprint(hex::encode(Sha256::digest(joined.as_bytes())))
    }
}

/// What acted on an episode, so duplicates know not to act again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeClaim {
    /// `operation` or `approval`.
    pub kind: ClaimKind,
    /// The operation's or approval's id.
    pub id: String,
    /// When the claim was made.
    pub at: Timestamp,
}

/// The kind of thing that claimed an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// An automatic healing operation.
    Operation,
    /// An approval request on the decision path.
    Approval,
}

/// Convergence state of one fingerprint in one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerprintRecord {
    /// The fingerprint.
    pub fingerprint: Fingerprint,
    /// The alert name (for display).
    pub alertname: String,
    /// The identity labels.
    pub identity: BTreeMap<String, String>,
    /// The latest status.
    pub status: AlertStatus,
    /// Every delivery, ever.
    pub hit_count: u64,
    /// Deliveries since the status last changed (1 = this delivery changed it).
    pub status_hits: u64,
    /// Episode number; increases each time the alert starts firing again.
    pub episode: u64,
    /// When the current episode started.
    pub episode_started_at: Timestamp,
    /// Start times of recent episodes, oldest first, at most
    /// [`RECENT_FIRINGS_KEPT`].
    pub recent_firings: Vec<Timestamp>,
    /// What acted on the current episode.
    pub claim: Option<EpisodeClaim>,
    /// First delivery.
    pub first_seen_at: Timestamp,
    /// Latest delivery.
    pub last_seen_at: Timestamp,
}

/// What a delivery means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum ConvergenceVerdict {
    /// The first firing delivery of an episode: evaluate strategies.
    NewEpisode,
    /// Another firing delivery of the current episode.
    Duplicate {
        /// Whether the episode is already claimed; if so, stop here.
        claimed: bool,
    },
    /// The alert resolved (first resolved delivery).
    Resolved,
    /// Another resolved delivery.
    DuplicateResolved,
}

impl ConvergenceVerdict {
    /// Whether this delivery may start healing (new episode, or an unclaimed
    /// duplicate whose earlier attempt was deferred or blocked).
    pub fn may_start_healing(self) -> bool {
        matches!(
            self,
            ConvergenceVerdict::NewEpisode | ConvergenceVerdict::Duplicate { claimed: false }
        )
    }

    /// Whether intake reads the fingerprint's open incident for this
    /// delivery: to resolve it (a first resolve, or a repeat that finds it
    /// still open because the first one's records were lost), or to
    /// evaluate (and record on it) an alert that may start healing. Repeats
    /// of a claimed episode change nothing but the fingerprint.
    pub fn concerns_incident(self) -> bool {
        matches!(
            self,
            ConvergenceVerdict::Resolved | ConvergenceVerdict::DuplicateResolved
        ) || self.may_start_healing()
    }

    /// Whether the delivery is an observation that settles the alert's
    /// completed operations' effectiveness: its first resolve, or its first
    /// firing of a new episode.
    pub fn observes_effectiveness(self) -> bool {
        matches!(
            self,
            ConvergenceVerdict::Resolved | ConvergenceVerdict::NewEpisode
        )
    }
}

/// One delivery to converge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The fingerprint.
    pub fingerprint: Fingerprint,
    /// The alert name.
    pub alertname: String,
    /// The identity labels.
    pub identity: BTreeMap<String, String>,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// When Hale received it.
    pub received_at: Timestamp,
}

impl Delivery {
    /// Builds a delivery from an alert with the given identity rule.
    pub fn of(rule: &IdentityRule, alert: &Alert, received_at: Timestamp) -> Delivery {
        Delivery {
            fingerprint: rule.fingerprint(alert),
            alertname: alert.alertname().unwrap_or_default().to_owned(),
            identity: rule.identity(alert),
            status: alert.status,
            received_at,
        }
    }
}

/// The convergence rule: the record after `delivery`, given the record
/// before it (if any).
pub fn converge(previous: Option<&FingerprintRecord>, delivery: &Delivery) -> FingerprintRecord {
    let now = delivery.received_at;
    match previous {
        None => FingerprintRecord {
            fingerprint: delivery.fingerprint.clone(),
            alertname: delivery.alertname.clone(),
            identity: delivery.identity.clone(),
            status: delivery.status,
            hit_count: 1,
            status_hits: 1,
            episode: u64::from(delivery.status == AlertStatus::Firing),
            episode_started_at: now,
            recent_firings: if delivery.status == AlertStatus::Firing {
                vec![now]
            } else {
                Vec::new()
            },
            claim: None,
            first_seen_at: now,
            last_seen_at: now,
        },
        Some(prev) => {
            let mut next = prev.clone();
            next.hit_count = prev.hit_count.saturating_add(1);
            next.last_seen_at = prev.last_seen_at.max(now);
            next.alertname.clone_from(&delivery.alertname);
            next.identity.clone_from(&delivery.identity);
            if prev.status == delivery.status {
                next.status_hits = prev.status_hits.saturating_add(1);
            } else {
                next.status = delivery.status;
                next.status_hits = 1;
                if delivery.status == AlertStatus::Firing {
                    // A new episode: forget the old claim.
                    next.episode = prev.episode.saturating_add(1);
                    next.episode_started_at = now;
                    next.claim = None;
                    next.recent_firings.push(now);
                    let excess = next
                        .recent_firings
                        .len()
                        .saturating_sub(RECENT_FIRINGS_KEPT);
                    next.recent_firings.drain(..excess);
                }
            }
            next
        }
    }
}

impl FingerprintRecord {
    /// What the delivery that produced this record means.
    pub fn verdict(&self) -> ConvergenceVerdict {
        match (self.status, self.status_hits) {
            (AlertStatus::Firing, 1) => ConvergenceVerdict::NewEpisode,
            (AlertStatus::Firing, _) => ConvergenceVerdict::Duplicate {
                claimed: self.claim.is_some(),
            },
            (AlertStatus::Resolved, 1) => ConvergenceVerdict::Resolved,
            (AlertStatus::Resolved, _) => ConvergenceVerdict::DuplicateResolved,
        }
    }

    /// Claims the current episode if `episode` is still current and nothing
    /// claimed it yet. Returns whether the claim was taken.
    pub fn try_claim(&mut self, episode: u64, claim: EpisodeClaim) -> bool {
        if self.episode == episode && self.claim.is_none() && self.status == AlertStatus::Firing {
            self.claim = Some(claim);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests;
