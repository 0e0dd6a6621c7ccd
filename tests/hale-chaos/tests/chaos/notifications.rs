//! Issue 17's delivery guarantees with real `hale-server` processes on
//! Postgres: a webhook receiver down for 30 s while the server is
//! SIGKILLed and restarted still gets every notice (each once after
//! deduplication by its id, every signature valid); two replicas deliver
//! each notice once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, eventually, firing, unix_now};
use hale_notify::WebhookSecret;
use serde_json::Value;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SERVICES: u32 = 6;

/// A webhook receiver that refuses (503) while `down`, else verifies the
/// Standard Webhooks signature and records the notice id.
#[derive(Clone, Default)]
struct Receiver {
    down: Arc<AtomicBool>,
    refused: Arc<Mutex<u64>>,
    bad_signatures: Arc<Mutex<u64>>,
    ids: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(self) -> SocketAddr {
        let rec = self.clone();
        let secret = WebhookSecret::parse(SECRET).expect("the test secret");
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let (rec, secret) = (rec.clone(), secret.clone());
                async move {
                    if rec.down.load(Ordering::SeqCst) {
                        *rec.refused.lock().unwrap() += 1;
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let id = h("webhook-id");
                    let ts: i64 = h("webhook-timestamp").parse().unwrap_or(0);
                    if !secret.verify(&id, ts, &body, &h("webhook-signature")) {
                        *rec.bad_signatures.lock().unwrap() += 1;
                        return StatusCode::UNAUTHORIZED;
                    }
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    assert_eq!(v["data"]["id"].as_str(), Some(id.as_str()));
                    rec.ids.lock().unwrap().push(id);
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        addr
    }

    /// How often each id arrived.
    fn counts(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for id in self.ids.lock().unwrap().iter() {
            *m.entry(id.clone()).or_default() += 1;
        }
        m
    }
}

/// The world's servers send every notice of its tenant to each receiver
/// (a webhook channel per `(name, address)`), retrying quickly.
fn configure(world: &mut World, receivers: &[(&str, SocketAddr)]) {
    let secret = world.dir.path().join("webhook.secret");
    std::fs::write(&secret, SECRET).expect("write the secret");
    world.config.extra_toml.push_str(
        r#"
[notifications]
interval = "500ms"
attempt_timeout = "2s"
retry_base = "1s"
retry_max = "4s"
"#,
    );
    for (name, addr) in receivers {
        world.config.extra_toml.push_str(&format!(
            r#"
[[notifications.channels]]
name = "{name}"
kind = "webhook"
url = "http://{addr}/hook"
secret_file = "{secret}"

[[notifications.routes]]
tenant = "{tenant}"
channel = "{name}"
"#,
            secret = secret.display(),
            tenant = world.config.tenant,
        ));
    }
}

/// The deliveries the server lists for `channel`.
async fn deliveries(
    world: &World,
    server: &hale_chaos::server::ServerProc,
    channel: &str,
) -> Vec<Value> {
    let (status, v) = world
        .admin(
            server,
            reqwest::Method::GET,
            &format!(
                "/v1/notifications?tenant={}&channel={channel}&limit=1000",
                world.config.tenant
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_survive_a_down_receiver_and_a_sigkilled_server() {
    let test = "notifications_survive_a_down_receiver_and_a_sigkilled_server";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, SERVICES).await;
    let receiver = Receiver::default();
    receiver.down.store(true, Ordering::SeqCst);
    let down_at = tokio::time::Instant::now();
    let addr = receiver.clone().start().await;
    configure(&mut world, &[("receiver", addr)]);

    let first = world.start_server("first").await;
    let t0 = unix_now() - 60;
    for s in 0..SERVICES / 2 {
        let a = world
            .post(&first, &[firing(s, t0)], "http://am-1:9093")
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }
    // Attempts fail while the receiver is down, and the failures show.
    eventually(
        Duration::from_secs(20),
        "failed attempts to show",
        || async {
            let d = deliveries(&world, &first, "receiver").await;
            (d.len() as u32 >= SERVICES / 2
                && d.iter()
                    .all(|d| d["attempts"].as_u64() >= Some(1) && d["last_error"].is_string()))
            .then_some(())
        },
    )
    .await;
    let log = first.kill().await;
    assert!(log.contains("Hale is listening"), "{log}");

    // The restarted server takes over the outbox; more notices arrive
    // while the receiver is still down.
    let second = world.start_server("second").await;
    for s in SERVICES / 2..SERVICES {
        let a = world
            .post(&second, &[firing(s, t0)], "http://am-1:9093")
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }
    let down_for = Duration::from_secs(30);
    tokio::time::sleep(down_for.saturating_sub(down_at.elapsed())).await;
    receiver.down.store(false, Ordering::SeqCst);

    let expected: Vec<String> = eventually(
        Duration::from_secs(60),
        "every notice to be delivered",
        || async {
            let d = deliveries(&world, &second, "receiver").await;
            let all_done =
                d.len() as u32 >= SERVICES && d.iter().all(|d| d["delivered_at"].is_string());
            all_done.then(|| {
                d.iter()
                    .map(|d| d["notice"]["id"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
        },
    )
    .await;
    let counts = receiver.counts();
    let refused = *receiver.refused.lock().unwrap();
    let bad = *receiver.bad_signatures.lock().unwrap();
    #[allow(clippy::print_stderr)] // the counts are this test's report
    {
        eprintln!(
            "notifications: {} notices, {} requests refused while down, {} delivered requests, {} distinct ids, {bad} bad signatures",
            expected.len(),
            refused,
            counts.values().sum::<u64>(),
            counts.len()
        );
    }
    assert_eq!(bad, 0, "every signature verifies");
    assert!(refused > 0, "the receiver was really down");
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    let received: Vec<String> = counts.keys().cloned().collect();
    assert_eq!(
        received, expected_sorted,
        "each notice arrives, exactly once after deduplication by id"
    );
    assert_eq!(
        expected.len() as u32,
        SERVICES,
        "one P0 incident opened per service: {expected:?}"
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_notification_once_per_channel() {
    let test = "two_replicas_deliver_each_notification_once_per_channel";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 10).await;
    let (ops, audit) = (Receiver::default(), Receiver::default());
    let ops_addr = ops.clone().start().await;
    let audit_addr = audit.clone().start().await;
    configure(&mut world, &[("ops", ops_addr), ("audit", audit_addr)]);
    let a = world.start_server("replica-a").await;
    let b = world.start_server("replica-b").await;
    let t0 = unix_now() - 60;
    for s in 0..10 {
        let server = if s % 2 == 0 { &a } else { &b };
        let r = world
            .post(server, &[firing(s, t0)], "http://am-1:9093")
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    for channel in ["ops", "audit"] {
        eventually(
            Duration::from_secs(60),
            "every notice to be delivered to both channels",
            || async {
                let d = deliveries(&world, &a, channel).await;
                (d.len() >= 10 && d.iter().all(|d| d["delivered_at"].is_string())).then_some(())
            },
        )
        .await;
    }
    // Both replicas keep running passes for a while: nothing more arrives.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (to_ops, to_audit) = (ops.counts(), audit.counts());
    assert_eq!(to_ops.len(), 10, "{to_ops:?}");
    assert!(
        to_ops.values().all(|c| *c == 1),
        "each notice delivered once to ops: {to_ops:?}"
    );
    assert_eq!(
        to_audit, to_ops,
        "the same notices, each once, to the second channel"
    );
    a.stop().await;
    b.stop().await;
}
