//! `ApprovalStore` on the `approvals` table; decisions commit together with
//! their timeline event.

use async_trait::async_trait;
use hale_domain::approval::ApprovalRequest;
use hale_domain::convergence::Fingerprint;
use hale_domain::notification::Notice;
use hale_domain::record::timeline::TimelineEvent;
use hale_domain::{ApprovalId, ResourceRef, TenantId, Timestamp};
use hale_engine::ports::{ApprovalFilter, ApprovalStore, Page, StoreError};
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;

use crate::codec::{Cols, int, json, ts, ts_opt, wire};
use crate::error;
use crate::outbox::carry;
use crate::store::{PgStore, cas_update, commit, list_query, same_tenant};
use crate::timeline::insert_timeline;

/// The columns, in the order [`bind`] binds them.
macro_rules! columns {
    () => {
        "tenant, id, strategy_id, resource, action, description, status, risk_level, \
         required_signatures, current_signatures, signatures, blast_radius, dry_run_checks, \
         requested_by, rejection_reason, rejected_by, metadata, fingerprint, hit_count, \
         last_seen_at, incident_id, revision, created_at, updated_at, expires_at, resolved_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO approvals (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22, $23, $24, $25, $26)"
);

/// Replaces every column but the key, if the row is still at revision $27.
const UPDATE: &str = "UPDATE approvals SET (strategy_id, resource, action, description, status, \
    risk_level, required_signatures, current_signatures, signatures, blast_radius, \
    dry_run_checks, requested_by, rejection_reason, rejected_by, metadata, fingerprint, \
    hit_count, last_seen_at, incident_id, revision, created_at, updated_at, expires_at, \
    resolved_at) = ($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
    $19, $20, $21, $22, $23, $24, $25, $26) \
    WHERE tenant = $1 AND id = $2 AND revision = $27";

const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM approvals WHERE tenant = $1 AND id = $2"
);

const SELECT_PENDING_FOR: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM approvals WHERE tenant = $1 AND resource = $2 AND status = 'pending' \
     ORDER BY created_at ASC, id ASC LIMIT 1"
);

const SELECT_DUE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM approvals WHERE tenant = $1 AND status = 'pending' AND expires_at <= $2 \
     ORDER BY expires_at ASC, created_at ASC, id ASC LIMIT $3"
);

fn from_row(row: &PgRow) -> Result<ApprovalRequest, StoreError> {
    let c = Cols::new(row, "approvals");
    Ok(ApprovalRequest {
        id: c.parse("id")?,
        tenant: c.parse("tenant")?,
        strategy_id: c.parse("strategy_id")?,
        resource: c.resource("resource")?,
        action: c.text("action")?,
        description: c.text("description")?,
        status: c.parse("status")?,
        risk_level: c.parse("risk_level")?,
        required_signatures: c.u32("required_signatures")?,
        signatures: c.json("signatures")?,
        blast_radius: c.json("blast_radius")?,
        dry_run_checks: c.json("dry_run_checks")?,
        requested_by: c.parse("requested_by")?,
        rejection_reason: c.text_opt("rejection_reason")?,
        rejected_by: c.parse_opt("rejected_by")?,
        metadata: c.json("metadata")?,
        fingerprint: c.text_opt("fingerprint")?.map(Fingerprint::from_hex),
        hit_count: c.u64("hit_count")?,
        last_seen_at: c.ts("last_seen_at")?,
        incident_id: c.parse_opt("incident_id")?,
        revision: c.u64("revision")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
        expires_at: c.ts("expires_at")?,
        resolved_at: c.ts_opt("resolved_at")?,
    })
}

