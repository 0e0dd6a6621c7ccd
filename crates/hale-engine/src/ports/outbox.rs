//! The notification outbox: notices written with the records that caused
//! them, and their deliveries, one per notice and channel.
//!
//! Contract, checked by `hale_testkit::conformance::stores` against every
//! adapter:
//!
//! * **Written with the record.** Every store appends the notice that
//!   [`hale_domain::notification::Notice::for_approval`],
//!   [`for_incident`](hale_domain::notification::Notice::for_incident) and
//!   [`for_audit`](hale_domain::notification::Notice::for_audit) return for
//!   an approval, incident or audit entry it writes, in the transaction that
//!   writes the record (including the audit entries that travel with an
//!   operation). When the record's write fails, there is no notice; when it
//!   commits, the notice is there. A notice whose id is already in the
//!   outbox is skipped (the same record written again adds nothing).
//! * **Scopes.** A notice belongs to a tenant or to the platform
//!   (`tenant: None`), and every call names the scope: a tenant's calls
//!   never see another tenant's notices or the platform's.
//! * **Routing once.** [`NotificationOutbox::route_notice`] creates one
//!   delivery per channel given and marks the notice routed; creating a
//!   delivery that exists is a no-op, so replicas routing the same notice
//!   end with one delivery per channel.
//! * **Claims.** [`NotificationOutbox::claim_deliveries`] hands each due
//!   delivery (not delivered, not given up, next attempt due, no live claim)
//!   to one caller until the claim's lease ends; concurrent callers get
//!   disjoint sets. [`NotificationOutbox::record_attempt`] applies only
//!   while the caller's claim is the current one.
//! * **Redrive.** [`NotificationOutbox::redrive_deliveries`] makes the
//!   scope's given-up deliveries that the filter names pending again
//!   (attempts from zero, due now, no claim), in one write; delivered and
//!   pending deliveries, other channels and other scopes are untouched.
//! * **Errors.** `Unavailable` when the backend cannot be reached; then
//!   nothing was written.

use async_trait::async_trait;
use hale_domain::notification::{Notice, NoticeKind};
use hale_domain::{TenantId, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Page, PageRequest, StoreError};

/// One delivery of a notice to a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeDelivery {
    /// The notice.
    pub notice: Notice,
    /// The channel's name.
    pub channel: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// When the last attempt ran.
    pub last_attempt_at: Option<Timestamp>,
    /// When the next attempt is due (none once delivered or given up).
    pub next_attempt_at: Option<Timestamp>,
    /// When the channel took it.
    pub delivered_at: Option<Timestamp>,
    /// When delivery stopped after too many failures.
    pub given_up_at: Option<Timestamp>,
}

impl NoticeDelivery {
    /// A new, due delivery.
    pub fn new(notice: Notice, channel: String, due: Timestamp) -> NoticeDelivery {
        NoticeDelivery {
            notice,
            channel,
            attempts: 0,
            last_error: None,
            last_attempt_at: None,
            next_attempt_at: Some(due),
            delivered_at: None,
            given_up_at: None,
        }
    }

    /// Whether it still waits for an attempt.
    pub fn is_pending(&self) -> bool {
        self.delivered_at.is_none() && self.given_up_at.is_none()
    }

    /// Makes a given-up delivery pending again: attempts restart from zero
    /// and the next is due `now` (the last error stays, for the record).
    /// Returns false, changing nothing, unless it was given up.
    pub fn redrive(&mut self, now: Timestamp) -> bool {
        if self.given_up_at.is_none() || self.delivered_at.is_some() {
            return false;
        }
        self.attempts = 0;
        self.given_up_at = None;
        self.next_attempt_at = Some(now);
        true
    }

    /// Applies an attempt's outcome.
    pub fn apply(&mut self, outcome: &AttemptOutcome) {
        self.attempts = self.attempts.saturating_add(1);
        match outcome {
            AttemptOutcome::Delivered { at } => {
                self.last_attempt_at = Some(*at);
                self.delivered_at = Some(*at);
                self.next_attempt_at = None;
                self.last_error = None;
            }
            AttemptOutcome::Failed {
                at,
                error,
                retry_at,
            } => {
                self.last_attempt_at = Some(*at);
                self.last_error = Some(error.clone());
                self.next_attempt_at = *retry_at;
                if retry_at.is_none() {
                    self.given_up_at = Some(*at);
                }
            }
        }
    }
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The channel took the notice.
    Delivered {
        /// When.
        at: Timestamp,
    },
    /// The channel refused it or did not answer.
    Failed {
        /// When.
        at: Timestamp,
        /// Why (no secrets: channel adapters redact URLs).
        error: String,
        /// When to try again; `None` gives up.
        retry_at: Option<Timestamp>,
    },
}

