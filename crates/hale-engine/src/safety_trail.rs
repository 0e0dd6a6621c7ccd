//! What a change of the shared safety state leaves in the record: its
//! audit entries (each carrying its notice) and the platform notice of a
//! global act. The engine decides them from the change's outcome and the
//! store writes them in the change's own transaction
//! ([`crate::ports::SafetyStore::update_safety_audited`]), so a switch, a
//! dormancy or a PERMANENT_OPEN is never in force without its record, nor
//! recorded without being in force (issue 17).

use hale_domain::breaker::BreakerState;
use hale_domain::dormancy::DormantRecord;
use hale_domain::notification::Notice;
use hale_domain::record::audit::{AuditEntry, AuditKind};
use hale_domain::safety::BreakerLatched;
use hale_domain::{Origin, Scope, Timestamp};

use crate::engine::Inner;
use crate::ports::SafetyTrail;
use crate::tenant::TenantRuntime;

/// A human act as its record tells it: what, on which scope and target, by
/// whom and why.
pub(crate) struct Act<'a> {
    /// The scope acted on.
    pub scope: &'a Scope,
    /// What was done.
    pub kind: AuditKind,
    /// What it was done to.
    pub target: String,
    /// Who did it.
    pub by: &'a Origin,
    /// Why (the audit entry's reason).
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

impl Inner {
    /// The record of an act, written in the transaction of the safety
    /// change it made (so after a crash there is both or neither): one
    /// audit entry (channel `manual`, carrying its notice) in the tenant's
    /// log; for the global scope, the platform's notice and an entry in
    /// every configured tenant's log. Nothing when the act did not happen
    /// (`done == false`).
    pub(crate) fn act_trail(&self, act: &Act<'_>, done: bool) -> SafetyTrail {
        let mut trail = SafetyTrail::default();
        if !done {
            return trail;
        }
        let tenants = match act.scope {
            Scope::Tenant(t) => vec![t.clone()],
            Scope::Global => {
                let id = self.ports.ids.next_id("ntc");
                let by = act.by.actor.to_string();
                trail.notices.extend(Notice::for_global_act(
                    id,
                    act.kind,
                    &act.target,
                    &by,
                    &act.reason,
                    act.at,
                ));
                self.tenant_ids()
            }
        };
        for t in tenants {
            let mut a = self.audit_entry(&t, act.kind, &act.target, act.by.clone(), act.at);
            a.reason = Some(act.reason.clone());
            trail.audit.push(a);
        }
        trail
    }

    /// The audit entry of a tenant going dormant, written with the
    /// dormancy record (it carries the dormancy notice).
    fn dormancy_entry(&self, rt: &TenantRuntime, rec: &DormantRecord, at: Timestamp) -> AuditEntry {
        let tenant = rt.tenant();
        let mut a = self.audit_entry(
            tenant,
            AuditKind::DormancyEntered,
            &format!("tenant:{tenant}"),
            Origin::failure_watcher(),
            at,
        );
        a.reason = Some(rec.reason.clone());
        a.success = false;
        a
    }

    /// The record of a safety update that may have started a dormancy: its
    /// audit entry, when it did.
    pub(crate) fn dormancy_trail(
        &self,
        rt: &TenantRuntime,
        entered: Option<&DormantRecord>,
        at: Timestamp,
    ) -> SafetyTrail {
        SafetyTrail {
            audit: entered
                .map(|rec| self.dormancy_entry(rt, rec, at))
                .into_iter()
                .collect(),
            notices: Vec::new(),
        }
    }

    /// The record of an action's outcome on the shared breaker: when it
    /// latched PERMANENT_OPEN, the transition's audit entry (from the state
    /// this replica's breaker was in), and the dormancy it started.
    pub(crate) fn latch_trail(
        &self,
        rt: &TenantRuntime,
        name: &str,
        from: BreakerState,
        latched: Option<&BreakerLatched>,
        at: Timestamp,
    ) -> SafetyTrail {
        let Some(l) = latched else {
            return SafetyTrail::default();
        };
        let mut a = self.audit_entry(
            rt.tenant(),
            AuditKind::BreakerTransition,
            &format!("breaker:{name}"),
            Origin::failure_watcher(),
            at,
        );
        let to = BreakerState::PermanentOpen;
        a.reason = Some(format!("{from} -> {to} ({})", l.latch.reason));
        a.success = false;
        let mut trail = self.dormancy_trail(rt, l.entered_dormancy.as_ref(), at);
        trail.audit.insert(0, a);
        trail
    }
}
