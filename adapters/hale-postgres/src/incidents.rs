//! `IncidentStore` on the `incidents` table (durable from the first alert).

use async_trait::async_trait;
use hale_domain::convergence::Fingerprint;
use hale_domain::notification::Notice;
use hale_domain::record::incident::Incident;
use hale_domain::{IncidentId, TenantId};
use hale_engine::ports::{IncidentFilter, IncidentStore, Page, StoreError};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Transaction};

use crate::codec::{Cols, int, json, json_opt, ts, ts_opt, wire};
use crate::error;
use crate::outbox::carry;
use crate::store::{
    PgStore, cas_update, commit, fetch_for_fingerprints, list_query, push_time_range,
};

macro_rules! columns {
    () => {
        "tenant, id, status, severity, title, fingerprint, signals, affected_services, \
         decision_chain, proposal_ids, operation_ids, outcome, ttl_days, revision, created_at, \
         updated_at, resolved_at, closed_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO incidents (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
);

/// Replaces every column but the key, if the row is still at revision $19.
const UPDATE: &str = "UPDATE incidents SET (status, severity, title, fingerprint, signals, \
    affected_services, decision_chain, proposal_ids, operation_ids, outcome, ttl_days, \
    revision, created_at, updated_at, resolved_at, closed_at) = ($3, $4, $5, $6, $7, $8, $9, \
    $10, $11, $12, $13, $14, $15, $16, $17, $18) \
    WHERE tenant = $1 AND id = $2 AND revision = $19";

const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM incidents WHERE tenant = $1 AND id = $2"
);

const SELECT_OPEN_FOR: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM incidents WHERE tenant = $1 AND fingerprint = $2 \
     AND status IN ('investigating', 'mitigating', 'escalated') \
     ORDER BY created_at DESC, id DESC LIMIT 1"
);

/// The newest open incident of each of several fingerprints: per
/// fingerprint, the same read as [`SELECT_OPEN_FOR`] (newest first, stop at
/// the first), on the open incidents' partial index (migration 0011).
const SELECT_OPEN_FOR_MANY: &str = concat!(
    "SELECT i.* FROM unnest($2::text[]) AS w(fingerprint) CROSS JOIN LATERAL (SELECT ",
    columns!(),
    " FROM incidents WHERE tenant = $1 AND fingerprint = w.fingerprint \
     AND status IN ('investigating', 'mitigating', 'escalated') \
     ORDER BY created_at DESC, id DESC LIMIT 1) AS i"
);

fn from_row(row: &PgRow) -> Result<Incident, StoreError> {
    let c = Cols::new(row, "incidents");
    Ok(Incident {
        id: c.parse("id")?,
        tenant: c.parse("tenant")?,
        status: c.parse("status")?,
        severity: c.parse("severity")?,
        title: c.text("title")?,
        fingerprint: Fingerprint::from_hex(c.text("fingerprint")?),
        signals: c.json("signals")?,
        affected_services: c.json("affected_services")?,
        decision_chain: c.json("decision_chain")?,
        proposal_ids: c.json("proposal_ids")?,
        operation_ids: c.json("operation_ids")?,
        outcome: c.json_opt("outcome")?,
        ttl_days: c.u32("ttl_days")?,
        revision: c.u64("revision")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
        resolved_at: c.ts_opt("resolved_at")?,
        closed_at: c.ts_opt("closed_at")?,
    })
}

/// Binds every column in `columns!()` order, with `revision` as given.
fn bind<'q>(
    q: Query<'q, Postgres, PgArguments>,
    i: &Incident,
    revision: i64,
) -> Result<Query<'q, Postgres, PgArguments>, StoreError> {
    Ok(q.bind(i.tenant.as_str().to_owned())
        .bind(i.id.as_str().to_owned())
        .bind(wire(&i.status)?)
        .bind(wire(&i.severity)?)
        .bind(i.title.clone())
        .bind(i.fingerprint.as_str().to_owned())
        .bind(json(&i.signals)?)
        .bind(json(&i.affected_services)?)
        .bind(json(&i.decision_chain)?)
        .bind(json(&i.proposal_ids)?)
        .bind(json(&i.operation_ids)?)
        .bind(json_opt(i.outcome.as_ref())?)
        .bind(i64::from(i.ttl_days))
        .bind(revision)
        .bind(ts(i.created_at)?)
        .bind(ts(i.updated_at)?)
        .bind(ts_opt(i.resolved_at)?)
        .bind(ts_opt(i.closed_at)?))
}

