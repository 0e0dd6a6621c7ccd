//! The notification outbox on `notices` and `notice_deliveries`. Notices
//! are appended by [`carry`] inside the write transaction of the record
//! that carries them; claims and attempts are read-modify-writes under
//! SQLite's write lock (`BEGIN IMMEDIATE`), so they cannot interleave.

use async_trait::async_trait;
use hale_domain::notification::Notice;
use hale_domain::{TenantId, Timestamp};
use hale_engine::ports::{
    AttemptOutcome, DeliveryClaim, DeliveryFilter, NoticeDelivery, NotificationOutbox,
    OutboxBacklog, Page, PageRequest, RedriveFilter, StoreError,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use crate::error;
use crate::store::{SqliteStore, commit, to_doc, ts_text};

/// The scope column: the tenant, or `*` for the platform.
fn scope(tenant: Option<&TenantId>) -> &str {
    tenant.map_or("*", TenantId::as_str)
}

fn decode<T: serde::de::DeserializeOwned>(doc: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc)
        .map_err(|e| StoreError::Invalid(format!("stored {what} row cannot be read: {e}")))
}

/// Appends `notice` (if any) in `tx`, unless its id is already there.
pub(crate) async fn carry(
    tx: &mut Transaction<'static, Sqlite>,
    notice: Option<Notice>,
) -> Result<bool, StoreError> {
    let Some(n) = notice else {
        return Ok(false);
    };
    let done = sqlx::query(
        "INSERT INTO notices (scope, id, doc, at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (scope, id) DO NOTHING",
    )
    .bind(scope(n.tenant.as_ref()))
    .bind(n.id.as_str())
    .bind(to_doc(&n)?)
    .bind(ts_text(n.at)?)
    .execute(&mut **tx)
    .await
    .map_err(error::db)?;
    Ok(done.rows_affected() > 0)
}

/// Writes a delivery's document and the columns derived from it.
async fn save_delivery(
    tx: &mut Transaction<'static, Sqlite>,
    sc: &str,
    d: &NoticeDelivery,
    claim: Option<(&str, Timestamp)>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notice_deliveries \
         (scope, notice_id, channel, doc, notice_at, pending, next_attempt_at, claimed_by, claimed_until) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (scope, notice_id, channel) DO UPDATE SET doc = excluded.doc, \
         pending = excluded.pending, next_attempt_at = excluded.next_attempt_at, \
         claimed_by = excluded.claimed_by, claimed_until = excluded.claimed_until",
    )
    .bind(sc)
    .bind(d.notice.id.as_str())
    .bind(d.channel.as_str())
    .bind(to_doc(d)?)
    .bind(ts_text(d.notice.at)?)
    .bind(d.is_pending())
    .bind(d.next_attempt_at.map(ts_text).transpose()?)
    .bind(claim.map(|(by, _)| by.to_owned()))
    .bind(claim.map(|(_, until)| ts_text(until)).transpose()?)
    .execute(&mut **tx)
    .await
    .map_err(error::db)?;
    Ok(())
}

#[async_trait]
impl NotificationOutbox for SqliteStore {
    async fn enqueue_notices(&self, notices: &[Notice]) -> Result<u32, StoreError> {
        let mut tx = self.write().await?;
        let mut added = 0;
        for n in notices {
            if carry(&mut tx, Some(n.clone())).await? {
                added += 1;
            }
        }
        commit(tx).await?;
        Ok(added)
    }

