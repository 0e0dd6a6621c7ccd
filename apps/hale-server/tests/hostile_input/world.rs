//! The world every case runs in: two tenants over in-memory ports behind
//! the real router, and the `hostile` check around each attack.

pub(crate) use std::collections::BTreeMap;
pub(crate) use std::future::Future;
pub(crate) use std::sync::Arc;

pub(crate) use axum::Router;
pub(crate) use axum::body::Body;
pub(crate) use axum::http::{Method, Request, StatusCode, header};
pub(crate) use hale_command::{CommandConfig, CommandExecutor, CommandSpec};
pub(crate) use hale_domain::TenantId;
pub(crate) use hale_domain::failure::FailureClass;
pub(crate) use hale_engine::ports::{ActionExecutor, NamespacePolicy};
pub(crate) use hale_engine::{Engine, TenantPolicy};
pub(crate) use hale_fake_kube::{FakeConfig, FakeKube};
pub(crate) use hale_kube::{KubeConnection, KubeExecutor, KubeExecutorConfig};
pub(crate) use hale_server::auth::{Role, TokenTable, TokenTenant};
pub(crate) use hale_server::routes::{AppState, HttpSettings, router};
pub(crate) use hale_testkit::Kit;
pub(crate) use hale_testkit::fakes::Scripted;
pub(crate) use http_body_util::BodyExt;
pub(crate) use serde_json::{Value, json};
pub(crate) use tower::ServiceExt;

pub(crate) const A_INGEST: &str = "hostile-a-ingest";
pub(crate) const A_VIEWER: &str = "hostile-a-viewer";
pub(crate) const B_OPERATOR: &str = "hostile-b-operator";
pub(crate) const P_VIEWER: &str = "hostile-platform-viewer";

/// What the healing command of tenant `a` prints (and must never be
/// recorded).
pub(crate) const SECRET: &str = "hunter2-hostile";

pub(crate) fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

/// A LOW-risk restart for `HighErrorRate`, an eviction of the target's
/// `tier=web` pods for `PodStuck`, and a command that leaks for
/// `LeakyCommand`, all automatic.
pub(crate) fn policy(id: &str) -> TenantPolicy {
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

pub(crate) fn tokens() -> TokenTable {
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
pub(crate) fn leaky_command() -> Arc<dyn ActionExecutor> {
    let script = format!(
        "echo 'connecting to postgres://app:{SECRET}@db/x'; echo DB_PASSWORD={SECRET}; \
         printf -- '-----BEGIN PRIVATE KEY-----\\n{SECRET}\\n-----END PRIVATE KEY-----\\n' >&2"
    );
    let spec = CommandSpec::new("leak", "/bin/sh", &["-c", &script]);
    Arc::new(CommandExecutor::new(CommandConfig::with_commands(vec![spec])).unwrap())
}

/// Cheap to clone: each case's attack gets its own handle.
#[derive(Clone)]
pub(crate) struct World {
    pub(crate) kit: Kit,
    pub(crate) engine: Engine,
    pub(crate) app: Router,
    pub(crate) state: AppState,
    /// The bystander's alerts so far (each heal uses a new service).
    pub(crate) heals: Arc<std::sync::atomic::AtomicUsize>,
}

/// Two tenants over the kit, the given executors tried first.
pub(crate) async fn world_with(first: Vec<Arc<dyn ActionExecutor>>) -> World {
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
pub(crate) async fn kube_world(fake: &FakeKube) -> World {
    let kube = KubeExecutor::connect(
        &KubeConnection::Url(fake.url()),
        KubeExecutorConfig::default(),
    )
    .await
    .unwrap();
    world_with(vec![Arc::new(kube), leaky_command()]).await
}

pub(crate) async fn world() -> World {
    world_with(vec![leaky_command()]).await
}

/// A response, decoded.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) text: String,
}

impl World {
    pub(crate) async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body, text }
    }

    pub(crate) async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        let mut req = Request::get(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub(crate) async fn post(&self, uri: &str, token: &str, body: &Value) -> Reply {
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
    pub(crate) async fn bystander(&self) -> Value {
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
    pub(crate) async fn bystander_heals(&self) {
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
    pub(crate) async fn a_heals_then_audit(&self, alertname: &str, service: &str) -> Reply {
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
    pub(crate) async fn a_is_awake_and_closed(&self) {
        let s = self.get("/v1/status", Some(A_VIEWER)).await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.text);
        assert_eq!(s.body["selfHealing"]["isDormant"], false, "{}", s.text);
        for b in s.body["circuitBreakers"].as_array().unwrap() {
            assert_ne!(b["state"], "PERMANENT_OPEN", "{}", s.text);
        }
    }

    /// Incidents recorded for tenant `a`.
    pub(crate) async fn a_incidents(&self) -> usize {
        let r = self.get("/v1/incidents", Some(A_VIEWER)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["items"].as_array().unwrap().len()
    }
}

/// A generic intake body with one firing alert in namespace `prod`.
pub(crate) fn alert(labels: &[(&str, &str)]) -> Value {
    let mut l: BTreeMap<&str, &str> = [("namespace", "prod"), ("severity", "critical")].into();
    l.extend(labels.iter().copied());
    json!({"alerts": [{
        "status": "firing", "labels": l, "annotations": {"summary": "hostile"},
        "startsAt": "2026-11-25T00:00:00Z", "endsAt": null
    }]})
}

/// Runs `attack` against tenant `a` in `w`, then checks that tenant `b`
/// is exactly as it was and still heals.
pub(crate) async fn hostile_in<F, Fut>(w: &World, attack: F)
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

pub(crate) async fn hostile<F, Fut>(attack: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = ()>,
{
    let w = world().await;
    hostile_in(&w, attack).await;
}

/// A 422 whose detail contains every one of `needles`.
pub(crate) fn assert_invalid(r: &Reply, needles: &[&str]) {
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["error"], "invalid", "{}", r.text);
    let detail = r.body["detail"].as_str().unwrap();
    for n in needles {
        assert!(detail.contains(n), "{n:?} not in {detail:?}");
    }
}
