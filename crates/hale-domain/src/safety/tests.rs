use proptest::prelude::*;

use super::*;
use crate::breaker::TransitionCause;
use crate::guard::Guard;

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_secs(s)
}

fn settings(threshold: u32) -> SafetySettings {
    SafetySettings {
        dormancy_threshold: threshold,
        backoff: BackoffPolicy::default(),
        jitter_seed: 7,
        switches: TenantSwitches::default(),
    }
}

fn key(n: u8) -> LedgerKey {
    let r = ResourceRef::parse(&format!("prod:deployment/app-{n}")).unwrap();
    LedgerKey::new(&StrategyId::new("restart"), &r)
}

#[derive(Debug, Clone)]
enum Event {
    Run(u8, RunOutcome),
    Resume,
    Latch,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (0u8..3, prop_oneof![
            Just(RunOutcome::Healed), Just(RunOutcome::Failed), Just(RunOutcome::Interrupted)
        ]).prop_map(|(k, o)| Event::Run(k, o)),
        1 => Just(Event::Resume),
        1 => Just(Event::Latch),
    ]
}

fn latch(at: Timestamp) -> Transition {
    Transition {
        from: BreakerState::Closed,
        to: BreakerState::PermanentOpen,
        at,
        cause: TransitionCause::FatalFailure,
    }
}

proptest! {
    /// A run's aftermath, event by event, against a model of the rules in
    /// the module docs: interrupted runs count for nothing; a success clears
    /// the target's streak, the backoff and the dormancy streak; a failure
    /// extends them and backs off; dormancy starts at the threshold or on a
    /// latched breaker and only a resume ends it, clearing every streak.
    #[test]
    fn prop_run_aftermath_follows_the_rules(threshold in 1u32..6, events in prop::collection::vec(event(), 0..60)) {
        let mut s = TenantSafety::new(&settings(threshold)).unwrap();
        let mut streaks = [0u32; 3];
        let mut dormancy_streak = 0u32;
        let mut dormant = false;
        let mut backoff_failures = 0u32;
        for (i, ev) in events.into_iter().enumerate() {
            let now = t(i64::try_from(i).unwrap() * 10);
            match ev {
                Event::Run(k, outcome) => {
                    let before_next = s.next_healing_at;
                    let after = s.finish_run(key(k), outcome, now);
                    match outcome {
                        RunOutcome::Interrupted => {
                            prop_assert!(!after.counted);
                            prop_assert_eq!(s.next_healing_at, before_next);
                        }
                        RunOutcome::Healed => {
                            streaks[usize::from(k)] = 0;
                            dormancy_streak = 0;
                            backoff_failures = 0;
                            prop_assert!(after.counted);
                            prop_assert_eq!(s.next_healing_at, None);
                        }
                        RunOutcome::Failed => {
                            streaks[usize::from(k)] += 1;
                            dormancy_streak += 1;
                            backoff_failures += 1;
                            prop_assert!(after.counted);
                            let delay = s.backoff.current_delay();
                            prop_assert_eq!(after.next_healing_at, Some(now + delay));
                            let enters = !dormant && dormancy_streak >= threshold;
                            prop_assert_eq!(after.entered_dormancy.is_some(), enters);
                            dormant |= enters;
                        }
                    }
                }
                Event::Resume => {
                    let res = s.resume("fixed", &Actor::new("op"), now);
                    prop_assert_eq!(res.is_ok(), dormant);
                    if dormant {
                        dormant = false;
                        streaks = [0; 3];
                        dormancy_streak = 0;
                        backoff_failures = 0;
                        prop_assert_eq!(s.next_healing_at, None);
                    }
                }
                Event::Latch => {
                    let entered = s.on_breaker_transition("kubernetes", &latch(now));
                    prop_assert_eq!(entered.is_some(), !dormant);
                    dormant = true;
                }
            }
            prop_assert_eq!(s.dormancy.is_dormant(), dormant);
            prop_assert_eq!(s.dormancy.consecutive_failures(), dormancy_streak);
            prop_assert_eq!(s.backoff.failures(), backoff_failures);
            for k in 0..3u8 {
                prop_assert_eq!(s.ledger(&key(k)).consecutive_failures, streaks[usize::from(k)]);
            }
        }
    }

    /// A budgeted attempt never starts in cooldown or past max attempts; an
    /// unbudgeted one (humans approved it) always starts; both count.
    #[test]
    fn prop_begin_attempt_respects_the_budget_only_when_given(
        failures in 0u32..5, last in proptest::option::of(0i64..100), max in 1u32..4, cooldown_s in 0u64..200,
    ) {
        let mut s = TenantSafety::new(&settings(10)).unwrap();
        s.ledgers.insert(key(0), AttemptLedger {
            consecutive_failures: failures,
            total_attempts: failures,
            last_started_at: last.map(t),
        });
        let now = t(100);
        let cooldown = Duration::from_secs(cooldown_s);
        let verdict = s.ledger(&key(0)).check(max, cooldown, now);
        let mut budgeted = s.clone();
        match budgeted.begin_attempt(key(0), Some((max, cooldown)), now) {
            Ok(n) => {
                prop_assert_eq!(verdict, BudgetVerdict::Allowed { attempt_number: n });
                prop_assert_eq!(budgeted.counters.total_attempts, 1);
                prop_assert_eq!(budgeted.ledger(&key(0)).last_started_at, Some(now));
            }
            Err(block) => {
                prop_assert!(matches!(block.guard(), Guard::Cooldown | Guard::MaxAttempts));
                prop_assert_eq!(&budgeted, &s, "a refused attempt changes nothing");
            }
        }
        prop_assert_eq!(s.begin_attempt(key(0), None, now), Ok(failures + 1));
        prop_assert_eq!(s.counters.total_attempts, 1);
    }

    /// Snapshot and restore under the same settings give the same state
    /// (the backoff keeps its failure count; this process's last failure
    /// time is not persisted).
    #[test]
    fn prop_restore_keeps_every_count(failed in 0u32..12, threshold in 1u32..15) {
        let mut s = TenantSafety::new(&settings(threshold)).unwrap();
        for i in 0..failed {
            s.finish_run(key(0), RunOutcome::Failed, t(i64::from(i)));
        }
        s.set_switch(&TenantSwitchTarget::Strategy(StrategyId::new("restart")), Some(Switch::Off));
        let restored = TenantSafety::restore(&settings(threshold), s.snapshot()).unwrap();
        prop_assert_eq!(restored.snapshot(), s.snapshot());
        prop_assert_eq!(restored.last_failure_at, None);
    }
}

