//! # hale-http-fuzz
//!
//! The whole HTTP surface under arbitrary input: bytes become a request
//! (method, path, query, headers, body, bearer token) that the real router
//! answers over in-memory ports with two tenants. The rule is the one
//! docs/reliability.md states: no panic, and no 5xx other than 503 (a
//! panic inside a handler surfaces as a 500, so it is caught by the same
//! check).
//!
//! Two drivers share [`Harness`]:
//!
//! * `fuzz/fuzz_targets/http_router.rs`, a cargo-fuzz (libFuzzer) target
//!   for long runs (`scripts/fuzz.sh`, nightly);
//! * `tests/short_run.rs`, a bounded, deterministic run on the stable
//!   toolchain (the checked-in seeds, then mutations of them) that
//!   `scripts/test.sh`, and so CI, runs with the other tests.
//!
//! ## Input format
//!
//! ```text
//! byte 0   method: GET POST PUT DELETE PATCH HEAD OPTIONS, or the
//!          field bytes as a method name when >= 0xF0
//! byte 1   token (low 3 bits): none, garbage, a-viewer, a-operator,
//!          a-ingest, platform admin, platform viewer, b-operator;
//!          bit 7 set: no default Content-Type
//! byte 2   route: < 0xC0 picks a registered route template (its `{..}`
//!          filled with the path field), else the path field is the path
//! rest     fields separated by 0x00: path, query, headers
//!          ("name: value" lines), body (the rest, 0x00 included)
//! ```
//!
//! Bytes that cannot appear in a URI are percent-encoded, so most inputs
//! reach the router; `%` is kept, so the fuzzer can write its own escapes
//! (`%C3%A9`).

use std::fmt;

use axum::Router;
use axum::body::Body;
use hale_domain::TenantId;
use hale_engine::{Engine, TenantPolicy};
use hale_server::auth::{Role, TokenTable, TokenTenant};
use hale_server::routes::{AppState, HttpSettings, RouteInfo, route_list, router};
use hale_testkit::Kit;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

/// How many requests one world serves before it is rebuilt, so the
/// in-memory store does not grow without bound over millions of inputs.
pub const WORLD_LIFETIME: u64 = 2_000;

const METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::HEAD,
    Method::OPTIONS,
];

const TOKENS: [Option<&str>; 8] = [
    None,
    Some("not-a-configured-token"),
    Some("fuzz-a-viewer"),
    Some("fuzz-a-operator"),
    Some("fuzz-a-ingest"),
    Some("fuzz-platform-admin"),
    Some("fuzz-platform-viewer"),
    Some("fuzz-b-operator"),
];

/// A request that broke the rule.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What was sent.
    pub request: String,
    /// The status answered.
    pub status: StatusCode,
    /// The body answered (at most 2 KiB of it).
    pub body: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered {}: {}",
            self.request, self.status, self.body
        )
    }
}

/// The router under test and what it runs on.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    engine: Engine,
    app: Router,
    routes: Vec<RouteInfo>,
    served: u64,
    /// Requests sent so far, over every world.
    pub total: u64,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("served", &self.served)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap_or_else(|e| unreachable!("fixed tenant id {id}: {e}"))
}

/// An automatic restart and an approval-path scale, so intake reaches
/// both paths and approvals exist to approve.
fn policy(id: &str) -> TenantPolicy {
    let strategies = serde_json::from_value(json!([
        {"id": "restart", "risk": "low", "trigger": {"alertnames": ["HighErrorRate"]},
         "target": {"kind": "deployment"}, "actions": [{"kind": "rollout_restart"}],
         "verify": {"check": "none"}, "cooldown": "0s"},
        {"id": "scale-up", "risk": "high", "trigger": {"alertnames": ["Saturated"]},
         "target": {"kind": "deployment"},
         "actions": [{"kind": "scale", "params": {"replicas": 4}}],
         "verify": {"check": "none"}}
    ]))
    .unwrap_or_else(|e| unreachable!("fixed strategies: {e}"));
    TenantPolicy::new(tenant(id), strategies)
}

fn tokens() -> TokenTable {
    let mut t = TokenTable::new();
    let a = || TokenTenant::Tenant(tenant("a"));
    let entries = [
        (2, "viewer-a", a(), Role::Viewer),
        (3, "operator-a", a(), Role::Operator),
        (4, "ingest-a", a(), Role::Ingest),
        (5, "admin", TokenTenant::Platform, Role::Admin),
        (6, "prometheus", TokenTenant::Platform, Role::Viewer),
        (
            7,
            "operator-b",
            TokenTenant::Tenant(tenant("b")),
            Role::Operator,
        ),
    ];
    for (i, name, tenant, role) in entries {
        if let Some(token) = TOKENS[i] {
            t.insert_token(token, name, tenant, role);
        }
    }
    t
}

