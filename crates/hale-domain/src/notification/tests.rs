use std::time::Duration;

use proptest::prelude::*;

use super::routing::{Route, Routes};
use super::*;
use crate::alert::Alert;
use crate::approval::SignaturePolicy;
use crate::convergence::Fingerprint;
use crate::ids::Actor;
use crate::risk::Origin;
use crate::wire::assert_wire_name;

fn tenant() -> TenantId {
    TenantId::new("shop").unwrap()
}

fn approval() -> ApprovalRequest {
    crate::approval::tests::request(RiskLevel::High, &SignaturePolicy::default())
}

fn incident(severity: &str) -> Incident {
    let alert = Alert::firing([
        ("alertname", "HighErrorRate"),
        ("namespace", "prod"),
        ("deployment", "checkout"),
        ("severity", severity),
    ]);
    Incident::open(
        IncidentId::new("INC-1"),
        tenant(),
        Fingerprint::from_hex("ab"),
        &alert,
        Timestamp::from_unix_secs(100),
    )
}

fn audit(kind: AuditKind, target: &str, reason: &str) -> AuditEntry {
    let mut a = AuditEntry::new(
        "aud-1",
        tenant(),
        kind,
        target,
        Origin::manual(Actor::new("alice")),
        Timestamp::from_unix_secs(7),
    );
    a.reason = Some(reason.to_owned());
    a
}

#[test]
fn wire_names_are_stable_and_distinct() {
    let names = [
        (NoticeKind::ApprovalRequested, "approval_requested"),
        (NoticeKind::ApprovalExpiringSoon, "approval_expiring_soon"),
        (NoticeKind::ApprovalApproved, "approval_approved"),
        (NoticeKind::ApprovalRejected, "approval_rejected"),
        (NoticeKind::ApprovalExpired, "approval_expired"),
        (NoticeKind::HealingEscalated, "healing_escalated"),
        (NoticeKind::DormancyEntered, "dormancy_entered"),
        (NoticeKind::DormancyResumed, "dormancy_resumed"),
        (NoticeKind::BreakerPermanentOpen, "breaker_permanent_open"),
        (NoticeKind::BreakerReset, "breaker_reset"),
        (NoticeKind::KillSwitchChanged, "kill_switch_changed"),
        (
            NoticeKind::LockBackendUnavailable,
            "lock_backend_unavailable",
        ),
        (NoticeKind::LockBackendRecovered, "lock_backend_recovered"),
        (NoticeKind::IncidentOpened, "incident_opened"),
        (NoticeKind::IncidentResolved, "incident_resolved"),
    ];
    assert_eq!(names.len(), NoticeKind::ALL.len());
    for (kind, name) in names {
        assert_wire_name(kind, kind.as_str(), name);
        assert_eq!(name.parse::<NoticeKind>(), Ok(kind));
    }
}

#[test]
fn only_recovery_kinds_resolve() {
    let resolving: Vec<_> = NoticeKind::ALL.iter().filter(|k| k.resolves()).collect();
    assert_eq!(
        resolving,
        [
            &NoticeKind::ApprovalApproved,
            &NoticeKind::ApprovalRejected,
            &NoticeKind::ApprovalExpired,
            &NoticeKind::DormancyResumed,
            &NoticeKind::BreakerReset,
            &NoticeKind::LockBackendRecovered,
            &NoticeKind::IncidentResolved,
        ]
    );
}

#[test]
fn an_approval_notifies_when_requested_and_when_decided_with_stable_ids() {
    let mut a = approval();
    let requested = Notice::for_approval(&a, true).unwrap();
    assert_eq!(requested.kind, NoticeKind::ApprovalRequested);
    assert_eq!(requested.id, "apr-1.approval_requested");
    assert_eq!(requested.severity, Severity::P1);
    assert_eq!(requested.tenant, a.tenant.clone().into());
    assert_eq!(requested.subject.approval_id, Some(a.id.clone()));
    assert_eq!(
        requested.subject.resource.as_deref(),
        Some("prod:deployment/checkout")
    );
    assert!(
        requested.summary.contains("approval needed"),
        "{}",
        requested.summary
    );
    // A pending request's other writes (a hit, a signature) say nothing.
    assert_eq!(Notice::for_approval(&a, false), None);

    a.expire(Timestamp::from_unix_secs(5_000));
    let expired = Notice::for_approval(&a, false).unwrap();
    assert_eq!(expired.kind, NoticeKind::ApprovalExpired);
    assert_eq!(expired.id, "apr-1.approval_expired");
    assert_eq!(expired.at, Timestamp::from_unix_secs(5_000));
    assert_eq!(Notice::for_approval(&a, false), Some(expired));

    let mut r = approval();
    r.status = ApprovalStatus::Rejected;
    r.rejection_reason = Some("not now".into());
    let n = Notice::for_approval(&r, false).unwrap();
    assert_eq!(n.kind, NoticeKind::ApprovalRejected);
    assert!(n.summary.ends_with("not now"), "{}", n.summary);

    let mut ok = approval();
    ok.status = ApprovalStatus::Approved;
    assert_eq!(
        Notice::for_approval(&ok, false).unwrap().kind,
        NoticeKind::ApprovalApproved
    );
}

