use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_unix_secs(1_800_000_000 + secs)
}

fn no_clock() -> Timestamp {
    panic!("the closed path must not read the clock")
}

fn seed() -> CircuitBreaker {
    CircuitBreaker::new(BreakerConfig::default()).unwrap()
}

fn fail(b: &CircuitBreaker, at: Timestamp) -> Option<Transition> {
    match b.admit(|| at) {
        Ok(p) => b.record_failure(&p, FailureClass::Transient, at),
        Err(_) => None,
    }
}

#[test]
fn closed_success_reads_no_clock() {
    let b = seed();
    for _ in 0..3 {
        let p = b.admit(no_clock).unwrap();
        assert_eq!(b.record_success(&p, no_clock), None);
    }
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn seed_defaults_open_after_three_and_probe_after_sixty_seconds() {
    let b = seed();
    assert_eq!(fail(&b, t(0)), None);
    assert_eq!(fail(&b, t(1)), None);
    let opened = fail(&b, t(2)).unwrap();
    assert_eq!(
        (opened.from, opened.to),
        (BreakerState::Closed, BreakerState::Open)
    );
    assert_eq!(
        b.admit(|| t(61)).unwrap_err(),
        Rejection::Open { retry_at: t(62) }
    );
    let probe = b.admit(|| t(62)).unwrap();
    assert_eq!(probe.transition.unwrap().to, BreakerState::HalfOpen);
    assert_eq!(
        b.admit(|| t(62)).unwrap_err(),
        Rejection::ProbesExhausted { max_probes: 1 }
    );
    let closed = b.record_success(&probe, || t(63)).unwrap();
    assert_eq!(closed.cause, TransitionCause::ProbeSucceeded);
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().consecutive_failures, 0);
}

#[test]
fn failed_probe_reopens_for_another_full_period() {
    let b = seed();
    for i in 0..3 {
        fail(&b, t(i));
    }
    let probe = b.admit(|| t(62)).unwrap();
    let reopened = b
        .record_failure(&probe, FailureClass::Timeout, t(70))
        .unwrap();
    assert_eq!(reopened.cause, TransitionCause::ProbeFailed);
    assert!(b.admit(|| t(129)).is_err());
    assert!(b.admit(|| t(130)).is_ok());
}

#[test]
fn a_probe_that_never_reports_does_not_wedge_the_breaker() {
    let b = seed();
    for i in 0..3 {
        fail(&b, t(i));
    }
    let lost = b.admit(|| t(62)).unwrap();
    assert!(b.admit(|| t(100)).is_err(), "slot still held");
    // probe_timeout (60 s) later the slot is reclaimed.
    let next = b.admit(|| t(122)).unwrap();
    assert!(next.probe().is_some());
    // The lost probe's late report is stale and changes nothing.
    assert_eq!(b.record_success(&lost, || t(123)), None);
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.record_success(&next, || t(124)).is_some());
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn would_admit_peeks_without_taking_a_slot() {
    let b = seed();
    assert_eq!(b.would_admit(t(0)), Ok(()));
    for i in 0..3 {
        fail(&b, t(i));
    }
    assert_eq!(
        b.would_admit(t(61)),
        Err(Rejection::Open { retry_at: t(62) })
    );
    assert_eq!(b.would_admit(t(62)), Ok(()));
    assert_eq!(b.state(), BreakerState::Open, "peeking changes nothing");
    let p = b.admit(|| t(62)).unwrap();
    assert!(matches!(
        b.would_admit(t(62)),
        Err(Rejection::ProbesExhausted { .. })
    ));
    b.abandon(&p);
    assert_eq!(b.would_admit(t(62)), Ok(()));
}

#[test]
fn abandoning_a_probe_frees_its_slot() {
    let b = seed();
    for i in 0..3 {
        fail(&b, t(i));
    }
    let p = b.admit(|| t(62)).unwrap();
    b.abandon(&p);
    assert!(b.admit(|| t(62)).is_ok());
}