fn world(rt: &tokio::runtime::Runtime) -> (Engine, Router) {
    rt.block_on(async {
        let kit = Kit::new();
        let engine = Engine::builder(kit.ports())
            .tenant(policy("a"))
            .tenant(policy("b"))
            .build()
            .await
            .unwrap_or_else(|e| unreachable!("fixed policy: {e}"));
        let settings = HttpSettings {
            metrics_require_token: true,
            ..HttpSettings::default()
        };
        let app = router(AppState::new(engine.clone(), tokens(), settings));
        (engine, app)
    })
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// A current-thread runtime and a fresh world.
    pub fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| unreachable!("a current-thread runtime: {e}"));
        let (engine, app) = world(&rt);
        Harness {
            rt,
            engine,
            app,
            routes: route_list(),
            served: 0,
            total: 0,
        }
    }

    /// Sends the request `data` decodes to (inputs that make no valid
    /// request are skipped) and checks the answer.
    pub fn run(&mut self, data: &[u8]) -> Result<(), Finding> {
        let Some((request, described)) = decode(data, &self.routes) else {
            return Ok(());
        };
        if self.served >= WORLD_LIFETIME {
            let (engine, app) = world(&self.rt);
            self.engine = engine;
            self.app = app;
            self.served = 0;
        }
        self.served += 1;
        self.total += 1;
        let app = self.app.clone();
        let engine = self.engine.clone();
        let (status, body) = self.rt.block_on(async move {
            let res = match app.oneshot(request).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            let status = res.status();
            let body = match res.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => axum::body::Bytes::from(format!("<body error: {e}>")),
            };
            // Whatever the request started finishes before the next one.
            engine.wait_idle().await;
            (status, body)
        });
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            let shown = &body[..body.len().min(2048)];
            return Err(Finding {
                request: described,
                status,
                body: String::from_utf8_lossy(shown).into_owned(),
            });
        }
        Ok(())
    }
}

/// Bytes kept as they are in a path or query; the rest is `%XX`.
fn uri_safe(b: u8, query: bool) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'_' | b'~' | b'%' | b'/' | b':' | b',' | b'+' | b'@'
        )
        || (query && matches!(b, b'=' | b'&' | b'?'))
}

fn encode(bytes: &[u8], query: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if uri_safe(b, query) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request `data` describes, and a printable description of it; `None`
/// when the bytes make no valid request (an invalid method or header is
/// something hyper would have refused before the router).
pub fn decode(data: &[u8], routes: &[RouteInfo]) -> Option<(Request<Body>, String)> {
    let [m, t, r, rest @ ..] = data else {
        return None;
    };
    let mut fields = rest.splitn(4, |b| *b == 0);
    let path_field = fields.next().unwrap_or_default();
    let query_field = fields.next().unwrap_or_default();
    let header_field = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();

    let method = if *m >= 0xF0 {
        Method::from_bytes(path_field).ok()?
    } else {
        METHODS[usize::from(*m) % METHODS.len()].clone()
    };
    let token = TOKENS[usize::from(*t & 0x07)];
    let default_content_type = *t & 0x80 == 0;

    let path = if *r < 0xC0 && !routes.is_empty() {
        let template = routes[usize::from(*r) % routes.len()].path;
        let arg = encode(path_field, false).replace('/', "%2F");
        let mut p = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            p.push_str(&rest[..open]);
            p.push_str(&arg);
            rest = &rest[close..];
        }
        p.push_str(rest);
        p
    } else {
        format!("/{}", encode(path_field, false))
    };
    let uri = if query_field.is_empty() {
        path
    } else {
        format!("{path}?{}", encode(query_field, true))
    };

    let mut req = Request::builder().method(method.clone()).uri(&uri);
    let mut has_content_type = false;
    for line in header_field.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        has_content_type |= name == http::header::CONTENT_TYPE;
        req = req.header(name, value);
    }
    if let Some(token) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if default_content_type && !has_content_type {
        req = req.header(http::header::CONTENT_TYPE, "application/json");
    }
    let described = format!(
        "{method} {uri} (token {token:?}, {} header bytes, {} body bytes)",
        header_field.len(),
        body.len()
    );
    let request = req.body(Body::from(body.to_vec())).ok()?;
    Some((request, described))
}