#[test]
fn restore_takes_the_configured_threshold_and_switches_set_at_run_time() {
    let mut s = TenantSafety::new(&settings(10)).unwrap();
    for i in 0..3 {
        s.finish_run(key(0), RunOutcome::Failed, t(i));
    }
    s.set_switch(&TenantSwitchTarget::Tenant, Some(Switch::On));
    let mut configured = settings(3);
    configured.switches.tenant = Some(Switch::Off);
    configured
        .switches
        .strategies
        .insert(StrategyId::new("scale"), Switch::Off);
    let restored = TenantSafety::restore(&configured, s.snapshot()).unwrap();
    assert_eq!(restored.dormancy.max_consecutive_failures(), 3);
    assert_eq!(restored.dormancy.consecutive_failures(), 3);
    assert_eq!(restored.backoff.failures(), 3);
    assert_eq!(restored.switches.tenant, Some(Switch::On));
    assert_eq!(
        restored.switches.strategies.get(&StrategyId::new("scale")),
        Some(&Switch::Off)
    );
}

#[test]
fn safe_mode_and_switch_targets() {
    let mut s = TenantSafety::new(&settings(10)).unwrap();
    let rec = s
        .enter_safe_mode(&StrategyId::new("undo"), "verification failed", t(1))
        .unwrap();
    assert_eq!(
        rec.reason,
        "strategy undo failed and asks for safe mode: verification failed"
    );
    assert!(
        s.enter_safe_mode(&StrategyId::new("undo"), "again", t(2))
            .is_none()
    );
    assert!(
        s.on_breaker_transition("kubernetes", &latch(t(3)))
            .is_none(),
        "already dormant"
    );
    let open = Transition {
        to: BreakerState::Open,
        ..latch(t(4))
    };
    let mut awake = TenantSafety::new(&settings(10)).unwrap();
    assert!(awake.on_breaker_transition("kubernetes", &open).is_none());
    assert!(!awake.dormancy.is_dormant());
    assert!(!awake.reset_attempts(&key(1)));
    awake.finish_run(key(1), RunOutcome::Failed, t(5));
    assert!(awake.reset_attempts(&key(1)));
    assert_eq!(awake.ledger(&key(1)).consecutive_failures, 0);
    assert_eq!(
        TenantSwitchTarget::ActionKind(ActionKind::new("evict_pod").unwrap()).to_string(),
        "switch:action_kind:evict_pod"
    );
    assert_eq!(TenantSwitchTarget::Tenant.to_string(), "switch:tenant");
    awake.set_switch(&TenantSwitchTarget::Tenant, Some(Switch::Off));
    awake.set_switch(&TenantSwitchTarget::Tenant, None);
    assert_eq!(awake.switches, TenantSwitches::default());
    assert_eq!(key(1).as_str(), "restart|prod:deployment/app-1");
    let mut p = PlatformSafety::default();
    p.set_switch(Feature::AutoHealing, Some(Switch::Off));
    assert!(!p.switches.is_on(Feature::AutoHealing));
    p.set_switch(Feature::AutoHealing, None);
    assert!(p.switches.is_on(Feature::AutoHealing));
}
