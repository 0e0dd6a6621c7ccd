//! The circuit breaker against a simple reference model
//! (proptest-state-machine): after every step the real breaker's state,
//! failure count, generation, probes and last failure equal the model's,
//! admissions and rejections agree (and `would_admit` predicts them), every
//! transition the breaker reports is the model's state change, and a
//! restore from the snapshot gives the same breaker.
//!
//! It drives the breaker through its public API only. It lives inside the
//! crate (not in `tests/`) so that a mutation run builds the crate once.

use std::time::Duration;

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

use crate::breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, PermanentOpenRecord, Permit, Rejection, Transition,
};
use crate::failure::FailureClass;
use crate::{Actor, Timestamp};

const CFG_OPEN_SECS: u64 = 60;
const CFG_THRESHOLD: u32 = 3;
const CFG_PERMANENT: u32 = 10;
const CFG_PROBES: usize = 2;
const CFG_PROBE_TIMEOUT_SECS: u64 = 30;

fn config() -> BreakerConfig {
    BreakerConfig {
        failure_threshold: CFG_THRESHOLD,
        open_for: Duration::from_secs(CFG_OPEN_SECS),
        half_open_max_probes: u32::try_from(CFG_PROBES).unwrap(),
        permanent_open_threshold: CFG_PERMANENT,
        probe_timeout: Duration::from_secs(CFG_PROBE_TIMEOUT_SECS),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Advance the clock by this many seconds, then ask to call.
    Admit(u64),
    /// Report the i-th permit (modulo) as a success.
    Succeed(usize),
    /// Report the i-th permit (modulo) as a failure of a class.
    Fail(usize, FailureClass),
    /// Give the i-th permit (modulo) back without an outcome.
    Abandon(usize),
    /// The shared record latched (another replica's failures).
    Latch,
    /// Manual reset.
    Reset,
}

/// Why the model refused the last admission.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Refusal {
    Open { retry_at: u64 },
    ProbesExhausted,
    PermanentOpen,
}

/// A permit as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ModelPermit {
    /// `Some((generation, id, expires))` for probes.
    probe: Option<(u64, u64, u64)>,
    reported: bool,
}

/// The reference model: a plain, obviously-correct simulation.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    now: u64,
    state: BreakerState,
    failures: u32,
    opened_at: u64,
    generation: u64,
    next_probe: u64,
    probes: Vec<(u64, u64, u64)>,
    permits: Vec<ModelPermit>,
    last_admitted: bool,
    /// Why the last admission was refused.
    last_refusal: Option<Refusal>,
    /// The state change the last step caused.
    last_transition: Option<(BreakerState, BreakerState)>,
    /// When and of which class the last counted failure was.
    last_failure: Option<(u64, FailureClass)>,
}

impl Model {
    fn holds(&self, p: (u64, u64, u64)) -> bool {
        self.probes.iter().any(|q| q.0 == p.0 && q.1 == p.1)
    }

    fn go(&mut self, to: BreakerState) {
        self.last_transition = Some((self.state, to));
        self.state = to;
    }

    fn open(&mut self) {
        self.go(BreakerState::Open);
        self.opened_at = self.now;
        self.probes.clear();
    }
}

fn class() -> impl Strategy<Value = FailureClass> {
    prop_oneof![
        6 => Just(FailureClass::Transient),
        2 => Just(FailureClass::Timeout),
        2 => Just(FailureClass::TargetGone),
        1 => Just(FailureClass::Fenced),
        1 => Just(FailureClass::Fatal),
    ]
}

impl ReferenceStateMachine for Model {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Self::State> {
        Just(Model {
            now: 0,
            state: BreakerState::Closed,
            failures: 0,
            opened_at: 0,
            generation: 0,
            next_probe: 0,
            probes: Vec::new(),
            permits: Vec::new(),
            last_admitted: false,
            last_refusal: None,
            last_transition: None,
            last_failure: None,
        })
        .boxed()
    }

    fn transitions(_state: &Self::State) -> BoxedStrategy<Self::Transition> {
        prop_oneof![
            6 => (0u64..90).prop_map(Step::Admit),
            3 => any::<usize>().prop_map(Step::Succeed),
            4 => (any::<usize>(), class()).prop_map(|(i, c)| Step::Fail(i, c)),
            1 => any::<usize>().prop_map(Step::Abandon),
            1 => Just(Step::Latch),
            1 => Just(Step::Reset),
        ]
        .boxed()
    }