#[test]
fn an_expiring_reminder_is_for_pending_requests_only() {
    let mut a = approval();
    let now = Timestamp::from_unix_secs(1_500);
    let n = Notice::approval_expiring_soon(&a, now).unwrap();
    assert_eq!(n.kind, NoticeKind::ApprovalExpiringSoon);
    assert_eq!(n.id, "apr-1.approval_expiring_soon");
    assert_eq!(n.at, now);
    a.expire(now);
    assert_eq!(Notice::approval_expiring_soon(&a, now), None);
}

#[test]
fn incidents_notify_at_p0_and_p1_only_opened_then_resolved() {
    for (label, notifies) in [
        ("critical", true),
        ("error", true),
        ("warning", false),
        ("info", false),
    ] {
        assert_eq!(
            Notice::for_incident(&incident(label)).is_some(),
            notifies,
            "{label}"
        );
    }
    let mut i = incident("critical");
    let opened = Notice::for_incident(&i).unwrap();
    assert_eq!(opened.kind, NoticeKind::IncidentOpened);
    assert_eq!(opened.id, "INC-1.incident_opened");
    assert_eq!(opened.severity, Severity::P0);
    assert_eq!(opened.subject.incident_id, Some(IncidentId::new("INC-1")));
    i.status = IncidentStatus::Resolved;
    i.resolved_at = Some(Timestamp::from_unix_secs(900));
    let resolved = Notice::for_incident(&i).unwrap();
    assert_eq!(resolved.kind, NoticeKind::IncidentResolved);
    assert_eq!(resolved.id, "INC-1.incident_resolved");
    assert_eq!(resolved.at, Timestamp::from_unix_secs(900));
}

#[test]
fn audit_entries_of_the_listed_kinds_notify_under_their_own_id() {
    let cases = [
        (
            AuditKind::HealingEscalated,
            "prod:deployment/a",
            "Escalate: boom; rollback: succeeded",
            Some(NoticeKind::HealingEscalated),
        ),
        (
            AuditKind::DormancyEntered,
            "tenant:shop",
            "10 failures",
            Some(NoticeKind::DormancyEntered),
        ),
        (
            AuditKind::DormancyResumed,
            "dormancy:tenant:shop",
            "fixed",
            Some(NoticeKind::DormancyResumed),
        ),
        (
            AuditKind::BreakerTransition,
            "breaker:kubernetes",
            "OPEN -> PERMANENT_OPEN (Fatal)",
            Some(NoticeKind::BreakerPermanentOpen),
        ),
        (
            AuditKind::BreakerTransition,
            "breaker:kubernetes",
            "CLOSED -> OPEN (Threshold)",
            None,
        ),
        (
            AuditKind::BreakerTransition,
            "breaker:kubernetes",
            "garbled",
            None,
        ),
        (
            AuditKind::BreakerReset,
            "breaker:kubernetes",
            "fixed",
            Some(NoticeKind::BreakerReset),
        ),
        (
            AuditKind::SwitchSet,
            "switch:global:auto_healing",
            "off: storm",
            Some(NoticeKind::KillSwitchChanged),
        ),
        (
            AuditKind::InterruptionEscalated,
            "prod:deployment/a",
            "operation op-1 stopped mid-way",
            Some(NoticeKind::HealingEscalated),
        ),
        (
            AuditKind::RegressionEscalated,
            "prod:deployment/a",
            "unhealthy again after healing",
            Some(NoticeKind::HealingEscalated),
        ),
        (
            AuditKind::IneffectiveChainEscalated,
            "prod:deployment/a",
            "ineffective 3 times",
            Some(NoticeKind::HealingEscalated),
        ),
        (
            AuditKind::BudgetEscalated,
            "tenant:shop",
            "budget has no room",
            Some(NoticeKind::HealingEscalated),
        ),
        (
            AuditKind::OperationInterrupted,
            "prod:deployment/a",
            "yielded to the decision path",
            None,
        ),
        (AuditKind::ActionExecuted, "prod:deployment/a", "", None),
        (
            AuditKind::HealingDeferred,
            "prod:deployment/a",
            "lock_held",
            None,
        ),
    ];
    for (kind, target, reason, expected) in cases {
        let n = Notice::for_audit(&audit(kind, target, reason));
        assert_eq!(n.as_ref().map(|n| n.kind), expected, "{kind} {reason}");
        if let Some(n) = n {
            assert_eq!(n.id, "aud-1");
            assert_eq!(n.subject.resource.as_deref(), Some(target));
            assert!(n.summary.contains(reason), "{}", n.summary);
        }
    }
    let mut odd = audit(AuditKind::SwitchSet, "x", "y");
    odd.operation_type = "written.by.a.newer.version".into();
    assert_eq!(Notice::for_audit(&odd), None);
}

