//! Operations endpoints, no token needed: `/healthz`, `/readyz`,
//! `/metrics` and `/v1/openapi.json`. They carry counts, never tenant data.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::auth::{Permission, TokenTenant, authenticate_headers};
use crate::error::ApiError;

/// 200 while the process serves.
pub(crate) async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// 200 only when the store and the lock backend both answer within the
/// ready timeout; 503 naming the failing part otherwise (and while the
/// server drains for shutdown).
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    if state.is_draining() {
        return Err(ApiError::Unavailable("the server is shutting down".into()));
    }
    let limit = state.settings().ready_timeout;
    let ports = state.engine().ports();
    let (store, locks) = tokio::join!(
        tokio::time::timeout(limit, ports.stores.health.ping()),
        tokio::time::timeout(limit, ports.locks.ping()),
    );
    let timed_out = || {
        format!(
            "no answer within {}",
            hale_domain::time::duration::format(limit)
        )
    };
    let store = match store {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(timed_out()),
    };
    let locks = match locks {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(timed_out()),
    };
    match (store, locks) {
        (Ok(()), Ok(())) => {
            Ok(Json(json!({ "status": "ready", "store": "ok", "locks": "ok" })).into_response())
        }
        (store, locks) => {
            let mut parts = Vec::new();
            if let Err(e) = store {
                parts.push(format!("store: {e}"));
            }
            if let Err(e) = locks {
                parts.push(format!("lock backend: {e}"));
            }
            Err(ApiError::Unavailable(format!(
                "not ready: {}",
                parts.join("; ")
            )))
        }
    }
}

/// Prometheus text format. With `[server] metrics_require_token`, only a
/// platform token that may read gets it (the gauges name every tenant).
/// Backend errors go to the log, never into the scrape: a dead store shows
/// as `hale_status_up 0`.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if state.settings().metrics_require_token {
        let caller = authenticate_headers(&headers, state.tokens())?;
        caller.require(Permission::Read)?;
        if caller.tenant != TokenTenant::Platform {
            return Err(ApiError::Forbidden(format!(
                "token {:?} belongs to one tenant; /metrics covers every tenant, so it needs a platform token (tenant = \"*\")",
                caller.name
            )));
        }
    }
    let engine = state.engine();
    // Breaker and dormancy gauges need the tenants' state, which may need
    // the store; a slow or dead store must not hang the scrape.
    let status =
        match tokio::time::timeout(state.settings().ready_timeout, engine.global_status()).await {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "metrics: global status unavailable");
                None
            }
            Err(_) => None,
        };
    let body = crate::metrics::render(
        &engine.metrics(),
        status.as_ref(),
        &state.http_counters().snapshot(),
    );
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response())
}

/// The OpenAPI 3.1 document.
pub(crate) async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}
