//! The hostile-input suite: one test per attack, each named after it.
//!
//! Every case runs in a fresh world of two tenants over in-memory ports
//! (`hale_testkit::Kit`) behind the real router (`Router::oneshot`):
//! tenant `a` is attacked, tenant `b` is the bystander. [`hostile`] takes a
//! picture of `b` before the attack (status, switches, breakers,
//! incidents, operations) and after it, requires them equal, and then has
//! `b` heal a fresh alert end to end, so no attack may switch Hale off for
//! anyone else or leave it unable to act.
//!
//! The world is configured the hostile way: the default `[limits]`,
//! `/metrics` behind a platform token, a command executor whose healing
//! command prints secrets, and (in one case) the Kubernetes executor against
//! the in-repo fake API server holding a deployment full of them.
//!
//! docs/reliability.md ("Hostile input") lists every case with what Hale
//! does.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use hale_command::{CommandConfig, CommandExecutor, CommandSpec};
use hale_domain::TenantId;
use hale_domain::failure::FailureClass;
use hale_engine::ports::{ActionExecutor, NamespacePolicy};
use hale_engine::{Engine, TenantPolicy};
use hale_fake_kube::{FakeConfig, FakeKube};
use hale_kube::{KubeConnection, KubeExecutor, KubeExecutorConfig};
use hale_server::auth::{Role, TokenTable, TokenTenant};
use hale_server::routes::{AppState, HttpSettings, router};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const A_INGEST: &str = "hostile-a-ingest";
const A_VIEWER: &str = "hostile-a-viewer";
const B_OPERATOR: &str = "hostile-b-operator";
const P_VIEWER: &str = "hostile-platform-viewer";

/// What the healing command of tenant `a` prints (and must never be
/// recorded).
const SECRET: &str = "hunter2-hostile";

// === The world ===

fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

/// A LOW-risk restart for `HighErrorRate`, an eviction of the target's
/// `tier=web` pods for `PodStuck`, and a command that leaks for
/// `LeakyCommand`, all automatic.
fn policy(id: &str) -> TenantPolicy {
    let strategies = serde_json::from_value(json!([
        {
            "id": "restart", "risk": "low",
            "trigger": {"alertnames": ["HighErrorRate"]},
            "target": {"kind": "deployment"},
            "actions": [{"kind": "rollout_restart", "timeout": "10s"}],
            "verify": {"check": "none"},
            "cooldown": "0s"
        },
        {
            "id": "evict", "risk": "low",
            "trigger": {"alertnames": ["PodStuck"]},
            "target": {"kind": "deployment"},
            "actions": [{"kind": "evict_pod", "timeout": "10s",
                "params": {"selector": "tier=web", "max_pods": 5}}],
            "verify": {"check": "none"},
            "cooldown": "0s"
        },
        {
            "id": "flush", "risk": "low",
            "trigger": {"alertnames": ["LeakyCommand"]},
            "target": {"kind": "unit"},
            "actions": [{"kind": "command:leak", "timeout": "10s"}],
            "verify": {"check": "none"},
            "cooldown": "0s"
        }
    ]))
    .unwrap();
    let mut p = TenantPolicy::new(tenant(id), strategies);
    p.namespaces = NamespacePolicy::Only(vec!["prod".to_owned()]);
    p
}

fn tokens() -> TokenTable {
    let mut t = TokenTable::new();
    t.insert_token(
        A_INGEST,
        "am-a",
        TokenTenant::Tenant(tenant("a")),
        Role::Operator,
    );
    t.insert_token(
        A_VIEWER,
        "viewer-a",
        TokenTenant::Tenant(tenant("a")),
        Role::Viewer,
    );
    t.insert_token(
        B_OPERATOR,
        "bob",
        TokenTenant::Tenant(tenant("b")),
        Role::Operator,
    );
    t.insert_token(P_VIEWER, "prometheus", TokenTenant::Platform, Role::Viewer);
    t
}

