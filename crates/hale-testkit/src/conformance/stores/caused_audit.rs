//! A record and the audit entries it causes are one write
//! ([`hale_engine::ports::KnowledgeStore::create_knowledge_audited`],
//! [`hale_engine::ports::TimelineStore::append_timeline_audited`]): the
//! anti-pattern entry that blocks an ineffective chain and its escalation's
//! record, a regression's timeline event and its escalation's record. A
//! write the store refuses leaves neither the record, nor the audit entry,
//! nor its notice; a write it takes leaves all of them.

use std::sync::Arc;

use hale_domain::escalation::{Escalation, EscalationKind};
use hale_domain::notification::Notice;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::knowledge::KnowledgeEntry;
use hale_domain::record::timeline::TimelineEvent;
use hale_domain::{KnowledgeId, Origin, TenantId, Timestamp};
use hale_engine::ports::{StoreAdapter, StoreError, TimelineFilter};

use super::support::{at, audit_ids, conflict, holds, invalid, notice_ids, ok, same};
use crate::fixtures::{self, unique_tenant};

/// The record that causes an escalation.
#[derive(Clone)]
enum Cause {
    /// The anti-pattern entry of an ineffective chain.
    Knowledge(KnowledgeEntry),
    /// A regression's timeline event.
    Timeline(TimelineEvent),
}

impl Cause {
    fn with_id(&self, id: &str) -> Cause {
        match self {
            Cause::Knowledge(k) => Cause::Knowledge(KnowledgeEntry {
                id: KnowledgeId::new(id),
                ..k.clone()
            }),
            Cause::Timeline(e) => Cause::Timeline(TimelineEvent {
                id: id.to_owned(),
                ..e.clone()
            }),
        }
    }

    async fn write<S: StoreAdapter>(
        &self,
        store: &S,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        match self {
            Cause::Knowledge(k) => store.create_knowledge_audited(k, audit).await,
            Cause::Timeline(e) => store.append_timeline_audited(e, audit).await,
        }
    }

    /// The ids of the tenant's records of this kind, sorted.
    async fn stored<S: StoreAdapter>(&self, store: &S, t: &TenantId) -> Vec<String> {
        let mut ids: Vec<String> = match self {
            Cause::Knowledge(_) => ok(
                store.list_knowledge(t, &Default::default()).await,
                "list_knowledge",
            )
            .items
            .into_iter()
            .map(|k| k.id.to_string())
            .collect(),
            Cause::Timeline(_) => ok(
                store.list_timeline(t, &TimelineFilter::default()).await,
                "list_timeline",
            )
            .items
            .into_iter()
            .map(|e| e.id)
            .collect(),
        };
        ids.sort();
        ids
    }
}

/// The audit entry of an escalation of `kind`, as the engine writes it (it
/// carries a notice).
fn escalated(t: &TenantId, kind: EscalationKind, id: &str, when: Timestamp) -> AuditEntry {
    Escalation {
        tenant: t.clone(),
        kind,
        summary: format!("{kind}: conformance"),
        resource: Some(fixtures::resource("prod", "checkout")),
        strategy_id: None,
        operation_id: None,
        incident_id: None,
        guard: None,
        severity: kind.severity(),
        at: when,
    }
    .audit_entry(id.to_owned(), Origin::failure_watcher())
}

/// Refused (an audit id the log holds, an entry of another tenant, the
/// record's own id taken), the write leaves no record, no audit entry and
/// no notice; taken, it leaves the record, the entry and its notice.
async fn one_write<S: StoreAdapter>(store: &S, t: &TenantId, cause: Cause, kind: EscalationKind) {
    let what = match cause {
        Cause::Knowledge(_) => "knowledge entry",
        Cause::Timeline(_) => "timeline event",
    };
    let taken = escalated(t, kind, "aud-taken", at(0));
    ok(store.append_audit(&taken).await, "append_audit");
    let held = cause.with_id("rec-held");
    ok(held.write(store, &[]).await, "an unaudited write");
    let new = escalated(t, kind, "aud-new", at(1));
    let fresh = cause.with_id("rec-new");

    conflict(
        fresh.write(store, &[new.clone(), taken.clone()]).await,
        &format!("a {what} whose audit entry's id the log holds is Conflict"),
    );
    let other = unique_tenant();
    let stray = escalated(&other, kind, "aud-stray", at(1));
    invalid(
        fresh.write(store, &[new.clone(), stray]).await,
        &format!("a {what} carrying another tenant's audit entry is Invalid"),
    );
    conflict(
        held.write(store, std::slice::from_ref(&new)).await,
        &format!("a {what} whose own id is taken is Conflict"),
    );
    same(
        &cause.stored(store, t).await,
        &vec!["rec-held".to_owned()],
        &format!("atomic: a refused write left no {what}"),
    );
    same(
        &audit_ids(store, t).await,
        &vec!["aud-taken".to_owned()],
        &format!("atomic: a refused write of a {what} left no audit entry"),
    );
    same(
        &notice_ids(store, Some(t)).await,
        &vec!["aud-taken".to_owned()],
        &format!("atomic: a refused write of a {what} left no notice"),
    );
    same(
        &audit_ids(store, &other).await,
        &Vec::<String>::new(),
        "atomic: nothing reached the other tenant",
    );

    ok(
        fresh.write(store, std::slice::from_ref(&new)).await,
        &format!("a {what} with its audit entry"),
    );
    same(
        &cause.stored(store, t).await,
        &vec!["rec-held".to_owned(), "rec-new".to_owned()],
        &format!("the taken write stored the {what}"),
    );
    same(
        &audit_ids(store, t).await,
        &vec!["aud-new".to_owned(), "aud-taken".to_owned()],
        &format!("the taken write of a {what} stored its audit entry"),
    );
    let notices = ok(store.unrouted_notices(Some(t), 1000).await, "unrouted");
    let notice = Notice::for_audit(&new).unwrap_or_else(|| panic!("{kind} carries a notice"));
    holds(
        notices.contains(&notice),
        &format!("the taken write of a {what} left its audit entry's notice"),
    );
}

/// An ineffective chain's anti-pattern entry (the block) and its
/// `ineffective_chain.escalated` entry (with its notice) commit together
/// or not at all.
pub async fn knowledge_entry_and_its_audit_entry_are_one_write<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let symptoms = fixtures::symptoms("HighErrorRate", "checkout");
    let block = fixtures::anti_pattern(&t, "rec", &symptoms, "restart", at(0));
    one_write(
        &*store,
        &t,
        Cause::Knowledge(block),
        EscalationKind::IneffectiveChain,
    )
    .await;
}

/// A regression's timeline event and its `regression.escalated` entry
/// (with its notice) commit together or not at all.
pub async fn timeline_event_and_its_audit_entry_are_one_write<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let event = fixtures::timeline_event(&t, "rec", at(0));
    one_write(
        &*store,
        &t,
        Cause::Timeline(event),
        EscalationKind::Regression,
    )
    .await;
}
