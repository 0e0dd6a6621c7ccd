//! `FingerprintStore` on `alert_fingerprints`: storm convergence as one
//! atomic upsert.
//!
//! [`UPSERT`] is [`hale_domain::convergence::converge`] written in SQL. It
//! runs as a single `INSERT ... ON CONFLICT DO UPDATE` statement, so
//! concurrent deliveries of one fingerprint serialize on the row lock and
//! none is lost: N deliveries leave `hit_count` N. The conformance suite
//! checks the statement against the pure function delivery by delivery.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::{
    ClaimKind, Delivery, EpisodeClaim, Fingerprint, FingerprintRecord, RECENT_FIRINGS_KEPT,
};
use hale_engine::ports::{FingerprintStore, Page, PageRequest, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Transaction};

use crate::codec::{Cols, int, json, ts, wire};
use crate::error;
use crate::store::{PgStore, commit, list_query};

macro_rules! columns {
    () => {
        "tenant, fingerprint, alertname, identity, status, hit_count, status_hits, episode, \
         episode_started_at, recent_firings, claim_kind, claim_id, claim_at, first_seen_at, \
         last_seen_at"
    };
}

/// The rule for a fingerprint row that exists (`f.*` is the row before the
/// delivery, `EXCLUDED.*` the row a first delivery would insert; `$7` is
/// how many recent firings to keep). A new episode starts when the status
/// changes to firing. Counters saturate at `i64::MAX` like the domain's
/// saturating adds (at `u64::MAX`) instead of failing.
macro_rules! on_conflict {
    () => {
        " ON CONFLICT (tenant, fingerprint) DO UPDATE SET \
         hit_count = LEAST(f.hit_count, 9223372036854775806) + 1, \
         last_seen_at = GREATEST(f.last_seen_at, EXCLUDED.last_seen_at), \
         alertname = EXCLUDED.alertname, \
         identity = EXCLUDED.identity, \
         status = EXCLUDED.status, \
         status_hits = CASE WHEN f.status = EXCLUDED.status \
             THEN LEAST(f.status_hits, 9223372036854775806) + 1 ELSE 1 END, \
         episode = CASE WHEN f.status <> EXCLUDED.status AND EXCLUDED.status = 'firing' \
             THEN LEAST(f.episode, 9223372036854775806) + 1 ELSE f.episode END, \
         episode_started_at = CASE WHEN f.status <> EXCLUDED.status \
             AND EXCLUDED.status = 'firing' \
             THEN EXCLUDED.episode_started_at ELSE f.episode_started_at END, \
         recent_firings = CASE WHEN f.status <> EXCLUDED.status AND EXCLUDED.status = 'firing' \
             THEN (f.recent_firings || EXCLUDED.episode_started_at)\
                 [greatest(1, cardinality(f.recent_firings) + 2 - $7):] \
             ELSE f.recent_firings END, \
         claim_kind = CASE WHEN f.status <> EXCLUDED.status AND EXCLUDED.status = 'firing' \
             THEN NULL ELSE f.claim_kind END, \
         claim_id = CASE WHEN f.status <> EXCLUDED.status AND EXCLUDED.status = 'firing' \
             THEN NULL ELSE f.claim_id END, \
         claim_at = CASE WHEN f.status <> EXCLUDED.status AND EXCLUDED.status = 'firing' \
             THEN NULL ELSE f.claim_at END \
         RETURNING "
    };
}

macro_rules! insert_into {
    () => {
        "INSERT INTO alert_fingerprints AS f (tenant, fingerprint, alertname, identity, status, \
         hit_count, status_hits, episode, episode_started_at, recent_firings, first_seen_at, \
         last_seen_at) "
    };
}

/// [`hale_domain::convergence::converge`] in SQL for one delivery: $1
/// tenant, $2 fingerprint, $3 alertname, $4 identity, $5 status, $6
/// received_at, $7 how many recent firings to keep.
const UPSERT: &str = concat!(
    insert_into!(),
    "VALUES ($1, $2, $3, $4, $5, 1, 1, CASE WHEN $5 = 'firing' THEN 1 ELSE 0 END, $6, \
         CASE WHEN $5 = 'firing' THEN ARRAY[$6::timestamptz] ELSE ARRAY[]::timestamptz[] END, \
         $6, $6)",
    on_conflict!(),
    columns!()
);

/// The same for several deliveries of distinct fingerprints in one
/// statement: $2..$6 are arrays, one element per delivery. (Two rows of one
/// fingerprint in one `INSERT ... ON CONFLICT` are an error in Postgres, so
/// a delivery that repeats a fingerprint takes [`UPSERT`] per alert.)
const UPSERT_MANY: &str = concat!(
    insert_into!(),
    "SELECT $1, d.fingerprint, d.alertname, d.identity, d.status, 1, 1, \
         CASE WHEN d.status = 'firing' THEN 1 ELSE 0 END, d.received_at, \
         CASE WHEN d.status = 'firing' THEN ARRAY[d.received_at] \
             ELSE ARRAY[]::timestamptz[] END, \
         d.received_at, d.received_at \
     FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::text[], $6::timestamptz[]) \
         AS d(fingerprint, alertname, identity, status, received_at)",
    on_conflict!(),
    columns!()
);

const CLAIM: &str = "UPDATE alert_fingerprints SET claim_kind = $4, claim_id = $5, claim_at = $6 \
    WHERE tenant = $1 AND fingerprint = $2 AND episode = $3 AND status = 'firing' \
    AND claim_id IS NULL";

const RELEASE: &str = "UPDATE alert_fingerprints \
    SET claim_kind = NULL, claim_id = NULL, claim_at = NULL \
    WHERE tenant = $1 AND fingerprint = $2 AND episode = $3 AND claim_id = $4";

