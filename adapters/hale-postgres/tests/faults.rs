//! Bad input and faults: typed errors, bounded waits, and nothing
//! acknowledged lost when the connection goes away.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hale_domain::OperationId;
use hale_domain::Timestamp;
use hale_domain::alert::AlertStatus;
use hale_domain::record::audit::AuditEntry;
use hale_engine::ports::{
    ApprovalFilter, ApprovalStore, AuditFilter, AuditLog, FingerprintStore, KnowledgeStore,
    OperationStore, StoreError, StoreHealth,
};
use hale_postgres::{PgStore, PgStoreConfig};
use hale_testkit::fixtures;
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

const T0: Timestamp = Timestamp::from_unix_micros(1_800_000_000_123_456);

/// Generous outer bound: the store's own timeouts must fire well before it.
const BOUND: Duration = Duration::from_secs(20);

fn short_timeouts(mut config: PgStoreConfig) -> PgStoreConfig {
    config.connect_timeout = Duration::from_secs(2);
    config.acquire_timeout = Duration::from_secs(1);
    config.statement_timeout = Duration::from_millis(500);
    config.operation_timeout = Duration::from_secs(3);
    config
}

fn assert_unavailable<T: std::fmt::Debug>(res: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(res, Err(StoreError::Unavailable(_))),
        "{what}: expected Unavailable, got {res:?}"
    );
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_closed_port_is_unavailable_within_the_timeouts() {
    let port = closed_port().await;
    let config = short_timeouts(PgStoreConfig::new(format!(
        "postgres://hale_app:x@127.0.0.1:{port}/hale"
    )));
    let res = tokio::time::timeout(BOUND, PgStore::connect(&config))
        .await
        .expect("connect must give up within its timeouts");
    assert_unavailable(res, "connect to a closed port");
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_within_the_timeouts() {
    // Accepts connections and then says nothing, like a stopped (SIGSTOP)
    // or partitioned server.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let config = short_timeouts(PgStoreConfig::new(format!(
        "postgres://hale_app:x@127.0.0.1:{port}/hale"
    )));
    let res = tokio::time::timeout(BOUND, PgStore::connect(&config))
        .await
        .expect("connect must give up within its timeouts");
    assert_unavailable(res, "connect to a silent server");
    hold.abort();
}

