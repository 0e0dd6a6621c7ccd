//! Load test of the Postgres store: fingerprint upserts and audit inserts
//! per second, one caller at a time and with concurrent callers.
//!
//! ```text
//! source /tmp/hale-services/env     # or any superuser URL in HALE_TEST_DATABASE_URL
//! cargo bench -p hale-postgres --bench store_load
//! HALE_BENCH_SECS=10 HALE_BENCH_TASKS=32 cargo bench -p hale-postgres --bench store_load
//! ```
//!
//! Each scenario runs for `HALE_BENCH_SECS` (default 5) seconds against a
//! fresh schema, through the production path: the application role, row
//! level security, one transaction per call. Under `cargo test` (no
//! `--bench` argument) it runs a few operations only, as a smoke test.

use std::sync::Arc;
use std::time::Duration;

use hale_domain::Timestamp;
use hale_domain::alert::AlertStatus;
use hale_engine::ports::{AuditLog, FingerprintStore};
use hale_postgres::{PgStore, PgStoreConfig, RoleSetup};
use hale_testkit::fixtures;
use tokio::time::Instant;

const T0: Timestamp = Timestamp::from_unix_micros(1_800_000_000_123_456);

/// What one scenario measured.
struct Outcome {
    name: String,
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Outcome {
    fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        let i = ((l.len() as f64 - 1.0) * p).round() as usize;
        l.get(i).copied().unwrap_or_default()
    }
}

#[derive(Clone, Copy)]
enum Op {
    /// Every call converges the same fingerprint (a storm: one hot row).
    ConvergeHot,
    /// Every call converges a fingerprint of its own.
    ConvergeSpread,
    /// Every call appends an audit entry.
    Audit,
}

async fn one(store: &PgStore, op: Op, key: &str, i: usize) {
    let tenant = fixtures::tenant("bench");
    let at = Timestamp::from_unix_micros(T0.unix_micros() + i as i64);
    let res = match op {
        Op::ConvergeHot => {
            let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, at);
            store.converge(&tenant, &d).await.map(|_| ())
        }
        Op::ConvergeSpread => {
            let service = format!("svc-{key}-{i}");
            let d = fixtures::delivery("HighErrorRate", &service, AlertStatus::Firing, at);
            store.converge(&tenant, &d).await.map(|_| ())
        }
        Op::Audit => {
            let e = fixtures::audit_entry(&tenant, &format!("au-{key}-{i}"), at);
            store.append_audit(&e).await
        }
    };
    if let Err(e) = res {
        panic!("store call failed during the bench: {e}");
    }
}

async fn scenario(store: &Arc<PgStore>, name: &str, op: Op, tasks: usize, run: RunFor) -> Outcome {
    let start = Instant::now();
    let name = name.to_owned();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let store = Arc::clone(store);
            // Ids must not repeat across scenarios and tasks.
            let key = format!("{name}-{tasks}-{task}");
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while run.more(start, i) {
                    let t = Instant::now();
                    one(&store, op, &key, i).await;
                    latencies.push(t.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.expect("bench task"));
    }
    Outcome {
        name: format!(
            "{}, {tasks} caller{}",
            name,
            if tasks == 1 { "" } else { "s" }
        ),
        ops: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    }
}

#[derive(Clone, Copy)]
enum RunFor {
    Time(Duration),
    Ops(usize),
}

impl RunFor {
    fn more(self, start: Instant, done: usize) -> bool {
        match self {
            RunFor::Time(d) => start.elapsed() < d,
            RunFor::Ops(n) => done < n,
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `url` with its user and password replaced.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

#[allow(clippy::print_stdout)] // the report is this binary's output
#[tokio::main]
async fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let Some(admin) = hale_testkit::services::database_url("hale-postgres store_load") else {
        return;
    };
    let secs = env_usize("HALE_BENCH_SECS", 5) as u64;
    let tasks = env_usize("HALE_BENCH_TASKS", 16);
    let run = if benching {
        RunFor::Time(Duration::from_secs(secs))
    } else {
        RunFor::Ops(5)
    };

    let schema = format!("hale_bench_{}", uuid::Uuid::new_v4().simple());
    hale_postgres::setup_roles(
        &admin,
        &RoleSetup {
            schema: Some(schema.clone()),
            migrator_password: Some("hale_migrator".into()),
            app_password: Some("hale_app".into()),
        },
    )
    .await
    .expect("role setup");
    hale_postgres::migrate(
        &with_user(&admin, "hale_migrator", "hale_migrator"),
        Some(&schema),
    )
    .await
    .expect("migrate");
    let mut config =
        PgStoreConfig::new(with_user(&admin, "hale_app", "hale_app")).with_schema(schema.clone());
    config.max_connections = u32::try_from(tasks.max(1)).unwrap_or(u32::MAX);
    let store = Arc::new(PgStore::connect(&config).await.expect("connect"));

    let mut outcomes = Vec::new();
    for (name, op) in [
        ("converge, one hot fingerprint", Op::ConvergeHot),
        ("converge, distinct fingerprints", Op::ConvergeSpread),
        ("audit insert", Op::Audit),
    ] {
        outcomes.push(scenario(&store, name, op, 1, run).await);
        outcomes.push(scenario(&store, name, op, tasks, run).await);
    }

    println!("| scenario | ops | ops/s | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for o in &outcomes {
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms |",
            o.name,
            o.ops,
            o.per_sec(),
            o.percentile(0.50).as_secs_f64() * 1e3,
            o.percentile(0.99).as_secs_f64() * 1e3,
        );
    }
    println!(
        "(pool {} connections, {} s per scenario, schema {schema})",
        config.max_connections, secs
    );
}