const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM alert_fingerprints WHERE tenant = $1 AND fingerprint = $2"
);

fn from_row(row: &PgRow) -> Result<FingerprintRecord, StoreError> {
    let c = Cols::new(row, "alert_fingerprints");
    let claim = match c.parse_opt::<ClaimKind>("claim_kind")? {
        Some(kind) => Some(EpisodeClaim {
            kind,
            id: c.text("claim_id")?,
            at: c.ts("claim_at")?,
        }),
        None => None,
    };
    Ok(FingerprintRecord {
        fingerprint: Fingerprint::from_hex(c.text("fingerprint")?),
        alertname: c.text("alertname")?,
        identity: c.json("identity")?,
        status: c.parse("status")?,
        hit_count: c.u64("hit_count")?,
        status_hits: c.u64("status_hits")?,
        episode: c.u64("episode")?,
        episode_started_at: c.ts("episode_started_at")?,
        recent_firings: c.ts_vec("recent_firings")?,
        claim,
        first_seen_at: c.ts("first_seen_at")?,
        last_seen_at: c.ts("last_seen_at")?,
    })
}

/// Converges one delivery in `tx` ([`UPSERT`]) and returns the record.
pub(crate) async fn converge_in(
    tx: &mut Transaction<'static, Postgres>,
    tenant: &TenantId,
    delivery: &Delivery,
) -> Result<FingerprintRecord, StoreError> {
    let row = sqlx::query(UPSERT)
        .bind(tenant.as_str())
        .bind(delivery.fingerprint.as_str())
        .bind(delivery.alertname.as_str())
        .bind(json(&delivery.identity)?)
        .bind(wire(&delivery.status)?)
        .bind(ts(delivery.received_at)?)
        .bind(recent_firings_kept())
        .fetch_optional(&mut **tx)
        .await
        .map_err(error::db)?;
    match row {
        Some(row) => from_row(&row),
        // RETURNING always yields the row; only a broken server would not.
        None => Err(StoreError::Unavailable("the upsert returned no row".into())),
    }
}

/// Converges deliveries of distinct fingerprints in `tx` with one statement
/// ([`UPSERT_MANY`]); returns the records in the deliveries' order.
pub(crate) async fn converge_distinct_in(
    tx: &mut Transaction<'static, Postgres>,
    tenant: &TenantId,
    deliveries: &[Delivery],
) -> Result<Vec<FingerprintRecord>, StoreError> {
    // Rows are locked in fingerprint order, whatever the delivery's order,
    // so two deliveries of overlapping alerts cannot deadlock.
    let mut sorted: Vec<&Delivery> = deliveries.iter().collect();
    sorted.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    let mut cols = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for d in sorted {
        cols.0.push(d.fingerprint.as_str().to_owned());
        cols.1.push(d.alertname.clone());
        cols.2.push(json(&d.identity)?);
        cols.3.push(wire(&d.status)?);
        cols.4.push(ts(d.received_at)?);
    }
    let rows = sqlx::query(UPSERT_MANY)
        .bind(tenant.as_str())
        .bind(cols.0)
        .bind(cols.1)
        .bind(cols.2)
        .bind(cols.3)
        .bind(cols.4)
        .bind(recent_firings_kept())
        .fetch_all(&mut **tx)
        .await
        .map_err(error::db)?;
    // RETURNING does not promise the input order: match by fingerprint.
    let mut by_fp: std::collections::HashMap<Fingerprint, FingerprintRecord> = rows
        .iter()
        .map(|r| from_row(r).map(|rec| (rec.fingerprint.clone(), rec)))
        .collect::<Result<_, _>>()?;
    deliveries
        .iter()
        .map(|d| {
            by_fp.remove(&d.fingerprint).ok_or_else(|| {
                StoreError::Unavailable("the upsert returned fewer rows than it took".into())
            })
        })
        .collect()
}

fn recent_firings_kept() -> i32 {
    i32::try_from(RECENT_FIRINGS_KEPT).unwrap_or(i32::MAX)
}

#[async_trait]
impl FingerprintStore for PgStore {
    async fn converge(
        &self,
        tenant: &TenantId,
        delivery: &Delivery,
    ) -> Result<FingerprintRecord, StoreError> {
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            let record = converge_in(&mut tx, tenant, delivery).await?;
            commit(tx).await?;
            Ok(record)
        })
        .await
    }

    async fn claim_episode(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        episode: u64,
        claim: &EpisodeClaim,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(CLAIM)
            .bind(tenant.as_str())
            .bind(fingerprint.as_str())
            .bind(int("episode", episode)?)
            .bind(wire(&claim.kind)?)
            .bind(claim.id.as_str())
            .bind(ts(claim.at)?);
        Ok(self.execute(tenant, query).await? == 1)
    }

    async fn release_episode_claim(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        episode: u64,
        claim_id: &str,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(RELEASE)
            .bind(tenant.as_str())
            .bind(fingerprint.as_str())
            .bind(int("episode", episode)?)
            .bind(claim_id);
        Ok(self.execute(tenant, query).await? == 1)
    }

    async fn get_fingerprint(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<FingerprintRecord>, StoreError> {
        let query = sqlx::query(SELECT_ONE)
            .bind(tenant.as_str())
            .bind(fingerprint.as_str());
        self.fetch_optional(tenant, query, from_row).await
    }

    async fn list_fingerprints(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<FingerprintRecord>, StoreError> {
        let qb = list_query(
            concat!("SELECT ", columns!(), " FROM alert_fingerprints"),
            tenant,
        );
        self.fetch_page(
            tenant,
            qb,
            "last_seen_at DESC, fingerprint DESC",
            page,
            from_row,
        )
        .await
    }
}