#[tokio::test]
async fn bad_values_are_invalid_not_panics() {
    let Some((store, _db)) = common::test_store("bad_values_are_invalid_not_panics").await else {
        return;
    };
    let t = fixtures::tenant("bad-input");
    let event = fixtures::timeline_event(&t, "ev-1", T0);

    let mut nul = fixtures::approval(&t, "apr-nul", T0);
    nul.description = "a NUL \0 byte".into();
    assert!(matches!(
        store.create_approval(&nul, &event).await,
        Err(StoreError::Invalid(_))
    ));

    let mut json_nul = fixtures::approval(&t, "apr-json-nul", T0);
    json_nul
        .metadata
        .insert("k".into(), serde_json::Value::String("\u{0}".into()));
    assert!(matches!(
        store.create_approval(&json_nul, &event).await,
        Err(StoreError::Invalid(_))
    ));

    let mut huge = fixtures::approval(&t, "apr-huge", T0);
    huge.hit_count = u64::MAX;
    assert!(matches!(
        store.create_approval(&huge, &event).await,
        Err(StoreError::Invalid(_))
    ));

    let mut far = fixtures::approval(&t, "apr-far", T0);
    far.expires_at = Timestamp::from_unix_micros(i64::MAX);
    assert!(matches!(
        store.create_approval(&far, &event).await,
        Err(StoreError::Invalid(_))
    ));

    let mut entry = fixtures::knowledge_entry(&t, "kb-1", T0);
    entry.view_count = i64::MAX as u64;
    store.create_knowledge(&entry).await.unwrap();
    assert!(matches!(
        store.record_knowledge_view(&t, &entry.id).await,
        Err(StoreError::Invalid(_))
    ));

    // Nothing was written by the failed calls, not even the timeline event.
    let listed = store
        .list_approvals(&t, &ApprovalFilter::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
}

#[tokio::test]
async fn a_statement_stuck_on_a_lock_is_cancelled_and_unavailable() {
    let Some((store, db)) =
        common::test_store_with("a_statement_stuck_on_a_lock", 2, Duration::from_millis(500)).await
    else {
        return;
    };
    let t = fixtures::tenant("locks");
    let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, T0);
    store.converge(&t, &d).await.unwrap();

    // Another session holds the row lock and does not let go.
    let mut app = db.app().await;
    let mut tx = app.begin().await.unwrap();
    sqlx::query("SELECT set_config('hale.tenant', 'locks', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT 1 FROM alert_fingerprints FOR UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();

    let res = tokio::time::timeout(BOUND, store.converge(&t, &d))
        .await
        .expect("statement_timeout must cancel the wait");
    assert_unavailable(res, "converge blocked by a lock");
    tx.rollback().await.unwrap();

    // The cancelled delivery left no trace; the next one counts normally.
    let rec = store.converge(&t, &d).await.unwrap();
    assert_eq!(rec.hit_count, 2);
}

/// A TCP proxy in front of Postgres that a test can cut and restore.
struct Proxy {
    port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            target,
            tasks: Arc::default(),
        };
        proxy.serve(listener).await;
        proxy
    }

    async fn serve(&self, listener: TcpListener) {
        let tasks = Arc::clone(&self.tasks);
        let target = self.target;
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().await.push(conn);
            }
        });
        self.tasks.lock().await.push(accept);
    }

    /// Drops every proxied connection and stops listening.
    async fn cut(&self) {
        for task in self.tasks.lock().await.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener).await;
    }
}

