//! What a replay reports: one line per alert, the operations it ran, and a
//! summary; as text for people or as one JSON document for scripts.

use std::collections::BTreeMap;

use hale_domain::failure::FailureClass;
use hale_domain::guard::Guard;
use hale_domain::healing::HealingOperation;
use hale_domain::{TenantId, Timestamp};
use hale_engine::{AlertDecision, Outcome};
use serde::Serialize;

use crate::table::{Table, clip, short_time};

/// Every decision label, in the order the summary lists them.
pub(crate) const DECISIONS: [&str; 10] = [
    "operation_started",
    "approval_requested",
    "deduplicated",
    "duplicate_delivery",
    "resolved",
    "no_strategy",
    "waiting",
    "deferred",
    "skipped",
    "blocked",
];

/// The guards the summary always lists, with their names for people.
const GUARDS: [(Guard, &str); 7] = [
    (Guard::CircuitOpen, "circuit breaker"),
    (Guard::Backoff, "backoff"),
    (Guard::Cooldown, "cooldown"),
    (Guard::MaxAttempts, "budget (max attempts)"),
    (Guard::KillSwitch, "kill switch"),
    (Guard::Dormant, "dormant"),
    (Guard::AntiPattern, "anti-pattern"),
];

/// One alert's decision, with when and where it arrived.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionLine {
    /// The delivery's position in the file (1-based).
    pub delivery: usize,
    /// `line 12` or `item 3`.
    pub source: String,
    /// Simulated arrival time.
    pub at: Timestamp,
    /// The tenant.
    pub tenant: TenantId,
    /// The engine's decision, exactly as the server would answer it.
    #[serde(flatten)]
    pub decision: AlertDecision,
}

/// One healing operation as it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationLine {
    /// Id.
    pub id: String,
    /// Tenant.
    pub tenant: TenantId,
    /// Strategy.
    pub strategy_id: String,
    /// Target, `ns:kind/name`.
    pub resource: String,
    /// Final state.
    pub state: String,
    /// Started.
    pub started_at: Timestamp,
    /// Finished.
    pub completed_at: Option<Timestamp>,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<HealingOperation> for OperationLine {
    fn from(op: HealingOperation) -> Self {
        OperationLine {
            id: op.id.to_string(),
            tenant: op.tenant,
            strategy_id: op.strategy_id.to_string(),
            resource: op.resource.to_string(),
            state: op.state.to_string(),
            started_at: op.started_at,
            completed_at: op.completed_at,
            error: op.error,
        }
    }
}

/// A `dormancy.entered` audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DormantEntry {
    /// When.
    pub at: Timestamp,
    /// Which tenant.
    pub tenant: TenantId,
    /// Why.
    pub reason: String,
}

/// Facts about the run that the decisions do not carry.
#[derive(Debug, Clone)]
pub struct SummaryInput {
    /// Tenants replayed.
    pub tenants: Vec<TenantId>,
    /// Simulated start.
    pub from: Timestamp,
    /// Simulated end (after the last operation finished).
    pub to: Timestamp,
    /// Deliveries replayed.
    pub deliveries: usize,
    /// Deliveries recorded earlier than the one before them.
    pub late_deliveries: usize,
    /// Actions the executor was asked to apply.
    pub applied_actions: usize,
    /// Scripted failures.
    pub failing: BTreeMap<String, FailureClass>,
    /// Whether verification always failed.
    pub unhealthy: bool,
    /// Operations not started by a delivery (the detection job's).
    pub operations_by_detection: usize,
}

/// Operation counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationCounts {
    /// All operations.
    pub started: usize,
    /// Started by a delivery.
    pub on_delivery: usize,
    /// Started by the detection job re-driving a deferred alert.
    pub by_detection: usize,
    /// By final state.
    pub by_state: BTreeMap<String, usize>,
}

/// Deduplication counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deduplicated {
    /// Both kinds.
    pub total: usize,
    /// The same delivery again (HA peer, retry).
    pub duplicate_delivery: usize,
    /// Another delivery of an episode already handled or resolved.
    pub same_episode: usize,
}

/// The replay's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Tenants replayed.
    pub tenants: Vec<TenantId>,
    /// Simulated start.
    pub from: Timestamp,
    /// Simulated end.
    pub to: Timestamp,
    /// Simulated duration in seconds.
    pub simulated_seconds: u64,
    /// Deliveries replayed.
    pub deliveries: usize,
    /// Deliveries recorded out of order (delivered without waiting).
    pub late_deliveries: usize,
    /// Alerts replayed.
    pub alerts: usize,
    /// Every decision label with its count (zeros included).
    pub decisions: BTreeMap<String, usize>,
    /// Operations.
    pub operations: OperationCounts,
    /// Deduplication.
    pub deduplicated: Deduplicated,
    /// Deferrals by reason.
    pub deferred: BTreeMap<String, usize>,
    /// Skips by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Blocks by guard (the seven guards always present).
    pub blocked: BTreeMap<String, usize>,
    /// Approval requests raised.
    pub approvals_requested: usize,
    /// Times a tenant went dormant.
    pub dormant_entries: Vec<DormantEntry>,
    /// Actions the executor was asked to apply.
    pub applied_actions: usize,
    /// Scripted failures (`--fail-action`).
    pub failing_actions: BTreeMap<String, FailureClass>,
    /// Whether verification always failed (`--unhealthy`).
    pub unhealthy: bool,
}

