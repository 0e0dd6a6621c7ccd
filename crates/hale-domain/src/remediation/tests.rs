use proptest::prelude::*;

use super::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_secs(s)
}

fn op(n: usize) -> OperationId {
    OperationId::new(format!("op-{n}"))
}

fn limits(in_flight: Option<u32>, started: Option<u32>, pods: Option<u32>) -> BudgetLimits {
    BudgetLimits {
        max_in_flight: in_flight,
        max_started: started,
        max_pods_disrupted: pods,
        window: Duration::from_secs(3_600),
    }
}

/// What happens to the usage, one step at a time.
#[derive(Debug, Clone)]
enum Step {
    /// An automatic run asks to start in namespace `a` (true) or `b`.
    Start { in_a: bool, approved: bool },
    /// The n-th started run ends.
    Finish(usize),
    /// The n-th started run disrupts pods.
    Pods(usize, u32),
    /// Time passes.
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (any::<bool>(), proptest::bool::weighted(0.1))
            .prop_map(|(in_a, approved)| Step::Start { in_a, approved }),
        2 => (0usize..20).prop_map(Step::Finish),
        1 => (0usize..20, 0u32..4).prop_map(|(n, p)| Step::Pods(n, p)),
        2 => (0u64..2_000).prop_map(Step::Wait),
    ]
}

fn budgets() -> impl Strategy<Value = RemediationBudgets> {
    let cap = || proptest::option::of(1u32..5);
    (cap(), cap(), cap(), cap(), cap(), cap(), 600u64..7_200).prop_map(
        |(ti, ts, tp, ni, ns, np, window)| {
            let w = Duration::from_secs(window);
            RemediationBudgets {
                tenant: Some(BudgetLimits {
                    window: w,
                    ..limits(ti, ts, tp)
                }),
                namespaces: BTreeMap::from([(
                    "a".to_owned(),
                    BudgetLimits {
                        window: w / 2,
                        ..limits(ni, ns, np)
                    },
                )]),
                stale_after: Duration::from_secs(3_600),
            }
        },
    )
}

/// Counts a scope's use directly from every run ever started (the
/// reference, independent of pruning).
fn used(
    runs: &[RunSlot],
    scope: &BudgetScope,
    l: &BudgetLimits,
    stale: Duration,
    now: Timestamp,
) -> (usize, usize) {
    let mine = runs.iter().filter(|r| match scope {
        BudgetScope::Tenant => true,
        BudgetScope::Namespace(ns) => &r.namespace == ns,
    });
    let (mut in_flight, mut started) = (0, 0);
    for r in mine {
        if r.finished_at.is_none() && now < r.started_at + stale {
            in_flight += 1;
        }
        if now < r.started_at + l.window {
            started += 1;
        }
    }
    (in_flight, started)
}

