//! The HTTP API of docs/api.md, on axum 0.8.
//!
//! [`router`] builds the whole service from an [`AppState`] (an engine and
//! a token table), so tests drive it with `oneshot` over in-memory ports
//! and the binary serves it on a socket. The route list comes from the same
//! calls that register the handlers ([`route_list`]), and a test holds the
//! OpenAPI document to it.
//!
//! Middleware, outermost first: request counting (by route template, for
//! `/metrics`), `Retry-After` on every 503, the request timeout, the body
//! limit.

pub(crate) mod acts;
mod intake;
mod limits;
mod notifications;
mod ops;
pub(crate) mod reads;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use hale_engine::Engine;
use serde::Serialize;

use crate::admission::Admission;
use crate::auth::TokenTable;
use crate::config::{Config, LimitsSection, ServerSection};
use crate::console::session::{MAX_SESSIONS, Sessions};
use crate::error::ApiError;
use crate::metrics::HttpCounters;
use crate::tz::RenderZone;

/// The HTTP settings the router needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Bound on one request (503 after it).
    pub request_timeout: Duration,
    /// Bound on each readiness check.
    pub ready_timeout: Duration,
    /// `Retry-After` on 503 answers.
    pub retry_after: Duration,
    /// How long an operator console session lives.
    pub session_lifetime: Duration,
    /// Whether console cookies are always `Secure` (the public URL is
    /// `https`); they are also for requests forwarded over TLS.
    pub secure_cookies: bool,
    /// Caps on what one alert may carry (`[limits]`).
    pub limits: LimitsSection,
    /// Whether `/metrics` needs a platform token.
    pub metrics_require_token: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings::from_config(&ServerSection::default())
    }
}

impl HttpSettings {
    /// The settings of a whole configuration: `[server]` and `[limits]`.
    pub fn from_full_config(config: &Config) -> Self {
        HttpSettings {
            limits: config.limits.clone(),
            ..HttpSettings::from_config(&config.server)
        }
    }

    /// The settings of a `[server]` section (with the default `[limits]`).
    pub fn from_config(s: &ServerSection) -> Self {
        HttpSettings {
            body_limit: s.body_limit,
            request_timeout: s.request_timeout,
            ready_timeout: s.ready_timeout,
            retry_after: s.retry_after,
            session_lifetime: s.session_lifetime,
            secure_cookies: s
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            limits: LimitsSection::default(),
            metrics_require_token: s.metrics_require_token,
        }
    }
}

struct Shared {
    engine: Engine,
    admission: Admission,
    tokens: TokenTable,
    settings: HttpSettings,
    http: HttpCounters,
    sessions: Sessions,
    draining: AtomicBool,
}

/// What every handler sees. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("engine", &self.0.engine)
            .field("tokens", &self.0.tokens)
            .field("settings", &self.0.settings)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over an engine and the tokens that may use it.
    pub fn new(engine: Engine, tokens: TokenTable, settings: HttpSettings) -> Self {
        let sessions = Sessions::new(settings.session_lifetime, MAX_SESSIONS);
        let admission = Admission::new(
            settings.limits.intake_in_flight,
            settings.limits.intake_in_flight_per_tenant,
            settings.limits.intake_concurrency(),
        );
        AppState(Arc::new(Shared {
            engine,
            admission,
            tokens,
            settings,
            http: HttpCounters::default(),
            sessions,
            draining: AtomicBool::new(false),
        }))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// Intake's in-flight limits.
    pub fn admission(&self) -> &Admission {
        &self.0.admission
    }

    /// The tokens.
    pub fn tokens(&self) -> &TokenTable {
        &self.0.tokens
    }

    /// The settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.0.settings
    }

    /// The operator console's sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.0.sessions
    }

    /// The request counters.
    pub fn http_counters(&self) -> &HttpCounters {
        &self.0.http
    }

    /// Marks the server as shutting down: `/readyz` answers 503 so load
    /// balancers stop sending traffic while in-flight requests finish.
    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::Release);
    }

    /// Whether [`AppState::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Acquire)
    }
}

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteInfo {
    /// The method.
    pub method: String,
    /// The path template (`/v1/operations/{id}`).
    pub path: &'static str,
}

/// Registers handlers and remembers what it registered.
struct Routes {
    router: Router<AppState>,
    list: Vec<RouteInfo>,
}

impl Routes {
    fn add(mut self, method: Method, path: &'static str, mr: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, mr);
        self.list.push(RouteInfo {
            method: method.as_str().to_owned(),
            path,
        });
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::GET, path, axum::routing::get(h))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::POST, path, axum::routing::post(h))
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PUT, path, axum::routing::put(h))
    }
}