/// A claim on due deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryClaim {
    /// Who claims (unique per process).
    pub by: String,
    /// Now: deliveries due at or before it, with no claim live at it.
    pub now: Timestamp,
    /// The claim's lease ends here.
    pub until: Timestamp,
    /// At most this many.
    pub limit: u32,
}

/// Delivery list filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only this channel.
    pub channel: Option<String>,
    /// Only this kind.
    pub kind: Option<NoticeKind>,
    /// Only pending (true) or finished (false) deliveries.
    pub pending: Option<bool>,
    /// Paging.
    pub page: PageRequest,
}

/// Which given-up deliveries a redrive sends again: one channel's, or
/// only those of one notice or one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveFilter {
    /// The channel.
    pub channel: String,
    /// Only this notice.
    pub notice_id: Option<String>,
    /// Only this kind.
    pub kind: Option<NoticeKind>,
}

impl RedriveFilter {
    /// All given-up deliveries of `channel`.
    pub fn channel(channel: impl Into<String>) -> RedriveFilter {
        RedriveFilter {
            channel: channel.into(),
            notice_id: None,
            kind: None,
        }
    }

    /// Whether `d` is given up and named by the filter.
    pub fn matches(&self, d: &NoticeDelivery) -> bool {
        d.channel == self.channel
            && d.given_up_at.is_some()
            && d.delivered_at.is_none()
            && self.notice_id.as_ref().is_none_or(|id| id == &d.notice.id)
            && self.kind.is_none_or(|k| k == d.notice.kind)
    }
}

/// How far behind delivery is in one scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Deliveries still pending, plus notices not routed yet.
    pub pending: u64,
    /// The oldest pending notice's time.
    pub oldest: Option<Timestamp>,
}

/// The outbox (see the module docs for the contract). `tenant: None` is the
/// platform scope.
#[async_trait]
pub trait NotificationOutbox: Send + Sync {
    /// Appends notices that no record carries (reminders, platform events),
    /// each in its notice's scope; ids already present are skipped.
    /// Returns how many were new.
    async fn enqueue_notices(&self, notices: &[Notice]) -> Result<u32, StoreError>;

    /// Notices of the scope not routed yet, oldest first.
    async fn unrouted_notices(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<Notice>, StoreError>;

    /// Creates a due delivery per channel (existing ones stay as they are)
    /// and marks the notice routed, atomically.
    async fn route_notice(
        &self,
        tenant: Option<&TenantId>,
        notice_id: &str,
        channels: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Claims due deliveries of the scope, oldest due first.
    async fn claim_deliveries(
        &self,
        tenant: Option<&TenantId>,
        claim: &DeliveryClaim,
    ) -> Result<Vec<NoticeDelivery>, StoreError>;

    /// Records an attempt on a delivery claimed by `by`; returns whether it
    /// applied (false when the claim was lost to another caller).
    async fn record_attempt(
        &self,
        tenant: Option<&TenantId>,
        notice_id: &str,
        channel: &str,
        by: &str,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError>;

    /// Makes the scope's given-up deliveries that `filter` names pending
    /// again ([`NoticeDelivery::redrive`]), atomically; returns how many.
    async fn redrive_deliveries(
        &self,
        tenant: Option<&TenantId>,
        filter: &RedriveFilter,
        now: Timestamp,
    ) -> Result<u32, StoreError>;

    /// Deliveries of the scope, newest notice first.
    async fn list_deliveries(
        &self,
        tenant: Option<&TenantId>,
        filter: &DeliveryFilter,
    ) -> Result<Page<NoticeDelivery>, StoreError>;

    /// Notices of the scope, newest first (routed or not).
    async fn list_notices(
        &self,
        tenant: Option<&TenantId>,
        page: PageRequest,
    ) -> Result<Page<Notice>, StoreError>;

    /// The scope's backlog.
    async fn outbox_backlog(&self, tenant: Option<&TenantId>) -> Result<OutboxBacklog, StoreError>;
}
