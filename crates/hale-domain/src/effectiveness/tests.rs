use proptest::prelude::*;

use super::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_secs(1_800_000_000 + s)
}

fn policy() -> EffectivenessPolicy {
    EffectivenessPolicy::default()
}

#[test]
fn wire_names_are_stable() {
    for (e, name) in [
        (Effectiveness::Pending, "pending"),
        (Effectiveness::Effective, "effective"),
        (Effectiveness::Ineffective, "ineffective"),
    ] {
        crate::wire::assert_wire_name(e, e.as_str(), name);
    }
    let p: EffectivenessPolicy =
        serde_json::from_value(serde_json::json!({"window": "2m"})).unwrap();
    assert_eq!(p.window, Duration::from_secs(120));
    assert_eq!(p.stabilization, DEFAULT_STABILIZATION);
}

#[test]
fn the_worked_example_settles_as_documented() {
    let p = policy();
    // Completed at 0; resolved at 3m: pending until 8m, then effective.
    let s = settle(&p, t(0), None, Observation::Resolved(t(180)));
    assert_eq!(
        s,
        Settlement::Pending {
            resolved_at: Some(t(180))
        }
    );
    assert_eq!(due_at(&p, t(0), Some(t(180))), t(480));
    assert_eq!(
        settle(&p, t(0), Some(t(180)), Observation::Tick(t(479))),
        Settlement::Pending {
            resolved_at: Some(t(180))
        }
    );
    assert_eq!(
        settle(&p, t(0), Some(t(180)), Observation::Tick(t(480))),
        Settlement::Effective
    );
    // Fired again at 4m: ineffective.
    assert_eq!(
        settle(&p, t(0), Some(t(180)), Observation::Fired(t(240))),
        Settlement::Ineffective(IneffectiveReason::Refired)
    );
    // A new episode with no resolve recorded: the resolve was not seen
    // here (another replica's write still on its way), so the alert came
    // back: ineffective, never effective on a guess.
    assert_eq!(
        settle(&p, t(0), None, Observation::Fired(t(60))),
        Settlement::Ineffective(IneffectiveReason::Refired)
    );
    assert_eq!(
        settle(&p, t(0), None, Observation::Fired(t(601))),
        Settlement::Ineffective(IneffectiveReason::NotResolved)
    );
    // Past 10m it did not resolve.
    assert_eq!(
        settle(&p, t(0), None, Observation::Tick(t(601))),
        Settlement::Ineffective(IneffectiveReason::NotResolved)
    );
    assert_eq!(
        settle(&p, t(0), None, Observation::Resolved(t(601))),
        Settlement::Ineffective(IneffectiveReason::NotResolved)
    );
}

#[test]
fn chains_count_only_recent_verdicts_after_the_last_lift() {
    let p = EffectivenessPolicy {
        chain_threshold: 3,
        ..policy()
    };
    assert!(
        !chain_reached(&policy(), &[t(0); 9], None, t(0)),
        "chains are off by default"
    );
    let v = [t(0), t(1000), t(2000)];
    assert!(chain_reached(&p, &v, None, t(2000)));
    assert!(
        !chain_reached(&p, &v, None, t(3600)),
        "t(0) left the window"
    );
    assert!(
        !chain_reached(&p, &v, Some(t(0)), t(2000)),
        "lifted after t(0)"
    );
    let off = EffectivenessPolicy {
        chain_threshold: 0,
        ..p
    };
    assert!(!chain_reached(&off, &v, None, t(2000)));
}

/// The verdict the rule must reach, from the whole history: the alert
/// resolved first at `resolved` (if it did), fired again at `refired` (if it
/// did, after resolving), and it is `now`.
fn reference(
    p: &EffectivenessPolicy,
    done: Timestamp,
    resolved: Option<Timestamp>,
    refired: Option<Timestamp>,
    now: Timestamp,
) -> Option<Effectiveness> {
    let deadline = done + p.window;
    match resolved {
        None if now > deadline => Some(Effectiveness::Ineffective),
        None => None,
        Some(r) if r > deadline => Some(Effectiveness::Ineffective),
        Some(r) => match refired {
            Some(f) if f < r + p.stabilization => Some(Effectiveness::Ineffective),
            Some(_) => Some(Effectiveness::Effective),
            None if now >= r + p.stabilization => Some(Effectiveness::Effective),
            None => None,
        },
    }
}

fn verdict_of(s: Settlement) -> Option<Effectiveness> {
    match s {
        Settlement::Pending { .. } => None,
        Settlement::Effective => Some(Effectiveness::Effective),
        Settlement::Ineffective(_) => Some(Effectiveness::Ineffective),
    }
}

