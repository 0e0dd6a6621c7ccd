//! The healing operation and its state machine (seed 004).
//!
//! IDLE -> DIAGNOSING -> HEALING -> VERIFYING -> COMPLETED, with FAILED
//! reachable from every non-terminal state and INTERRUPTED for an operation
//! found unfinished after a crash. Any other transition is refused with an
//! error; terminal states have no way out.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::convergence::Fingerprint;
use crate::diagnosis::Diagnosis;
use crate::effectiveness::Effectiveness;
use crate::failure::FailureClass;
use crate::ids::{ApprovalId, IncidentId, OperationId, StrategyId};
use crate::resource::ResourceRef;
use crate::risk::{AuthorizationChannel, RiskLevel, SourceSystem};
use crate::strategy::{ActionKind, OnError};
use crate::tenant::TenantId;
use crate::time::Timestamp;

/// A healing operation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealingState {
    /// Created, not started.
    Idle,
    /// Finding the root cause.
    Diagnosing,
    /// Running actions.
    Healing,
    /// Checking recovery.
    Verifying,
    /// Healed and verified.
    Completed,
    /// Not healed (rollback and escalation follow).
    Failed,
    /// Found unfinished after a restart; never resumed blindly.
    Interrupted,
}

impl HealingState {
    /// Every state.
    pub const ALL: [HealingState; 7] = [
        HealingState::Idle,
        HealingState::Diagnosing,
        HealingState::Healing,
        HealingState::Verifying,
        HealingState::Completed,
        HealingState::Failed,
        HealingState::Interrupted,
    ];

    /// Whether no transition leaves this state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            HealingState::Completed | HealingState::Failed | HealingState::Interrupted
        )
    }

    /// The transition table.
    pub fn can_transition_to(self, to: HealingState) -> bool {
        use HealingState::*;
        matches!(
            (self, to),
            (Idle, Diagnosing)
                | (Diagnosing, Healing)
                | (Healing, Verifying)
                | (Verifying, Completed)
                | (Idle | Diagnosing | Healing | Verifying, Failed)
                | (Idle | Diagnosing | Healing | Verifying, Interrupted)
        )
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            HealingState::Idle => "IDLE",
            HealingState::Diagnosing => "DIAGNOSING",
            HealingState::Healing => "HEALING",
            HealingState::Verifying => "VERIFYING",
            HealingState::Completed => "COMPLETED",
            HealingState::Failed => "FAILED",
            HealingState::Interrupted => "INTERRUPTED",
        }
    }
}

impl fmt::Display for HealingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HealingState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        HealingState::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown healing state {s:?}"))
    }
}

/// A refused transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal healing transition {from} -> {to}")]
pub struct IllegalTransition {
    /// The state the operation is in.
    pub from: HealingState,
    /// The state asked for.
    pub to: HealingState,
}

/// The outcome of a finished operation (seed 004 `HealingResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealingResult {
    /// Healed and verified.
    Success,
    /// Not healed.
    Failed,
    /// Stopped before acting (interrupted, yielded to the decision path).
    Skipped,
}

/// Which part of the plan an action belonged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionPhase {
    /// The strategy's actions.
    Heal,
    /// The recovery check.
    Verify,
    /// The rollback plan.
    Rollback,
}

/// One executed (or dry-run) action (seed 004 `ActionLog`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLog {
    /// The action kind.
    pub action: ActionKind,
    /// Plan phase.
    pub phase: ActionPhase,
    /// When it started.
    pub started_at: Timestamp,
    /// How long it took.
    #[serde(with = "crate::time::duration")]
    pub duration: Duration,
    /// Whether it succeeded.
    pub success: bool,
    /// Whether it only ran as a dry run.
    pub dry_run: bool,
    /// The failure class, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureClass>,
    /// The error or result message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What the plan does after an action finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStep {
    /// Run the next action (or verify, after the last).
    Next,
    /// Stop; the operation failed; do not run the rollback actions.
    Abort,
    /// Stop; the operation failed; run the rollback actions.
    Rollback,
}