#[test]
fn lock_backend_notices_are_platform_wide() {
    let at = Timestamp::from_unix_secs(3);
    let down = Notice::lock_backend("n-1".into(), "replica-a", false, "timeout", at);
    assert_eq!(down.tenant, None);
    assert_eq!(down.kind, NoticeKind::LockBackendUnavailable);
    assert_eq!(down.severity, Severity::P1);
    assert!(down.summary.contains("timeout"));
    let up = Notice::lock_backend("n-2".into(), "replica-a", true, "", at);
    assert_eq!(up.kind, NoticeKind::LockBackendRecovered);
}

#[test]
fn deliveries_back_off_exponentially_then_give_up() {
    let policy = DeliveryPolicy {
        max_attempts: Some(4),
        ..DeliveryPolicy::default()
    };
    let now = Timestamp::from_unix_secs(1_000);
    let delays: Vec<_> = (1..=4).map(|n| policy.retry_at(n, now)).collect();
    assert_eq!(
        delays,
        [
            Some(Timestamp::from_unix_secs(1_005)),
            Some(Timestamp::from_unix_secs(1_010)),
            Some(Timestamp::from_unix_secs(1_020)),
            None,
        ]
    );
    let zero = DeliveryPolicy {
        max_attempts: Some(0),
        ..DeliveryPolicy::default()
    };
    assert_eq!(zero.retry_at(1, now), None);
}

/// The default give-up outlasts a weekend: retries go on, every 10 min at
/// the cap, until they would be due more than 72 h after the first failed
/// attempt, and not one attempt longer.
#[test]
fn default_delivery_retries_for_three_days_then_gives_up() {
    let policy = DeliveryPolicy::default();
    let mut now = Timestamp::from_unix_secs(0);
    let mut failed = 0;
    while let Some(next) = policy.retry_at(failed + 1, now) {
        failed += 1;
        now = next;
        assert!(failed < 10_000, "it gives up at some point");
    }
    let span = now.saturating_duration_since(Timestamp::from_unix_secs(0));
    assert!(
        span <= Duration::from_secs(72 * 3600) && span > Duration::from_secs(71 * 3600),
        "the retries span {span:?}"
    );
    assert!((430..450).contains(&failed), "{failed} attempts");
    assert_eq!(
        policy.retry_at(30, now),
        Some(now + Duration::from_secs(600)),
        "a retry at the cap waits 10 min"
    );
    let capped = DeliveryPolicy {
        max_attempts: Some(50),
        ..DeliveryPolicy::default()
    };
    assert_eq!(
        capped.retry_at(50, now),
        None,
        "max_attempts still gives up first"
    );
    assert!(capped.retry_at(49, now).is_some());
}

fn arb_severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::P0),
        Just(Severity::P1),
        Just(Severity::P2),
        Just(Severity::P3)
    ]
}

fn arb_kind() -> impl Strategy<Value = NoticeKind> {
    (0..NoticeKind::ALL.len()).prop_map(|i| NoticeKind::ALL[i])
}

fn arb_tenant() -> impl Strategy<Value = Option<TenantId>> {
    prop_oneof![
        Just(None),
        Just(Some(tenant())),
        Just(Some(TenantId::new("other").unwrap()))
    ]
}

