//! Recording what a guard stage could not check but the tenant's policy let
//! through: today the silence check an unreachable Alertmanager left
//! unanswered under `on_unreachable = "allow"`. The log line and the
//! metric are not enough: a person reading the incident or the audit log
//! afterwards must see that the run went ahead unchecked.

use hale_domain::ResourceRef;
use hale_domain::guard::Guard;
use hale_domain::record::audit::AuditKind;
use hale_domain::record::incident::{Stage, StepDecision};
use hale_domain::strategy::Strategy;

use crate::engine::Inner;
use crate::evaluate::Evaluation;
use crate::not_acted::origin_for;

impl Inner {
    /// Records that the silence check went unanswered (`error`) and the
    /// tenant allows automation anyway: an audit entry
    /// `silence_check.unanswered` (failed, reason the guard's name
    /// `silence_check_unavailable`) and an `allowed` step in the incident's
    /// decision chain, both committed with the evaluation's other records,
    /// so before the run they let through starts.
    pub(crate) fn record_unanswered_silence_check(
        &self,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        error: &str,
    ) {
        let guard = Guard::SilenceCheckUnavailable;
        let detail = format!(
            "the tenant's Alertmanager did not answer whether the alert is silenced ({error}); \
             on_unreachable = allow lets automation go on without that check"
        );
        let mut a = self.audit_entry(
            ev.tenant(),
            AuditKind::SilenceCheckUnanswered,
            &resource.key(),
            origin_for(strategy),
            ev.now,
        );
        a.success = false;
        a.reason = Some(guard.as_str().to_owned());
        a.error_message = Some(detail.clone());
        a.incident_id = Some(ev.incident_id());
        ev.with_draft(|d| d.audit(a));
        self.ev_step(
            ev,
            Stage::Guard,
            StepDecision::Allowed,
            &format!("{guard}: {detail}"),
        );
    }
}