/// A command that prints a URL password, a `KEY=value` secret and a PEM
/// key, on both streams.
fn leaky_command() -> Arc<dyn ActionExecutor> {
    let script = format!(
        "echo 'connecting to postgres://app:{SECRET}@db/x'; echo DB_PASSWORD={SECRET}; \
         printf -- '-----BEGIN PRIVATE KEY-----\\n{SECRET}\\n-----END PRIVATE KEY-----\\n' >&2"
    );
    let spec = CommandSpec::new("leak", "/bin/sh", &["-c", &script]);
    Arc::new(CommandExecutor::new(CommandConfig::with_commands(vec![spec])).unwrap())
}

/// Cheap to clone: each case's attack gets its own handle.
#[derive(Clone)]
struct World {
    kit: Kit,
    engine: Engine,
    app: Router,
    state: AppState,
    /// The bystander's alerts so far (each heal uses a new service).
    heals: Arc<std::sync::atomic::AtomicUsize>,
}

/// Two tenants over the kit, the given executors tried first.
async fn world_with(first: Vec<Arc<dyn ActionExecutor>>) -> World {
    let kit = Kit::new();
    let mut ports = kit.ports();
    let scripted = std::mem::take(&mut ports.executors);
    ports.executors = first.into_iter().chain(scripted).collect();
    let engine = Engine::builder(ports)
        .tenant(policy("a"))
        .tenant(policy("b"))
        .build()
        .await
        .unwrap();
    let settings = HttpSettings {
        metrics_require_token: true,
        ..HttpSettings::default()
    };
    let state = AppState::new(engine.clone(), tokens(), settings);
    let app = router(state.clone());
    World {
        kit,
        engine,
        app,
        state,
        heals: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    }
}

/// The world with the Kubernetes executor on `fake` tried first.
async fn kube_world(fake: &FakeKube) -> World {
    let kube = KubeExecutor::connect(
        &KubeConnection::Url(fake.url()),
        KubeExecutorConfig::default(),
    )
    .await
    .unwrap();
    world_with(vec![Arc::new(kube), leaky_command()]).await
}

async fn world() -> World {
    world_with(vec![leaky_command()]).await
}

/// A response, decoded.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    body: Value,
    text: String,
}

