use proptest::prelude::*;

use super::*;
use crate::budget::BudgetVerdict;
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
        permanent_open_threshold: 10,
    }
}

fn key(n: u8) -> LedgerKey {
    let r = ResourceRef::parse(&format!("prod:deployment/app-{n}")).unwrap();
    LedgerKey::new(&StrategyId::new("restart"), &r)
}

/// The state after a round trip through its records, as another replica
/// would load it.
fn reloaded(s: &TenantSafety, threshold: u32) -> TenantSafety {
    TenantSafety::from_records(&settings(threshold), s.records()).unwrap()
}

#[derive(Debug, Clone)]
enum Event {
    Run(u8, RunOutcome),
    Resume,
    Fatal,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (0u8..3, prop_oneof![
            Just(RunOutcome::Healed), Just(RunOutcome::Failed), Just(RunOutcome::Interrupted),
            Just(RunOutcome::Refused)
        ]).prop_map(|(k, o)| Event::Run(k, o)),
        1 => Just(Event::Resume),
        1 => Just(Event::Fatal),
    ]
}

proptest! {
    /// A run's aftermath, event by event, against a model of the rules in
    /// the module docs: interrupted runs count for nothing; a success clears
    /// the target's streak, the backoff and the dormancy streak; a failure
    /// extends them and backs off; dormancy starts at the threshold or on a
    /// latched breaker and only a resume ends it, clearing every streak.
    /// Every event is applied on a state reloaded from the previous state's
    /// records, as replicas sharing the records do.
    #[test]
    fn prop_run_aftermath_follows_the_rules(threshold in 1u32..6, events in prop::collection::vec(event(), 0..60)) {
        let mut s = TenantSafety::new(&settings(threshold)).unwrap();
        let mut streaks = [0u32; 3];
        let mut dormancy_streak = 0u32;
        let mut dormant = false;
        let mut backoff_failures = 0u32;
        for (i, ev) in events.into_iter().enumerate() {
            let now = t(i64::try_from(i).unwrap() * 10);
            s = reloaded(&s, threshold);
            match ev {
                Event::Run(k, outcome) => {
                    let before_next = s.next_healing_at;
                    let after = s.finish_run(key(k), outcome, now);
                    match outcome {
                        RunOutcome::Interrupted => {
                            prop_assert!(!after.counted);
                            prop_assert_eq!(s.next_healing_at, before_next);
                        }
                        RunOutcome::Refused => {
                            // The target's streak grows; nothing tenant-wide.
                            streaks[usize::from(k)] += 1;
                            prop_assert!(after.counted);
                            prop_assert_eq!(s.next_healing_at, before_next);
                            prop_assert_eq!(after.entered_dormancy, None);
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
                Event::Fatal => {
                    let was = s.breakers.get("kubernetes").is_some_and(SharedBreaker::is_latched);
                    let latched = s.on_action_outcome("kubernetes", Err(FailureClass::Fatal), now);
                    prop_assert_eq!(latched.is_some(), !was);
                    if let Some(l) = latched {
                        prop_assert_eq!(l.entered_dormancy.is_some(), !dormant);
                        dormant = true;
                    }
                    prop_assert!(s.breaker_admission("kubernetes").is_err());
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
    /// unbudgeted one (humans approved it) always starts.
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
                prop_assert_eq!(budgeted.ledger(&key(0)).last_started_at, Some(now));
            }
            Err(block) => {
                prop_assert!(matches!(block.guard(), Guard::Cooldown | Guard::MaxAttempts));
                prop_assert_eq!(&budgeted, &s, "a refused attempt changes nothing");
            }
        }
        prop_assert_eq!(s.begin_attempt(key(0), None, now), Ok(failures + 1));
    }

    /// Records round trip: another replica loading them sees the same state,
    /// and an event changes exactly the records it is about.
    #[test]
    fn prop_records_round_trip_and_changes_are_minimal(failed in 0u32..12, threshold in 1u32..15) {
        let mut s = TenantSafety::new(&settings(threshold)).unwrap();
        for i in 0..failed {
            s.finish_run(key(0), RunOutcome::Failed, t(i64::from(i)));
        }
        s.set_switch(&TenantSwitchTarget::Strategy(StrategyId::new("restart")), Some(Switch::Off)).unwrap();
        prop_assert_eq!(reloaded(&s, threshold).records(), s.records());
        let before = s.clone();
        s.begin_attempt(key(1), None, t(500)).unwrap();
        let changed: Vec<SafetyKey> = s.changes_since(&before).into_iter().map(|(k, _)| k).collect();
        prop_assert_eq!(changed, vec![SafetyKey::Ledger(key(1))]);
    }
}

#[test]
fn records_take_the_configured_thresholds_and_the_configuration_is_a_floor() {
    let mut s = TenantSafety::new(&settings(10)).unwrap();
    for i in 0..3 {
        s.finish_run(key(0), RunOutcome::Failed, t(i));
    }
    s.set_switch(&TenantSwitchTarget::Tenant, Some(Switch::On))
        .unwrap();
    let mut configured = settings(3);
    configured.switches.tenant = Some(Switch::Off);
    configured
        .switches
        .strategies
        .insert(StrategyId::new("scale"), Switch::Off);
    let mut restored = TenantSafety::from_records(&configured, s.records()).unwrap();
    assert_eq!(restored.dormancy.max_consecutive_failures(), 3);
    assert_eq!(restored.dormancy.consecutive_failures(), 3);
    assert_eq!(restored.backoff.failures(), 3);
    assert_eq!(
        restored.effective_switches().tenant,
        Some(Switch::Off),
        "a runtime `on` never lifts the configuration's `off`"
    );
    assert_eq!(
        restored.set_switch(
            &TenantSwitchTarget::Strategy(StrategyId::new("scale")),
            Some(Switch::On)
        ),
        Err(SwitchError::ConfigFloor {
            layer: SwitchLayer::Strategy(StrategyId::new("scale"))
        })
    );
    restored
        .set_switch(
            &TenantSwitchTarget::Strategy(StrategyId::new("restart")),
            Some(Switch::Off),
        )
        .unwrap();
    assert_eq!(
        restored
            .effective_switches()
            .strategies
            .get(&StrategyId::new("restart")),
        Some(&Switch::Off),
        "the runtime can add an off"
    );
    let mut p = PlatformSafety::default();
    let mut flags = GlobalSwitches::default();
    flags.features.insert(Feature::AutoHealing, Switch::Off);
    assert!(
        p.set_switch(Feature::AutoHealing, Some(Switch::On), &flags)
            .is_err()
    );
    p.set_switch(Feature::Execution, Some(Switch::Off), &flags)
        .unwrap();
    assert!(!p.switches.is_on(Feature::Execution));
    let again = PlatformSafety::from_records(10, p.records());
    assert_eq!(again, p);
    p.set_switch(Feature::Execution, None, &flags).unwrap();
    assert_eq!(again.changes_since(&p).len(), 1);
}

#[test]
fn breakers_latch_for_the_cluster_and_reset_everywhere() {
    let mut s = TenantSafety::new(&settings(10)).unwrap();
    for i in 0..9 {
        assert!(
            s.on_action_outcome("kubernetes", Err(FailureClass::Transient), t(i))
                .is_none()
        );
        // Each failure may come from another replica: reload between them.
        s = reloaded(&s, 10);
    }
    let latched = s
        .on_action_outcome("kubernetes", Err(FailureClass::Transient), t(9))
        .unwrap();
    assert_eq!(latched.latch.reason, "10 consecutive failures");
    let d = latched.entered_dormancy.unwrap();
    assert!(d.reason.contains("PERMANENT_OPEN"), "{}", d.reason);
    assert!(s.breaker_admission("kubernetes").is_err());
    assert!(s.breaker_admission("command").is_ok());
    assert_eq!(
        s.reset_breaker("kubernetes", " ", &Actor::new("op"), t(20)),
        Err(ResetError::ReasonRequired)
    );
    assert_eq!(
        s.reset_breaker("kubernetes", "token renewed", &Actor::new("op"), t(20)),
        Ok(true)
    );
    assert!(s.breaker_admission("kubernetes").is_ok());
    assert_eq!(s.breakers["kubernetes"].resets, 1);
    let rec = s
        .enter_safe_mode(&StrategyId::new("undo"), "verification failed", t(21))
        .is_none();
    assert!(rec, "already dormant from the latch");
    assert!(!s.reset_attempts(&key(1)));
    s.finish_run(key(1), RunOutcome::Failed, t(22));
    assert!(s.reset_attempts(&key(1)));
    assert_eq!(s.ledger(&key(1)).consecutive_failures, 0);
    assert_eq!(
        TenantSwitchTarget::ActionKind(ActionKind::new("evict_pod").unwrap()).to_string(),
        "switch:action_kind:evict_pod"
    );
    assert_eq!(key(1).as_str(), "restart|prod:deployment/app-1");
}

/// Exhaustive over the classes: only failures that say something about the
/// system's health count as a failed run; the rest are refusals.
#[test]
fn a_failure_counts_against_the_tenant_only_if_it_is_the_systems() {
    for class in FailureClass::ALL {
        let expected = match class {
            FailureClass::TargetGone | FailureClass::InvalidAction | FailureClass::Fenced => {
                RunOutcome::Refused
            }
            FailureClass::Transient
            | FailureClass::Timeout
            | FailureClass::Conflict
            | FailureClass::BudgetBlocked
            | FailureClass::Fatal => RunOutcome::Failed,
        };
        assert_eq!(RunOutcome::of_failure(Some(class)), expected, "{class}");
    }
    assert_eq!(RunOutcome::of_failure(None), RunOutcome::Failed);
}

/// A tenant whose every run is refused (an alert naming targets that are
/// gone, or out of reach) never backs off and never goes dormant, however
/// many there are; each target's own streak still grows.
#[test]
fn refused_runs_never_back_off_or_put_the_tenant_to_sleep() {
    let mut s = TenantSafety::new(&settings(2)).unwrap();
    for i in 0..20 {
        let after = s.finish_run(key(0), RunOutcome::Refused, t(i));
        assert_eq!(after.entered_dormancy, None);
        assert_eq!(after.next_healing_at, None);
    }
    assert!(!s.dormancy.is_dormant());
    assert_eq!(s.backoff.failures(), 0);
    assert_eq!(s.ledger(&key(0)).consecutive_failures, 20);
}

#[test]
fn keys_and_targets_name_themselves_as_stored() {
    let k = LedgerKey::from_stored("restart|prod:deployment/a");
    assert_eq!(k.as_str(), "restart|prod:deployment/a");
    assert_eq!(k.to_string(), "restart|prod:deployment/a");
    assert_eq!(
        LedgerKey::new(
            &StrategyId::new("restart"),
            &ResourceRef::parse("prod:deployment/a").unwrap()
        ),
        k
    );
    assert_eq!(TenantSwitchTarget::Tenant.to_string(), "switch:tenant");
    assert_eq!(
        TenantSwitchTarget::Strategy(StrategyId::new("scale")).to_string(),
        "switch:strategy:scale"
    );
}

/// The platform's records carry its switches and its dormancy (with the
/// configured threshold), and only a flag's `off` is a floor.
#[test]
fn platform_records_round_trip_and_flags_are_a_floor() {
    let mut p = PlatformSafety::from_records(4, []);
    assert_eq!(p.dormancy.max_consecutive_failures(), 4);
    assert!(
        p.dormancy
            .enter_manual("maintenance", &Actor::new("op"), t(1))
    );
    p.set_switch(
        Feature::Execution,
        Some(Switch::Off),
        &GlobalSwitches::default(),
    )
    .unwrap();
    let again = PlatformSafety::from_records(9, p.records());
    assert!(again.dormancy.is_dormant(), "the dormancy record is read");
    assert_eq!(
        again.dormancy.max_consecutive_failures(),
        9,
        "the configured threshold wins"
    );
    assert_eq!(again.switches, p.switches);
    let flags = GlobalSwitches::default();
    let mut q = again.clone();
    q.set_switch(Feature::Execution, Some(Switch::On), &flags)
        .unwrap();
    assert!(
        q.switches.is_on(Feature::Execution),
        "no flag says off: on is allowed"
    );
    assert_eq!(
        q.changes_since(&again),
        vec![(
            SafetyKey::Switches,
            SafetyValue::GlobalSwitches(q.switches.clone())
        )]
    );
    // A record of the wrong shape is ignored.
    let odd = PlatformSafety::from_records(
        4,
        [(
            SafetyKey::Switches,
            SafetyValue::Backoff(BackoffRecord::default()),
        )],
    );
    assert_eq!(odd, PlatformSafety::from_records(4, []));
}

#[test]
fn tenant_records_are_each_read_back() {
    let mut s = TenantSafety::new(&settings(5)).unwrap();
    s.set_switch(&TenantSwitchTarget::Tenant, Some(Switch::Off))
        .unwrap();
    s.set_switch(
        &TenantSwitchTarget::ActionKind(ActionKind::new("evict_pod").unwrap()),
        Some(Switch::Off),
    )
    .unwrap();
    s.finish_run(key(0), RunOutcome::Failed, t(1));
    s.on_action_outcome("kubernetes", Err(FailureClass::Transient), t(2));
    let again = reloaded(&s, 5);
    assert_eq!(again.switches, s.switches);
    assert_eq!(again.dormancy, s.dormancy);
    assert_eq!(again.next_healing_at, s.next_healing_at);
    assert_eq!(again.backoff.failures(), 1);
    assert_eq!(again.ledgers, s.ledgers);
    assert_eq!(again.breakers, s.breakers);
    // Unsetting a runtime switch removes it.
    let mut u = again.clone();
    u.set_switch(
        &TenantSwitchTarget::ActionKind(ActionKind::new("evict_pod").unwrap()),
        None,
    )
    .unwrap();
    assert!(u.switches.action_kinds.is_empty());
    assert_eq!(
        u.reset_breaker("command", "never used", &Actor::new("op"), t(3)),
        Ok(false)
    );
    let rec = u
        .enter_safe_mode(&StrategyId::new("undo"), "verification failed", t(4))
        .unwrap();
    assert_eq!(
        rec.reason,
        "strategy undo failed and asks for safe mode: verification failed"
    );
    assert_eq!(u.dormancy.record(), Some(&rec));
}