proptest! {
    /// Whatever the order of starts, ends, pods and waits: right after an
    /// automatic start, no budget that applies to it holds more runs in
    /// flight or started within its window than its caps; a refusal names a
    /// cap that is really reached; runs humans approved are never refused
    /// but counted. After every step, the use the status page shows for each
    /// budget is what the reference counts.
    #[test]
    fn prop_remediation_budget_never_exceeded_and_never_refuses_with_room(
        b in budgets(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut usage = RemediationUsage::default();
        let mut all: Vec<RunSlot> = Vec::new();
        let mut now = t(10_000);
        for s in steps {
            match s {
                Step::Start { in_a, approved } => {
                    let ns = if in_a { "a" } else { "b" };
                    let id = op(all.len());
                    match usage.start(&b, !approved, &id, ns, now) {
                        Ok(()) => {
                            all.push(RunSlot {
                                operation: id, namespace: ns.into(), started_at: now,
                                finished_at: None, pods_disrupted: 0,
                            });
                            if approved { continue; }
                            for (scope, l) in b.applying_to(ns) {
                                let (in_flight, started) = used(&all, &scope, l, b.stale_after, now);
                                if let Some(max) = l.max_in_flight {
                                    prop_assert!(in_flight <= max as usize, "{scope} in flight {in_flight} > {max}");
                                }
                                if let Some(max) = l.max_started {
                                    prop_assert!(started <= max as usize, "{scope} started {started} > {max}");
                                }
                            }
                        }
                        Err(e) => {
                            prop_assert!(!approved, "an approved run was refused: {e}");
                            prop_assert!(e.used >= e.max, "{e}");
                            let l = b.applying_to(ns).find(|(s, _)| *s == e.scope).map(|(_, l)| *l);
                            prop_assert!(l.is_some());
                            let l = l.unwrap();
                            let (in_flight, started) = used(&all, &e.scope, &l, b.stale_after, now);
                            match e.limit {
                                BudgetLimit::InFlight => prop_assert_eq!(in_flight, e.used as usize),
                                BudgetLimit::Started => {
                                    prop_assert_eq!(started, e.used as usize);
                                    prop_assert!(e.retry_at.is_some_and(|at| at > now));
                                }
                                BudgetLimit::PodsDisrupted => prop_assert!(e.retry_at.is_some_and(|at| at > now)),
                            }
                        }
                    }
                }
                Step::Finish(n) => {
                    if let Some(r) = all.get_mut(n) {
                        let id = r.operation.clone();
                        r.finished_at.get_or_insert(now);
                        usage.finish(&b, &id, now);
                    }
                }
                Step::Pods(n, p) => {
                    if let Some(r) = all.get_mut(n) && r.finished_at.is_none() {
                        r.pods_disrupted += p;
                        let id = r.operation.clone();
                        usage.add_pods(&id, p);
                    }
                }
                Step::Wait(s) => now = now + Duration::from_secs(s),
            }
            // The status page's use is what the caps count.
            for u in b.usage(&usage, now) {
                let (scope, l) = (u.scope.clone(), u.limits);
                let (in_flight, started) = used(&all, &scope, &l, b.stale_after, now);
                prop_assert_eq!((u.in_flight as usize, u.started as usize), (in_flight, started), "{}", scope);
                let pods: u32 = all.iter()
                    .filter(|r| scope == BudgetScope::Tenant || r.namespace == "a")
                    .filter(|r| now < r.started_at + l.window)
                    .map(|r| r.pods_disrupted)
                    .sum();
                prop_assert_eq!(u.pods_disrupted, pods, "{}", scope);
            }
        }
    }

    /// One escalation per scope and window, however often the budget is
    /// found exhausted.
    #[test]
    fn prop_one_budget_escalation_per_window(
        gaps in proptest::collection::vec(0u64..2_000, 1..40),
    ) {
        let e = BudgetExhausted {
            scope: BudgetScope::Tenant, limit: BudgetLimit::InFlight, used: 1, max: 1,
            retry_at: None, window: Duration::from_secs(3_600),
        };
        let mut usage = RemediationUsage::default();
        let mut now = t(0);
        let mut sent: Vec<Timestamp> = Vec::new();
        for g in gaps {
            now = now + Duration::from_secs(g);
            let predicted = usage.would_escalate(&e, now);
            let due = usage.escalation_due(&e, now);
            prop_assert_eq!(predicted, due);
            if due {
                sent.push(now);
            }
        }
        prop_assert!(!sent.is_empty());
        for w in sent.windows(2) {
            prop_assert!(w[1] >= w[0] + e.window);
        }
    }
}

#[test]
fn an_empty_budget_caps_nothing() {
    let b = RemediationBudgets::default();
    assert!(b.is_empty());
    let mut u = RemediationUsage::default();
    for n in 0..100 {
        u.start(&b, true, &op(n), "a", t(0)).unwrap();
    }
    let only_window = RemediationBudgets {
        tenant: Some(limits(None, None, None)),
        ..RemediationBudgets::default()
    };
    assert!(only_window.is_empty());
    let capped = RemediationBudgets {
        namespaces: BTreeMap::from([("a".into(), limits(None, None, Some(3)))]),
        ..RemediationBudgets::default()
    };
    assert!(!capped.is_empty());
}

#[test]
fn budgets_count_in_flight_starts_and_pods_per_scope() {
    let b = RemediationBudgets {
        tenant: Some(limits(Some(2), Some(3), None)),
        namespaces: BTreeMap::from([(
            "a".into(),
            BudgetLimits {
                window: Duration::from_secs(7_200),
                ..limits(None, None, Some(2))
            },
        )]),
        stale_after: Duration::from_secs(600),
    };
    let mut u = RemediationUsage::default();
    u.start(&b, true, &op(0), "a", t(0)).unwrap();
    u.start(&b, true, &op(1), "b", t(1)).unwrap();
    let e = u.start(&b, true, &op(2), "b", t(2)).unwrap_err();
    assert_eq!(
        (e.scope.clone(), e.limit, e.used, e.max, e.retry_at),
        (BudgetScope::Tenant, BudgetLimit::InFlight, 2, 2, None)
    );
    assert_eq!(
        e.to_string(),
        "remediation budget of tenant exhausted: 2 of 2 runs in flight"
    );
    // An approved run is recorded even over budget.
    u.start(&b, false, &op(9), "b", t(2)).unwrap();
    u.finish(&b, &op(9), t(3));
    u.add_pods(&op(0), 2);
    u.finish(&b, &op(0), t(3));
    let e = u.start(&b, true, &op(3), "a", t(4)).unwrap_err();
    assert_eq!(e.limit, BudgetLimit::Started);
    assert_eq!(e.retry_at, Some(t(3_600)));
    // The first start leaves the tenant's window; namespace a still has two
    // pods disrupted within its window.
    let e = u.start(&b, true, &op(3), "a", t(3_600)).unwrap_err();
    assert_eq!(
        (e.scope.clone(), e.limit, e.used),
        (
            BudgetScope::Namespace("a".into()),
            BudgetLimit::PodsDisrupted,
            2
        )
    );
    assert_eq!(
        e.to_string(),
        "remediation budget of namespace:a exhausted: 2 of 2 pods disrupted in the last 2h; room again at 1970-01-01T02:00:00.000000Z"
    );
    // A run that never reported its end stops counting after stale_after.
    assert_eq!(u.in_flight(&b, t(5)), 1);
    assert_eq!(u.in_flight(&b, t(601)), 0);
    u.start(&b, true, &op(4), "b", t(7_200)).unwrap();
    // Pruned: runs out of every window and not in flight are gone.
    assert!(u.runs.iter().all(|r| r.operation != op(0)));
}

#[test]
fn usage_round_trips_through_serde_and_limits_have_wire_names() {
    for (l, name) in [
        (BudgetLimit::InFlight, "in_flight"),
        (BudgetLimit::Started, "started"),
        (BudgetLimit::PodsDisrupted, "pods_disrupted"),
    ] {
        crate::wire::assert_wire_name(l, l.as_str(), name);
    }
    let mut u = RemediationUsage::default();
    let b = RemediationBudgets::default();
    u.start(&b, false, &op(1), "a", t(5)).unwrap();
    let e = BudgetExhausted {
        scope: BudgetScope::Namespace("a".into()),
        limit: BudgetLimit::Started,
        used: 1,
        max: 1,
        retry_at: None,
        window: Duration::from_secs(60),
    };
    assert!(u.escalation_due(&e, t(5)));
    let json = serde_json::to_value(&u).unwrap();
    assert_eq!(
        json["escalated"]["namespace:a"],
        "1970-01-01T00:00:05.000000Z"
    );
    assert_eq!(serde_json::from_value::<RemediationUsage>(json).unwrap(), u);
    assert_eq!(
        serde_json::to_value(BudgetScope::Namespace("a".into())).unwrap(),
        serde_json::json!({"scope": "namespace", "name": "a"})
    );
}
