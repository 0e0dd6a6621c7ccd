use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn alert(ns: &str, svc: &str, name: &str) -> Alert {
    Alert::firing([("namespace", ns), ("service", svc), ("alertname", name)])
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_secs(1_800_000_000 + s)
}

#[test]
fn fingerprint_is_seed_003_hash_of_namespace_deployment_alertname() {
    let rule = IdentityRule::default();
    let fp = rule.fingerprint(&alert("prod", "checkout", "HighErrorRate"));
    let expected = hex::encode(Sha256::digest(b"prod:checkout:HighErrorRate"));
    assert_eq!(fp.as_str(), expected);
    // deployment wins over service when both are present.
    let mut a = alert("prod", "checkout", "HighErrorRate");
    a.labels.insert("deployment".into(), "checkout-v2".into());
    assert_eq!(
        rule.fingerprint(&a).as_str(),
        hex::encode(Sha256::digest(b"prod:checkout-v2:HighErrorRate"))
    );
    // Labels outside the identity do not change it.
    let mut b = alert("prod", "checkout", "HighErrorRate");
    b.labels.insert("pod".into(), "checkout-7d9f".into());
    assert_eq!(rule.fingerprint(&b), fp);
}

#[test]
fn episodes_duplicates_and_resolution() {
    let rule = IdentityRule::default();
    let a = alert("prod", "checkout", "HighErrorRate");
    let d = |alert: &Alert, s| Delivery::of(&rule, alert, t(s));
    let r1 = converge(None, &d(&a, 0));
    assert_eq!(r1.verdict(), ConvergenceVerdict::NewEpisode);
    assert_eq!(r1.episode, 1);
    let r2 = converge(Some(&r1), &d(&a, 1));
    assert_eq!(
        r2.verdict(),
        ConvergenceVerdict::Duplicate { claimed: false }
    );
    let mut r2 = r2;
    assert!(r2.try_claim(
        1,
        EpisodeClaim {
            kind: ClaimKind::Operation,
            id: "op-1".into(),
            at: t(1)
        }
    ));
    assert!(!r2.try_claim(
        1,
        EpisodeClaim {
            kind: ClaimKind::Operation,
            id: "op-2".into(),
            at: t(1)
        }
    ));
    let r3 = converge(Some(&r2), &d(&a, 2));
    assert_eq!(
        r3.verdict(),
        ConvergenceVerdict::Duplicate { claimed: true }
    );
    assert_eq!(r3.hit_count, 3);
    let r4 = converge(Some(&r3), &d(&a.clone().resolved(), 3));
    assert_eq!(r4.verdict(), ConvergenceVerdict::Resolved);
    let r5 = converge(Some(&r4), &d(&a.clone().resolved(), 4));
    assert_eq!(r5.verdict(), ConvergenceVerdict::DuplicateResolved);
    let r6 = converge(Some(&r5), &d(&a, 5));
    assert_eq!(r6.verdict(), ConvergenceVerdict::NewEpisode);
    assert_eq!(r6.episode, 2);
    assert_eq!(r6.claim, None);
    assert_eq!(r6.recent_firings, vec![t(0), t(5)]);
    assert_eq!(r6.first_seen_at, t(0));
}

#[test]
fn recent_firings_are_bounded() {
    let rule = IdentityRule::default();
    let a = alert("prod", "checkout", "Flap");
    let mut rec: Option<FingerprintRecord> = None;
    for i in 0..100 {
        let alert = if i % 2 == 0 {
            a.clone()
        } else {
            a.clone().resolved()
        };
        rec = Some(converge(rec.as_ref(), &Delivery::of(&rule, &alert, t(i))));
    }
    let rec = rec.unwrap();
    assert_eq!(rec.recent_firings.len(), RECENT_FIRINGS_KEPT);
    assert_eq!(rec.episode, 50);
    assert_eq!(*rec.recent_firings.last().unwrap(), t(98));
}

