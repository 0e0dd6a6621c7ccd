//! Incidents (seed 003 `IncidentRecord`). Durable from the first alert: seed
//! 003 lost its incident chain by keeping incidents only in a cache with a
//! TTL.

use serde::{Deserialize, Serialize};

use super::wire_enum;
use crate::alert::{Alert, AlertStatus};
use crate::convergence::Fingerprint;
use crate::ids::{ApprovalId, IncidentId, OperationId};
use crate::risk::Severity;
use crate::tenant::TenantId;
use crate::time::Timestamp;

wire_enum!(
    /// Incident status (seed 003).
    IncidentStatus {
        /// Open, being looked at.
        Investigating => "investigating",
        /// Healing in progress.
        Mitigating => "mitigating",
        /// The alert resolved.
        Resolved => "resolved",
        /// Closed by a human.
        Closed => "closed",
        /// Handed to humans after failed healing.
        Escalated => "escalated",
    }
);

impl IncidentStatus {
    /// Whether the incident still takes new signals.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IncidentStatus::Investigating | IncidentStatus::Mitigating | IncidentStatus::Escalated
        )
    }
}

wire_enum!(
    /// The stage of the pipeline a decision step comes from.
    Stage {
        /// Strategy matching.
        Match => "match",
        /// The strategy's trigger (firings within a window).
        Trigger => "trigger",
        /// The guards.
        Guard => "guard",
        /// Coordination with the decision path.
        Coordination => "coordination",
        /// An automatic run starting.
        Start => "start",
        /// The decision path (approvals).
        Decision => "decision",
        /// A healing run.
        Heal => "heal",
        /// Whether the completed fix fixed (`effective`, `ineffective`).
        Effectiveness => "effectiveness",
    }
);

wire_enum!(
    /// What a decision step decided.
    StepDecision {
        /// No strategy matches the alert.
        NoStrategy => "no_strategy",
        /// The trigger needs more firings.
        Waiting => "waiting",
        /// Deferred by coordination.
        Deferred => "deferred",
        /// Skipped.
        Skipped => "skipped",
        /// Blocked by a guard.
        Blocked => "blocked",
        /// A guard stage could not be checked and the tenant's policy let
        /// automation go on (an unanswered silence check with
        /// `on_unreachable = "allow"`): recorded so a person sees what
        /// was not checked.
        Allowed => "allowed",
        /// An automatic run started.
        OperationStarted => "operation_started",
        /// An approval was requested.
        ApprovalRequested => "approval_requested",
        /// An approved request started running.
        ApprovedExecutionStarted => "approved_execution_started",
        /// An approval request was rejected.
        Rejected => "rejected",
        /// The run healed the target.
        Healed => "healed",
        /// The run failed.
        Failed => "failed",
        /// The run was interrupted.
        Interrupted => "interrupted",
        /// The alert resolved in time and stayed resolved.
        Effective => "effective",
        /// The alert came back, or never resolved, after the fix.
        Ineffective => "ineffective",
    }
);

wire_enum!(
    /// How an incident's episode ended (its outcome's `result`).
    IncidentResult {
        /// An operation healed and verified the target.
        Healed => "healed",
        /// An operation failed.
        Failed => "failed",
        /// An operation was interrupted.
        Interrupted => "interrupted",
        /// The alert resolved before any healing ran.
        ResolvedWithoutAction => "resolved_without_action",
    }
);

/// Working-memory TTL of an incident in days (seed 003); the durable row is
/// permanent.
pub const WORKING_MEMORY_TTL_DAYS: u32 = 7;

/// Labels that name the affected service, most specific first.
const SERVICE_LABELS: [&str; 6] = [
    "deployment",
    "service",
    "statefulset",
    "daemonset",
    "job",
    "pod",
];

/// Labels that name what an alert is about, for the incident title.
const TITLE_LABELS: [&str; 7] = [
    "deployment",
    "service",
    "statefulset",
    "daemonset",
    "pod",
    "node",
    "instance",
];

/// Most signals kept per incident (a storm converges into one incident; its
/// hit count lives on the fingerprint).
pub const MAX_SIGNALS: usize = 50;

/// Most decision steps kept per incident: a long storm keeps its latest
/// steps; every step is also in the audit log.
pub const MAX_DECISION_STEPS: usize = 200;