impl World {
    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body, text }
    }

    async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        let mut req = Request::get(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, uri: &str, token: &str, body: &Value) -> Reply {
        let req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap();
        self.send(req).await
    }

    /// Everything the bystander can see of itself that an attack on `a`
    /// must not change.
    async fn bystander(&self) -> Value {
        let mut picture = BTreeMap::new();
        for path in [
            "/v1/status",
            "/v1/switches",
            "/v1/breakers",
            "/v1/incidents",
            "/v1/operations",
            "/v1/approvals",
        ] {
            let mut r = self.get(path, Some(B_OPERATOR)).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            // When the status was rendered is not state.
            if let Some(status) = r.body.as_object_mut() {
                status.remove("generatedAt");
                // Nor how long ago the safety view was refreshed (its
                // versions stay: they are state).
                if let Some(view) = status.get_mut("safetyState").and_then(Value::as_object_mut) {
                    view.remove("tenantViewAgeMs");
                    view.remove("platformViewAgeMs");
                }
            }
            picture.insert(path, r.body);
        }
        json!(picture)
    }

    /// The bystander heals a new alert: started, then completed.
    async fn bystander_heals(&self) {
        let n = self
            .heals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let r = self
            .post(
                "/v1/alerts",
                B_OPERATOR,
                &alert(&[
                    ("alertname", "HighErrorRate"),
                    ("service", &format!("bystander-{n}")),
                ]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let outcome = &r.body["decisions"][0]["outcome"];
        assert_eq!(outcome["decision"], "operation_started", "{}", r.text);
        self.engine.wait_idle().await;
        let id = outcome["operation_id"].as_str().unwrap();
        let op = self
            .get(&format!("/v1/operations/{id}"), Some(B_OPERATOR))
            .await;
        assert_eq!(op.body["state"], "COMPLETED", "{}", op.text);
    }

    /// Tenant `a` runs the strategy for `alertname` on `service`; then its
    /// audit log, as its viewer reads it.
    async fn a_heals_then_audit(&self, alertname: &str, service: &str) -> Reply {
        let r = self
            .post(
                "/v1/alerts",
                A_INGEST,
                &alert(&[("alertname", alertname), ("service", service)]),
            )
            .await;
        let decision = &r.body["decisions"][0]["outcome"]["decision"];
        assert_eq!(decision, "operation_started", "{}", r.text);
        self.engine.wait_idle().await;
        let audit = self.get("/v1/audit", Some(A_VIEWER)).await;
        assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
        audit
    }

    /// Tenant `a` is not dormant and none of its breakers is latched.
    async fn a_is_awake_and_closed(&self) {
        let s = self.get("/v1/status", Some(A_VIEWER)).await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.text);
        assert_eq!(s.body["selfHealing"]["isDormant"], false, "{}", s.text);
        for b in s.body["circuitBreakers"].as_array().unwrap() {
            assert_ne!(b["state"], "PERMANENT_OPEN", "{}", s.text);
        }
    }

    /// Incidents recorded for tenant `a`.
    async fn a_incidents(&self) -> usize {
        let r = self.get("/v1/incidents", Some(A_VIEWER)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["items"].as_array().unwrap().len()
    }
}

/// A generic intake body with one firing alert in namespace `prod`.
fn alert(labels: &[(&str, &str)]) -> Value {
    let mut l: BTreeMap<&str, &str> = [("namespace", "prod"), ("severity", "critical")].into();
    l.extend(labels.iter().copied());
    json!({"alerts": [{
        "status": "firing", "labels": l, "annotations": {"summary": "hostile"},
        "startsAt": "2026-11-25T00:00:00Z", "endsAt": null
    }]})
}

/// Runs `attack` against tenant `a` in `w`, then checks that tenant `b`
/// is exactly as it was and still heals.
async fn hostile_in<F, Fut>(w: &World, attack: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = ()>,
{
    w.bystander_heals().await;
    let before = w.bystander().await;
    attack(w.clone()).await;
    w.engine.wait_idle().await;
    let after = w.bystander().await;
    for (path, was) in before.as_object().unwrap() {
        assert_eq!(
            was, &after[path],
            "the attack on tenant a changed tenant b's {path}"
        );
    }
    w.bystander_heals().await;
}

async fn hostile<F, Fut>(attack: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = ()>,
{
    let w = world().await;
    hostile_in(&w, attack).await;
}

/// A 422 whose detail contains every one of `needles`.
fn assert_invalid(r: &Reply, needles: &[&str]) {
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["error"], "invalid", "{}", r.text);
    let detail = r.body["detail"].as_str().unwrap();
    for n in needles {
        assert!(detail.contains(n), "{n:?} not in {detail:?}");
    }
}

// === Request parsing ===

#[tokio::test]
async fn tz_with_a_multibyte_character_is_refused_not_a_panic() {
    hostile(|w| async move {
        for tz in [
            "%2B1%C3%A91",
            "%2B%C3%A9%C3%A9",
            "-%F0%9F%98%80",
            "%2B-1:%2B5",
            "%C3%A9",
        ] {
            for path in ["/v1/switches", "/v1/status", "/v1/operations", "/v1/audit"] {
                let r = w.get(&format!("{path}?tz={tz}"), Some(A_VIEWER)).await;
                assert_invalid(&r, &["tz", "expected UTC or an offset"]);
                assert!(!r.text.contains("char boundary"), "{}", r.text);
            }
        }
        // The same parser still reads real offsets.
        let r = w.get("/v1/switches?tz=%2B09:00", Some(A_VIEWER)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    })
    .await;
}

// === Oversized alerts ===

#[tokio::test]
async fn an_oversized_label_value_is_refused_naming_the_label_and_the_limit() {
    hostile(|w| async move {
        let big = "x".repeat(1025);
        let r = w
            .post(
                "/v1/alerts",
                A_INGEST,
                &alert(&[("alertname", "HighErrorRate"), ("service", &big)]),
            )
            .await;
        assert_invalid(
            &r,
            &[
                "alerts[0].labels[\"service\"]",
                "1025 bytes",
                "1024 bytes",
                "label_value_bytes",
            ],
        );
        assert!(!r.text.contains(&big), "the value is echoed back");
        assert_eq!(w.a_incidents().await, 0, "a refused batch recorded nothing");
    })
    .await;
}

#[tokio::test]
async fn an_oversized_label_name_is_refused_without_echoing_it() {
    hostile(|w| async move {
        let name = "n".repeat(10_000);
        let r = w
            .post(
                "/v1/alerts",
                A_INGEST,
                &alert(&[("alertname", "HighErrorRate"), (&name, "v")]),
            )
            .await;
        assert_invalid(&r, &["label name", "10000 bytes", "label_name_bytes"]);
        assert!(r.text.len() < 1_000, "{} bytes of error", r.text.len());
        assert_eq!(w.a_incidents().await, 0);
    })
    .await;
}

#[tokio::test]
async fn too_many_labels_are_refused() {
    hostile(|w| async move {
        let names: Vec<String> = (0..100).map(|i| format!("l{i}")).collect();
        let mut labels: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        labels.push(("alertname", "HighErrorRate"));
        let r = w.post("/v1/alerts", A_INGEST, &alert(&labels)).await;
        assert_invalid(&r, &["labels_per_alert", "64"]);
    })
    .await;
}

#[tokio::test]
async fn an_oversized_annotation_is_refused_in_the_alertmanager_form_too() {
    hostile(|w| async move {
        let mut body: Value = serde_json::from_slice(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/alerts/alertmanager-webhook.json"
            ))
            .unwrap(),
        )
        .unwrap();
        body["alerts"][0]["annotations"]["description"] = json!("d".repeat(9 * 1024));
        let r = w.post("/v1/alerts/alertmanager", A_INGEST, &body).await;
        assert_invalid(
            &r,
            &["annotations[\"description\"]", "annotation_value_bytes"],
        );

        // Many annotations each under the cap, over the total.
        let mut body = alert(&[("alertname", "HighErrorRate"), ("service", "api")]);
        let many: BTreeMap<String, String> = (0..8)
            .map(|i| (format!("a{i}"), "d".repeat(5 * 1024)))
            .collect();
        body["alerts"][0]["annotations"] = json!(many);
        let r = w.post("/v1/alerts", A_INGEST, &body).await;
        assert_invalid(&r, &["annotations_bytes_per_alert", "32768 bytes"]);
        assert_eq!(w.a_incidents().await, 0);
    })
    .await;
}

// === Fail-safes an alert must not switch on ===

/// Seen from outside: a tenant limited to `prod` got one alert for
/// namespace `unauthorized`; the refusal quoted it, the fatal pattern
/// matched, the breaker latched and the tenant went dormant.
#[tokio::test]
async fn an_alert_for_namespace_unauthorized_cannot_put_its_tenant_to_sleep() {
    hostile(|w| async move {
        let labels = [
            ("alertname", "HighErrorRate"),
            ("service", "checkout"),
            ("namespace", "unauthorized"),
        ];
        let r = w.post("/v1/alerts", A_INGEST, &alert(&labels)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let outcome = &r.body["decisions"][0]["outcome"];
        assert_eq!(outcome["decision"], "blocked", "{}", r.text);
        assert_eq!(outcome["guard"], "out_of_scope", "{}", r.text);
        w.engine.wait_idle().await;
        assert!(
            w.kit
                .executor
                .calls()
                .iter()
                .all(|c| c.tenant.as_str() != "a"),
            "an action ran outside the tenant's namespaces"
        );
        w.a_is_awake_and_closed().await;
        w.a_heals_then_audit("HighErrorRate", "payments").await;
    })
    .await;
}

/// The target quotes the alert's values back in its refusal, and the
/// labels carry every fatal pattern: the failure counts as transient, no
/// breaker latches, the tenant stays awake.
#[tokio::test]
async fn fatal_patterns_in_labels_quoted_back_by_the_target_latch_nothing() {
    hostile(|w| async move {
        w.kit.executor.push(
            "rollout_restart",
            Scripted::FailQuotingTarget(FailureClass::Transient),
        );
        let labels = [
            ("alertname", "HighErrorRate"),
            ("service", "unauthorized-no-active-api-keys"),
            ("reason", "Unauthorized: no active API keys"),
        ];
        let r = w.post("/v1/alerts", A_INGEST, &alert(&labels)).await;
        let outcome = &r.body["decisions"][0]["outcome"];
        assert_eq!(outcome["decision"], "operation_started", "{}", r.text);
        w.engine.wait_idle().await;
        w.a_is_awake_and_closed().await;
    })
    .await;
}

// === Floods ===

/// Tenant `a` floods intake: while its deliveries hold every permit of its
/// own (`intake_in_flight_per_tenant`), its next one is refused with 503
/// and `Retry-After` before anything is recorded, and tenant `b` is never
/// refused. (Held permits stand for slow in-flight deliveries, so the case
/// is deterministic; the fairness benchmark is in docs/benchmarks.md.)
#[tokio::test]
async fn a_flooding_tenant_is_refused_at_its_own_limit_and_never_starves_another() {
    let w = world().await;
    let limit = hale_server::config::LimitsSection::default().intake_in_flight_per_tenant;
    let flood: Vec<_> = (0..limit)
        .map(|_| w.state.admission().admit(&tenant("a")).unwrap())
        .collect();
    let body = alert(&[("alertname", "HighErrorRate"), ("service", "flood")]);
    let r = w.post("/v1/alerts", A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert!(r.text.contains("intake_in_flight_per_tenant"), "{}", r.text);
    assert!(r.text.contains("nothing was recorded"), "{}", r.text);
    assert_eq!(w.a_incidents().await, 0);
    for _ in 0..3 {
        w.bystander_heals().await;
    }
    drop(flood);
    let r = w.post("/v1/alerts", A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(w.state.admission().in_flight(), 0, "every permit came back");
}

/// Tenant `a` keeps every work slot busy and has more deliveries queued
/// behind them; tenant `b`'s delivery, arriving last, gets the next freed
/// slot, ahead of `a`'s queue (first come, first served would put it
/// behind all of them). Held entries stand for `a`'s slow deliveries.
#[tokio::test]
async fn a_flooding_tenants_queue_never_goes_ahead_of_another_tenant() {
    let w = world().await;
    let slots = HttpSettings::default().limits.intake_concurrency();
    let wait = std::time::Duration::from_secs(60);
    let mut held = Vec::new();
    for _ in 0..slots {
        held.push(
            w.state
                .admission()
                .enter(&tenant("a"), wait, std::time::Duration::ZERO)
                .await
                .unwrap(),
        );
    }
    let post = |token: &'static str, service: String| {
        let app = w.app.clone();
        let body = alert(&[("alertname", "HighErrorRate"), ("service", &service)]);
        tokio::spawn(async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/v1/alerts")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap();
            app.oneshot(req).await.unwrap().status()
        })
    };
    let until_waiting = |n: usize| {
        let state = w.state.clone();
        async move {
            while state.admission().waiting() < n {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    };
    let queued: Vec<_> = (0..3)
        .map(|i| post(A_INGEST, format!("flood-{i}")))
        .collect();
    until_waiting(3).await;
    let quiet = post(B_OPERATOR, "quiet".into());
    until_waiting(4).await;
    // The freed slot is handed on as it is dropped: to b, not to a's
    // oldest waiter.
    held.pop();
    let admission = w.state.admission();
    assert_eq!(admission.waiting_for(&tenant("b")), 0, "b got the slot");
    assert_eq!(admission.waiting_for(&tenant("a")), 3, "a's queue waits");
    assert_eq!(quiet.await.unwrap(), StatusCode::OK);
    drop(held);
    for q in queued {
        assert_eq!(q.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(w.state.admission().in_flight(), 0, "every permit came back");
}

// === Targets from labels ===

#[tokio::test]
async fn dot_and_dot_dot_label_values_never_name_a_target() {
    hostile(|w| async move {
        for (i, value) in [".", ".."].into_iter().enumerate() {
            for label in ["service", "namespace"] {
                let other = format!("svc-{i}");
                let labels: Vec<(&str, &str)> = if label == "service" {
                    vec![("alertname", "HighErrorRate"), ("service", value)]
                } else {
                    vec![
                        ("alertname", "HighErrorRate"),
                        ("service", &other),
                        ("namespace", value),
                    ]
                };
                let r = w.post("/v1/alerts", A_INGEST, &alert(&labels)).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                let outcome = &r.body["decisions"][0]["outcome"];
                assert_eq!(outcome["decision"], "skipped", "{}", r.text);
                let text = outcome.to_string();
                assert!(text.contains("target_unresolved"), "{text}");
                assert!(text.contains("path segment"), "{text}");
            }
        }
        w.engine.wait_idle().await;
        assert!(
            w.kit
                .executor
                .calls()
                .iter()
                .all(|c| c.tenant.as_str() != "a"),
            "an action ran on a '.' or '..' target"
        );
    })
    .await;
}

// === Secrets ===

#[tokio::test]
async fn secrets_printed_by_a_healing_command_are_not_stored() {
    hostile(|w| async move {
        let audit = w.a_heals_then_audit("LeakyCommand", "cache").await;
        assert!(audit.text.contains("command:leak"), "{}", audit.text);
        assert!(audit.text.contains("DB_PASSWORD=***"), "{}", audit.text);
        let everything = format!(
            "{}{}",
            audit.text,
            w.get("/v1/timeline", Some(A_VIEWER)).await.text
        );
        assert!(!everything.contains(SECRET), "{everything}");
    })
    .await;
}

#[tokio::test]
async fn kubernetes_objects_are_recorded_by_allow_list() {
    let fake = FakeKube::start("127.0.0.1:0", FakeConfig::default())
        .await
        .unwrap();
    for name in ["checkout", "bystander-0", "bystander-1"] {
        fake.seed(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "prod", "labels": {"app": name},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                    format!("{{\"password\":\"{SECRET}\"}}")}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "app:1",
                        "env": [{"name": "DB_PASSWORD", "value": SECRET}]}]}}}
        }))
        .unwrap();
    }
    let w = kube_world(&fake).await;
    hostile_in(&w, |w| async move {
        let audit = w.a_heals_then_audit("HighErrorRate", "checkout").await;
        assert!(
            audit.text.contains("kubectl.kubernetes.io/restartedAt"),
            "{}",
            audit.text
        );
        assert!(!audit.text.contains(SECRET), "{}", audit.text);
        assert!(
            !audit.text.contains("last-applied-configuration"),
            "{}",
            audit.text
        );
    })
    .await;
    fake.stop().await;
}

