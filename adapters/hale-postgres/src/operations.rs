//! `OperationStore` on `healing_operations`; every write commits together
//! with its audit entry. The action log is the `actions_run` jsonb column
//! (see migration 0001 for why it is not a child table).

use async_trait::async_trait;
use hale_domain::convergence::Fingerprint;
use hale_domain::effectiveness::{Effectiveness, EffectivenessTally};
use hale_domain::healing::HealingOperation;
use hale_domain::record::audit::AuditEntry;
use hale_domain::{OperationId, StrategyId, TenantId};
use hale_engine::ports::{
    HealingCounters, OperationFilter, OperationStore, Page, StoreError, caused_by,
};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Transaction};

use crate::audit::insert_audit;
use crate::codec::{Cols, int, int_opt, json, json_opt, ts, ts_opt, wire, wire_opt};
use crate::error;
use crate::store::{
    PgStore, cas_update, commit, fetch_for_fingerprints, list_query, push_time_range, same_tenant,
};

macro_rules! columns {
    () => {
        "tenant, id, strategy_id, resource, fingerprint, incident_id, approval_id, \
         source_system, authorization_channel, risk, state, diagnosis, actions_run, result, \
         error, failure_class, attempt_number, fencing_token, escalated, dry_run, revision, \
         started_at, updated_at, completed_at, effectiveness, alert_resolved_at, \
         effectiveness_settled_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO healing_operations (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)"
);

/// Replaces every column but the key, if the row is still at revision $28.
const UPDATE: &str = "UPDATE healing_operations SET (strategy_id, resource, fingerprint, \
    incident_id, approval_id, source_system, authorization_channel, risk, state, diagnosis, \
    actions_run, result, error, failure_class, attempt_number, fencing_token, escalated, \
    dry_run, revision, started_at, updated_at, completed_at, effectiveness, alert_resolved_at, \
    effectiveness_settled_at) = ($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
    $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27) \
    WHERE tenant = $1 AND id = $2 AND revision = $28";

const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM healing_operations WHERE tenant = $1 AND id = $2"
);

const SELECT_UNFINISHED: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM healing_operations WHERE tenant = $1 \
     AND state NOT IN ('COMPLETED', 'FAILED', 'INTERRUPTED') \
     ORDER BY started_at ASC, id ASC"
);

const SELECT_PENDING_EFFECTIVENESS: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM healing_operations WHERE tenant = $1 AND effectiveness = 'pending' \
     ORDER BY completed_at ASC, id ASC"
);

/// The same for one alert's fingerprint.
const SELECT_PENDING_EFFECTIVENESS_FOR: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM healing_operations WHERE tenant = $1 AND effectiveness = 'pending' \
     AND fingerprint = $2 ORDER BY completed_at ASC, id ASC"
);

/// The same for several alerts' fingerprints.
const SELECT_PENDING_EFFECTIVENESS_FOR_MANY: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM healing_operations WHERE tenant = $1 AND effectiveness = 'pending' \
     AND fingerprint = ANY($2) ORDER BY completed_at ASC, id ASC"
);

/// The operations of these fingerprints waiting for an effectiveness
/// verdict, oldest completion first, read in `tx`.
pub(crate) async fn pending_effectiveness_in(
    tx: &mut Transaction<'static, Postgres>,
    tenant: &TenantId,
    fingerprints: &[&Fingerprint],
) -> Result<Vec<HealingOperation>, StoreError> {
    let sql = SELECT_PENDING_EFFECTIVENESS_FOR_MANY;
    fetch_for_fingerprints(tx, sql, tenant, fingerprints, from_row).await
}

fn from_row(row: &PgRow) -> Result<HealingOperation, StoreError> {
    let c = Cols::new(row, "healing_operations");
    Ok(HealingOperation {
        id: c.parse("id")?,
        tenant: c.parse("tenant")?,
        strategy_id: c.parse("strategy_id")?,
        resource: c.resource("resource")?,
        fingerprint: c.text_opt("fingerprint")?.map(Fingerprint::from_hex),
        incident_id: c.parse_opt("incident_id")?,
        approval_id: c.parse_opt("approval_id")?,
        source_system: c.parse("source_system")?,
        authorization_channel: c.parse("authorization_channel")?,
        risk: c.parse("risk")?,
        state: c.parse("state")?,
        diagnosis: c.json_opt("diagnosis")?,
        actions_run: c.json("actions_run")?,
        result: c.parse_opt("result")?,
        error: c.text_opt("error")?,
        failure_class: c.parse_opt("failure_class")?,
        attempt_number: c.u32("attempt_number")?,
        fencing_token: c.u64_opt("fencing_token")?,
        escalated: c.bool("escalated")?,
        dry_run: c.bool("dry_run")?,
        revision: c.u64("revision")?,
        started_at: c.ts("started_at")?,
        updated_at: c.ts("updated_at")?,
        completed_at: c.ts_opt("completed_at")?,
        effectiveness: c.parse_opt("effectiveness")?,
        alert_resolved_at: c.ts_opt("alert_resolved_at")?,
        effectiveness_settled_at: c.ts_opt("effectiveness_settled_at")?,
    })
}