    fn apply(mut m: Self::State, step: &Self::Transition) -> Self::State {
        m.last_refusal = None;
        m.last_transition = None;
        match *step {
            Step::Admit(secs) => {
                m.now += secs;
                m.last_admitted = false;
                match m.state {
                    BreakerState::Closed => {
                        m.permits.push(ModelPermit {
                            probe: None,
                            reported: false,
                        });
                        m.last_admitted = true;
                    }
                    BreakerState::PermanentOpen => m.last_refusal = Some(Refusal::PermanentOpen),
                    BreakerState::Open | BreakerState::HalfOpen => {
                        if m.state == BreakerState::Open {
                            if m.now < m.opened_at + CFG_OPEN_SECS {
                                m.last_refusal = Some(Refusal::Open {
                                    retry_at: m.opened_at + CFG_OPEN_SECS,
                                });
                                return m;
                            }
                            m.go(BreakerState::HalfOpen);
                            m.generation += 1;
                            m.probes.clear();
                        }
                        let now = m.now;
                        m.probes.retain(|p| p.2 > now);
                        if m.probes.len() < CFG_PROBES {
                            m.next_probe += 1;
                            let p = (m.generation, m.next_probe, m.now + CFG_PROBE_TIMEOUT_SECS);
                            m.probes.push(p);
                            m.permits.push(ModelPermit {
                                probe: Some(p),
                                reported: false,
                            });
                            m.last_admitted = true;
                        } else {
                            m.last_refusal = Some(Refusal::ProbesExhausted);
                        }
                    }
                }
            }
            Step::Succeed(i) | Step::Fail(i, _) | Step::Abandon(i) if m.permits.is_empty() => {
                let _ = i;
            }
            Step::Succeed(i) => {
                let idx = i % m.permits.len();
                let p = m.permits[idx];
                m.permits[idx].reported = true;
                match (m.state, p.probe) {
                    (BreakerState::Closed, _) => m.failures = 0,
                    (BreakerState::HalfOpen, Some(t)) if m.holds(t) => {
                        m.failures = 0;
                        m.probes.clear();
                        m.generation += 1;
                        m.go(BreakerState::Closed);
                    }
                    _ => {}
                }
            }
            Step::Fail(i, class) => {
                let idx = i % m.permits.len();
                let p = m.permits[idx];
                m.permits[idx].reported = true;
                let current = match (m.state, p.probe) {
                    (BreakerState::HalfOpen, Some(t)) if m.holds(t) => Some(t),
                    _ => None,
                };
                if let Some(t) = current {
                    m.probes.retain(|q| q.1 != t.1);
                }
                if matches!(class, FailureClass::TargetGone | FailureClass::Fenced) {
                    return m;
                }
                m.failures += 1;
                m.last_failure = Some((m.now, class));
                if m.state == BreakerState::PermanentOpen {
                    return m;
                }
                if class == FailureClass::Fatal || m.failures >= CFG_PERMANENT {
                    m.go(BreakerState::PermanentOpen);
                    return m;
                }
                match m.state {
                    BreakerState::Closed if m.failures >= CFG_THRESHOLD => m.open(),
                    BreakerState::HalfOpen if current.is_some() => {
                        m.open();
                        m.generation += 1;
                    }
                    _ => {}
                }
            }
            Step::Abandon(i) => {
                let idx = i % m.permits.len();
                if let Some(t) = m.permits[idx].probe {
                    m.probes.retain(|q| !(q.0 == t.0 && q.1 == t.1));
                }
            }
            Step::Latch => {
                if m.state != BreakerState::PermanentOpen {
                    m.go(BreakerState::PermanentOpen);
                    m.probes.clear();
                    m.generation += 1;
                }
            }
            Step::Reset => {
                m.failures = 0;
                if m.state != BreakerState::Closed {
                    m.go(BreakerState::Closed);
                    m.probes.clear();
                    m.generation += 1;
                }
            }
        }
        m
    }
}

struct Real {
    breaker: CircuitBreaker,
    permits: Vec<Permit>,
    now: u64,
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(1_800_000_000 + i64::try_from(secs).unwrap())
}

struct BreakerTest;

impl StateMachineTest for BreakerTest {
    type SystemUnderTest = Real;
    type Reference = Model;