#[tokio::test]
async fn a_lost_connection_is_unavailable_and_loses_nothing_acknowledged() {
    let Some(db) = common::test_db("a_lost_connection_loses_nothing_acknowledged").await else {
        return;
    };
    let opts: sqlx::postgres::PgConnectOptions = db.app_url.parse().unwrap();
    let target: SocketAddr = format!("{}:{}", opts.get_host(), opts.get_port())
        .parse()
        .unwrap();
    let proxy = Proxy::start(target).await;
    let proxied = common::with_user(
        &db.app_url.replace(
            &format!(":{}/", opts.get_port()),
            &format!(":{}/", proxy.port),
        ),
        "hale_app",
        common::APP_PASSWORD,
    );
    let config = short_timeouts(PgStoreConfig::new(proxied).with_schema(db.schema.clone()));
    let store = PgStore::connect(&config).await.unwrap();
    let t = fixtures::tenant("lossy");
    let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, T0);

    let store = Arc::new(store);

    // Writers keep committing operation + audit pairs and convergences
    // until their connection is cut under them, mid-transaction for some.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, t, d) = (Arc::clone(&store), t.clone(), d.clone());
            tokio::spawn(async move {
                let mut log = WriterLog::default();
                for i in 0.. {
                    let id = format!("op-{w}-{i}");
                    let op = fixtures::operation(&t, &id, T0);
                    let audit = fixtures::audit_entry(&t, &format!("au-{w}-{i}"), T0);
                    let audit = AuditEntry {
                        operation_id: Some(op.id.clone()),
                        ..audit
                    };
                    match store.create_operation(&op, &audit).await {
                        Ok(()) => log.ops_acked.push(id),
                        Err(e) => {
                            log.ops_failed.push((id, e));
                            break;
                        }
                    }
                    match store.converge(&t, &d).await {
                        Ok(_) => log.hits_acked += 1,
                        Err(e) => {
                            log.hits_failed.push(e);
                            break;
                        }
                    }
                }
                log
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut().await;
    let mut logs = Vec::new();
    for w in writers {
        logs.push(
            tokio::time::timeout(BOUND, w)
                .await
                .expect("writers stop")
                .unwrap(),
        );
    }
    assert_unavailable(
        tokio::time::timeout(BOUND, store.ping()).await.unwrap(),
        "ping while cut off",
    );

    proxy.restore().await;
    // The pool replaces its dead connections.
    let mut recovered = false;
    for _ in 0..50 {
        if store.ping().await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the store must recover once Postgres is reachable again"
    );

    let mut hits_acked = 0;
    let mut hits_failed = 0;
    for log in &logs {
        for e in log
            .ops_failed
            .iter()
            .map(|(_, e)| e)
            .chain(&log.hits_failed)
        {
            assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        }
        for id in &log.ops_acked {
            assert_eq!(
                pair(&store, &t, id).await,
                (true, true),
                "acknowledged operation {id} and its audit entry are stored"
            );
        }
        for (id, _) in &log.ops_failed {
            let (op, audit) = pair(&store, &t, id).await;
            assert_eq!(
                op, audit,
                "operation {id} and its audit entry commit together or not at all"
            );
        }
        hits_acked += log.hits_acked;
        hits_failed += log.hits_failed.len() as u64;
    }
    assert!(hits_acked > 0 && logs.iter().any(|l| !l.ops_acked.is_empty()));
    let rec = store
        .get_fingerprint(&t, &d.fingerprint)
        .await
        .unwrap()
        .unwrap();
    // A delivery whose commit was cut off may or may not have committed;
    // every acknowledged one has.
    assert!(
        (hits_acked..=hits_acked + hits_failed).contains(&rec.hit_count),
        "hit_count {} must count every acknowledged delivery ({hits_acked}) and at most the {hits_failed} unacknowledged ones",
        rec.hit_count
    );
}

/// What one writer saw.
#[derive(Default)]
struct WriterLog {
    ops_acked: Vec<String>,
    ops_failed: Vec<(String, StoreError)>,
    hits_acked: u64,
    hits_failed: Vec<StoreError>,
}

/// Whether the operation `id` and its audit entry are stored.
async fn pair(store: &PgStore, t: &hale_domain::TenantId, id: &str) -> (bool, bool) {
    let id = OperationId::new(id);
    let op = store.get_operation(t, &id).await.unwrap().is_some();
    let filter = AuditFilter {
        operation_id: Some(id),
        ..AuditFilter::default()
    };
    let audit = !store.list_audit(t, &filter).await.unwrap().items.is_empty();
    (op, audit)
}

#[tokio::test]
async fn migrations_are_idempotent_and_connect_checks_the_schema_version() {
    let Some(db) = common::test_db("migrations_are_idempotent").await else {
        return;
    };
    let latest = hale_postgres::latest_version();
    assert!(latest >= 3);
    assert_eq!(
        hale_postgres::migrate(&db.migrator_url, Some(&db.schema))
            .await
            .unwrap(),
        latest
    );
    // Connecting with the migration URL set migrates (here: nothing to do).
    let config = db.config().with_migrations(db.migrator_url.clone());
    PgStore::connect(&config).await.unwrap();

    // A schema that was never migrated is refused with a clear message.
    let empty = format!("{}_empty", db.schema);
    hale_postgres::setup_roles(
        &db.admin_url,
        &hale_postgres::RoleSetup {
            schema: Some(empty.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let config = PgStoreConfig::new(db.app_url.clone()).with_schema(empty);
    match PgStore::connect(&config).await {
        Err(StoreError::Invalid(msg)) => assert!(msg.contains("hale migrate"), "{msg}"),
        other => panic!("expected Invalid, got {other:?}"),
    }

    // The application role cannot run migrations (it owns nothing).
    let other = format!("{}_app", db.schema);
    hale_postgres::setup_roles(
        &db.admin_url,
        &hale_postgres::RoleSetup {
            schema: Some(other.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        hale_postgres::migrate(&db.app_url, Some(&other))
            .await
            .is_err()
    );
    let _ = sqlx::PgConnection::connect(&db.admin_url).await.unwrap();
}
