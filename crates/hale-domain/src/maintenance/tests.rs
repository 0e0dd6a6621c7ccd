use proptest::prelude::*;

use super::*;

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn weekly(days: &[Day], start: &str, duration_s: u64, zone: &str) -> MaintenanceWindow {
    MaintenanceWindow {
        id: "w".into(),
        mode: WindowMode::Block,
        scope: WindowScope::default(),
        schedule: Schedule::Weekly {
            days: days.to_vec(),
            start: start.parse().unwrap(),
            duration: Duration::from_secs(duration_s),
            time_zone: zone.parse().unwrap(),
        },
        reason: "patching".into(),
        created_by: None,
        created_at: None,
        ended: None,
    }
}

fn one_off(start: i64, end: i64) -> MaintenanceWindow {
    MaintenanceWindow {
        schedule: Schedule::OneOff {
            start: Timestamp::from_unix_secs(start),
            end: Timestamp::from_unix_secs(end),
        },
        ..weekly(&[Day::Mon], "00:00", 60, "UTC")
    }
}

const ZONES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
];

#[test]
fn spring_forward_moves_a_start_in_the_gap_later_by_the_gap() {
    // Berlin jumps from 02:00 CET to 03:00 CEST on Sunday 2026-03-29: 02:30
    // does not exist and is read with CET, i.e. 01:30 UTC (03:30 CEST).
    let w = weekly(&[Day::Sun], "02:30", 3_600, "Europe/Berlin");
    let o = w
        .occurrence_at(at("2026-03-29T01:30:00Z"))
        .expect("active at its start");
    assert_eq!(o.start, at("2026-03-29T01:30:00Z"));
    assert_eq!(o.end, at("2026-03-29T02:30:00Z"));
    assert!(!w.is_active(at("2026-03-29T01:29:59Z")));
    assert!(!w.is_active(at("2026-03-29T02:30:00Z")));
    // New York: 02:00 EST -> 03:00 EDT on 2026-03-08; 02:15 starts 07:15 UTC.
    let w = weekly(&[Day::Sun], "02:15", 1_800, "America/New_York");
    assert_eq!(
        w.occurrence_at(at("2026-03-08T07:20:00Z")).unwrap().start,
        at("2026-03-08T07:15:00Z")
    );
}

#[test]
fn fall_back_starts_at_the_first_of_the_two_times() {
    // Berlin falls back from 03:00 CEST to 02:00 CET on 2026-10-25: 02:30
    // happens twice (00:30 UTC and 01:30 UTC); the window starts at the
    // first and lasts one elapsed hour.
    let w = weekly(&[Day::Sun], "02:30", 3_600, "Europe/Berlin");
    let o = w.occurrence_at(at("2026-10-25T00:30:00Z")).unwrap();
    assert_eq!(o.end, at("2026-10-25T01:30:00Z"));
    assert!(!w.is_active(at("2026-10-25T01:30:00Z")));
    assert!(!w.is_active(at("2026-10-25T00:29:59Z")));
}

#[test]
fn a_window_across_a_change_lasts_its_elapsed_duration() {
    // Saturday 22:00 CET for 8 h: 21:00 UTC to 05:00 UTC, i.e. until 07:00
    // CEST on the wall clock.
    let w = weekly(&[Day::Sat], "22:00", 8 * 3_600, "Europe/Berlin");
    let o = w.occurrence_at(at("2026-03-29T04:59:59Z")).unwrap();
    assert_eq!(o.start, at("2026-03-28T21:00:00Z"));
    assert_eq!(o.end, at("2026-03-29T05:00:00Z"));
    // A week later it is summer time: 22:00 CEST is 20:00 UTC.
    assert!(!w.is_active(at("2026-04-04T19:59:59Z")));
    assert!(w.is_active(at("2026-04-04T20:00:00Z")));
    // Only on Saturdays.
    assert!(!w.is_active(at("2026-04-05T20:00:00Z")));
}