fn bind<'q>(
    q: Query<'q, Postgres, PgArguments>,
    o: &HealingOperation,
    revision: i64,
) -> Result<Query<'q, Postgres, PgArguments>, StoreError> {
    Ok(q.bind(o.tenant.as_str().to_owned())
        .bind(o.id.as_str().to_owned())
        .bind(o.strategy_id.as_str().to_owned())
        .bind(o.resource.key())
        .bind(o.fingerprint.as_ref().map(|f| f.as_str().to_owned()))
        .bind(o.incident_id.as_ref().map(|i| i.as_str().to_owned()))
        .bind(o.approval_id.as_ref().map(|a| a.as_str().to_owned()))
        .bind(wire(&o.source_system)?)
        .bind(wire(&o.authorization_channel)?)
        .bind(wire(&o.risk)?)
        .bind(wire(&o.state)?)
        .bind(json_opt(o.diagnosis.as_ref())?)
        .bind(json(&o.actions_run)?)
        .bind(wire_opt(o.result.as_ref())?)
        .bind(o.error.clone())
        .bind(wire_opt(o.failure_class.as_ref())?)
        .bind(i64::from(o.attempt_number))
        .bind(int_opt("fencing_token", o.fencing_token)?)
        .bind(o.escalated)
        .bind(o.dry_run)
        .bind(revision)
        .bind(ts(o.started_at)?)
        .bind(ts(o.updated_at)?)
        .bind(ts_opt(o.completed_at)?)
        .bind(wire_opt(o.effectiveness.as_ref())?)
        .bind(ts_opt(o.alert_resolved_at)?)
        .bind(ts_opt(o.effectiveness_settled_at)?))
}

#[async_trait]
impl OperationStore for PgStore {
    async fn create_operation(
        &self,
        op: &HealingOperation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        same_tenant(&op.tenant, &audit.tenant, "the audit entry")?;
        let insert = bind(sqlx::query(INSERT), op, int("revision", op.revision)?)?;
        self.timed(async {
            let mut tx = self.begin(&op.tenant).await?;
            insert.execute(&mut *tx).await.map_err(error::db)?;
            insert_audit(&mut tx, audit).await?;
            commit(tx).await
        })
        .await
    }

    async fn get_operation(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Option<HealingOperation>, StoreError> {
        let query = sqlx::query(SELECT_ONE)
            .bind(tenant.as_str())
            .bind(id.as_str());
        self.fetch_optional(tenant, query, from_row).await
    }

    async fn list_operations(
        &self,
        tenant: &TenantId,
        filter: &OperationFilter,
    ) -> Result<Page<HealingOperation>, StoreError> {
        let mut qb = list_query(
            concat!("SELECT ", columns!(), " FROM healing_operations"),
            tenant,
        );
        if let Some(state) = filter.state {
            qb.push(" AND state = ").push_bind(wire(&state)?);
        }
        if let Some(s) = &filter.strategy_id {
            qb.push(" AND strategy_id = ")
                .push_bind(s.as_str().to_owned());
        }
        if let Some(r) = &filter.resource {
            qb.push(" AND resource = ").push_bind(r.key());
        }
        push_time_range(&mut qb, "started_at", filter.since, filter.until)?;
        self.fetch_page(
            tenant,
            qb,
            "started_at DESC, id DESC",
            filter.page,
            from_row,
        )
        .await
    }

    async fn update_operation(
        &self,
        op: &HealingOperation,
        audit: &[AuditEntry],
    ) -> Result<u64, StoreError> {
        caused_by(&op.tenant, audit)?;
        let next = int("revision", op.revision.saturating_add(1))?;
        let update = bind(sqlx::query(UPDATE), op, next)?.bind(int("revision", op.revision)?);
        let (tenant, id) = (&op.tenant, op.id.as_str());
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            cas_update(&mut tx, update, "healing_operations", tenant, id).await?;
            for audit in audit {
                insert_audit(&mut tx, audit).await?;
            }
            commit(tx).await?;
            Ok(op.revision + 1)
        })
        .await
    }

    async fn operation_counts(&self, tenant: &TenantId) -> Result<HealingCounters, StoreError> {
        let query = sqlx::query(
            "SELECT state, count(*) AS n FROM healing_operations WHERE tenant = $1 GROUP BY state",
        )
        .bind(tenant.as_str());
        let rows = self
            .fetch_all(tenant, query, |row| {
                let c = Cols::new(row, "healing_operations");
                Ok((c.text("state")?, c.u64("n")?))
            })
            .await?;
        let mut counters = HealingCounters::default();
        for (state, n) in rows {
            counters.total_attempts += n;
            match state.as_str() {
                "COMPLETED" => counters.successful_healings += n,
                "FAILED" => counters.failed_healings += n,
                _ => {}
            }
        }
        Ok(counters)
    }

    async fn effectiveness_tally(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(StrategyId, EffectivenessTally)>, StoreError> {
        let query = sqlx::query(
            "SELECT strategy_id, effectiveness, count(*) AS n FROM healing_operations \
             WHERE tenant = $1 AND effectiveness IS NOT NULL GROUP BY strategy_id, effectiveness",
        )
        .bind(tenant.as_str());
        let rows = self
            .fetch_all(tenant, query, |row| {
                let c = Cols::new(row, "healing_operations");
                let verdict: Effectiveness = c.parse("effectiveness")?;
                Ok((
                    StrategyId::new(c.text("strategy_id")?),
                    verdict,
                    c.u64("n")?,
                ))
            })
            .await?;
        Ok(EffectivenessTally::by_key(rows))
    }

    async fn unfinished_operations(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<HealingOperation>, StoreError> {
        let query = sqlx::query(SELECT_UNFINISHED).bind(tenant.as_str());
        self.fetch_all(tenant, query, from_row).await
    }

    async fn pending_effectiveness(
        &self,
        tenant: &TenantId,
        fingerprint: Option<&Fingerprint>,
    ) -> Result<Vec<HealingOperation>, StoreError> {
        let query = match fingerprint {
            None => sqlx::query(SELECT_PENDING_EFFECTIVENESS).bind(tenant.as_str()),
            Some(f) => sqlx::query(SELECT_PENDING_EFFECTIVENESS_FOR)
                .bind(tenant.as_str())
                .bind(f.as_str().to_owned()),
        };
        self.fetch_all(tenant, query, from_row).await
    }
}