/// Seed 004's `on_error` rule for an action's outcome (`Err` carries the
/// failure's class), with one override: a fatal failure (credentials,
/// authorization) aborts the plan whatever `on_error` says, because every
/// further action, the rollback's included, would fail the same way.
pub fn after_action(outcome: Result<(), FailureClass>, on_error: OnError) -> PlanStep {
    match (outcome, on_error) {
        (Ok(()), _) => PlanStep::Next,
        (Err(FailureClass::Fatal), _) => PlanStep::Abort,
        (Err(_), OnError::Continue) => PlanStep::Next,
        (Err(_), OnError::Abort) => PlanStep::Abort,
        (Err(_), OnError::Rollback) => PlanStep::Rollback,
    }
}

/// The plan step after an action whose server-side dry run the target
/// refused (`dry_run_failed`), so that action was not applied.
///
/// `on_error` holds as for any failure ([`after_action`], a fatal refusal
/// included), with one exception: a rollback undoes what the run applied,
/// and when no earlier action of the run was applied there is nothing to
/// undo, so the plan stops without one (a rollback acts too). When an
/// earlier action was applied, the rollback runs as `on_error` says.
pub fn after_refused_dry_run(
    class: FailureClass,
    on_error: OnError,
    applied_before: bool,
) -> PlanStep {
    match after_action(Err(class), on_error) {
        PlanStep::Rollback if !applied_before => PlanStep::Abort,
        step => step,
    }
}

/// A healing attempt: what was run, on what, by whom, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealingOperation {
    /// Id.
    pub id: OperationId,
    /// Owning tenant.
    pub tenant: TenantId,
    /// The strategy that produced it.
    pub strategy_id: StrategyId,
    /// The target.
    pub resource: ResourceRef,
    /// The alert fingerprint that triggered it.
    pub fingerprint: Option<Fingerprint>,
    /// The incident it belongs to.
    pub incident_id: Option<IncidentId>,
    /// The approval that authorized it (decision path).
    pub approval_id: Option<ApprovalId>,
    /// Who asked.
    pub source_system: SourceSystem,
    /// Through which channel it was authorized.
    pub authorization_channel: AuthorizationChannel,
    /// The strategy's risk.
    pub risk: RiskLevel,
    /// Current state.
    pub state: HealingState,
    /// Root cause analysis.
    pub diagnosis: Option<Diagnosis>,
    /// Every action run, in order.
    pub actions_run: Vec<ActionLog>,
    /// Outcome once terminal.
    pub result: Option<HealingResult>,
    /// Error summary when failed.
    pub error: Option<String>,
    /// The failure class of the error.
    pub failure_class: Option<FailureClass>,
    /// 1 for the first attempt on this target with this strategy.
    pub attempt_number: u32,
    /// The fencing token of the resource lock it ran under.
    pub fencing_token: Option<u64>,
    /// Whether humans were notified.
    pub escalated: bool,
    /// Whether actions ran in dry-run mode only.
    pub dry_run: bool,
    /// Optimistic-concurrency revision; stores bump it on every update.
    #[serde(default)]
    pub revision: u64,
    /// Created.
    pub started_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it reached a terminal state.
    pub completed_at: Option<Timestamp>,
    /// Whether the fix fixed what the alert was about
    /// ([`crate::effectiveness`]); `None` when not tracked (not completed,
    /// or no alert to watch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effectiveness: Option<Effectiveness>,
    /// When the operation's alert resolved after it completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_resolved_at: Option<Timestamp>,
    /// When the effectiveness verdict was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effectiveness_settled_at: Option<Timestamp>,
}

/// Fields that identify a new operation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOperation {
    /// Id.
    pub id: OperationId,
    /// Owning tenant.
    pub tenant: TenantId,
    /// The strategy.
    pub strategy_id: StrategyId,
    /// The target.
    pub resource: ResourceRef,
    /// Who asked.
    pub source_system: SourceSystem,
    /// Authorization channel.
    pub authorization_channel: AuthorizationChannel,
    /// Risk.
    pub risk: RiskLevel,
    /// Attempt number (1-based).
    pub attempt_number: u32,
}