impl Summary {
    /// Counts the decisions and operations.
    pub fn build(
        input: &SummaryInput,
        decisions: &[DecisionLine],
        operations: &[OperationLine],
        dormant_entries: Vec<DormantEntry>,
    ) -> Summary {
        let mut labels: BTreeMap<String, usize> =
            DECISIONS.iter().map(|d| ((*d).to_owned(), 0)).collect();
        let mut deferred = BTreeMap::new();
        let mut skipped = BTreeMap::new();
        let mut blocked: BTreeMap<String, usize> = GUARDS
            .iter()
            .map(|(g, _)| (g.as_str().to_owned(), 0))
            .collect();
        for d in decisions {
            let o = &d.decision.outcome;
            *labels.entry(o.label().to_owned()).or_default() += 1;
            match o {
                Outcome::Deferred { reason, .. } => {
                    *deferred.entry(reason.as_str().to_owned()).or_default() += 1
                }
                Outcome::Skipped { reason, .. } => {
                    *skipped.entry(reason.as_str().to_owned()).or_default() += 1
                }
                Outcome::Blocked { guard, .. } => {
                    *blocked.entry(guard.as_str().to_owned()).or_default() += 1
                }
                _ => {}
            }
        }
        let mut by_state = BTreeMap::new();
        for o in operations {
            *by_state.entry(o.state.clone()).or_default() += 1;
        }
        let count = |l: &str| labels.get(l).copied().unwrap_or(0);
        Summary {
            tenants: input.tenants.clone(),
            from: input.from,
            to: input.to,
            simulated_seconds: input.to.saturating_duration_since(input.from).as_secs(),
            deliveries: input.deliveries,
            late_deliveries: input.late_deliveries,
            alerts: decisions.len(),
            operations: OperationCounts {
                started: operations.len(),
                on_delivery: count("operation_started"),
                by_detection: input.operations_by_detection,
                by_state,
            },
            deduplicated: Deduplicated {
                total: count("duplicate_delivery") + count("deduplicated"),
                duplicate_delivery: count("duplicate_delivery"),
                same_episode: count("deduplicated"),
            },
            approvals_requested: count("approval_requested"),
            decisions: labels,
            deferred,
            skipped,
            blocked,
            dormant_entries,
            applied_actions: input.applied_actions,
            failing_actions: input.failing.clone(),
            unhealthy: input.unhealthy,
        }
    }
}

/// The whole replay result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    /// One per alert, in delivery order.
    pub decisions: Vec<DecisionLine>,
    /// Every operation, oldest first.
    pub operations: Vec<OperationLine>,
    /// The counts.
    pub summary: Summary,
}

/// What a decision means, in one short phrase.
pub fn detail(o: &Outcome) -> String {
    match o {
        Outcome::DuplicateDelivery => "same delivery already taken (HA peer or retry)".into(),
        Outcome::Deduplicated {
            claimed_by: Some(id),
        } => format!("episode already handled by {id}"),
        Outcome::Deduplicated { claimed_by: None } => "episode already handled or resolved".into(),
        Outcome::Resolved {
            incident_id: Some(id),
        } => format!("incident {id} resolved"),
        Outcome::Resolved { incident_id: None } => "no open incident".into(),
        Outcome::NoStrategy => "no strategy matches".into(),
        Outcome::Waiting {
            strategy_id,
            detail,
        } => format!("{strategy_id}: {detail}"),
        Outcome::OperationStarted {
            strategy_id,
            resource,
            operation_id,
        } => format!("{strategy_id} on {resource} ({operation_id})"),
        Outcome::ApprovalRequested {
            strategy_id,
            resource,
            approval_id,
        } => format!("{strategy_id} on {resource} needs approval ({approval_id})"),
        Outcome::Deferred {
            strategy_id,
            resource,
            reason,
        } => format!("{reason}: {strategy_id} on {resource}"),
        Outcome::Blocked { guard, detail, .. } => format!("{guard}: {}", short_times(detail)),
        Outcome::Skipped { reason, detail, .. } => format!("{reason}: {detail}"),
    }
}