/// Binds every column in `columns!()` order, with `revision` as given.
fn bind<'q>(
    q: Query<'q, Postgres, PgArguments>,
    a: &ApprovalRequest,
    revision: i64,
) -> Result<Query<'q, Postgres, PgArguments>, StoreError> {
    Ok(q.bind(a.tenant.as_str().to_owned())
        .bind(a.id.as_str().to_owned())
        .bind(a.strategy_id.as_str().to_owned())
        .bind(a.resource.key())
        .bind(a.action.clone())
        .bind(a.description.clone())
        .bind(wire(&a.status)?)
        .bind(wire(&a.risk_level)?)
        .bind(i64::from(a.required_signatures))
        .bind(i64::from(a.current_signatures()))
        .bind(json(&a.signatures)?)
        .bind(json(&a.blast_radius)?)
        .bind(json(&a.dry_run_checks)?)
        .bind(a.requested_by.as_str().to_owned())
        .bind(a.rejection_reason.clone())
        .bind(a.rejected_by.as_ref().map(|r| r.as_str().to_owned()))
        .bind(json(&a.metadata)?)
        .bind(a.fingerprint.as_ref().map(|f| f.as_str().to_owned()))
        .bind(int("hit_count", a.hit_count)?)
        .bind(ts(a.last_seen_at)?)
        .bind(a.incident_id.as_ref().map(|i| i.as_str().to_owned()))
        .bind(revision)
        .bind(ts(a.created_at)?)
        .bind(ts(a.updated_at)?)
        .bind(ts(a.expires_at)?)
        .bind(ts_opt(a.resolved_at)?))
}

fn check_event(a: &ApprovalRequest, event: &TimelineEvent) -> Result<(), StoreError> {
    same_tenant(&a.tenant, &event.tenant, "the timeline event")
}

#[async_trait]
impl ApprovalStore for PgStore {
    async fn create_approval(
        &self,
        approval: &ApprovalRequest,
        event: &TimelineEvent,
    ) -> Result<(), StoreError> {
        check_event(approval, event)?;
        let insert = bind(
            sqlx::query(INSERT),
            approval,
            int("revision", approval.revision)?,
        )?;
        self.timed(async {
            let mut tx = self.begin(&approval.tenant).await?;
            insert.execute(&mut *tx).await.map_err(error::db)?;
            insert_timeline(&mut tx, event).await?;
            carry(&mut tx, Notice::for_approval(approval, true)).await?;
            commit(tx).await
        })
        .await
    }

    async fn get_approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        let query = sqlx::query(SELECT_ONE)
            .bind(tenant.as_str())
            .bind(id.as_str());
        self.fetch_optional(tenant, query, from_row).await
    }

    async fn list_approvals(
        &self,
        tenant: &TenantId,
        filter: &ApprovalFilter,
    ) -> Result<Page<ApprovalRequest>, StoreError> {
        let mut qb = list_query(concat!("SELECT ", columns!(), " FROM approvals"), tenant);
        if let Some(status) = filter.status {
            qb.push(" AND status = ").push_bind(wire(&status)?);
        }
        if let Some(resource) = &filter.resource {
            qb.push(" AND resource = ").push_bind(resource.key());
        }
        self.fetch_page(
            tenant,
            qb,
            "created_at DESC, id DESC",
            filter.page,
            from_row,
        )
        .await
    }

    async fn pending_approval_for(
        &self,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        let query = sqlx::query(SELECT_PENDING_FOR)
            .bind(tenant.as_str())
            .bind(resource.key());
        self.fetch_optional(tenant, query, from_row).await
    }

    async fn update_approval(
        &self,
        approval: &ApprovalRequest,
        event: Option<&TimelineEvent>,
    ) -> Result<u64, StoreError> {
        if let Some(event) = event {
            check_event(approval, event)?;
        }
        let next = int("revision", approval.revision.saturating_add(1))?;
        let update =
            bind(sqlx::query(UPDATE), approval, next)?.bind(int("revision", approval.revision)?);
        let (tenant, id) = (&approval.tenant, approval.id.as_str());
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            cas_update(&mut tx, update, "approvals", tenant, id).await?;
            if let Some(event) = event {
                insert_timeline(&mut tx, event).await?;
            }
            carry(&mut tx, Notice::for_approval(approval, false)).await?;
            commit(tx).await?;
            Ok(approval.revision + 1)
        })
        .await
    }

    async fn approvals_due_for_expiry(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>, StoreError> {
        let query = sqlx::query(SELECT_DUE)
            .bind(tenant.as_str())
            .bind(ts(now)?)
            .bind(i64::from(limit));
        self.fetch_all(tenant, query, from_row).await
    }
}