impl HealingOperation {
    /// A new operation in IDLE.
    pub fn new(n: NewOperation, now: Timestamp) -> Self {
        HealingOperation {
            id: n.id,
            tenant: n.tenant,
            strategy_id: n.strategy_id,
            resource: n.resource,
            fingerprint: None,
            incident_id: None,
            approval_id: None,
            source_system: n.source_system,
            authorization_channel: n.authorization_channel,
            risk: n.risk,
            state: HealingState::Idle,
            diagnosis: None,
            actions_run: Vec::new(),
            result: None,
            error: None,
            failure_class: None,
            attempt_number: n.attempt_number,
            fencing_token: None,
            escalated: false,
            dry_run: false,
            revision: 0,
            started_at: now,
            updated_at: now,
            completed_at: None,
            effectiveness: None,
            alert_resolved_at: None,
            effectiveness_settled_at: None,
        }
    }

    /// Moves to `to`, or refuses an illegal transition. Terminal states set
    /// the result and completion time.
    pub fn transition(
        &mut self,
        to: HealingState,
        now: Timestamp,
    ) -> Result<HealingState, IllegalTransition> {
        let from = self.state;
        if !from.can_transition_to(to) {
            return Err(IllegalTransition { from, to });
        }
        self.state = to;
        self.updated_at = now;
        if to.is_terminal() {
            self.completed_at = Some(now);
            self.result = Some(match to {
                HealingState::Completed => HealingResult::Success,
                HealingState::Failed => HealingResult::Failed,
                _ => HealingResult::Skipped,
            });
        }
        Ok(from)
    }

    /// Fails the operation with an error message and class.
    pub fn fail(
        &mut self,
        error: impl Into<String>,
        class: Option<FailureClass>,
        now: Timestamp,
    ) -> Result<HealingState, IllegalTransition> {
        let from = self.transition(HealingState::Failed, now)?;
        self.error = Some(error.into());
        self.failure_class = class;
        Ok(from)
    }

    /// Appends an action log entry.
    pub fn log_action(&mut self, log: ActionLog) {
        self.updated_at = self.updated_at.max(log.started_at + log.duration);
        self.actions_run.push(log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

    fn op() -> HealingOperation {
        HealingOperation::new(
            NewOperation {
                id: OperationId::new("op-1"),
                tenant: TenantId::new("t").unwrap(),
                strategy_id: StrategyId::new("s"),
                resource: ResourceRef::parse("prod:deployment/api").unwrap(),
                source_system: SourceSystem::FailureWatcher,
                authorization_channel: AuthorizationChannel::AutoRepair,
                risk: RiskLevel::Low,
                attempt_number: 1,
            },
            Timestamp::UNIX_EPOCH,
        )
    }

    #[test]
    fn happy_path_and_refusals() {
        let mut o = op();
        let t = Timestamp::from_unix_secs(1);
        assert!(
            o.transition(HealingState::Healing, t).is_err(),
            "cannot skip diagnosis"
        );
        for s in [
            HealingState::Diagnosing,
            HealingState::Healing,
            HealingState::Verifying,
            HealingState::Completed,
        ] {
            o.transition(s, t).unwrap();
        }
        assert_eq!(o.result, Some(HealingResult::Success));
        assert_eq!(
            o.transition(HealingState::Failed, t),
            Err(IllegalTransition {
                from: HealingState::Completed,
                to: HealingState::Failed
            })
        );
    }

    /// The wire names of the states, exactly, and their parse back (any
    /// case); an unknown name is refused.
    #[test]
    fn healing_state_wire_names_are_exact() {
        let table = [
            (HealingState::Idle, "IDLE"),
            (HealingState::Diagnosing, "DIAGNOSING"),
            (HealingState::Healing, "HEALING"),
            (HealingState::Verifying, "VERIFYING"),
            (HealingState::Completed, "COMPLETED"),
            (HealingState::Failed, "FAILED"),
            (HealingState::Interrupted, "INTERRUPTED"),
        ];
        assert_eq!(table.map(|(s, _)| s), HealingState::ALL);
        for (state, name) in table {
            crate::wire::assert_wire_name(state, state.as_str(), name);
            assert_eq!(name.parse::<HealingState>(), Ok(state));
            assert_eq!(name.to_lowercase().parse::<HealingState>(), Ok(state));
        }
        assert!("RUNNING".parse::<HealingState>().is_err());
    }

    /// Every (from, to) pair: the table, the terminal states, and what a
    /// transition writes (the result of each terminal state, the times).
    #[test]
    fn every_transition_follows_the_table_and_terminal_states_set_the_result() {
        let t0 = Timestamp::UNIX_EPOCH;
        let t1 = Timestamp::from_unix_secs(7);
        for from in HealingState::ALL {
            assert_eq!(
                from.is_terminal(),
                matches!(
                    from,
                    HealingState::Completed | HealingState::Failed | HealingState::Interrupted
                ),
                "{from}"
            );
            for to in HealingState::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    allowed(from, to),
                    "{from} -> {to}"
                );
                let mut o = op();
                o.state = from;
                let res = o.transition(to, t1);
                if !allowed(from, to) {
                    assert_eq!(res, Err(IllegalTransition { from, to }));
                    assert_eq!((o.state, o.updated_at, o.result), (from, t0, None));
                    continue;
                }
                assert_eq!(res, Ok(from));
                assert_eq!((o.state, o.updated_at), (to, t1));
                let expected = match to {
                    HealingState::Completed => Some(HealingResult::Success),
                    HealingState::Failed => Some(HealingResult::Failed),
                    HealingState::Interrupted => Some(HealingResult::Skipped),
                    _ => None,
                };
                assert_eq!(o.result, expected, "{from} -> {to}");
                assert_eq!(o.completed_at, expected.map(|_| t1));
            }
        }
    }