#[test]
fn fatal_failure_latches_at_once_and_only_a_reset_with_reason_clears_it() {
    let b = seed();
    let p = b.admit(no_clock).unwrap();
    let latched = b.record_failure(&p, FailureClass::Fatal, t(0)).unwrap();
    assert_eq!(latched.to, BreakerState::PermanentOpen);
    assert_eq!(latched.cause, TransitionCause::FatalFailure);
    // Years later it is still latched.
    assert!(matches!(
        b.admit(|| t(100_000_000)),
        Err(Rejection::PermanentOpen { .. })
    ));
    let admin = Actor::new("alice");
    assert_eq!(
        b.manual_reset("  ", &admin, t(5)),
        Err(ResetError::ReasonRequired)
    );
    let reset = b
        .manual_reset("rotated API keys", &admin, t(5))
        .unwrap()
        .unwrap();
    assert_eq!(reset.cause, TransitionCause::ManualReset);
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().last_reset.unwrap().reason, "rotated API keys");
}

#[test]
fn ten_consecutive_failures_latch_permanent_open() {
    let b = seed();
    let mut now = 0;
    let mut last = None;
    for _ in 0..10 {
        // Wait out every open period so each failure is admitted.
        now += 61;
        if let Some(tr) = fail(&b, t(now)) {
            last = Some(tr);
        }
    }
    let last = last.unwrap();
    assert_eq!(last.to, BreakerState::PermanentOpen);
    assert_eq!(
        last.cause,
        TransitionCause::PermanentThreshold {
            consecutive_failures: 10
        }
    );
}

#[test]
fn ignored_failures_do_not_count() {
    let b = seed();
    for i in 0..5 {
        let p = b.admit(no_clock).unwrap();
        assert_eq!(b.record_failure(&p, FailureClass::TargetGone, t(i)), None);
    }
    // A fenced action did nothing to the target: no failure of it either.
    for i in 5..10 {
        let p = b.admit(no_clock).unwrap();
        assert_eq!(b.record_failure(&p, FailureClass::Fenced, t(i)), None);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().consecutive_failures, 0);
}

#[test]
fn snapshot_restores_through_serde() {
    let b = seed();
    for i in 0..3 {
        fail(&b, t(i));
    }
    let json = serde_json::to_string(&b.snapshot()).unwrap();
    let restored = CircuitBreaker::restore(
        BreakerConfig::default(),
        serde_json::from_str(&json).unwrap(),
    )
    .unwrap();
    assert_eq!(restored.state(), BreakerState::Open);
    assert!(restored.admit(|| t(61)).is_err());
    assert!(restored.admit(|| t(62)).is_ok());
    assert_eq!(restored.snapshot().consecutive_failures, 3);
}

#[test]
fn seed_default_config_is_valid() {
    assert_eq!(BreakerConfig::default().validate(), Ok(()));
    assert_eq!(CircuitBreaker::default().state(), BreakerState::Closed);
}

#[test]
fn invalid_configs_are_refused() {
    let zero = BreakerConfig {
        half_open_max_probes: 0,
        ..BreakerConfig::default()
    };
    assert_eq!(
        CircuitBreaker::new(zero).unwrap_err(),
        BreakerConfigError::ZeroProbes
    );
    let inverted = BreakerConfig {
        permanent_open_threshold: 2,
        ..BreakerConfig::default()
    };
    assert!(matches!(
        CircuitBreaker::new(inverted),
        Err(BreakerConfigError::PermanentBelowOpen { .. })
    ));
}

#[derive(Debug, Clone)]
enum Op {
    Admit { advance_ms: u64 },
    Succeed(usize),
    Fail(usize, FailureClass),
    Abandon(usize),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    let class = prop_oneof![
        Just(FailureClass::Transient),
        Just(FailureClass::Timeout),
        Just(FailureClass::TargetGone),
        Just(FailureClass::Fatal),
    ];
    prop_oneof![
        8 => (0u64..90_000).prop_map(|advance_ms| Op::Admit { advance_ms }),
        4 => (0usize..8).prop_map(Op::Succeed),
        6 => ((0usize..8), class).prop_map(|(i, c)| Op::Fail(i, c)),
        1 => (0usize..8).prop_map(Op::Abandon),
        1 => Just(Op::Reset),
    ]
}

