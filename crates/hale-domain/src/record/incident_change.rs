//! What intake does to an incident, as data: a change can be applied to the
//! copy an evaluation holds and, when another writer changed the stored row
//! in the meantime, applied again to the row as it now is (the engine applies
//! a draft's changes once to each copy it writes).

use super::incident::{
    DecisionStep, Incident, IncidentOutcome, IncidentResult, IncidentStatus, Signal,
};
use crate::ids::{ApprovalId, OperationId};
use crate::time::Timestamp;

/// One change intake makes to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentChange {
    /// A delivery of the incident's alert (a new episode's first firing, or
    /// a resolve).
    Signal(Signal),
    /// A step of the decision chain.
    Step(DecisionStep),
    /// An automatic run started on the incident's target.
    OperationStarted {
        /// The run.
        operation: OperationId,
        /// Why it started.
        step: DecisionStep,
    },
    /// An approval was requested for the incident.
    ApprovalRequested {
        /// The request.
        approval: ApprovalId,
        /// For which strategy.
        step: DecisionStep,
    },
    /// The alert resolved: the incident is resolved at `at`; if nothing
    /// settled it before, it resolved without any healing.
    Resolved {
        /// When the resolve was received.
        at: Timestamp,
    },
}

impl IncidentChange {
    /// Applies the change to `incident`. A closed incident (a person
    /// closed it while the change was in flight) takes no signal and is not
    /// reopened as resolved; the decision steps are still recorded.
    pub fn apply(&self, incident: &mut Incident) {
        let closed = incident.status == IncidentStatus::Closed;
        match self {
            IncidentChange::Signal(_) | IncidentChange::Resolved { .. } if closed => {}
            IncidentChange::Signal(s) => incident.push_signal(s.clone()),
            IncidentChange::Step(step) => incident.push_decision(step.clone()),
            IncidentChange::OperationStarted { operation, step } => {
                incident.operation_started(operation, step.clone());
            }
            IncidentChange::ApprovalRequested { approval, step } => {
                if !incident.proposal_ids.contains(approval) {
                    incident.proposal_ids.push(approval.clone());
                }
                incident.push_decision(step.clone());
            }
            IncidentChange::Resolved { at } => {
                incident.status = IncidentStatus::Resolved;
                incident.resolved_at = Some(*at);
                incident.updated_at = *at;
                if incident.outcome.is_none() {
                    incident.outcome = Some(IncidentOutcome::new(
                        IncidentResult::ResolvedWithoutAction,
                        "the alert resolved before any healing ran",
                        None,
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Alert;
    use crate::convergence::Fingerprint;
    use crate::ids::IncidentId;
    use crate::record::incident::IncidentStatus;
    use crate::record::incident::{Stage, StepDecision};
    use crate::tenant::TenantId;

    fn incident(at: Timestamp) -> Incident {
        let alert = Alert::firing([("alertname", "HighErrorRate"), ("namespace", "prod")]);
        Incident::open(
            IncidentId::new("INC-1"),
            TenantId::new("t").expect("a valid tenant"),
            Fingerprint::from_hex("ab"),
            &alert,
            at,
        )
    }

    #[test]
    fn a_resolve_settles_an_unsettled_incident_and_keeps_a_settled_outcome() {
        let t0 = Timestamp::from_unix_secs(1_000);
        let t1 = Timestamp::from_unix_secs(1_060);
        let mut open = incident(t0);
        IncidentChange::Resolved { at: t1 }.apply(&mut open);
        assert_eq!(open.status, IncidentStatus::Resolved);
        assert_eq!(open.resolved_at, Some(t1));
        assert_eq!(open.updated_at, t1);
        assert_eq!(
            open.outcome.as_ref().map(|o| o.result.as_str()),
            Some("resolved_without_action")
        );

        let mut healed = incident(t0);
        healed.outcome = Some(IncidentOutcome::new(
            IncidentResult::Healed,
            "restarted",
            None,
        ));
        IncidentChange::Resolved { at: t1 }.apply(&mut healed);
        assert_eq!(
            healed.outcome.as_ref().map(|o| o.result.as_str()),
            Some("healed")
        );
    }

    #[test]
    fn a_closed_incident_stays_closed_and_takes_no_signal() {
        let t0 = Timestamp::from_unix_secs(1_000);
        let t1 = Timestamp::from_unix_secs(1_060);
        let mut inc = incident(t0);
        assert!(inc.close(t0));
        let before = inc.clone();
        let alert = Alert::firing([("alertname", "HighErrorRate")]).resolved();
        IncidentChange::Signal(Signal::of(&alert, &inc.fingerprint, t1)).apply(&mut inc);
        IncidentChange::Resolved { at: t1 }.apply(&mut inc);
        assert_eq!(inc, before);
        let step = DecisionStep::new(t1, Stage::Match, StepDecision::NoStrategy, "none");
        IncidentChange::Step(step.clone()).apply(&mut inc);
        assert_eq!(inc.status, IncidentStatus::Closed);
        assert_eq!(inc.decision_chain, vec![step]);
    }

    #[test]
    fn signals_and_steps_append_and_move_the_update_time() {
        let t0 = Timestamp::from_unix_secs(1_000);
        let t1 = Timestamp::from_unix_secs(1_030);
        let mut inc = incident(t0);
        let alert = Alert::firing([("alertname", "HighErrorRate")]).resolved();
        let signal = Signal::of(&alert, &inc.fingerprint, t1);
        IncidentChange::Signal(signal.clone()).apply(&mut inc);
        let step = DecisionStep::new(t1, Stage::Match, StepDecision::NoStrategy, "none");
        IncidentChange::Step(step.clone()).apply(&mut inc);
        assert_eq!(inc.signals.last(), Some(&signal));
        assert_eq!(inc.decision_chain, vec![step]);
        assert_eq!(inc.updated_at, t1);
    }

    #[test]
    fn a_started_run_or_a_request_is_listed_once_however_often_applied() {
        let t0 = Timestamp::from_unix_secs(1_000);
        let mut inc = incident(t0);
        let step = DecisionStep::new(t0, Stage::Start, StepDecision::OperationStarted, "run");
        let started = IncidentChange::OperationStarted {
            operation: OperationId::new("op-1"),
            step: step.clone(),
        };
        let asked = IncidentChange::ApprovalRequested {
            approval: ApprovalId::new("apr-1"),
            step,
        };
        for _ in 0..2 {
            started.apply(&mut inc);
            asked.apply(&mut inc);
        }
        assert_eq!(inc.status, IncidentStatus::Mitigating);
        assert_eq!(inc.operation_ids, [OperationId::new("op-1")]);
        assert_eq!(inc.proposal_ids, [ApprovalId::new("apr-1")]);
    }
}