#[test]
fn ending_a_window_closes_it_and_one_offs_are_over_after_their_end() {
    let mut w = one_off(100, 200);
    assert!(w.is_active(Timestamp::from_unix_secs(150)));
    assert!(!w.is_over(Timestamp::from_unix_secs(150)));
    assert!(w.is_over(Timestamp::from_unix_secs(200)));
    let by = Actor::new("alice");
    assert_eq!(
        w.end(&by, " ", Timestamp::from_unix_secs(150)),
        Err(EndError::NoReason)
    );
    w.end(&by, "done early", Timestamp::from_unix_secs(150))
        .unwrap();
    assert!(!w.is_active(Timestamp::from_unix_secs(150)));
    assert!(w.is_active(Timestamp::from_unix_secs(149)));
    assert_eq!(
        w.occurrence_at(Timestamp::from_unix_secs(120)).unwrap().end,
        Timestamp::from_unix_secs(150)
    );
    assert!(matches!(
        w.end(&by, "again", Timestamp::from_unix_secs(160)),
        Err(EndError::AlreadyEnded { .. })
    ));
}

#[test]
fn schedules_validate_and_parse() {
    assert!(one_off(10, 10).schedule.validate().is_err());
    assert!(weekly(&[], "01:00", 60, "UTC").schedule.validate().is_err());
    assert!(
        weekly(&[Day::Mon], "01:00", 0, "UTC")
            .schedule
            .validate()
            .is_err()
    );
    assert!(
        weekly(&[Day::Mon], "01:00", 8 * 86_400, "UTC")
            .schedule
            .validate()
            .is_err()
    );
    assert!("24:00".parse::<LocalTime>().is_err());
    assert!("7:5".parse::<LocalTime>().is_err());
    assert_eq!("7:05".parse::<LocalTime>().unwrap().to_string(), "07:05");
    assert!("Mars/Olympus".parse::<TimeZoneName>().is_err());
    let w = weekly(&[Day::Sat, Day::Sun], "22:00", 7_200, "Europe/Berlin");
    let json = serde_json::to_value(&w).unwrap();
    assert_eq!(
        json["schedule"],
        serde_json::json!({"kind": "weekly", "days": ["sat", "sun"], "start": "22:00", "duration": "2h", "time_zone": "Europe/Berlin"})
    );
    assert_eq!(
        serde_json::from_value::<MaintenanceWindow>(json).unwrap(),
        w
    );
    for (m, name) in [
        (WindowMode::Block, "block"),
        (WindowMode::ApprovalOnly, "approval_only"),
    ] {
        crate::wire::assert_wire_name(m, m.as_str(), name);
    }
}

#[test]
fn block_windows_decide_over_approval_only_ones_and_scopes_narrow() {
    let now = Timestamp::from_unix_secs(150);
    let restart = StrategyId::new("restart");
    let mut approval = one_off(100, 500);
    approval.mode = WindowMode::ApprovalOnly;
    approval.id = "a".into();
    let mut block = one_off(100, 200);
    block.id = "b".into();
    block.scope.namespaces = vec!["prod".into()];
    let ws = [approval.clone(), block];
    assert_eq!(
        deciding_window(&ws, "prod", &restart, now).map(|a| a.window.id.as_str()),
        Some("b")
    );
    assert_eq!(
        deciding_window(&ws, "dev", &restart, now).map(|a| a.window.id.as_str()),
        Some("a")
    );
    approval.scope.strategies = vec![StrategyId::new("scale")];
    assert!(deciding_window([&approval], "dev", &restart, now).is_none());
}

fn zone() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(&ZONES[..])
}

fn days() -> impl Strategy<Value = Vec<Day>> {
    proptest::sample::subsequence(Day::ALL.to_vec(), 1..=7)
}