    #[test]
    fn fail_records_the_error_and_its_class_and_refuses_a_terminal_operation() {
        let mut o = op();
        let t = Timestamp::from_unix_secs(3);
        assert_eq!(
            o.fail("boom", Some(FailureClass::Timeout), t),
            Ok(HealingState::Idle)
        );
        assert_eq!(o.state, HealingState::Failed);
        assert_eq!(o.result, Some(HealingResult::Failed));
        assert_eq!(o.error.as_deref(), Some("boom"));
        assert_eq!(o.failure_class, Some(FailureClass::Timeout));
        assert!(o.fail("again", None, t).is_err());
        assert_eq!(
            o.error.as_deref(),
            Some("boom"),
            "a refused fail writes nothing"
        );
    }

    #[test]
    fn logging_an_action_moves_updated_at_to_its_end_never_back() {
        let mut o = op();
        let log = |start: i64, secs: u64| ActionLog {
            action: ActionKind::new("restart").unwrap(),
            phase: ActionPhase::Heal,
            started_at: Timestamp::from_unix_secs(start),
            duration: Duration::from_secs(secs),
            success: true,
            dry_run: false,
            failure: None,
            message: None,
        };
        o.log_action(log(10, 5));
        assert_eq!(o.updated_at, Timestamp::from_unix_secs(15));
        o.log_action(log(2, 3));
        assert_eq!(o.updated_at, Timestamp::from_unix_secs(15));
        assert_eq!(o.actions_run.len(), 2);
    }

    #[test]
    fn on_error_rule() {
        let failed = Err(FailureClass::Transient);
        assert_eq!(after_action(Ok(()), OnError::Abort), PlanStep::Next);
        assert_eq!(after_action(failed, OnError::Continue), PlanStep::Next);
        assert_eq!(after_action(failed, OnError::Abort), PlanStep::Abort);
        assert_eq!(after_action(failed, OnError::Rollback), PlanStep::Rollback);
    }

    fn class() -> impl Strategy<Value = FailureClass> {
        proptest::sample::select(vec![
            FailureClass::Transient,
            FailureClass::Timeout,
            FailureClass::Conflict,
            FailureClass::BudgetBlocked,
            FailureClass::TargetGone,
            FailureClass::InvalidAction,
            FailureClass::Fatal,
        ])
    }