fn arb_route() -> impl Strategy<Value = Route> {
    (
        arb_tenant(),
        proptest::collection::vec(arb_kind(), 0..3),
        arb_severity(),
        0..3u8,
    )
        .prop_map(|(tenant, kinds, min_severity, c)| Route {
            tenant,
            kinds,
            min_severity,
            channel: format!("ch{c}"),
        })
}

proptest! {
    /// A notice reaches a channel iff some route of its own scope takes its
    /// kind at its severity; each channel once.
    #[test]
    fn prop_routing_sends_each_notice_once_per_matching_channel_of_its_own_scope(
        routes in proptest::collection::vec(arb_route(), 0..6),
        tenant in arb_tenant(),
        kind in arb_kind(),
        severity in arb_severity(),
    ) {
        let notice = Notice {
            id: "n".into(),
            tenant: tenant.clone(),
            kind,
            severity,
            subject: NoticeSubject::default(),
            summary: String::new(),
            at: Timestamp::from_unix_secs(1),
        };
        let table = Routes { routes: routes.clone() };
        let got = table.channels_for(&notice);
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(&got, &sorted);
        for r in &routes {
            let matches = r.tenant == tenant
                && (r.kinds.is_empty() || r.kinds.contains(&kind))
                && severity <= r.min_severity;
            if matches {
                prop_assert!(got.contains(&r.channel));
            }
        }
        for c in &got {
            prop_assert!(routes.iter().any(|r| &r.channel == c && r.takes(&notice)));
        }
    }
}

#[test]
fn global_acts_make_one_platform_notice_in_the_audit_words() {
    let at = Timestamp::from_unix_secs(7);
    let n = Notice::for_global_act(
        "ntc-1".into(),
        AuditKind::SwitchSet,
        "switch:global:auto_healing",
        "alice",
        "off: freeze",
        at,
    )
    .unwrap();
    assert_eq!(n.tenant, None);
    assert_eq!(n.id, "ntc-1");
    assert_eq!(n.kind, NoticeKind::KillSwitchChanged);
    assert_eq!(n.at, at);
    let per_tenant = Notice::for_audit(&audit(
        AuditKind::SwitchSet,
        "switch:global:auto_healing",
        "off: freeze",
    ))
    .unwrap();
    assert_eq!(n.severity, per_tenant.severity);
    assert!(n.summary.contains("off: freeze") && n.summary.contains("alice"));
    let routes = Routes {
        routes: vec![
            Route {
                tenant: None,
                kinds: vec![],
                min_severity: Severity::P3,
                channel: "ops".into(),
            },
            Route {
                tenant: Some(TenantId::new("shop").unwrap()),
                kinds: vec![],
                min_severity: Severity::P3,
                channel: "shop".into(),
            },
        ],
    };
    assert_eq!(routes.channels_for(&n), vec!["ops".to_owned()]);
    assert_eq!(
        Notice::for_global_act("x".into(), AuditKind::ApprovalRequested, "t", "a", "r", at),
        None
    );
}

#[test]
fn every_escalation_notifies_at_its_kinds_severity_from_its_own_record() {
    use crate::escalation::{Escalation, EscalationKind};
    let at = Timestamp::from_unix_secs(500);
    for &kind in EscalationKind::ALL {
        let e = Escalation {
            tenant: TenantId::new("shop").unwrap(),
            kind,
            summary: "something a person must see".into(),
            resource: Some(crate::resource::ResourceRef::parse("prod:deployment/a").unwrap()),
            strategy_id: None,
            operation_id: Some(OperationId::new("op-1")),
            incident_id: None,
            guard: None,
            severity: kind.severity(),
            at,
        };
        let a = e.audit_entry("aud-7".into(), crate::risk::Origin::failure_watcher());
        let n = Notice::for_audit(&a).unwrap_or_else(|| panic!("{kind} notifies nothing"));
        assert_eq!(n.id, "aud-7");
        assert_eq!(n.severity, kind.severity(), "{kind}");
        assert_eq!(n.at, at);
        assert_eq!(n.subject.operation_id, Some(OperationId::new("op-1")));
        let expected = if kind == EscalationKind::Dormant {
            NoticeKind::DormancyEntered
        } else {
            NoticeKind::HealingEscalated
        };
        assert_eq!(n.kind, expected, "{kind}");
        assert!(
            n.summary.contains("something a person must see"),
            "{}",
            n.summary
        );
        if !matches!(
            kind,
            EscalationKind::Dormant | EscalationKind::HealingFailed
        ) {
            assert!(n.summary.starts_with(kind.as_str()), "{}", n.summary);
        }
    }
}