/// A Deployment in `prod`, its ReplicaSet and `pods` pods labelled
/// `tier=web`, as the controllers would leave them.
fn web_deployment(name: &str, pods: usize) -> Vec<Value> {
    let labels = json!({"app": name, "tier": "web"});
    let rs = format!("{name}-6b7f");
    let mut out = vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "prod", "uid": format!("d-{name}")},
            "spec": {"replicas": pods, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs, "namespace": "prod", "uid": format!("rs-{name}"),
                "labels": labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": name, "uid": format!("d-{name}"), "controller": true}]},
            "spec": {"replicas": pods, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}),
    ];
    for n in 0..pods {
        out.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{name}-{n}"), "namespace": "prod", "labels": labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": rs, "uid": format!("rs-{name}"), "controller": true}]},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]}}));
    }
    out
}

/// An alert names `checkout` while the strategy's selector also matches
/// the pods of another deployment (`search`): the executor refuses the
/// whole eviction as `invalid_action`, naming the foreign pods; no pod goes,
/// the refusal counts toward no breaker, backoff or dormancy, and the next
/// alert heals at once.
#[tokio::test]
async fn selector_matching_foreign_pods_evicts_nothing_foreign() {
    let fake = FakeKube::start("127.0.0.1:0", FakeConfig::default())
        .await
        .unwrap();
    let bystanders = ["bystander-0", "bystander-1"].map(|b| web_deployment(b, 0));
    for obj in web_deployment("checkout", 1)
        .into_iter()
        .chain(web_deployment("search", 2))
        .chain(bystanders.into_iter().flatten())
    {
        fake.seed(obj).unwrap();
    }
    let w = kube_world(&fake).await;
    let pods = |fake: &FakeKube| fake.objects(hale_fake_kube::Resource::Pod, "prod").len();
    hostile_in(&w, |w| async move {
        let body = alert(&[("alertname", "PodStuck"), ("service", "checkout")]);
        let r = w.post("/v1/alerts", A_INGEST, &body).await;
        let outcome = &r.body["decisions"][0]["outcome"];
        assert_eq!(outcome["decision"], "operation_started", "{}", r.text);
        w.engine.wait_idle().await;
        let id = outcome["operation_id"].as_str().unwrap();
        let op = w.get(&format!("/v1/operations/{id}"), Some(A_VIEWER)).await;
        assert_eq!(op.body["state"], "FAILED", "{}", op.text);
        assert!(op.text.contains("invalid_action"), "{}", op.text);
        assert!(op.text.contains("search-0"), "{}", op.text);
        assert!(op.text.contains("nothing was evicted"), "{}", op.text);
        w.a_is_awake_and_closed().await;
        // No backoff: the refusal said nothing about the target's health.
        w.a_heals_then_audit("HighErrorRate", "checkout").await;
    })
    .await;
    assert_eq!(pods(&fake), 3, "no pod was evicted, foreign or not");
    fake.stop().await;
}

// === /metrics ===

#[tokio::test]
async fn metrics_need_a_platform_token_when_configured() {
    hostile(|w| async move {
        assert_eq!(
            w.get("/metrics", None).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            w.get("/metrics", Some("wrong")).await.status,
            StatusCode::UNAUTHORIZED
        );
        let r = w.get("/metrics", Some(A_VIEWER)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(r.text.contains("platform token"), "{}", r.text);
        let r = w.get("/metrics", Some(P_VIEWER)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.text.contains("hale_alerts_received_total"));
    })
    .await;
}

#[tokio::test]
async fn metrics_never_show_backend_error_text() {
    hostile(|w| async move {
        w.kit.store.set_unavailable(true);
        w.kit.locks.set_unavailable(true);
        let r = w.get("/metrics", Some(P_VIEWER)).await;
        w.kit.store.set_unavailable(false);
        w.kit.locks.set_unavailable(false);
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for leak in ["memory store", "unavailable", "MemoryStore"] {
            assert!(!r.text.contains(leak), "{leak:?} in\n{}", r.text);
        }
    })
    .await;
}