/// Inserts an incident and the notice it carries, in `tx`. `Conflict` if
/// the id exists.
pub(crate) async fn insert_incident(
    tx: &mut Transaction<'static, Postgres>,
    incident: &Incident,
) -> Result<(), StoreError> {
    let insert = bind(
        sqlx::query(INSERT),
        incident,
        int("revision", incident.revision)?,
    )?;
    insert.execute(&mut **tx).await.map_err(error::db)?;
    carry(tx, Notice::for_incident(incident)).await?;
    Ok(())
}

/// Replaces an incident if it is still at `incident.revision`, with the
/// notice it carries, in `tx`; returns the new revision.
pub(crate) async fn replace_incident(
    tx: &mut Transaction<'static, Postgres>,
    incident: &Incident,
) -> Result<u64, StoreError> {
    let next = int("revision", incident.revision.saturating_add(1))?;
    let update =
        bind(sqlx::query(UPDATE), incident, next)?.bind(int("revision", incident.revision)?);
    let (tenant, id) = (&incident.tenant, incident.id.as_str());
    cas_update(tx, update, "incidents", tenant, id).await?;
    carry(tx, Notice::for_incident(incident)).await?;
    Ok(incident.revision + 1)
}

/// The newest open incident for a fingerprint, read in `tx`.
pub(crate) async fn open_incident_in(
    tx: &mut Transaction<'static, Postgres>,
    tenant: &TenantId,
    fingerprint: &Fingerprint,
) -> Result<Option<Incident>, StoreError> {
    let row = sqlx::query(SELECT_OPEN_FOR)
        .bind(tenant.as_str())
        .bind(fingerprint.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(error::db)?;
    row.as_ref().map(from_row).transpose()
}

/// The newest open incident of each fingerprint that has one, read in `tx`.
pub(crate) async fn open_incidents_in(
    tx: &mut Transaction<'static, Postgres>,
    tenant: &TenantId,
    fingerprints: &[&Fingerprint],
) -> Result<Vec<Incident>, StoreError> {
    fetch_for_fingerprints(tx, SELECT_OPEN_FOR_MANY, tenant, fingerprints, from_row).await
}

#[async_trait]
impl IncidentStore for PgStore {
    async fn create_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        self.timed(async {
            let mut tx = self.begin(&incident.tenant).await?;
            insert_incident(&mut tx, incident).await?;
            commit(tx).await
        })
        .await
    }

    async fn get_incident(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
    ) -> Result<Option<Incident>, StoreError> {
        let query = sqlx::query(SELECT_ONE)
            .bind(tenant.as_str())
            .bind(id.as_str());
        self.fetch_optional(tenant, query, from_row).await
    }

    async fn open_incident_for(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Incident>, StoreError> {
        let query = sqlx::query(SELECT_OPEN_FOR)
            .bind(tenant.as_str())
            .bind(fingerprint.as_str());
        self.fetch_optional(tenant, query, from_row).await
    }

    async fn list_incidents(
        &self,
        tenant: &TenantId,
        filter: &IncidentFilter,
    ) -> Result<Page<Incident>, StoreError> {
        let mut qb = list_query(concat!("SELECT ", columns!(), " FROM incidents"), tenant);
        if let Some(status) = filter.status {
            qb.push(" AND status = ").push_bind(wire(&status)?);
        }
        if let Some(severity) = filter.severity {
            qb.push(" AND severity = ").push_bind(wire(&severity)?);
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

    async fn update_incident(&self, incident: &Incident) -> Result<u64, StoreError> {
        self.timed(async {
            let mut tx = self.begin(&incident.tenant).await?;
            let revision = replace_incident(&mut tx, incident).await?;
            commit(tx).await?;
            Ok(revision)
        })
        .await
    }
}
