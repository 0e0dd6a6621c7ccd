//! The notification outbox on `notices` and `notice_deliveries`. Notices
//! are appended by [`carry`] inside the transaction of the record that
//! carries them; replicas claim due deliveries with `FOR UPDATE SKIP
//! LOCKED` and a lease, so concurrent claims are disjoint.

use async_trait::async_trait;
use hale_domain::notification::Notice;
use hale_domain::{TenantId, Timestamp};
use hale_engine::ports::{
    AttemptOutcome, DeliveryClaim, DeliveryFilter, NoticeDelivery, NotificationOutbox,
    OutboxBacklog, Page, PageRequest, RedriveFilter, StoreError,
};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row, Transaction};

use crate::codec::{Cols, json, ts, ts_opt};
use crate::error;
use crate::store::{PgStore, commit};

/// The tenant column: the tenant, or `*` for the platform.
pub(crate) fn scope(tenant: Option<&TenantId>) -> &str {
    tenant.map_or("*", TenantId::as_str)
}

fn body<T: serde::de::DeserializeOwned>(row: &PgRow, table: &str) -> Result<T, StoreError> {
    let v: serde_json::Value = row.try_get("body").map_err(error::db)?;
    serde_json::from_value(v)
        .map_err(|e| StoreError::Invalid(format!("stored {table} row cannot be read: {e}")))
}

/// Appends `notice` (if any) in `tx`, unless its id is already there. The
/// transaction's tenant is the notice's (the record's) tenant.
pub(crate) async fn carry(
    tx: &mut Transaction<'static, Postgres>,
    notice: Option<Notice>,
) -> Result<bool, StoreError> {
    let Some(n) = notice else {
        return Ok(false);
    };
    let done = sqlx::query(
        "INSERT INTO notices (tenant, id, body, at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant, id) DO NOTHING",
    )
    .bind(scope(n.tenant.as_ref()))
    .bind(n.id.as_str())
    .bind(json(&n)?)
    .bind(ts(n.at)?)
    .execute(&mut **tx)
    .await
    .map_err(error::db)?;
    Ok(done.rows_affected() > 0)
}

async fn save_delivery(
    tx: &mut Transaction<'static, Postgres>,
    sc: &str,
    d: &NoticeDelivery,
    claim: Option<(&str, Timestamp)>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notice_deliveries \
         (tenant, notice_id, channel, body, notice_at, pending, next_attempt_at, claimed_by, claimed_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (tenant, notice_id, channel) DO UPDATE SET body = excluded.body, \
         pending = excluded.pending, next_attempt_at = excluded.next_attempt_at, \
         claimed_by = excluded.claimed_by, claimed_until = excluded.claimed_until",
    )
    .bind(sc)
    .bind(d.notice.id.as_str())
    .bind(d.channel.as_str())
    .bind(json(d)?)
    .bind(ts(d.notice.at)?)
    .bind(d.is_pending())
    .bind(ts_opt(d.next_attempt_at)?)
    .bind(claim.map(|(by, _)| by.to_owned()))
    .bind(ts_opt(claim.map(|(_, until)| until))?)
    .execute(&mut **tx)
    .await
    .map_err(error::db)?;
    Ok(())
}

impl PgStore {
    /// A transaction on one outbox scope (the platform's is `*`).
    async fn begin_outbox(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        match tenant {
            Some(t) => self.begin(t).await,
            None => {
                let mut tx = self.begin_platform().await?;
                sqlx::query("SELECT set_config('hale.tenant', '*', true)")
                    .execute(&mut *tx)
                    .await
                    .map_err(error::db)?;
                Ok(tx)
            }
        }
    }
}

#[async_trait]
impl NotificationOutbox for PgStore {
    async fn enqueue_notices(&self, notices: &[Notice]) -> Result<u32, StoreError> {
        self.timed(async {
            let mut added = 0;
            // One transaction per scope: row-level security admits one
            // tenant per transaction.
            let mut scopes: Vec<Option<&TenantId>> =
                notices.iter().map(|n| n.tenant.as_ref()).collect();
            scopes.sort();
            scopes.dedup();
            for sc in scopes {
                let mut tx = self.begin_outbox(sc).await?;
                for n in notices.iter().filter(|n| n.tenant.as_ref() == sc) {
                    if carry(&mut tx, Some(n.clone())).await? {
                        added += 1;
                    }
                }
                commit(tx).await?;
            }
            Ok(added)
        })
        .await
    }

