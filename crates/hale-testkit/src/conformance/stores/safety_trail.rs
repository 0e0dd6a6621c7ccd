//! A safety change and the audit entries and notices that record it are one
//! write ([`hale_engine::ports::SafetyStore::update_safety_audited`]): a
//! change the store refuses leaves none of them, a change it takes leaves
//! all of them.

use std::sync::Arc;

use hale_domain::kill_switch::{GlobalSwitches, Switch, TenantSwitches};
use hale_domain::notification::Notice;
use hale_domain::record::audit::{AuditEntry, AuditKind};
use hale_domain::safety::{SafetyKey, SafetyValue};
use hale_domain::{Origin, TenantId, Timestamp};
use hale_engine::ports::{
    Ledgers, SafetyChange, SafetyScope, SafetyTrail, SafetyUpdated, SafetyView, StoreAdapter,
    StoreError,
};

use super::support::{at, audit_ids, conflict, holds, notice_ids, ok, same};
use crate::fixtures::{unique_id, unique_tenant};

/// A kill switch set by hand, as the engine audits it (it carries a
/// notice).
fn switch_set(t: &TenantId, id: &str, target: &str, when: Timestamp) -> AuditEntry {
    AuditEntry {
        reason: Some("off: conformance".to_owned()),
        ..AuditEntry::new(
            id,
            t.clone(),
            AuditKind::SwitchSet,
            target,
            Origin::failure_watcher(),
            when,
        )
    }
}

fn tenant_off() -> (SafetyKey, SafetyValue) {
    let switches = TenantSwitches {
        tenant: Some(Switch::Off),
        ..TenantSwitches::default()
    };
    (SafetyKey::Switches, SafetyValue::TenantSwitches(switches))
}

/// A platform change that rewrites the platform's switches as they are,
/// under the update's lock (the epoch moves; no other check sees a
/// difference), recorded by `trail`.
fn rewrite_platform(trail: SafetyTrail) -> impl FnMut(SafetyView<'_>) -> SafetyChange + Send {
    move |view| {
        let current = view
            .platform
            .records
            .iter()
            .find(|r| r.key == SafetyKey::Switches)
            .map_or_else(
                || SafetyValue::GlobalSwitches(GlobalSwitches::default()),
                |r| r.value.clone(),
            );
        SafetyChange {
            records: vec![(SafetyKey::Switches, current)],
            trail: trail.clone(),
        }
    }
}

async fn change<S: StoreAdapter>(
    store: &S,
    scope: &SafetyScope,
    change: SafetyChange,
) -> Result<SafetyUpdated, StoreError> {
    store
        .update_safety_audited(scope, Ledgers::None, &mut |_| change.clone())
        .await
}

/// A tenant's change and its audit entry commit together: refused (an
/// audit id the log holds, or a record of another tenant), it leaves
/// neither the record, nor the epoch moved, nor the entry, nor its notice;
/// taken, it leaves all of them; an act that changes no record is still
/// recorded.
pub async fn safety_change_and_its_audit_entry_are_one_write<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let scope = SafetyScope::Tenant(t.clone());
    let taken = switch_set(&t, "aud-taken", "switch:tenant:auto_healing", at(0));
    ok(store.append_audit(&taken).await, "append_audit");
    let new = switch_set(&t, "aud-new", "switch:tenant:auto_healing", at(1));

    conflict(
        change(
            &*store,
            &scope,
            SafetyChange {
                records: vec![tenant_off()],
                trail: SafetyTrail {
                    audit: vec![new.clone(), taken.clone()],
                    notices: Vec::new(),
                },
            },
        )
        .await,
        "an audited update whose entry id the log holds is Conflict",
    );
    let other = unique_tenant();
    let stray = switch_set(&other, "aud-stray", "switch:tenant:auto_healing", at(1));
    let refused = change(
        &*store,
        &scope,
        SafetyChange {
            records: vec![tenant_off()],
            trail: SafetyTrail {
                audit: vec![new.clone(), stray],
                notices: Vec::new(),
            },
        },
    )
    .await;
    holds(
        matches!(refused, Err(StoreError::Invalid(_))),
        &format!("a tenant update recording for another tenant is Invalid: {refused:?}"),
    );
    let read = ok(store.safety_records(&scope, 0).await, "safety_records");
    same(&read.epoch, &0, "atomic: a refused change moved no epoch");
    same(
        &read.records.len(),
        &0,
        "atomic: a refused change wrote no record",
    );
    same(
        &audit_ids(&*store, &t).await,
        &vec!["aud-taken".to_owned()],
        "atomic: a refused change wrote no audit entry",
    );
    same(
        &notice_ids(&*store, Some(&t)).await,
        &vec!["aud-taken".to_owned()],
        "atomic: a refused change left no notice",
    );
    same(
        &audit_ids(&*store, &other).await,
        &Vec::<String>::new(),
        "atomic: nothing reached the other tenant",
    );

    let done = ok(
        change(
            &*store,
            &scope,
            SafetyChange {
                records: vec![tenant_off()],
                trail: SafetyTrail {
                    audit: vec![new.clone()],
                    notices: Vec::new(),
                },
            },
        )
        .await,
        "update_safety_audited",
    );
    same(&done.epoch, &1, "the taken change moved the epoch");
    let read = ok(store.safety_records(&scope, 0).await, "safety_records");
    same(
        &read
            .records
            .iter()
            .map(|r| r.value.clone())
            .collect::<Vec<_>>(),
        &vec![tenant_off().1],
        "the taken change wrote its record",
    );
    same(
        &audit_ids(&*store, &t).await,
        &vec!["aud-new".to_owned(), "aud-taken".to_owned()],
        "the taken change wrote its audit entry",
    );
    let notices = ok(store.unrouted_notices(Some(&t), 1000).await, "unrouted");
    holds(
        notices.contains(&Notice::for_audit(&new).unwrap_or_else(|| panic!("a notice"))),
        "the taken change's audit entry left its notice",
    );

    let again = switch_set(&t, "aud-again", "switch:tenant:auto_healing", at(2));
    let done = ok(
        change(
            &*store,
            &scope,
            SafetyChange {
                records: Vec::new(),
                trail: SafetyTrail {
                    audit: vec![again],
                    notices: Vec::new(),
                },
            },
        )
        .await,
        "update_safety_audited",
    );
    same(
        &done.epoch,
        &1,
        "an act that changes no record leaves the epoch",
    );
    holds(
        audit_ids(&*store, &t)
            .await
            .contains(&"aud-again".to_owned()),
        "an act that changes no record is still audited",
    );
}

