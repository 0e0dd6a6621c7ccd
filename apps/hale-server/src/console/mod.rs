//! The operator console: `/console`, served by `hale-server` itself.
//!
//! Server-rendered HTML (maud templates, escaped by construction), one
//! small vendored script (`assets/console.js`: local times, countdowns,
//! self-refreshing parts) and one stylesheet, no build step. Every page
//! works without the script, in UTC and with whole-page refreshes.
//!
//! Sign-in takes an API token (`signin`); the session keeps the token's
//! identity (name, role, tenant) and nothing else ([`session`]). Every read
//! calls the same function in `routes::reads` as the JSON API and every act
//! the same function in `routes::acts`, with the session's identity: the
//! API's role and tenant rules, its validation and its audit apply as they
//! are. Acts are tagged with channel `web` (see `acts::ActBy`). Every form
//! carries the session's CSRF token; viewer sessions get no forms.
//!
//! Responses carry a strict Content-Security-Policy (scripts, styles and
//! images from this origin only, no inline code), `X-Frame-Options: DENY`,
//! `Referrer-Policy: no-referrer` and, for pages, `Cache-Control: no-store`.
//! See docs/console.md.

mod approvals;
mod audit;
mod controls;
mod extract;
mod incidents;
mod knowledge;
mod maintenance;
mod operations;
mod overview;
pub(crate) mod page;
mod recovery;
pub mod session;
mod signin;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::routes::AppState;
use page::ConsoleError;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// The policy every console response carries: nothing but this origin's
/// own files, no inline script or style, no framing, forms post here only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every console route, as (method, path): the console's page and form
/// list, for tests and docs/console.md.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/console"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("POST", "/console/logout"),
    ("GET", "/console/approvals"),
    ("GET", "/console/approvals/{id}"),
    ("POST", "/console/approvals/{id}/approve"),
    ("POST", "/console/approvals/{id}/reject"),
    ("GET", "/console/incidents"),
    ("GET", "/console/incidents/{id}"),
    ("GET", "/console/operations"),
    ("GET", "/console/operations/{id}"),
    ("GET", "/console/audit"),
    ("GET", "/console/maintenance"),
    ("POST", "/console/maintenance/windows"),
    ("POST", "/console/maintenance/windows/{id}/end"),
    ("GET", "/console/knowledge"),
    ("POST", "/console/knowledge/{id}/archive"),
    ("GET", "/console/controls"),
    ("POST", "/console/switches"),
    ("POST", "/console/dormancy/enter"),
    ("POST", "/console/dormancy/resume"),
    ("POST", "/console/breakers/{name}/reset"),
    ("POST", "/console/attempts/reset"),
    ("GET", "/console/recovery"),
    ("GET", "/console/static/{file}"),
];

/// The console's routes, to merge into the server's router.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(overview::overview))
        .route("/console/login", get(signin::form).post(signin::sign_in))
        .route("/console/logout", post(signin::sign_out))
        .route("/console/approvals", get(approvals::list))
        .route("/console/approvals/{id}", get(approvals::detail))
        .route("/console/approvals/{id}/approve", post(approvals::approve))
        .route("/console/approvals/{id}/reject", post(approvals::reject))
        .route("/console/incidents", get(incidents::list))
        .route("/console/incidents/{id}", get(incidents::detail))
        .route("/console/operations", get(operations::list))
        .route("/console/operations/{id}", get(operations::detail))
        .route("/console/audit", get(audit::list))
        .route("/console/maintenance", get(maintenance::page))
        .route("/console/maintenance/windows", post(maintenance::open))
        .route(
            "/console/maintenance/windows/{id}/end",
            post(maintenance::end),
        )
        .route("/console/knowledge", get(knowledge::list))
        .route("/console/knowledge/{id}/archive", post(knowledge::archive))
        .route("/console/controls", get(controls::page))
        .route("/console/switches", post(controls::set_switch))
        .route("/console/dormancy/enter", post(controls::enter_dormant))
        .route("/console/dormancy/resume", post(controls::resume))
        .route(
            "/console/breakers/{name}/reset",
            post(controls::reset_breaker),
        )
        .route("/console/attempts/reset", post(controls::reset_attempts))
        .route("/console/recovery", get(recovery::page))
        .route("/console/static/{file}", get(asset))
        .layer(middleware::from_fn(headers))
}

/// Whether a request path belongs to the console (its 404s are pages).
pub(crate) fn owns(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// A console 404 page.
pub(crate) fn not_found() -> Response {
    ConsoleError::page(StatusCode::NOT_FOUND, "no such console page").into_response()
}

/// `GET /console/static/{file}`: the vendored stylesheet, script and icon.
async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (FAVICON, "image/svg+xml"),
        _ => return not_found(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // Revalidate each time: a new server version must not run
            // against an old cached script.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Security headers on every console response; pages are never cached.
async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