/// Shortens every RFC 3339 timestamp inside a sentence to whole seconds.
fn short_times(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let core = w.trim_end_matches([')', ':', ',', ';']);
            let tail = &w[core.len()..];
            format!("{}{tail}", short_time(core))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `2401` -> `40m 1s`.
fn span(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

fn time(t: Timestamp) -> String {
    short_time(&t.to_rfc3339())
}

fn counts(map: &BTreeMap<String, usize>) -> String {
    let parts: Vec<String> = map
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

impl ReplayReport {
    /// The report for people: decisions, operations, summary.
    pub fn to_text(&self) -> String {
        let many_tenants = self.summary.tenants.len() > 1;
        let mut headers = vec!["TIME"];
        if many_tenants {
            headers.push("TENANT");
        }
        headers.extend(["ALERT", "STATUS", "FINGERPRINT", "DECISION", "DETAIL"]);
        let mut t = Table::new(&headers);
        for d in &self.decisions {
            let mut row = vec![time(d.at)];
            if many_tenants {
                row.push(d.tenant.to_string());
            }
            let fp = d.decision.fingerprint.as_str();
            row.extend([
                d.decision.alertname.clone(),
                d.decision.status.to_string(),
                fp.chars().take(12).collect(),
                d.decision.outcome.label().to_owned(),
                clip(detail(&d.decision.outcome), 110),
            ]);
            t.row(row);
        }
        let mut out = t.render();
        if !self.operations.is_empty() {
            let mut t = Table::new(&[
                "OPERATION",
                "STARTED",
                "STRATEGY",
                "RESOURCE",
                "STATE",
                "ERROR",
            ]);
            for o in &self.operations {
                t.row(vec![
                    o.id.clone(),
                    time(o.started_at),
                    o.strategy_id.clone(),
                    o.resource.clone(),
                    o.state.clone(),
                    clip(
                        o.error.as_deref().map_or_else(|| "-".into(), short_times),
                        90,
                    ),
                ]);
            }
            out.push('\n');
            out.push_str(&t.render());
        }
        out.push('\n');
        out.push_str(&self.summary.to_text());
        out
    }
}

impl Summary {
    /// The summary block for people.
    pub fn to_text(&self) -> String {
        let n = |l: &str| self.decisions.get(l).copied().unwrap_or(0);
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut row = |k: &str, v: String| rows.push((k.to_owned(), v));
        row(
            "replayed",
            format!(
                "{} deliveries, {} alerts, {} .. {} ({} simulated)",
                self.deliveries,
                self.alerts,
                time(self.from),
                time(self.to),
                span(self.simulated_seconds)
            ),
        );
        let ops = &self.operations;
        row(
            "operations started",
            format!(
                "{} ({} on delivery, {} by the detection job){}",
                ops.started,
                ops.on_delivery,
                ops.by_detection,
                counts(&ops.by_state)
                    .replacen(" (", ": ", 1)
                    .trim_end_matches(')')
            ),
        );
        let dd = &self.deduplicated;
        row(
            "deduplicated",
            format!(
                "{} ({} duplicate deliveries, {} of an episode already handled)",
                dd.total, dd.duplicate_delivery, dd.same_episode
            ),
        );
        row("resolved", n("resolved").to_string());
        row("no strategy", n("no_strategy").to_string());
        row("waiting for trigger", n("waiting").to_string());
        row("approvals requested", self.approvals_requested.to_string());
        row(
            "deferred",
            format!("{}{}", n("deferred"), counts(&self.deferred)),
        );
        row(
            "skipped",
            format!("{}{}", n("skipped"), counts(&self.skipped)),
        );
        row("blocked", n("blocked").to_string());
        for (guard, name) in GUARDS {
            row(
                &format!("  {name}"),
                self.blocked
                    .get(guard.as_str())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            );
        }
        for (guard, count) in &self.blocked {
            if !GUARDS.iter().any(|(g, _)| g.as_str() == guard) {
                row(&format!("  {guard}"), count.to_string());
            }
        }
        row("dormant entries", self.dormant_entries.len().to_string());
        let mut out = String::from("summary:\n");
        let w = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in &rows {
            out.push_str(&format!(
                "  {k}{}  {v}\n",
                " ".repeat(w - k.chars().count())
            ));
        }
        for e in &self.dormant_entries {
            out.push_str(&format!("    {} {}: {}\n", time(e.at), e.tenant, e.reason));
        }
        if self.late_deliveries > 0 {
            out.push_str(&format!(
                "  note: {} deliveries were recorded out of order and were delivered at once\n",
                self.late_deliveries
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_durations() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(2401), "40m 1s");
        assert_eq!(span(7200), "2h");
    }

    #[test]
    fn timestamps_inside_details_are_shortened() {
        assert_eq!(
            short_times("backing off until 2026-11-25T10:00:35.000000Z"),
            "backing off until 2026-11-25T10:00:35Z"
        );
        assert_eq!(
            short_times("tenant dormant since 2026-11-25T10:00:35.000000Z: why (x)"),
            "tenant dormant since 2026-11-25T10:00:35Z: why (x)"
        );
    }
}