fn routes() -> Routes {
    Routes {
        router: Router::new(),
        list: Vec::new(),
    }
    // Intake.
    .post("/v1/alerts/alertmanager", intake::alertmanager)
    .post("/v1/alerts", intake::generic)
    // Reads.
    .get("/v1/status", reads::status_json)
    .get("/v1/operations", reads::operations_json)
    .get("/v1/operations/{id}", reads::operation_json)
    .get("/v1/incidents", reads::incidents_json)
    .get("/v1/incidents/{id}", reads::incident_json)
    .get("/v1/knowledge", reads::knowledge_json)
    .get("/v1/knowledge/{id}", reads::knowledge_entry_json)
    .get("/v1/approvals", reads::approvals_json)
    .get("/v1/approvals/{id}", reads::approval_json)
    .get("/v1/audit", reads::audit_json)
    .get("/v1/timeline", reads::timeline_json)
    .get("/v1/switches", reads::switches_json)
    .get("/v1/breakers", reads::breakers_json)
    .get("/v1/notifications", notifications::notifications_json)
    .get("/v1/maintenance-windows", reads::maintenance_windows_json)
    // Acts.
    .post("/v1/approvals/{id}/approve", acts::approve_json)
    .post("/v1/approvals/{id}/reject", acts::reject_json)
    .put("/v1/switches", acts::set_switch_json)
    .post("/v1/dormancy/resume", acts::resume_json)
    .post("/v1/dormancy/enter", acts::enter_dormant_json)
    .post("/v1/breakers/{name}/reset", acts::reset_breaker_json)
    .post("/v1/attempts/reset", acts::reset_attempts_json)
    .post("/v1/notifications/redrive", notifications::redrive_json)
    .post("/v1/incidents/{id}/close", acts::close_incident_json)
    .post("/v1/knowledge", acts::create_runbook_json)
    .post("/v1/knowledge/{id}/archive", acts::archive_knowledge_json)
    .post("/v1/maintenance-windows", acts::open_window_json)
    .post("/v1/maintenance-windows/{id}/end", acts::end_window_json)
    // Operations.
    .get("/healthz", ops::healthz)
    .get("/readyz", ops::readyz)
    .get("/metrics", ops::metrics)
    .get("/v1/openapi.json", ops::openapi)
}

/// Every route the router serves, as (method, path template).
pub fn route_list() -> Vec<RouteInfo> {
    routes().list
}

/// The whole HTTP service: the API of [`route_list`] and the operator
/// console (`/console`, [`crate::console`]).
pub fn router(state: AppState) -> Router {
    let limit = state.settings().body_limit;
    routes()
        .router
        .merge(crate::console::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn_with_state(state.clone(), retry_after))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if crate::console::owns(uri.path()) {
        return crate::console::not_found();
    }
    ApiError::NotFound("no such route; see /v1/openapi.json".into()).into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(crate::error::ErrorBody {
            error: "method_not_allowed".into(),
            detail: "this route does not take that method; see /v1/openapi.json".into(),
        }),
    )
        .into_response()
}

/// Counts the request by route template and logs it (never its headers).
async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().clone();
    let started = tokio::time::Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    state.http_counters().record(&route, status);
    tracing::debug!(%method, route, status, elapsed_ms = started.elapsed().as_millis() as u64, "request");
    res
}

/// Every 503 tells the client when to come back.
async fn retry_after(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if res.status() == StatusCode::SERVICE_UNAVAILABLE
        && !res.headers().contains_key(header::RETRY_AFTER)
    {
        let secs = state.settings().retry_after.as_secs().max(1);
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

/// Bounds a request's time. The handler runs as its own task, so a request
/// that times out still finishes (or fails) whole in the background rather
/// than stopping half-way: an alert batch cut off after its idempotency key
/// was claimed would otherwise be taken for a duplicate when Alertmanager
/// retries it.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.settings().request_timeout;
    let task = tokio::spawn(next.run(req));
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(res)) => res,
        Ok(Err(join)) => {
            // A panic is a bug; its text (an index, a value from the
            // request) is for the log, not for the caller.
            tracing::error!(error = %join, "the request handler panicked");
            ApiError::Internal("the request handler failed; the server log has the details".into())
                .into_response()
        }
        Err(_) => ApiError::Unavailable(format!(
            "the request took longer than {}; it may still complete, retry later",
            hale_domain::time::duration::format(limit)
        ))
        .into_response(),
    }
}

// === Shared helpers for handlers ===

/// Serializes `value` and renders its timestamps in `tz` when given.
pub(crate) fn render<T: Serialize>(value: &T, tz: Option<&str>) -> Result<Response, ApiError> {
    let mut json = serde_json::to_value(value)
        .map_err(|e| ApiError::Internal(format!("could not serialize the response: {e}")))?;
    if let Some(tz) = tz.filter(|t| !t.is_empty()) {
        RenderZone::parse(tz)
            .map_err(ApiError::Invalid)?
            .apply(&mut json);
    }
    Ok(axum::Json(json).into_response())
}