fn config() -> impl Strategy<Value = BreakerConfig> {
    (1u32..5, 1u64..120, 1u32..4, 0u32..10, 1u64..120).prop_map(
        |(threshold, open_s, probes, extra, probe_s)| BreakerConfig {
            failure_threshold: threshold,
            open_for: Duration::from_secs(open_s),
            half_open_max_probes: probes,
            permanent_open_threshold: threshold + extra,
            probe_timeout: Duration::from_secs(probe_s),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The breaker never admits a call while OPEN before its open time
    /// elapses, and admits a probe exactly when it does.
    #[test]
    fn prop_breaker_never_admits_while_open_and_probes_exactly_at_open_time(
        cfg in config(), ops in prop::collection::vec(op(), 1..80)
    ) {
        let b = CircuitBreaker::new(cfg.clone()).unwrap();
        let mut now = t(0);
        let mut permits = Vec::new();
        for op in ops {
            match op {
                Op::Admit { advance_ms } => {
                    now = now + Duration::from_millis(advance_ms);
                    let before = b.snapshot();
                    let res = b.admit(|| now);
                    if before.state == BreakerState::Open {
                        let retry_at = before.opened_at.unwrap() + cfg.open_for;
                        if now < retry_at {
                            prop_assert_eq!(res.clone().unwrap_err(), Rejection::Open { retry_at });
                        } else {
                            prop_assert!(res.clone().unwrap().probe().is_some());
                        }
                    }
                    if let Ok(p) = res { permits.push(p); }
                }
                Op::Succeed(i) => if let Some(p) = permits.get(i) { let _ = b.record_success(p, || now); },
                Op::Fail(i, c) => if let Some(p) = permits.get(i) { let _ = b.record_failure(p, c, now); },
                Op::Abandon(i) => if let Some(p) = permits.get(i) { b.abandon(p); },
                Op::Reset => { let _ = b.manual_reset("test", &Actor::new("op"), now); },
            }
        }
    }

    /// Half-open never has more probes in flight than configured.
    #[test]
    fn prop_half_open_never_admits_more_than_configured_probes(
        cfg in config(), ops in prop::collection::vec(op(), 1..80)
    ) {
        let b = CircuitBreaker::new(cfg.clone()).unwrap();
        let mut now = t(0);
        let mut permits = Vec::new();
        for op in ops {
            match op {
                Op::Admit { advance_ms } => {
                    now = now + Duration::from_millis(advance_ms);
                    if let Ok(p) = b.admit(|| now) { permits.push(p); }
                }
                Op::Succeed(i) => if let Some(p) = permits.get(i) { let _ = b.record_success(p, || now); },
                Op::Fail(i, c) => if let Some(p) = permits.get(i) { let _ = b.record_failure(p, c, now); },
                Op::Abandon(i) => if let Some(p) = permits.get(i) { b.abandon(p); },
                Op::Reset => { let _ = b.manual_reset("test", &Actor::new("op"), now); },
            }
            prop_assert!(b.probes_in_flight() <= cfg.half_open_max_probes as usize);
        }
    }

    /// PERMANENT_OPEN is left only by a manual reset, whatever else happens.
    #[test]
    fn prop_permanent_open_only_left_by_manual_reset(
        cfg in config(), ops in prop::collection::vec(op(), 1..80)
    ) {
        let b = CircuitBreaker::new(cfg).unwrap();
        let mut now = t(0);
        let mut permits = Vec::new();
        for op in ops {
            let was_permanent = b.state() == BreakerState::PermanentOpen;
            let is_reset = matches!(op, Op::Reset);
            match op {
                Op::Admit { advance_ms } => {
                    now = now + Duration::from_millis(advance_ms);
                    let res = b.admit(|| now);
                    if was_permanent { prop_assert!(res.is_err()); }
                    if let Ok(p) = res { permits.push(p); }
                }
                Op::Succeed(i) => if let Some(p) = permits.get(i) { let _ = b.record_success(p, || now); },
                Op::Fail(i, c) => if let Some(p) = permits.get(i) { let _ = b.record_failure(p, c, now); },
                Op::Abandon(i) => if let Some(p) = permits.get(i) { b.abandon(p); },
                Op::Reset => { let _ = b.manual_reset("test", &Actor::new("op"), now); },
            }
            if was_permanent && !is_reset {
                prop_assert_eq!(b.state(), BreakerState::PermanentOpen);
            }
        }
    }

    /// A restored snapshot behaves like the original.
    #[test]
    fn prop_snapshot_restore_preserves_state(cfg in config(), fails in 0u32..15) {
        let b = CircuitBreaker::new(cfg.clone()).unwrap();
        for i in 0..fails {
            let _ = fail(&b, t(i64::from(i)));
        }
        let r = CircuitBreaker::restore(cfg, b.snapshot()).unwrap();
        prop_assert_eq!(r.snapshot(), b.snapshot());
        prop_assert_eq!(r.state(), b.state());
    }
}

/// The wire names of the states, exactly: the API, the stores and the
/// audit log spell them this way, and the lock-free `state()` reads back
/// every state that was stored.
#[test]
fn breaker_state_wire_names_are_exact() {
    let table = [
        (BreakerState::Closed, "CLOSED"),
        (BreakerState::Open, "OPEN"),
        (BreakerState::HalfOpen, "HALF_OPEN"),
        (BreakerState::PermanentOpen, "PERMANENT_OPEN"),
    ];
    for (state, name) in table {
        crate::wire::assert_wire_name(state, state.as_str(), name);
    }
    let codes: std::collections::BTreeSet<u8> = table.iter().map(|(s, _)| s.to_u8()).collect();
    assert_eq!(codes.len(), table.len(), "every state has its own code");
}

/// A clock that steps back before the opening still gets the true retry
/// instant: the lock-free fast path's deadline is the opening plus
/// `open_for`, whether the breaker opened here or was restored open.
#[test]
fn a_clock_stepping_back_still_reports_the_true_retry_instant() {
    let b = seed();
    for _ in 0..3 {
        fail(&b, t(0));
    }
    let want = Err(Rejection::Open { retry_at: t(60) });
    assert_eq!(b.admit(|| t(-120)).map(|_| ()), want);
    let restored = CircuitBreaker::restore(BreakerConfig::default(), b.snapshot()).unwrap();
    assert_eq!(restored.admit(|| t(-120)).map(|_| ()), want);
    assert_eq!(restored.admit(|| t(59)).map(|_| ()), want);
    assert!(restored.admit(|| t(60)).is_ok());
}

/// Snapshots that could only come from a hand-edited or older record:
/// OPEN without an opening probes at once; PERMANENT_OPEN without its
/// record keeps latching with a reason.
#[test]
fn odd_snapshots_restore_safely() {
    let open = BreakerSnapshot {
        state: BreakerState::Open,
        opened_at: None,
        ..BreakerSnapshot::closed()
    };
    let b = CircuitBreaker::restore(BreakerConfig::default(), open).unwrap();
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.admit(|| t(0)).unwrap().probe().is_some());

    let latched = BreakerSnapshot {
        state: BreakerState::PermanentOpen,
        consecutive_failures: 4,
        last_failure_at: Some(t(5)),
        ..BreakerSnapshot::closed()
    };
    let b = CircuitBreaker::restore(BreakerConfig::default(), latched).unwrap();
    assert_eq!(b.state(), BreakerState::PermanentOpen);
    assert_eq!(
        b.admit(|| t(10)).unwrap_err(),
        Rejection::PermanentOpen {
            reason: "restored from snapshot".into(),
            since: t(5)
        }
    );
    assert!(b.snapshot().permanent.is_some());
    // A failed call restored while failures were counted still reports
    // them: the fast path must not skip the reset of the count.
    let counted = BreakerSnapshot {
        consecutive_failures: 2,
        ..BreakerSnapshot::closed()
    };
    let b = CircuitBreaker::restore(BreakerConfig::default(), counted).unwrap();
    let p = b.admit(no_clock).unwrap();
    assert_eq!(b.record_success(&p, || t(1)), None);
    assert_eq!(b.snapshot().consecutive_failures, 0);
}

/// A breaker restored half-open with no failures counted still closes on
/// a successful probe: the lock-free success path is only for a closed
/// breaker.
#[test]
fn a_probe_success_closes_even_with_no_failures_counted() {
    let open = BreakerSnapshot {
        state: BreakerState::Open,
        opened_at: None,
        ..BreakerSnapshot::closed()
    };
    let b = CircuitBreaker::restore(BreakerConfig::default(), open).unwrap();
    let probe = b.admit(|| t(0)).unwrap();
    let closed = b.record_success(&probe, || t(1)).unwrap();
    assert_eq!(
        (closed.from, closed.to, closed.cause),
        (
            BreakerState::HalfOpen,
            BreakerState::Closed,
            TransitionCause::ProbeSucceeded
        )
    );
}

#[test]
fn each_invalid_config_is_named_and_the_config_reads_back() {
    let base = BreakerConfig::default();
    let refused = |c: BreakerConfig| CircuitBreaker::new(c).unwrap_err();
    assert_eq!(
        refused(BreakerConfig {
            failure_threshold: 0,
            ..base.clone()
        }),
        BreakerConfigError::ZeroFailureThreshold
    );
    assert_eq!(
        refused(BreakerConfig {
            open_for: Duration::ZERO,
            ..base.clone()
        }),
        BreakerConfigError::ZeroDuration
    );
    assert_eq!(
        refused(BreakerConfig {
            probe_timeout: Duration::ZERO,
            ..base.clone()
        }),
        BreakerConfigError::ZeroDuration
    );
    let equal = BreakerConfig {
        failure_threshold: 4,
        permanent_open_threshold: 4,
        open_for: Duration::from_secs(5),
        probe_timeout: Duration::from_secs(7),
        half_open_max_probes: 2,
    };
    let b = CircuitBreaker::new(equal.clone()).unwrap();
    assert_eq!(b.config(), &equal, "thresholds may be equal");
}

/// `admit` reads the state without the lock; if another thread changed it
/// before the lock is taken (here: the breaker reopened while this caller
/// still saw it half-open), the decision under the lock is the truth.
#[test]
fn a_stale_state_read_is_decided_again_under_the_lock() {
    let b = seed();
    for _ in 0..3 {
        fail(&b, t(0));
    }
    let stale = BreakerState::HalfOpen.to_u8();
    assert_eq!(
        b.admit_slow(stale, t(10)).unwrap_err(),
        Rejection::Open { retry_at: t(60) }
    );
    assert!(b.admit_slow(stale, t(60)).unwrap().probe().is_some());
}

/// The shared record latched: the local breaker latches with that record,
/// once, and stale probe tickets stay stale after the reset.
#[test]
fn a_shared_latch_latches_once_with_its_record() {
    let b = seed();
    for _ in 0..3 {
        fail(&b, t(0));
    }
    let probe = b.admit(|| t(60)).unwrap();
    let generation = b.snapshot().generation;
    let record = PermanentOpenRecord {
        reason: "10 consecutive failures".into(),
        since: t(61),
    };
    let tr = b.latch(record.clone(), t(62)).unwrap();
    assert_eq!(
        (tr.from, tr.to, tr.at, tr.cause),
        (
            BreakerState::HalfOpen,
            BreakerState::PermanentOpen,
            t(62),
            TransitionCause::SharedLatch
        )
    );
    assert_eq!(b.state(), BreakerState::PermanentOpen);
    assert_eq!(b.probes_in_flight(), 0);
    assert_eq!(b.snapshot().generation, generation + 1);
    assert_eq!(b.snapshot().permanent, Some(record.clone()));
    assert_eq!(
        b.admit(|| t(1_000)).unwrap_err(),
        Rejection::PermanentOpen {
            reason: record.reason.clone(),
            since: t(61)
        }
    );
    let other = PermanentOpenRecord {
        reason: "later".into(),
        since: t(70),
    };
    assert_eq!(b.latch(other, t(70)), None, "already latched");
    assert_eq!(b.snapshot().permanent, Some(record));
    b.manual_reset("fixed", &Actor::new("op"), t(80)).unwrap();
    assert_eq!(b.record_success(&probe, || t(81)), None, "a stale probe");
    assert_eq!(b.state(), BreakerState::Closed);
}