    fn on_error() -> impl Strategy<Value = OnError> {
        proptest::sample::select(vec![OnError::Continue, OnError::Abort, OnError::Rollback])
    }

    proptest! {
        /// A fatal failure aborts the plan whatever on_error says; any other
        /// failure follows on_error; a success always moves on.
        #[test]
        fn prop_fatal_failure_aborts_whatever_on_error_says(class in class(), on_error in on_error()) {
            let step = after_action(Err(class), on_error);
            let expected = match (class, on_error) {
                (FailureClass::Fatal, _) | (_, OnError::Abort) => PlanStep::Abort,
                (_, OnError::Continue) => PlanStep::Next,
                (_, OnError::Rollback) => PlanStep::Rollback,
            };
            prop_assert_eq!(step, expected);
            prop_assert_eq!(after_action(Ok(()), on_error), PlanStep::Next);
        }
    }

    proptest! {
        /// A refused dry run applied nothing: it rolls back only when an
        /// earlier action of the run was applied and on_error says so;
        /// otherwise it follows on_error like any failure (fatal aborts).
        #[test]
        fn prop_refused_dry_run_rolls_back_only_what_the_run_applied(
            class in class(),
            on_error in on_error(),
            applied_before in proptest::bool::ANY,
        ) {
            let step = after_refused_dry_run(class, on_error, applied_before);
            let expected = match (class, on_error) {
                (FailureClass::Fatal, _) | (_, OnError::Abort) => PlanStep::Abort,
                (_, OnError::Continue) => PlanStep::Next,
                (_, OnError::Rollback) if applied_before => PlanStep::Rollback,
                (_, OnError::Rollback) => PlanStep::Abort,
            };
            prop_assert_eq!(step, expected);
        }
    }

    /// Reference model: a plain transition table written out by hand.
    struct Model;

    fn allowed(from: HealingState, to: HealingState) -> bool {
        use HealingState::*;
        let next: &[HealingState] = match from {
            Idle => &[Diagnosing, Failed, Interrupted],
            Diagnosing => &[Healing, Failed, Interrupted],
            Healing => &[Verifying, Failed, Interrupted],
            Verifying => &[Completed, Failed, Interrupted],
            Completed | Failed | Interrupted => &[],
        };
        next.contains(&to)
    }

    impl ReferenceStateMachine for Model {
        type State = HealingState;
        type Transition = HealingState;

        fn init_state() -> BoxedStrategy<Self::State> {
            Just(HealingState::Idle).boxed()
        }

        fn transitions(_state: &Self::State) -> BoxedStrategy<Self::Transition> {
            proptest::sample::select(HealingState::ALL.to_vec()).boxed()
        }

        fn apply(state: Self::State, to: &Self::Transition) -> Self::State {
            if allowed(state, *to) { *to } else { state }
        }
    }

    struct Fsm;

    impl StateMachineTest for Fsm {
        type SystemUnderTest = HealingOperation;
        type Reference = Model;

        fn init_test(_ref: &HealingState) -> Self::SystemUnderTest {
            op()
        }

        fn apply(
            mut sut: Self::SystemUnderTest,
            ref_state: &HealingState,
            to: HealingState,
        ) -> Self::SystemUnderTest {
            let before = sut.state;
            let res = sut.transition(to, Timestamp::from_unix_secs(5));
            assert_eq!(res.is_ok(), allowed(before, to), "{before} -> {to}");
            assert_eq!(sut.state, *ref_state);
            sut
        }

        fn check_invariants(sut: &Self::SystemUnderTest, ref_state: &HealingState) {
            assert_eq!(sut.state, *ref_state);
            assert_eq!(sut.result.is_some(), sut.state.is_terminal());
        }
    }

    prop_state_machine! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The healing FSM only takes transitions of the seed's table, and
        /// terminal states are final.
        #[test]
        fn prop_healing_fsm_matches_reference_model(sequential 1..40 => Fsm);
    }
}
