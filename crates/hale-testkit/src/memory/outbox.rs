//! The notification outbox in memory: notices appended with the records
//! that carry them (under the same lock, so in the same "transaction"), and
//! their deliveries with claims.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use hale_domain::notification::Notice;
use hale_domain::{TenantId, Timestamp};
use hale_engine::ports::{
    AttemptOutcome, DeliveryClaim, DeliveryFilter, NoticeDelivery, NotificationOutbox,
    OutboxBacklog, Page, PageRequest, RedriveFilter, StoreError,
};

use super::{MemoryStore, Tables, page_of};

/// One scope's outbox (a tenant's, or the platform's).
#[derive(Default)]
pub(super) struct ScopeOutbox {
    notices: HashMap<String, Stored>,
    deliveries: BTreeMap<(String, String), Claimed>,
}

struct Stored {
    notice: Notice,
    routed: bool,
}

struct Claimed {
    delivery: NoticeDelivery,
    claim: Option<(String, Timestamp)>,
}

impl Tables {
    /// Appends `notice` (if any) to its scope's outbox unless its id is
    /// there; callers hold the lock of the write that carries it.
    pub(super) fn carry(&mut self, notice: Option<Notice>) -> bool {
        let Some(notice) = notice else {
            return false;
        };
        let scope = self.outbox.entry(notice.tenant.clone()).or_default();
        if scope.notices.contains_key(&notice.id) {
            return false;
        }
        scope.notices.insert(
            notice.id.clone(),
            Stored {
                notice,
                routed: false,
            },
        );
        true
    }
}

fn scope_key(tenant: Option<&TenantId>) -> Option<TenantId> {
    tenant.cloned()
}

#[async_trait]
impl NotificationOutbox for MemoryStore {
    async fn enqueue_notices(&self, notices: &[Notice]) -> Result<u32, StoreError> {
        let mut tables = self.tables()?;
        let mut added = 0;
        for n in notices {
            if tables.carry(Some(n.clone())) {
                added += 1;
            }
        }
        Ok(added)
    }

    async fn unrouted_notices(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<Notice>, StoreError> {
        let tables = self.tables()?;
        let Some(scope) = tables.outbox.get(&scope_key(tenant)) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Notice> = scope
            .notices
            .values()
            .filter(|s| !s.routed)
            .map(|s| s.notice.clone())
            .collect();
        out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn route_notice(
        &self,
        tenant: Option<&TenantId>,
        notice_id: &str,
        channels: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let scope = tables.outbox.entry(scope_key(tenant)).or_default();
        let Some(stored) = scope.notices.get_mut(notice_id) else {
            return Err(StoreError::NotFound(format!("notice {notice_id:?}")));
        };
        stored.routed = true;
        let notice = stored.notice.clone();
        for c in channels {
            scope
                .deliveries
                .entry((notice_id.to_owned(), c.clone()))
                .or_insert_with(|| Claimed {
                    delivery: NoticeDelivery::new(notice.clone(), c.clone(), now),
                    claim: None,
                });
        }
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        tenant: Option<&TenantId>,
        claim: &DeliveryClaim,
    ) -> Result<Vec<NoticeDelivery>, StoreError> {
        let mut tables = self.tables()?;
        let Some(scope) = tables.outbox.get_mut(&scope_key(tenant)) else {
            return Ok(Vec::new());
        };
        let mut due: Vec<&mut Claimed> = scope
            .deliveries
            .values_mut()
            .filter(|c| {
                c.delivery.is_pending()
                    && c.delivery.next_attempt_at.is_some_and(|t| t <= claim.now)
                    && c.claim
                        .as_ref()
                        .is_none_or(|(_, until)| *until <= claim.now)
            })
            .collect();
        due.sort_by(|a, b| {
            (
                a.delivery.next_attempt_at,
                &a.delivery.notice.id,
                &a.delivery.channel,
            )
                .cmp(&(
                    b.delivery.next_attempt_at,
                    &b.delivery.notice.id,
                    &b.delivery.channel,
                ))
        });
        Ok(due
            .into_iter()
            .take(claim.limit as usize)
            .map(|c| {
                c.claim = Some((claim.by.clone(), claim.until));
                c.delivery.clone()
            })
            .collect())
    }

    async fn record_attempt(
        &self,
        tenant: Option<&TenantId>,
        notice_id: &str,
        channel: &str,
        by: &str,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let mut tables = self.tables()?;
        let Some(scope) = tables.outbox.get_mut(&scope_key(tenant)) else {
            return Ok(false);
        };
        let Some(c) = scope
            .deliveries
            .get_mut(&(notice_id.to_owned(), channel.to_owned()))
        else {
            return Ok(false);
        };
        if c.claim.as_ref().is_none_or(|(owner, _)| owner != by) || !c.delivery.is_pending() {
            return Ok(false);
        }
        c.delivery.apply(outcome);
        c.claim = None;
        Ok(true)
    }

    async fn redrive_deliveries(
        &self,
        tenant: Option<&TenantId>,
        filter: &RedriveFilter,
        now: Timestamp,
    ) -> Result<u32, StoreError> {
        let mut tables = self.tables()?;
        let Some(scope) = tables.outbox.get_mut(&scope_key(tenant)) else {
            return Ok(0);
        };
        let mut n = 0;
        for c in scope.deliveries.values_mut() {
            if filter.matches(&c.delivery) && c.delivery.redrive(now) {
                c.claim = None;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn list_deliveries(
        &self,
        tenant: Option<&TenantId>,
        filter: &DeliveryFilter,
    ) -> Result<Page<NoticeDelivery>, StoreError> {
        let tables = self.tables()?;
        let Some(scope) = tables.outbox.get(&scope_key(tenant)) else {
            return Ok(Page::from_overfetch(Vec::new(), filter.page));
        };
        Ok(page_of(
            scope.deliveries.values().map(|c| &c.delivery),
            |d| {
                filter.channel.as_ref().is_none_or(|c| c == &d.channel)
                    && filter.kind.is_none_or(|k| k == d.notice.kind)
                    && filter.pending.is_none_or(|p| p == d.is_pending())
            },
            |a, b| {
                (b.notice.at, &b.notice.id, &b.channel).cmp(&(
                    a.notice.at,
                    &a.notice.id,
                    &a.channel,
                ))
            },
            filter.page,
        ))
    }

    async fn list_notices(
        &self,
        tenant: Option<&TenantId>,
        page: PageRequest,
    ) -> Result<Page<Notice>, StoreError> {
        let tables = self.tables()?;
        let Some(scope) = tables.outbox.get(&scope_key(tenant)) else {
            return Ok(Page::from_overfetch(Vec::new(), page));
        };
        Ok(page_of(
            scope.notices.values().map(|s| &s.notice),
            |_| true,
            |a, b| (b.at, &b.id).cmp(&(a.at, &a.id)),
            page,
        ))
    }

    async fn outbox_backlog(&self, tenant: Option<&TenantId>) -> Result<OutboxBacklog, StoreError> {
        let tables = self.tables()?;
        let Some(scope) = tables.outbox.get(&scope_key(tenant)) else {
            return Ok(OutboxBacklog::default());
        };
        let unrouted = scope
            .notices
            .values()
            .filter(|s| !s.routed)
            .map(|s| s.notice.at);
        let pending = scope
            .deliveries
            .values()
            .filter(|c| c.delivery.is_pending())
            .map(|c| c.delivery.notice.at);
        let times: Vec<Timestamp> = unrouted.chain(pending).collect();
        Ok(OutboxBacklog {
            pending: times.len() as u64,
            oldest: times.into_iter().min(),
        })
    }
}