/// One alert delivery attached to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Alert name.
    pub alertname: String,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// The alert's fingerprint.
    pub fingerprint: Fingerprint,
    /// When received.
    pub received_at: Timestamp,
    /// The alert's summary annotation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl Signal {
    /// The signal of one delivery of `alert`.
    pub fn of(alert: &Alert, fingerprint: &Fingerprint, received_at: Timestamp) -> Signal {
        Signal {
            alertname: alert.alertname().unwrap_or_default().to_owned(),
            status: alert.status,
            fingerprint: fingerprint.clone(),
            received_at,
            summary: alert.annotations.get("summary").cloned(),
        }
    }
}

/// One step of the decision chain: what the engine decided and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionStep {
    /// When.
    pub at: Timestamp,
    /// The stage (`convergence`, `match`, `guard`, `coordination`, ...).
    pub stage: String,
    /// The decision (`started`, `deferred`, `blocked`, ...).
    pub decision: String,
    /// Why.
    pub reason: String,
}

/// The result of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentOutcome {
    /// `healed`, `failed`, `resolved_without_action`, ...
    pub result: String,
    /// Details.
    pub summary: String,
    /// The operation involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<OperationId>,
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-<yyyymmdd>-<six characters>`.
    pub id: IncidentId,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Status.
    pub status: IncidentStatus,
    /// Severity.
    pub severity: Severity,
    /// Title (alert name and target).
    pub title: String,
    /// The fingerprint the incident groups.
    pub fingerprint: Fingerprint,
    /// Alert signals, newest last, at most [`MAX_SIGNALS`].
    pub signals: Vec<Signal>,
    /// Affected services.
    pub affected_services: Vec<String>,
    /// What the engine decided, in order, at most [`MAX_DECISION_STEPS`].
    pub decision_chain: Vec<DecisionStep>,
    /// Approval requests raised.
    pub proposal_ids: Vec<ApprovalId>,
    /// Healing operations run.
    pub operation_ids: Vec<OperationId>,
    /// Outcome.
    pub outcome: Option<IncidentOutcome>,
    /// Working-memory TTL in days (seed: 7); the durable row is permanent.
    pub ttl_days: u32,
    /// Optimistic-concurrency revision; stores bump it on every update.
    #[serde(default)]
    pub revision: u64,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
    /// Closed.
    pub closed_at: Option<Timestamp>,
}

impl IncidentOutcome {
    /// An outcome of `result` with a human summary.
    pub fn new(
        result: IncidentResult,
        summary: impl Into<String>,
        operation_id: Option<OperationId>,
    ) -> IncidentOutcome {
        IncidentOutcome {
            result: result.as_str().to_owned(),
            summary: summary.into(),
            operation_id,
        }
    }
}

impl DecisionStep {
    /// A step of `stage` that decided `decision` for `reason`.
    pub fn new(
        at: Timestamp,
        stage: Stage,
        decision: StepDecision,
        reason: impl Into<String>,
    ) -> DecisionStep {
        DecisionStep {
            at,
            stage: stage.as_str().to_owned(),
            decision: decision.as_str().to_owned(),
            reason: reason.into(),
        }
    }
}

impl Incident {
    /// A new incident for the first delivery of `alert` with seed 003's
    /// defaults: investigating, severity from the `severity` label, a title
    /// naming the alert and its target, the affected service from the
    /// workload labels, the first signal, and a working-memory TTL of
    /// [`WORKING_MEMORY_TTL_DAYS`].
    pub fn open(
        id: IncidentId,
        tenant: TenantId,
        fingerprint: Fingerprint,
        alert: &Alert,
        now: Timestamp,
    ) -> Incident {
        let service = SERVICE_LABELS.iter().find_map(|l| alert.label(l));
        Incident {
            id,
            tenant,
            status: IncidentStatus::Investigating,
            severity: Severity::from_label(alert.label("severity")),
            title: title_of(alert),
            signals: vec![Signal::of(alert, &fingerprint, now)],
            fingerprint,
            affected_services: service.map(str::to_owned).into_iter().collect(),
            decision_chain: Vec::new(),
            proposal_ids: Vec::new(),
            operation_ids: Vec::new(),
            outcome: None,
            ttl_days: WORKING_MEMORY_TTL_DAYS,
            revision: 0,
            created_at: now,
            updated_at: now,
            resolved_at: None,
            closed_at: None,
        }
    }

    /// Adds a signal, keeping at most [`MAX_SIGNALS`].
    pub fn push_signal(&mut self, s: Signal) {
        self.updated_at = self.updated_at.max(s.received_at);
        self.signals.push(s);
        let excess = self.signals.len().saturating_sub(MAX_SIGNALS);
        self.signals.drain(..excess);
    }

    /// An operation started on the incident: it is being mitigated, the
    /// operation is listed once, and the step says why.
    pub fn operation_started(&mut self, operation: &OperationId, step: DecisionStep) {
        self.status = IncidentStatus::Mitigating;
        if !self.operation_ids.contains(operation) {
            self.operation_ids.push(operation.clone());
        }
        self.push_decision(step);
    }

    /// A person closes the incident: `false` (and no change) when it was
    /// already closed. A closed incident takes no new signals; the next
    /// firing of its alert opens a new one.
    pub fn close(&mut self, at: Timestamp) -> bool {
        if self.status == IncidentStatus::Closed {
            return false;
        }
        self.status = IncidentStatus::Closed;
        self.closed_at = Some(at);
        self.updated_at = self.updated_at.max(at);
        true
    }

    /// Appends a decision step, keeping at most [`MAX_DECISION_STEPS`].
    pub fn push_decision(&mut self, step: DecisionStep) {
        self.updated_at = self.updated_at.max(step.at);
        self.decision_chain.push(step);
        let excess = self.decision_chain.len().saturating_sub(MAX_DECISION_STEPS);
        self.decision_chain.drain(..excess);
    }
}

/// `<alertname> on <namespace>/<target>`, as much of it as the labels give.
fn title_of(alert: &Alert) -> String {
    let name = alert.alertname().unwrap_or("alert");
    let what = TITLE_LABELS.iter().find_map(|l| alert.label(l));
    match (alert.label("namespace"), what) {
        (Some(ns), Some(w)) => format!("{name} on {ns}/{w}"),
        (None, Some(w)) => format!("{name} on {w}"),
        _ => name.to_owned(),
    }
}

/// Formats an incident id from a date and a unique suffix (its last six
/// alphanumeric characters are used).
pub fn incident_id(at: Timestamp, suffix: &str) -> IncidentId {
    let alnum: Vec<char> = suffix.chars().filter(char::is_ascii_alphanumeric).collect();
    let suffix: String = alnum[alnum.len().saturating_sub(6)..]
        .iter()
        .collect::<String>()
        .to_ascii_uppercase();
    IncidentId::new(format!(
        "INC-{}-{suffix}",
        at.to_datetime().format("%Y%m%d")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_bounded() {
        let t = Timestamp::from_unix_secs(0);
        let mut inc = Incident {
            id: IncidentId::new("i"),
            tenant: TenantId::new("t").unwrap(),
            status: IncidentStatus::Investigating,
            severity: Severity::P2,
            title: "x".into(),
            fingerprint: Fingerprint::from_hex("f"),
            signals: Vec::new(),
            affected_services: Vec::new(),
            decision_chain: Vec::new(),
            proposal_ids: Vec::new(),
            operation_ids: Vec::new(),
            outcome: None,
            ttl_days: 7,
            revision: 0,
            created_at: t,
            updated_at: t,
            resolved_at: None,
            closed_at: None,
        };
        for i in 0..(MAX_DECISION_STEPS + 10) {
            inc.push_decision(DecisionStep {
                at: t,
                stage: "s".into(),
                decision: "d".into(),
                reason: i.to_string(),
            });
        }
        assert_eq!(inc.decision_chain.len(), MAX_DECISION_STEPS);
        assert_eq!(inc.decision_chain[0].reason, "10", "the oldest go first");
    }

    /// Closing is once: the first close stamps `closed_at` and stops new
    /// signals; a second changes nothing.
    #[test]
    fn an_incident_closes_once() {
        let t = Timestamp::from_unix_secs(100);
        let alert = Alert::firing([("alertname", "Down")]);
        let mut inc = Incident::open(
            IncidentId::new("INC-1"),
            TenantId::new("t").unwrap(),
            Fingerprint::from_hex("ab"),
            &alert,
            t,
        );
        let at = Timestamp::from_unix_secs(200);
        assert!(inc.close(at));
        assert_eq!(inc.status, IncidentStatus::Closed);
        assert!(!inc.status.is_open());
        assert_eq!(inc.closed_at, Some(at));
        assert_eq!(inc.updated_at, at);
        let before = inc.clone();
        assert!(!inc.close(Timestamp::from_unix_secs(300)));
        assert_eq!(inc, before);
    }

    #[test]
    fn open_holds_the_seed_defaults() {
        let t = Timestamp::from_unix_secs(100);
        let mut alert = Alert::firing([
            ("alertname", "HighErrorRate"),
            ("namespace", "prod"),
            ("service", "checkout"),
            ("severity", "critical"),
        ]);
        alert
            .annotations
            .insert("summary".into(), "5xx above 5%".into());
        let fp = Fingerprint::from_hex("ab");
        let inc = Incident::open(
            IncidentId::new("INC-1"),
            TenantId::new("t").unwrap(),
            fp.clone(),
            &alert,
            t,
        );
        assert_eq!(inc.status, IncidentStatus::Investigating);
        assert_eq!(inc.severity, Severity::P0);
        assert_eq!(inc.title, "HighErrorRate on prod/checkout");
        assert_eq!(inc.affected_services, ["checkout"]);
        assert_eq!(inc.ttl_days, 7);
        assert_eq!(inc.signals, [Signal::of(&alert, &fp, t)]);
        assert_eq!(inc.signals[0].summary.as_deref(), Some("5xx above 5%"));
        assert!(inc.decision_chain.is_empty() && inc.revision == 0);
        assert_eq!((inc.created_at, inc.updated_at), (t, t));
        let bare = Incident::open(
            IncidentId::new("INC-2"),
            TenantId::new("t").unwrap(),
            fp,
            &Alert::firing([("alertname", "X"), ("node", "n1")]),
            t,
        );
        assert_eq!(bare.title, "X on n1");
        assert_eq!(bare.severity, Severity::P3);
        assert!(bare.affected_services.is_empty());
        let step = DecisionStep::new(t, Stage::Guard, StepDecision::Blocked, "cooldown");
        assert_eq!(
            (step.stage.as_str(), step.decision.as_str()),
            ("guard", "blocked")
        );
    }

    #[test]
    fn open_statuses_take_signals() {
        for status in IncidentStatus::ALL.iter().copied() {
            let open = matches!(
                status,
                IncidentStatus::Investigating
                    | IncidentStatus::Mitigating
                    | IncidentStatus::Escalated
            );
            assert_eq!(status.is_open(), open, "{status}");
        }
    }

    #[test]
    fn signals_are_bounded_and_operations_listed_once() {
        let t = Timestamp::from_unix_secs(100);
        let alert = Alert::firing([("alertname", "Down"), ("namespace", "prod")]);
        let fp = Fingerprint::from_hex("ab");
        let mut inc = Incident::open(
            IncidentId::new("i"),
            TenantId::new("t").unwrap(),
            fp.clone(),
            &alert,
            t,
        );
        assert_eq!(inc.title, "Down", "no target label: the alert name alone");
        for i in 0..(MAX_SIGNALS + 5) {
            let at = t + std::time::Duration::from_secs(u64::try_from(i).unwrap());
            inc.push_signal(Signal::of(&alert, &fp, at));
        }
        assert_eq!(inc.signals.len(), MAX_SIGNALS);
        assert_eq!(
            inc.signals[0].received_at,
            t + std::time::Duration::from_secs(5)
        );
        assert_eq!(inc.updated_at, t + std::time::Duration::from_secs(54));
        let op = OperationId::new("op-1");
        let step = DecisionStep::new(t, Stage::Guard, StepDecision::Blocked, "x");
        inc.operation_started(&op, step.clone());
        inc.operation_started(&op, step);
        assert_eq!(inc.status, IncidentStatus::Mitigating);
        assert_eq!(inc.operation_ids, [op]);
        assert_eq!(inc.decision_chain.len(), 2);
        assert_eq!(
            inc.updated_at,
            t + std::time::Duration::from_secs(54),
            "never moves back"
        );
    }

    #[test]
    fn id_format() {
        let t = Timestamp::parse_rfc3339("2026-03-22T10:00:00Z").unwrap();
        assert_eq!(incident_id(t, "a1b2c3d4").as_str(), "INC-20260322-B2C3D4");
        assert_eq!(
            "escalated".parse::<IncidentStatus>().unwrap(),
            IncidentStatus::Escalated
        );
    }
}