    async fn unrouted_notices(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<Notice>, StoreError> {
        let docs: Vec<String> = sqlx::query_scalar(
            "SELECT doc FROM notices WHERE scope = ?1 AND routed = 0 ORDER BY at, id LIMIT ?2",
        )
        .bind(scope(tenant))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(error::db)?;
        docs.iter().map(|d| decode(d, "notices")).collect()
    }

    async fn route_notice(
        &self,
        tenant: Option<&TenantId>,
        notice_id: &str,
        channels: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sc = scope(tenant);
        let mut tx = self.write().await?;
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc FROM notices WHERE scope = ?1 AND id = ?2")
                .bind(sc)
                .bind(notice_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(error::db)?;
        let Some(doc) = doc else {
            return Err(StoreError::NotFound(format!("notice {notice_id:?}")));
        };
        let notice: Notice = decode(&doc, "notices")?;
        for c in channels {
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM notice_deliveries \
                 WHERE scope = ?1 AND notice_id = ?2 AND channel = ?3)",
            )
            .bind(sc)
            .bind(notice_id)
            .bind(c.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(error::db)?;
            if !exists {
                let d = NoticeDelivery::new(notice.clone(), c.clone(), now);
                save_delivery(&mut tx, sc, &d, None).await?;
            }
        }
        sqlx::query("UPDATE notices SET routed = 1 WHERE scope = ?1 AND id = ?2")
            .bind(sc)
            .bind(notice_id)
            .execute(&mut *tx)
            .await
            .map_err(error::db)?;
        commit(tx).await
    }

    async fn claim_deliveries(
        &self,
        tenant: Option<&TenantId>,
        claim: &DeliveryClaim,
    ) -> Result<Vec<NoticeDelivery>, StoreError> {
        let sc = scope(tenant);
        let now = ts_text(claim.now)?;
        let mut tx = self.write().await?;
        let docs: Vec<String> = sqlx::query_scalar(
            "SELECT doc FROM notice_deliveries WHERE scope = ?1 AND pending = 1 \
             AND next_attempt_at <= ?2 AND (claimed_until IS NULL OR claimed_until <= ?2) \
             ORDER BY next_attempt_at, notice_id, channel LIMIT ?3",
        )
        .bind(sc)
        .bind(&now)
        .bind(i64::from(claim.limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(error::db)?;
        let mut out = Vec::with_capacity(docs.len());
        for doc in &docs {
            let d: NoticeDelivery = decode(doc, "notice_deliveries")?;
            save_delivery(&mut tx, sc, &d, Some((&claim.by, claim.until))).await?;
            out.push(d);
        }
        commit(tx).await?;
        Ok(out)
    }

    async fn record_attempt(
        &self,
        tenant: Option<&TenantId>,
        notice_id: &str,
        channel: &str,
        by: &str,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let sc = scope(tenant);
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "SELECT doc FROM notice_deliveries WHERE scope = ?1 AND notice_id = ?2 \
             AND channel = ?3 AND claimed_by = ?4 AND pending = 1",
        )
        .bind(sc)
        .bind(notice_id)
        .bind(channel)
        .bind(by)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error::db)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let doc: String = row.try_get("doc").map_err(error::db)?;
        let mut d: NoticeDelivery = decode(&doc, "notice_deliveries")?;
        d.apply(outcome);
        save_delivery(&mut tx, sc, &d, None).await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn redrive_deliveries(
        &self,
        tenant: Option<&TenantId>,
        filter: &RedriveFilter,
        now: Timestamp,
    ) -> Result<u32, StoreError> {
        let sc = scope(tenant);
        let mut tx = self.write().await?;
        let docs: Vec<String> = sqlx::query_scalar(
            // Only given-up rows are read (never the channel's whole
            // delivered history); the domain decides.
            "SELECT doc FROM notice_deliveries WHERE scope = ?1 AND channel = ?2 AND pending = 0 \
             AND json_extract(doc, '$.given_up_at') IS NOT NULL",
        )
        .bind(sc)
        .bind(filter.channel.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(error::db)?;
        let mut n = 0;
        for doc in docs {
            let mut d: NoticeDelivery = decode(&doc, "notice_deliveries")?;
            if filter.matches(&d) && d.redrive(now) {
                save_delivery(&mut tx, sc, &d, None).await?;
                n += 1;
            }
        }
        commit(tx).await?;
        Ok(n)
    }

    async fn list_deliveries(
        &self,
        tenant: Option<&TenantId>,
        filter: &DeliveryFilter,
    ) -> Result<Page<NoticeDelivery>, StoreError> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT doc FROM notice_deliveries WHERE scope = ");
        qb.push_bind(scope(tenant).to_owned());
        if let Some(c) = &filter.channel {
            qb.push(" AND channel = ").push_bind(c.clone());
        }
        if let Some(k) = filter.kind {
            qb.push(" AND json_extract(doc, '$.notice.kind') = ")
                .push_bind(k.as_str());
        }
        if let Some(p) = filter.pending {
            qb.push(" AND pending = ").push_bind(p);
        }
        let page = filter.page;
        let offset = i64::try_from(page.offset)
            .map_err(|_| StoreError::Invalid(format!("offset {} is too large", page.offset)))?;
        qb.push(" ORDER BY notice_at DESC, notice_id DESC, channel DESC LIMIT ")
            .push_bind(i64::from(page.clamped_limit()) + 1)
            .push(" OFFSET ")
            .push_bind(offset);
        let docs: Vec<String> = qb
            .build_query_scalar()
            .fetch_all(self.pool())
            .await
            .map_err(error::db)?;
        let items = docs
            .iter()
            .map(|d| decode(d, "notice_deliveries"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page))
    }

    async fn list_notices(
        &self,
        tenant: Option<&TenantId>,
        page: PageRequest,
    ) -> Result<Page<Notice>, StoreError> {
        let offset = i64::try_from(page.offset)
            .map_err(|_| StoreError::Invalid(format!("offset {} is too large", page.offset)))?;
        let docs: Vec<String> = sqlx::query_scalar(
            "SELECT doc FROM notices WHERE scope = ?1 ORDER BY at DESC, id DESC LIMIT ?2 OFFSET ?3",
        )
        .bind(scope(tenant))
        .bind(i64::from(page.clamped_limit()) + 1)
        .bind(offset)
        .fetch_all(self.pool())
        .await
        .map_err(error::db)?;
        let items = docs
            .iter()
            .map(|d| decode(d, "notices"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page))
    }

    async fn outbox_backlog(&self, tenant: Option<&TenantId>) -> Result<OutboxBacklog, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS n, min(at) AS oldest FROM ( \
               SELECT at FROM notices WHERE scope = ?1 AND routed = 0 \
               UNION ALL \
               SELECT notice_at AS at FROM notice_deliveries WHERE scope = ?1 AND pending = 1)",
        )
        .bind(scope(tenant))
        .fetch_one(self.pool())
        .await
        .map_err(error::db)?;
        let n: i64 = row.try_get("n").map_err(error::db)?;
        let oldest: Option<String> = row.try_get("oldest").map_err(error::db)?;
        let oldest = oldest
            .map(|s| {
                s.parse::<Timestamp>()
                    .map_err(|e| StoreError::Invalid(format!("stored notice time {s:?}: {e}")))
            })
            .transpose()?;
        Ok(OutboxBacklog {
            pending: u64::try_from(n).unwrap_or(0),
            oldest,
        })
    }
}