proptest! {
    /// Through every daylight-saving change of 2026 and 2027 in zones with
    /// one-hour, half-hour and southern-hemisphere changes: an active
    /// window's occurrence starts on a listed local day at the configured
    /// wall-clock time (or, in a gap, later by the gap), lasts exactly its
    /// duration in elapsed time, and is active at its first instant and
    /// not at its end or just before its start.
    #[test]
    fn prop_weekly_window_active_exactly_its_duration_from_its_local_start(
        zone in zone(), days in days(), h in 0u32..24, m in proptest::sample::select(vec![0u32, 15, 30, 45]),
        duration_min in 1u64..(22 * 60), secs in 1_767_225_600i64..1_830_297_600,
    ) {
        let start = format!("{h:02}:{m:02}");
        let w = weekly(&days, &start, duration_min * 60, zone);
        let now = Timestamp::from_unix_secs(secs);
        let Some(o) = w.occurrence_at(now) else { return Ok(()); };
        prop_assert!(o.start <= now && now < o.end);
        prop_assert_eq!(o.end, o.start + Duration::from_secs(duration_min * 60));
        prop_assert!(w.is_active(o.start));
        prop_assert!(!w.is_active(o.end), "still active at its end {}", o.end);
        prop_assert!(!w.is_active(o.start - Duration::from_secs(1)));
        let tz: Tz = zone.parse().unwrap();
        let local = o.start.to_datetime().with_timezone(&tz).naive_local();
        let wanted = NaiveTime::from_hms_opt(h, m, 0).unwrap();
        if local.time() == wanted {
            prop_assert!(days.contains(&Day::of(local.date())));
        } else {
            // Only in a gap: the configured time does not exist that day,
            // and the start is later on the same local day by at most the
            // gap (at most two hours).
            let named = local.date().and_time(wanted);
            prop_assert!(tz.from_local_datetime(&named).single().is_none()
                && tz.from_local_datetime(&named).earliest().is_none(), "{} named {}", local, named);
            prop_assert!(local > named && local - named <= chrono::TimeDelta::hours(2));
            prop_assert!(days.contains(&Day::of(named.date())));
        }
    }

    /// Where the zone's offset does not change around an instant, the
    /// window is active exactly when the local wall clock is within
    /// [start, start + duration) of a listed day.
    #[test]
    fn prop_weekly_window_follows_the_wall_clock_away_from_changes(
        zone in zone(), days in days(), h in 0u32..24, duration_min in 1u64..(22 * 60),
        secs in 1_767_225_600i64..1_830_297_600,
    ) {
        let start = format!("{h:02}:00");
        let w = weekly(&days, &start, duration_min * 60, zone);
        let tz: Tz = zone.parse().unwrap();
        let now = Timestamp::from_unix_secs(secs);
        let offset = |t: Timestamp| t.to_datetime().with_timezone(&tz).offset().fix();
        let day = Duration::from_secs(86_400);
        prop_assume!(offset(now) == offset(now - day * 2) && offset(now) == offset(now + day));
        let local = now.to_datetime().with_timezone(&tz).naive_local();
        let expected = (0..=1).any(|back| {
            let date = local.date() - chrono::TimeDelta::days(back);
            let s = date.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap());
            days.contains(&Day::of(date))
                && s <= local
                && local < s + chrono::TimeDelta::minutes(i64::try_from(duration_min).unwrap())
        });
        prop_assert_eq!(w.is_active(now), expected);
    }

    /// A one-off window is active exactly from its start to its end or the
    /// moment a human ended it, whichever comes first.
    #[test]
    fn prop_one_off_window_active_between_start_and_end_or_ending(
        start in 0i64..1_000, len in 1i64..1_000, ended in proptest::option::of(0i64..2_000), t in 0i64..2_000,
    ) {
        let mut w = one_off(start, start + len);
        if let Some(e) = ended {
            w.end(&Actor::new("op"), "done", Timestamp::from_unix_secs(e)).unwrap();
        }
        let expected = start <= t && t < start + len && ended.is_none_or(|e| t < e);
        prop_assert_eq!(w.is_active(Timestamp::from_unix_secs(t)), expected);
        if w.is_over(Timestamp::from_unix_secs(t)) {
            prop_assert!(!w.is_active(Timestamp::from_unix_secs(t)));
        }
    }
}
