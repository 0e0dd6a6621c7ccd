//! A router over `hale_testkit::Kit` ports (MemoryStore, LocalLocks behind
//! a fault switch, a scripted executor), two tenants and a token per role.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use hale_domain::TenantId;
use hale_engine::{Engine, TenantPolicy};
use hale_server::auth::{Role, TokenTable, TokenTenant};
use hale_server::routes::{AppState, HttpSettings, router};
use hale_testkit::Kit;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) const A_INGEST: &str = "tok-a-ingest";
pub(crate) const A_VIEWER: &str = "tok-a-viewer";
pub(crate) const A_OPERATOR: &str = "tok-a-operator";
pub(crate) const A_OPERATOR2: &str = "tok-a-operator-2";
pub(crate) const B_OPERATOR: &str = "tok-b-operator";
pub(crate) const A_ADMIN: &str = "tok-a-admin";
pub(crate) const P_ADMIN: &str = "tok-platform-admin";
pub(crate) const P_VIEWER: &str = "tok-platform-viewer";

/// The body limit of the test router (small, so 413 is cheap to test).
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

/// A LOW-risk automatic restart and a HIGH-risk approval-path scale; the
/// configuration switches `evict_pod` off (a floor the API cannot lift).
pub(crate) fn policy(id: &str) -> TenantPolicy {
    let strategies = serde_json::from_value(json!([
        {
            "id": "restart", "risk": "low",
            "trigger": {"alertnames": ["HighErrorRate"]},
            "target": {"kind": "deployment"},
            "actions": [{"kind": "rollout_restart"}],
            "verify": {"check": "none"},
            "cooldown": "0s"
        },
        {
            "id": "scale-up", "risk": "high",
            "trigger": {"alertnames": ["Saturated"]},
            "target": {"kind": "deployment"},
            "actions": [{"kind": "scale", "params": {"replicas": 4}}],
            "verify": {"check": "none"}
        }
    ]))
    .unwrap();
    let mut p = TenantPolicy::new(tenant(id), strategies);
    p.switches.action_kinds.insert(
        hale_domain::strategy::ActionKind::new("evict_pod").unwrap(),
        hale_domain::kill_switch::Switch::Off,
    );
    p
}

pub(crate) fn tokens() -> TokenTable {
    let mut t = TokenTable::new();
    let a = || TokenTenant::Tenant(tenant("a"));
    t.insert_token(A_INGEST, "am-a", a(), Role::Ingest);
    t.insert_token(A_VIEWER, "viewer-a", a(), Role::Viewer);
    t.insert_token(A_OPERATOR, "alice", a(), Role::Operator);
    t.insert_token(A_OPERATOR2, "anna", a(), Role::Operator);
    t.insert_token(A_ADMIN, "ada", a(), Role::Admin);
    t.insert_token(
        B_OPERATOR,
        "bob",
        TokenTenant::Tenant(tenant("b")),
        Role::Operator,
    );
    t.insert_token(P_ADMIN, "root", TokenTenant::Platform, Role::Admin);
    t.insert_token(P_VIEWER, "grafana", TokenTenant::Platform, Role::Viewer);
    t
}

pub(crate) struct Api {
    pub(crate) kit: Kit,
    pub(crate) engine: Engine,
    pub(crate) app: Router,
}

pub(crate) async fn api() -> Api {
    let kit = Kit::new();
    let engine = Engine::builder(kit.ports())
        .tenant(policy("a"))
        .tenant(policy("b"))
        .build()
        .await
        .unwrap();
    let settings = HttpSettings {
        body_limit: BODY_LIMIT,
        ..HttpSettings::default()
    };
    let app = router(AppState::new(engine.clone(), tokens(), settings));
    Api { kit, engine, app }
}

/// A response, decoded.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
    pub(crate) text: String,
}

impl Reply {
    /// The `error` code of an error body.
    pub(crate) fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("<none>")
    }
}

impl Api {
    pub(crate) async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(b).unwrap())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    pub(crate) async fn get(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::GET, uri, Some(token), None).await
    }

    pub(crate) async fn post(&self, uri: &str, token: &str, body: &Value) -> Reply {
        self.call(Method::POST, uri, Some(token), Some(body)).await
    }

    pub(crate) async fn put(&self, uri: &str, token: &str, body: &Value) -> Reply {
        self.call(Method::PUT, uri, Some(token), Some(body)).await
    }

    pub(crate) async fn post_raw(
        &self,
        uri: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Posts one generic firing alert; returns the first decision.
    pub(crate) async fn fire(&self, token: &str, alertname: &str, service: &str) -> Value {
        let r = self
            .post("/v1/alerts", token, &generic(alertname, service, "firing"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        self.engine.wait_idle().await;
        r.body["decisions"][0].clone()
    }
}

/// A generic intake body with one alert.
pub(crate) fn generic(alertname: &str, service: &str, status: &str) -> Value {
    json!({"alerts": [{
        "status": status,
        "labels": {"alertname": alertname, "namespace": "prod", "service": service, "severity": "critical"},
        "annotations": {"summary": "test"},
        "startsAt": "2026-11-23T17:18:33Z",
        "endsAt": null
    }]})
}

/// One of the real Alertmanager payloads in examples/alerts/.
pub(crate) fn payload(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/examples/alerts/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The audit entries of one kind, newest first (read by tenant a's viewer).
pub(crate) async fn audit(api: &Api, kind: &str) -> Vec<Value> {
    let r = api
        .get(&format!("/v1/audit?operation_type={kind}"), A_VIEWER)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}