proptest! {
    /// Duplicates never start a second healing: whatever the delivery order
    /// (duplicates, flapping, resolutions), and however many deliveries try
    /// to start healing, each episode is claimed at most once, and a claimed
    /// episode's duplicates never pass `may_start_healing`.
    #[test]
    fn prop_duplicates_never_start_a_second_healing(
        deliveries in prop::collection::vec((any::<bool>(), any::<bool>()), 1..200)
    ) {
        let rule = IdentityRule::default();
        let a = alert("prod", "checkout", "HighErrorRate");
        let mut rec: Option<FingerprintRecord> = None;
        let mut starts_per_episode: BTreeMap<u64, u32> = BTreeMap::new();
        for (i, (firing, healer_wants_to_start)) in deliveries.into_iter().enumerate() {
            let alert = if firing { a.clone() } else { a.clone().resolved() };
            let now = t(i64::try_from(i).unwrap());
            let mut next = converge(rec.as_ref(), &Delivery::of(&rule, &alert, now));
            let v = next.verdict();
            if v == (ConvergenceVerdict::Duplicate { claimed: true }) {
                prop_assert!(!v.may_start_healing());
            }
            if v.may_start_healing() && healer_wants_to_start {
                let ep = next.episode;
                if next.try_claim(ep, EpisodeClaim { kind: ClaimKind::Operation, id: format!("op-{i}"), at: now }) {
                    *starts_per_episode.entry(ep).or_default() += 1;
                }
            }
            prop_assert_eq!(next.hit_count, u64::try_from(i + 1).unwrap());
            rec = Some(next);
        }
        for (ep, n) in starts_per_episode {
            prop_assert!(n <= 1, "episode {} started {} healings", ep, n);
        }
    }

    /// The fingerprint depends only on the identity labels.
    #[test]
    fn prop_fingerprint_ignores_non_identity_labels(extra in "[a-z]{1,8}", value in "[a-z0-9]{0,8}") {
        prop_assume!(!["namespace", "deployment", "service", "alertname"].contains(&extra.as_str()));
        let rule = IdentityRule::default();
        let a = alert("prod", "checkout", "X");
        let mut b = a.clone();
        b.labels.insert(extra, value);
        prop_assert_eq!(rule.fingerprint(&a), rule.fingerprint(&b));
    }
}

#[test]
fn fingerprints_print_in_full_and_debug_shortly() {
    let fp = Fingerprint::from_hex("0123456789abcdef0123");
    assert_eq!(fp.as_str(), "0123456789abcdef0123");
    assert_eq!(fp.to_string(), "0123456789abcdef0123");
    assert_eq!(format!("{fp:?}"), "Fingerprint(0123456789ab)");
    assert_eq!(
        format!("{:?}", Fingerprint::from_hex("ab")),
        "Fingerprint(ab)"
    );
    let rule = IdentityRule::default();
    let a = alert("prod", "checkout", "HighErrorRate");
    assert_eq!(
        rule.identity(&a),
        BTreeMap::from([
            ("namespace".to_owned(), "prod".to_owned()),
            ("service".to_owned(), "checkout".to_owned()),
            ("alertname".to_owned(), "HighErrorRate".to_owned()),
        ])
    );
    let d = Delivery::of(&rule, &a, t(0));
    assert_eq!(
        (d.alertname.as_str(), d.status, d.received_at),
        ("HighErrorRate", AlertStatus::Firing, t(0))
    );
    assert_eq!(d.fingerprint, rule.fingerprint(&a));
}

#[test]
fn only_a_new_episode_or_an_unclaimed_duplicate_may_start_healing() {
    use ConvergenceVerdict::*;
    for (verdict, may) in [
        (NewEpisode, true),
        (Duplicate { claimed: false }, true),
        (Duplicate { claimed: true }, false),
        (Resolved, false),
        (DuplicateResolved, false),
    ] {
        assert_eq!(verdict.may_start_healing(), may, "{verdict:?}");
    }
}

#[test]
fn intake_reads_the_incident_only_for_deliveries_that_change_it() {
    use ConvergenceVerdict::*;
    let verdicts = [
        NewEpisode,
        Duplicate { claimed: false },
        Duplicate { claimed: true },
        Resolved,
        DuplicateResolved,
    ];
    let answers = |rule: fn(ConvergenceVerdict) -> bool| verdicts.map(rule);
    assert_eq!(
        answers(ConvergenceVerdict::concerns_incident),
        [true, true, false, true, true]
    );
    assert_eq!(
        answers(ConvergenceVerdict::observes_effectiveness),
        [true, false, false, true, false]
    );
}