proptest! {
    /// Fed the alert's resolve and re-fire and any number of ticks of the
    /// periodic job, in time order, the rule reaches the reference verdict,
    /// whenever the ticks come: effective only when the alert resolved
    /// within the window and did not fire again within the stabilization.
    #[test]
    fn prop_effective_only_when_resolved_in_time_and_stable(
        window in 1u64..1200,
        stabilization in 1u64..900,
        resolve in proptest::option::of(0u64..2000),
        resolve_seen in any::<bool>(),
        refire in proptest::option::of(0u64..2000),
        ticks in proptest::collection::vec(0u64..4000, 0..6),
        end in 0u64..4000,
    ) {
        let p = EffectivenessPolicy {
            window: Duration::from_secs(window),
            stabilization: Duration::from_secs(stabilization),
            ..EffectivenessPolicy::default()
        };
        let done = t(0);
        let at = |s: u64| done + Duration::from_secs(s);
        let resolved = resolve.map(at);
        let refired = resolved.and_then(|r| refire.map(|g| r + Duration::from_secs(g)));
        let mut seen: Vec<(Timestamp, u8, Observation)> = ticks
            .iter()
            .map(|&s| (at(s), 1, Observation::Tick(at(s))))
            .collect();
        // An unseen resolve: another replica took it and its write had not
        // landed when the re-fire came.
        if let Some(r) = resolved.filter(|_| resolve_seen) {
            seen.push((r, 0, Observation::Resolved(r)));
        }
        if let Some(f) = refired {
            seen.push((f, 0, Observation::Fired(f)));
        }
        let last = seen.iter().map(|(t, _, _)| *t).max().unwrap_or(done).max(at(end));
        seen.push((last, 2, Observation::Tick(last)));
        seen.sort_by_key(|(t, order, _)| (*t, *order));
        let mut state: Option<Timestamp> = None;
        let mut verdict = None;
        for (_, _, o) in seen {
            let s = settle(&p, done, state, o);
            if let Settlement::Pending { resolved_at } = s {
                state = resolved_at;
            }
            if let Some(v) = verdict_of(s) {
                verdict = Some(v);
                break;
            }
        }
        let expected = match refired {
            // Its alert came back as a new episode while no resolve was
            // recorded: ineffective, whenever the unseen resolve was.
            Some(_) if !resolve_seen => Some(Effectiveness::Ineffective),
            _ if !resolve_seen => reference(&p, done, None, None, last),
            _ => reference(&p, done, resolved, refired, last),
        };
        prop_assert_eq!(verdict, expected);
    }

    /// The chain rule counts exactly the verdicts inside the window, and
    /// adding a verdict never lifts a chain.
    #[test]
    fn prop_ineffective_chain_needs_the_threshold_within_the_window(
        verdicts in proptest::collection::vec(0i64..10_000, 0..10),
        extra in 0i64..10_000,
        threshold in 0u32..5,
        now in 0i64..12_000,
    ) {
        let p = EffectivenessPolicy { chain_threshold: threshold, ..EffectivenessPolicy::default() };
        let v: Vec<Timestamp> = verdicts.iter().map(|&s| t(s)).collect();
        let reached = chain_reached(&p, &v, None, t(now));
        let mut more = v.clone();
        more.push(t(extra));
        if reached {
            prop_assert!(chain_reached(&p, &more, None, t(now)));
        }
        let inside = v.iter().filter(|&&x| x > t(now) - p.chain_window && x <= t(now)).count();
        prop_assert_eq!(reached, threshold > 0 && inside >= threshold as usize);
    }
}

#[test]
fn the_effective_rate_counts_verdicts_only() {
    let mut tally = EffectivenessTally::default();
    assert_eq!(tally.effective_rate(), None, "no verdict yet");
    tally.add(Effectiveness::Pending, 5);
    assert_eq!(tally.effective_rate(), None, "pending is no verdict");
    tally.add(Effectiveness::Effective, 3);
    tally.add(Effectiveness::Ineffective, 1);
    tally.add(Effectiveness::Effective, 0);
    assert_eq!(
        tally,
        EffectivenessTally {
            pending: 5,
            effective: 3,
            ineffective: 1
        }
    );
    assert_eq!(tally.effective_rate(), Some(0.75));
    tally.add(Effectiveness::Ineffective, 2);
    assert_eq!(tally.effective_rate(), Some(0.5));
    let none_worked = EffectivenessTally {
        ineffective: 2,
        ..EffectivenessTally::default()
    };
    assert_eq!(none_worked.effective_rate(), Some(0.0));
    let by = EffectivenessTally::by_key([
        ("restart", Effectiveness::Effective, 2),
        ("evict", Effectiveness::Pending, 1),
        ("restart", Effectiveness::Ineffective, 1),
        ("restart", Effectiveness::Effective, 1),
    ]);
    assert_eq!(
        by,
        vec![
            (
                "evict",
                EffectivenessTally {
                    pending: 1,
                    ..EffectivenessTally::default()
                }
            ),
            (
                "restart",
                EffectivenessTally {
                    pending: 0,
                    effective: 3,
                    ineffective: 1
                }
            ),
        ]
    );
}