/// A global act is one write: the platform's change, an audit entry in each
/// tenant's log and the platform's notice land together, or (an entry id
/// one tenant's log holds) none of them, in no tenant. (Writes the
/// platform scope: run no other platform writer against the same database
/// at the same time.)
pub async fn safety_global_act_is_recorded_in_every_tenant_or_none<S: StoreAdapter>(store: Arc<S>) {
    let (a, b) = (unique_tenant(), unique_tenant());
    let target = "switch:global:execution";
    let taken = switch_set(&b, "aud-b", target, at(0));
    ok(store.append_audit(&taken).await, "append_audit");
    let notice_id = unique_id("ntc");
    let notice = Notice::for_global_act(
        notice_id.clone(),
        AuditKind::SwitchSet,
        target,
        "ops",
        "off: conformance",
        at(1),
    )
    .unwrap_or_else(|| panic!("a global switch makes a notice"));
    let act = |b_id: &str| SafetyTrail {
        audit: vec![
            switch_set(&a, "aud-a", target, at(1)),
            switch_set(&b, b_id, target, at(1)),
        ],
        notices: vec![notice.clone()],
    };
    let before = ok(
        store.safety_records(&SafetyScope::Platform, 0).await,
        "safety_records",
    );
    let mut refused = rewrite_platform(act("aud-b"));
    conflict(
        store
            .update_safety_audited(&SafetyScope::Platform, Ledgers::None, &mut refused)
            .await,
        "a global act whose entry id one tenant's log holds is Conflict",
    );
    same(
        &audit_ids(&*store, &a).await,
        &Vec::<String>::new(),
        "atomic: the refused act left no entry in the other tenant",
    );
    holds(
        !notice_ids(&*store, None).await.contains(&notice_id),
        "atomic: the refused act left no platform notice",
    );
    let after = ok(
        store.safety_records(&SafetyScope::Platform, 0).await,
        "safety_records",
    );
    same(
        &after.epoch,
        &before.epoch,
        "atomic: the refused act moved no platform epoch",
    );

    let mut taken_act = rewrite_platform(act("aud-b2"));
    let done = ok(
        store
            .update_safety_audited(&SafetyScope::Platform, Ledgers::None, &mut taken_act)
            .await,
        "update_safety_audited",
    );
    holds(
        done.epoch > before.epoch && done.written.len() == 1,
        "the taken act wrote the platform's record",
    );
    same(
        &audit_ids(&*store, &a).await,
        &vec!["aud-a".to_owned()],
        "the taken act is in the first tenant's log",
    );
    same(
        &audit_ids(&*store, &b).await,
        &vec!["aud-b".to_owned(), "aud-b2".to_owned()],
        "the taken act is in the second tenant's log",
    );
    holds(
        notice_ids(&*store, Some(&a)).await == vec!["aud-a".to_owned()]
            && notice_ids(&*store, Some(&b))
                .await
                .contains(&"aud-b2".to_owned()),
        "each tenant's entry left its notice",
    );
    holds(
        notice_ids(&*store, None).await.contains(&notice_id),
        "the taken act left the platform's notice",
    );
}