    fn init_test(_ref: &Model) -> Real {
        Real {
            breaker: CircuitBreaker::new(config()).unwrap(),
            permits: Vec::new(),
            now: 0,
        }
    }

    fn apply(mut real: Real, model: &Model, step: Step) -> Real {
        let transition = match step {
            Step::Admit(secs) => {
                real.now += secs;
                let now = at(real.now);
                let predicted = real.breaker.would_admit(now);
                let res = real.breaker.admit(|| now);
                assert_eq!(
                    res.is_ok(),
                    model.last_admitted,
                    "admission disagrees at t+{}",
                    real.now
                );
                assert_eq!(
                    predicted,
                    res.as_ref().map(|_| ()).map_err(Clone::clone),
                    "would_admit predicts admit"
                );
                let refusal = res.as_ref().err().map(|r| match r {
                    Rejection::Open { retry_at } => Refusal::Open {
                        retry_at: u64::try_from(
                            (retry_at.unix_micros() - at(0).unix_micros()) / 1_000_000,
                        )
                        .unwrap(),
                    },
                    Rejection::ProbesExhausted { max_probes } => {
                        assert_eq!(*max_probes as usize, CFG_PROBES);
                        Refusal::ProbesExhausted
                    }
                    Rejection::PermanentOpen { .. } => Refusal::PermanentOpen,
                });
                assert_eq!(refusal, model.last_refusal);
                let transition = res.as_ref().ok().and_then(|p| p.transition);
                if let Ok(p) = res {
                    assert_eq!(p.probe().is_some(), model.state == BreakerState::HalfOpen);
                    real.permits.push(p);
                }
                transition
            }
            Step::Succeed(i) if !real.permits.is_empty() => {
                let p = real.permits[i % real.permits.len()];
                let now = at(real.now);
                real.breaker.record_success(&p, || now)
            }
            Step::Fail(i, class) if !real.permits.is_empty() => {
                let p = real.permits[i % real.permits.len()];
                real.breaker.record_failure(&p, class, at(real.now))
            }
            Step::Abandon(i) if !real.permits.is_empty() => {
                let p = real.permits[i % real.permits.len()];
                real.breaker.abandon(&p);
                None
            }
            Step::Latch => real.breaker.latch(
                PermanentOpenRecord {
                    reason: "latched by the cluster".into(),
                    since: at(real.now),
                },
                at(real.now),
            ),
            Step::Reset => real
                .breaker
                .manual_reset("model", &Actor::new("op"), at(real.now))
                .unwrap(),
            _ => None,
        };
        assert_eq!(
            transition.map(|t: Transition| (t.from, t.to)),
            model.last_transition,
            "the reported transition is the model's state change ({step:?})"
        );
        if let Some(t) = transition {
            assert_eq!(t.at, at(real.now));
        }
        real
    }

    fn check_invariants(real: &Real, model: &Model) {
        let snap = real.breaker.snapshot();
        assert_eq!(snap.state, model.state);
        assert_eq!(
            real.breaker.state(),
            model.state,
            "the lock-free read agrees"
        );
        assert_eq!(snap.consecutive_failures, model.failures);
        assert_eq!(snap.generation, model.generation);
        assert_eq!(real.breaker.probes_in_flight(), model.probes.len());
        assert_eq!(
            snap.last_failure_at.zip(snap.last_failure_class),
            model.last_failure.map(|(t, c)| (at(t), c))
        );
        assert_eq!(
            snap.permanent.is_some(),
            model.state == BreakerState::PermanentOpen
        );
        if model.state == BreakerState::Open {
            assert_eq!(snap.opened_at, Some(at(model.opened_at)));
        }
        let restored = CircuitBreaker::restore(config(), snap.clone()).unwrap();
        assert_eq!(restored.snapshot(), snap, "a restore keeps every field");
        assert_eq!(restored.state(), model.state);
        if model.state != BreakerState::HalfOpen {
            // Half-open restores with no probes in flight; every other
            // state admits exactly as the original would.
            let now = at(real.now);
            assert_eq!(restored.would_admit(now), real.breaker.would_admit(now));
        }
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// The breaker behaves like the reference model for any sequence of
    /// admissions, outcomes (including stale and duplicate reports) and resets.
    #[test]
    fn prop_breaker_matches_reference_model(sequential 1..120 => BreakerTest);
}