    async fn unrouted_notices(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<Notice>, StoreError> {
        self.timed(async {
            let mut tx = self.begin_outbox(tenant).await?;
            let rows = sqlx::query(
                "SELECT body FROM notices WHERE tenant = $1 AND NOT routed ORDER BY at, id LIMIT $2",
            )
            .bind(scope(tenant))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(error::db)?;
            commit(tx).await?;
            rows.iter().map(|r| body(r, "notices")).collect()
        })
        .await
    }

    async fn route_notice(
        &self,
        tenant: Option<&TenantId>,
        notice_id: &str,
        channels: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sc = scope(tenant);
        self.timed(async {
            let mut tx = self.begin_outbox(tenant).await?;
            let row =
                sqlx::query("SELECT body FROM notices WHERE tenant = $1 AND id = $2 FOR UPDATE")
                    .bind(sc)
                    .bind(notice_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(error::db)?;
            let Some(row) = row else {
                return Err(StoreError::NotFound(format!("notice {notice_id:?}")));
            };
            let notice: Notice = body(&row, "notices")?;
            for c in channels {
                let d = NoticeDelivery::new(notice.clone(), c.clone(), now);
                sqlx::query(
                    "INSERT INTO notice_deliveries \
                     (tenant, notice_id, channel, body, notice_at, pending, next_attempt_at) \
                     VALUES ($1, $2, $3, $4, $5, true, $6) \
                     ON CONFLICT (tenant, notice_id, channel) DO NOTHING",
                )
                .bind(sc)
                .bind(notice_id)
                .bind(c.as_str())
                .bind(json(&d)?)
                .bind(ts(notice.at)?)
                .bind(ts(now)?)
                .execute(&mut *tx)
                .await
                .map_err(error::db)?;
            }
            sqlx::query("UPDATE notices SET routed = true WHERE tenant = $1 AND id = $2")
                .bind(sc)
                .bind(notice_id)
                .execute(&mut *tx)
                .await
                .map_err(error::db)?;
            commit(tx).await
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        tenant: Option<&TenantId>,
        claim: &DeliveryClaim,
    ) -> Result<Vec<NoticeDelivery>, StoreError> {
        let sc = scope(tenant);
        self.timed(async {
            let mut tx = self.begin_outbox(tenant).await?;
            let rows = sqlx::query(
                "UPDATE notice_deliveries SET claimed_by = $3, claimed_until = $4 \
                 WHERE (tenant, notice_id, channel) IN ( \
                   SELECT tenant, notice_id, channel FROM notice_deliveries \
                   WHERE tenant = $1 AND pending AND next_attempt_at <= $2 \
                     AND (claimed_until IS NULL OR claimed_until <= $2) \
                   ORDER BY next_attempt_at, notice_id, channel LIMIT $5 \
                   FOR UPDATE SKIP LOCKED) \
                 RETURNING body",
            )
            .bind(sc)
            .bind(ts(claim.now)?)
            .bind(claim.by.as_str())
            .bind(ts(claim.until)?)
            .bind(i64::from(claim.limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(error::db)?;
            commit(tx).await?;
            let mut out: Vec<NoticeDelivery> = rows
                .iter()
                .map(|r| body(r, "notice_deliveries"))
                .collect::<Result<_, _>>()?;
            out.sort_by(|a, b| {
                (a.next_attempt_at, &a.notice.id, &a.channel).cmp(&(
                    b.next_attempt_at,
                    &b.notice.id,
                    &b.channel,
                ))
            });
            Ok(out)
        })
        .await
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
        self.timed(async {
            let mut tx = self.begin_outbox(tenant).await?;
            let row = sqlx::query(
                "SELECT body FROM notice_deliveries WHERE tenant = $1 AND notice_id = $2 \
                 AND channel = $3 AND claimed_by = $4 AND pending FOR UPDATE",
            )
            .bind(sc)
            .bind(notice_id)
            .bind(channel)
            .bind(by)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error::db)?;
            let Some(row) = row else {
                commit(tx).await?;
                return Ok(false);
            };
            let mut d: NoticeDelivery = body(&row, "notice_deliveries")?;
            d.apply(outcome);
            save_delivery(&mut tx, sc, &d, None).await?;
            commit(tx).await?;
            Ok(true)
        })
        .await
    }

    async fn redrive_deliveries(
        &self,
        tenant: Option<&TenantId>,
        filter: &RedriveFilter,
        now: Timestamp,
    ) -> Result<u32, StoreError> {
        let sc = scope(tenant);
        self.timed(async {
            let mut tx = self.begin_outbox(tenant).await?;
            let rows = sqlx::query(
                // Only given-up rows are read and locked (never the
                // channel's whole delivered history); the domain decides.
                "SELECT body FROM notice_deliveries WHERE tenant = $1 AND channel = $2 \
                 AND NOT pending AND body->>'given_up_at' IS NOT NULL FOR UPDATE",
            )
            .bind(sc)
            .bind(filter.channel.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(error::db)?;
            let mut n = 0;
            for row in &rows {
                let mut d: NoticeDelivery = body(row, "notice_deliveries")?;
                if filter.matches(&d) && d.redrive(now) {
                    save_delivery(&mut tx, sc, &d, None).await?;
                    n += 1;
                }
            }
            commit(tx).await?;
            Ok(n)
        })
        .await
    }

    async fn list_deliveries(
        &self,
        tenant: Option<&TenantId>,
        filter: &DeliveryFilter,
    ) -> Result<Page<NoticeDelivery>, StoreError> {
        let page = filter.page;
        let offset = i64::try_from(page.offset)
            .map_err(|_| StoreError::Invalid(format!("offset {} is too large", page.offset)))?;
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT body FROM notice_deliveries WHERE tenant = ");
        qb.push_bind(scope(tenant).to_owned());
        if let Some(c) = &filter.channel {
            qb.push(" AND channel = ").push_bind(c.clone());
        }
        if let Some(k) = filter.kind {
            qb.push(" AND body #>> '{notice,kind}' = ")
                .push_bind(k.as_str());
        }
        if let Some(p) = filter.pending {
            qb.push(" AND pending = ").push_bind(p);
        }
        qb.push(" ORDER BY notice_at DESC, notice_id DESC, channel DESC LIMIT ")
            .push_bind(i64::from(page.clamped_limit()) + 1)
            .push(" OFFSET ")
            .push_bind(offset);
        self.timed(async {
            let mut tx = self.begin_outbox(tenant).await?;
            let rows = qb.build().fetch_all(&mut *tx).await.map_err(error::db)?;
            commit(tx).await?;
            let items = rows
                .iter()
                .map(|r| body(r, "notice_deliveries"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_overfetch(items, page))
        })
        .await
    }

    async fn list_notices(
        &self,
        tenant: Option<&TenantId>,
        page: PageRequest,
    ) -> Result<Page<Notice>, StoreError> {
        let offset = i64::try_from(page.offset)
            .map_err(|_| StoreError::Invalid(format!("offset {} is too large", page.offset)))?;
        self.timed(async {
            let mut tx = self.begin_outbox(tenant).await?;
            let rows = sqlx::query(
                "SELECT body FROM notices WHERE tenant = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
            )
            .bind(scope(tenant))
            .bind(i64::from(page.clamped_limit()) + 1)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await
            .map_err(error::db)?;
            commit(tx).await?;
            let items = rows
                .iter()
                .map(|r| body(r, "notices"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_overfetch(items, page))
        })
        .await
    }

    async fn outbox_backlog(&self, tenant: Option<&TenantId>) -> Result<OutboxBacklog, StoreError> {
        self.timed(async {
            let mut tx = self.begin_outbox(tenant).await?;
            let row = sqlx::query(
                "SELECT count(*) AS n, min(at) AS oldest FROM ( \
                   SELECT at FROM notices WHERE tenant = $1 AND NOT routed \
                   UNION ALL \
                   SELECT notice_at FROM notice_deliveries WHERE tenant = $1 AND pending) AS p",
            )
            .bind(scope(tenant))
            .fetch_one(&mut *tx)
            .await
            .map_err(error::db)?;
            commit(tx).await?;
            let c = Cols::new(&row, "notices");
            Ok(OutboxBacklog {
                pending: c.u64("n")?,
                oldest: c.ts_opt("oldest")?,
            })
        })
        .await
    }
}
