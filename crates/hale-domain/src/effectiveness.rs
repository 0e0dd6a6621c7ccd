//! Effectiveness: did a completed fix actually fix?
//!
//! A COMPLETED operation only says its actions and its verification passed.
//! Whether it fixed what the alert was about is known later: the alert must
//! resolve within [`EffectivenessPolicy::window`] of the completion and stay
//! resolved for [`EffectivenessPolicy::stabilization`]. Until then the
//! operation is [`Effectiveness::Pending`]; a re-fire of the alert before
//! the stabilization is over, or no resolve within the window, makes it
//! [`Effectiveness::Ineffective`].
//!
//! [`settle`] is the rule for one operation, fed the events the engine sees
//! (the alert resolving or firing at intake, and the clock from a periodic
//! job). [`chain_reached`] is the rule over a strategy's recent verdicts on
//! one target: `chain_threshold` ineffective runs within `chain_window`
//! block that pair (the guard's `ineffective_chain` stage, through the
//! anti-pattern entry the engine writes when the chain is reached).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::wire::wire_enum;

wire_enum!(
    /// Whether a completed operation fixed what its alert was about.
    Effectiveness {
        /// Waiting for the alert to resolve and stay resolved.
        Pending => "pending",
        /// The alert resolved in time and stayed resolved.
        Effective => "effective",
        /// The alert did not resolve in time, or fired again too soon.
        Ineffective => "ineffective",
    }
);

/// Defaults: resolve within 10 minutes, stay resolved for 5. Chains are off
/// by default (threshold 0), so a policy that does not ask for them decides
/// exactly as before; `chain_threshold = 3` within an hour is a good start.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(600);
/// See [`DEFAULT_WINDOW`].
pub const DEFAULT_STABILIZATION: Duration = Duration::from_secs(300);
/// See [`DEFAULT_WINDOW`].
pub const DEFAULT_CHAIN_THRESHOLD: u32 = 0;
/// See [`DEFAULT_WINDOW`].
pub const DEFAULT_CHAIN_WINDOW: Duration = Duration::from_secs(3600);

/// A tenant's effectiveness settings (`[tenants.effectiveness]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EffectivenessPolicy {
    /// How long after completion the alert has to resolve.
    #[serde(with = "crate::time::duration")]
    pub window: Duration,
    /// How long it has to stay resolved.
    #[serde(with = "crate::time::duration")]
    pub stabilization: Duration,
    /// Ineffective runs of one strategy on one target that block the pair
    /// (0: never block).
    pub chain_threshold: u32,
    /// Within how long those runs count.
    #[serde(with = "crate::time::duration")]
    pub chain_window: Duration,
}

impl Default for EffectivenessPolicy {
    fn default() -> Self {
        EffectivenessPolicy {
            window: DEFAULT_WINDOW,
            stabilization: DEFAULT_STABILIZATION,
            chain_threshold: DEFAULT_CHAIN_THRESHOLD,
            chain_window: DEFAULT_CHAIN_WINDOW,
        }
    }
}

/// What the engine saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// The operation's alert resolved at this instant.
    Resolved(Timestamp),
    /// The operation's alert fired (a new episode) at this instant.
    Fired(Timestamp),
    /// Nothing arrived; it is now this instant.
    Tick(Timestamp),
}

/// Why an operation was found ineffective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IneffectiveReason {
    /// The alert did not resolve within the window.
    NotResolved,
    /// The alert fired again before the stabilization was over.
    Refired,
}

impl IneffectiveReason {
    /// A sentence for the record.
    pub fn describe(self, policy: &EffectivenessPolicy) -> String {
        let f = crate::time::duration::format;
        match self {
            IneffectiveReason::NotResolved => {
                format!("the alert did not resolve within {}", f(policy.window))
            }
            IneffectiveReason::Refired => format!(
                "the alert fired again within {} of resolving",
                f(policy.stabilization)
            ),
        }
    }
}

/// The rule's answer for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Still pending; `resolved_at` is when the alert resolved, if it has.
    Pending {
        /// When the alert resolved, if it has.
        resolved_at: Option<Timestamp>,
    },
    /// The fix worked.
    Effective,
    /// The fix did not work.
    Ineffective(IneffectiveReason),
}

