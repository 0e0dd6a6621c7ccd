//! Intake: `POST /v1/alerts/alertmanager` (the webhook body, version 4,
//! exactly as Alertmanager sends it) and `POST /v1/alerts` (the generic
//! form). The token decides the tenant.
//!
//! Resolved alerts and HA duplicates need nothing special here: the engine
//! recognises a repeated delivery by its idempotency key and a repeated
//! episode by the fingerprint store, and answers `duplicate_delivery` or
//! `deduplicated`. A store or lock outage answers 503 with `Retry-After`
//! before anything of the failing alert is recorded, so Alertmanager's
//! retry loses nothing.

use axum::extract::State;
use axum::response::Response;
use hale_domain::TenantId;
use hale_domain::alert::Alert;
use hale_domain::alertmanager::{WebhookAlert, WebhookMessage, parse_webhook};
use hale_engine::AlertDecision;
use serde::{Deserialize, Serialize};

use super::{AppState, render};
use crate::auth::{Caller, Permission};
use crate::error::ApiError;
use crate::extract::{JsonBytes, QueryArgs, parse_json};

/// `?tenant=` (platform tokens only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntakeQuery {
    tenant: Option<String>,
}

/// The answer to both intake routes.
#[derive(Debug, Serialize)]
pub(crate) struct IngestResponse {
    /// Alerts in the request.
    received: usize,
    /// One decision per alert, in order.
    decisions: Vec<AlertDecision>,
}

/// The generic form: `{"alerts": [...]}`, each alert shaped like one of
/// Alertmanager's (`status`, `labels`, `annotations`, `startsAt`,
/// `endsAt`, optional `generatorURL` and `fingerprint`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericBody {
    alerts: Vec<WebhookAlert>,
}

pub(crate) async fn alertmanager(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<IntakeQuery>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    caller.require(Permission::Ingest)?;
    let tenant = caller.tenant_for(q.tenant.as_deref())?;
    let alerts = parse_webhook(&body)?.into_alerts()?;
    ingest(&state, &tenant, alerts).await
}

pub(crate) async fn generic(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<IntakeQuery>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    caller.require(Permission::Ingest)?;
    let tenant = caller.tenant_for(q.tenant.as_deref())?;
    let body: GenericBody = parse_json(&body)?;
    // The generic alerts are checked by the same code as the webhook's,
    // so both forms accept and reject exactly the same alerts.
    let alerts = WebhookMessage {
        version: "4".into(),
        group_key: String::new(),
        truncated_alerts: 0,
        status: "firing".into(),
        receiver: String::new(),
        group_labels: Default::default(),
        common_labels: Default::default(),
        common_annotations: Default::default(),
        external_url: String::new(),
        alerts: body.alerts,
    }
    .into_alerts()?;
    ingest(&state, &tenant, alerts).await
}

async fn ingest(
    state: &AppState,
    tenant: &TenantId,
    alerts: Vec<Alert>,
) -> Result<Response, ApiError> {
    super::limits::check_alerts(&alerts, &state.settings().limits)?;
    // Held until the delivery's work ends, even past the request timeout.
    // The wait for a work slot and the refusal's hold both end well inside
    // the request timeout, so a refusal is this answer, not the timeout's.
    let timeout = state.settings().request_timeout;
    let _entry = state
        .admission()
        .enter(tenant, timeout / 2, timeout / 4)
        .await
        .map_err(|refusal| ApiError::Unavailable(refusal.to_string()))?;
    let received = alerts.len();
    let report = state.engine().ingest(tenant, alerts).await?;
    render(
        &IngestResponse {
            received,
            decisions: report.decisions,
        },
        None,
    )
}
