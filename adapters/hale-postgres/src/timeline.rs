//! `TimelineStore` on the append-only `timeline_events` table.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::timeline::TimelineEvent;
use hale_engine::ports::{Page, StoreError, TimelineFilter, TimelineStore, caused_by};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Transaction};

use crate::audit::insert_audit;
use crate::codec::{Cols, ts, wire, wire_opt};
use crate::error;
use crate::store::{PgStore, commit, list_query, push_time_range};

macro_rules! columns {
    () => {
        "tenant, id, event_type, status, title, description, actor, actor_role, risk_level, \
         approval_id, operation_id, incident_id, created_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO timeline_events (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
);

fn from_row(row: &PgRow) -> Result<TimelineEvent, StoreError> {
    let c = Cols::new(row, "timeline_events");
    Ok(TimelineEvent {
        id: c.text("id")?,
        tenant: c.parse("tenant")?,
        event_type: c.parse("event_type")?,
        status: c.parse("status")?,
        title: c.text("title")?,
        description: c.text_opt("description")?,
        actor: c.parse_opt("actor")?,
        actor_role: c.text_opt("actor_role")?,
        risk_level: c.parse_opt("risk_level")?,
        approval_id: c.parse_opt("approval_id")?,
        operation_id: c.parse_opt("operation_id")?,
        incident_id: c.parse_opt("incident_id")?,
        created_at: c.ts("created_at")?,
    })
}

/// Inserts an event inside the caller's transaction (used on its own and
/// together with approval decisions).
pub(crate) async fn insert_timeline(
    tx: &mut Transaction<'static, Postgres>,
    e: &TimelineEvent,
) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(e.tenant.as_str())
        .bind(e.id.as_str())
        .bind(wire(&e.event_type)?)
        .bind(wire(&e.status)?)
        .bind(e.title.as_str())
        .bind(e.description.as_deref())
        .bind(e.actor.as_ref().map(|a| a.as_str()))
        .bind(e.actor_role.as_deref())
        .bind(wire_opt(e.risk_level.as_ref())?)
        .bind(e.approval_id.as_ref().map(|a| a.as_str()))
        .bind(e.operation_id.as_ref().map(|o| o.as_str()))
        .bind(e.incident_id.as_ref().map(|i| i.as_str()))
        .bind(ts(e.created_at)?)
        .execute(&mut **tx)
        .await
        .map_err(error::db)?;
    Ok(())
}

#[async_trait]
impl TimelineStore for PgStore {
    async fn append_timeline_audited(
        &self,
        event: &TimelineEvent,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        caused_by(&event.tenant, audit)?;
        self.timed(async {
            let mut tx = self.begin(&event.tenant).await?;
            insert_timeline(&mut tx, event).await?;
            for a in audit {
                insert_audit(&mut tx, a).await?;
            }
            commit(tx).await
        })
        .await
    }

    async fn list_timeline(
        &self,
        tenant: &TenantId,
        filter: &TimelineFilter,
    ) -> Result<Page<TimelineEvent>, StoreError> {
        let mut qb = list_query(
            concat!("SELECT ", columns!(), " FROM timeline_events"),
            tenant,
        );
        if let Some(id) = &filter.incident_id {
            qb.push(" AND incident_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(id) = &filter.operation_id {
            qb.push(" AND operation_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(id) = &filter.approval_id {
            qb.push(" AND approval_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(t) = filter.event_type {
            qb.push(" AND event_type = ").push_bind(wire(&t)?);
        }
        push_time_range(&mut qb, "created_at", filter.since, filter.until)?;
        self.fetch_page(
            tenant,
            qb,
            "created_at DESC, id DESC",
            filter.page,
            from_row,
        )
        .await
    }
}