/// The rule for one pending operation that completed at `completed_at`,
/// whose alert resolved at `resolved_at` (if it has), given what was seen.
///
/// * Resolved within the window: pending until the stabilization is over
///   (a later resolve of the same episode keeps the first instant).
/// * Resolved after the window: ineffective (`not_resolved`).
/// * Fired again while resolved and before the stabilization is over:
///   ineffective (`refired`).
/// * Fired (a new episode, which is what [`Observation::Fired`] means)
///   with no resolve recorded: the alert did resolve, unseen here (another
///   replica took the resolve and has not written it yet, or it came while
///   the operation still ran), and came back. The resolve's instant is
///   unknown, so the verdict is the cautious one: ineffective, `refired`
///   within the window, `not_resolved` after it. A fix whose alert returned
///   is never called effective on a guess.
/// * A tick: effective once resolved for the stabilization; ineffective
///   once the window is over without a resolve.
pub fn settle(
    policy: &EffectivenessPolicy,
    completed_at: Timestamp,
    resolved_at: Option<Timestamp>,
    seen: Observation,
) -> Settlement {
    let deadline = completed_at.saturating_add(policy.window);
    let now = match seen {
        Observation::Resolved(at) | Observation::Fired(at) | Observation::Tick(at) => at,
    };
    match (seen, resolved_at) {
        (Observation::Fired(at), Some(r)) if at < r.saturating_add(policy.stabilization) => {
            return Settlement::Ineffective(IneffectiveReason::Refired);
        }
        (Observation::Fired(at), None) => {
            return Settlement::Ineffective(if at > deadline {
                IneffectiveReason::NotResolved
            } else {
                IneffectiveReason::Refired
            });
        }
        (Observation::Resolved(at), None) => {
            if at > deadline {
                return Settlement::Ineffective(IneffectiveReason::NotResolved);
            }
            return timed(policy, Some(at.max(completed_at)), deadline, now);
        }
        _ => {}
    }
    timed(policy, resolved_at, deadline, now)
}

/// The verdict time alone gives.
fn timed(
    policy: &EffectivenessPolicy,
    resolved_at: Option<Timestamp>,
    deadline: Timestamp,
    now: Timestamp,
) -> Settlement {
    match resolved_at {
        Some(r) if now >= r.saturating_add(policy.stabilization) => Settlement::Effective,
        Some(r) => Settlement::Pending {
            resolved_at: Some(r),
        },
        None if now > deadline => Settlement::Ineffective(IneffectiveReason::NotResolved),
        None => Settlement::Pending { resolved_at: None },
    }
}

/// When a pending operation is due for its next verdict by time alone.
pub fn due_at(
    policy: &EffectivenessPolicy,
    completed_at: Timestamp,
    resolved_at: Option<Timestamp>,
) -> Timestamp {
    match resolved_at {
        Some(r) => r.saturating_add(policy.stabilization),
        None => completed_at.saturating_add(policy.window),
    }
}

/// Whether a strategy's ineffective verdicts on one target (`verdicts`,
/// the instants they were reached) form a chain at `now`: at least
/// `chain_threshold` of them within the last `chain_window`, counting only
/// those after `since` (the last time a person lifted a chain on the pair,
/// if ever). A threshold of 0 never chains.
pub fn chain_reached(
    policy: &EffectivenessPolicy,
    verdicts: &[Timestamp],
    since: Option<Timestamp>,
    now: Timestamp,
) -> bool {
    if policy.chain_threshold == 0 {
        return false;
    }
    let from = now.saturating_sub(policy.chain_window);
    let counted = verdicts
        .iter()
        .filter(|&&t| t > from && t <= now && since.is_none_or(|s| t > s))
        .count();
    counted >= policy.chain_threshold as usize
}

/// How one strategy's completed operations fared: the status page's
/// counts, read from the operations every replica shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectivenessTally {
    /// Waiting for their alert to resolve and stay resolved.
    pub pending: u64,
    /// Their alert resolved in time and stayed resolved.
    pub effective: u64,
    /// Their alert did not resolve in time, or fired again too soon.
    pub ineffective: u64,
}

impl EffectivenessTally {
    /// Counts `n` more operations with `verdict`.
    pub fn add(&mut self, verdict: Effectiveness, n: u64) {
        let slot = match verdict {
            Effectiveness::Pending => &mut self.pending,
            Effectiveness::Effective => &mut self.effective,
            Effectiveness::Ineffective => &mut self.ineffective,
        };
        *slot = slot.saturating_add(n);
    }

    /// Tallies counted rows `(key, verdict, n)` per key, ordered by key
    /// (the stores count per strategy with this).
    pub fn by_key<K: Ord>(
        rows: impl IntoIterator<Item = (K, Effectiveness, u64)>,
    ) -> Vec<(K, EffectivenessTally)> {
        let mut by = std::collections::BTreeMap::<K, EffectivenessTally>::new();
        for (key, verdict, n) in rows {
            by.entry(key).or_default().add(verdict, n);
        }
        by.into_iter().collect()
    }

    /// The effective rate: effective / (effective + ineffective), the same
    /// ratio `/metrics` gives per strategy; pending operations have no
    /// verdict yet and do not count. `None` before the first verdict.
    pub fn effective_rate(&self) -> Option<f64> {
        let settled = self.effective.saturating_add(self.ineffective);
        (settled > 0).then(|| self.effective as f64 / settled as f64)
    }
}

#[cfg(test)]
mod tests;
