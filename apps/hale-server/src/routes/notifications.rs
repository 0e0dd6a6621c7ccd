//! `GET /v1/notifications`: the outbox's deliveries (notice, channel,
//! attempts, last error, delivered at), newest notice first, for the
//! caller's tenant; a platform token without `?tenant=` reads the
//! platform-wide notices (the lock backend).
//!
//! `POST /v1/notifications/redrive`: sends a channel's given-up deliveries
//! again (an operator of the tenant; the platform's by a platform admin),
//! audited as `notifications.redriven`.

use axum::extract::State;
use axum::response::Response;
use hale_domain::TenantId;
use hale_engine::ports::{DeliveryFilter, NoticeDelivery, Page, RedriveFilter};
use serde::{Deserialize, Serialize};

use super::acts::{ActBy, ActQuery, platform_act, tenant_act};
use super::reads::{page, wire};
use super::{AppState, render};
use crate::auth::{Caller, Identity, Permission, TokenTenant};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryArgs};

/// The query of `GET /v1/notifications`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotificationsQuery {
    pub(crate) tenant: Option<String>,
    pub(crate) tz: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u64>,
    pub(crate) channel: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) pending: Option<bool>,
}

/// A page of deliveries of the caller's scope.
pub(crate) async fn notifications(
    state: &AppState,
    who: &Identity,
    q: &NotificationsQuery,
) -> Result<Page<NoticeDelivery>, ApiError> {
    who.require(Permission::Read)?;
    let scope = who.scope_for(q.tenant.as_deref())?;
    if let Some(t) = &scope {
        state.engine().policy(t)?;
    }
    let filter = DeliveryFilter {
        channel: q
            .channel
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        kind: wire("kind", q.kind.as_deref())?,
        pending: q.pending,
        page: page(q.limit, q.offset)?,
    };
    Ok(state
        .engine()
        .ports()
        .stores
        .outbox
        .list_deliveries(scope.as_ref(), &filter)
        .await?)
}

pub(crate) async fn notifications_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<NotificationsQuery>,
) -> Result<Response, ApiError> {
    render(&notifications(&state, &caller, &q).await?, q.tz.as_deref())
}

/// The body of `POST /v1/notifications/redrive`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedriveBody {
    pub(crate) channel: String,
    pub(crate) reason: String,
    /// Only this notice.
    pub(crate) notice_id: Option<String>,
    /// Only this kind.
    pub(crate) kind: Option<String>,
}

/// What a redrive did.
#[derive(Debug, Serialize)]
pub(crate) struct Redriven {
    /// The scope: a tenant, or `*` for the platform.
    pub(crate) tenant: String,
    pub(crate) channel: String,
    /// Given-up deliveries made pending again.
    pub(crate) redriven: u32,
}

/// Makes the given-up deliveries of a channel pending again: a tenant's
/// (operator role), or, for a platform token without `?tenant=`, the
/// platform's (admin role).
pub(crate) async fn redrive(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    body: &RedriveBody,
) -> Result<Redriven, ApiError> {
    let who = by.identity();
    let asked = tenant.map(str::trim).filter(|t| !t.is_empty());
    let scope: Option<TenantId> = match (&who.tenant, asked) {
        (TokenTenant::Platform, None) => {
            platform_act(who)?;
            None
        }
        _ => Some(tenant_act(who, asked)?),
    };
    let channel = body.channel.trim();
    if channel.is_empty() {
        return Err(ApiError::Invalid("channel: a channel is required".into()));
    }
    if body.reason.trim().is_empty() {
        return Err(ApiError::Invalid("reason: a reason is required".into()));
    }
    let filter = RedriveFilter {
        channel: channel.to_owned(),
        notice_id: body
            .notice_id
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        kind: wire("kind", body.kind.as_deref())?,
    };
    let scope_name = scope.as_ref().map_or("*", TenantId::as_str).to_owned();
    by.log("notifications.redrive", &scope_name);
    let redriven = state
        .engine()
        .redrive_notifications(scope.as_ref(), &filter, &body.reason, by.origin())
        .await?;
    Ok(Redriven {
        tenant: scope_name,
        channel: filter.channel,
        redriven,
    })
}

pub(crate) async fn redrive_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<RedriveBody>,
) -> Result<Response, ApiError> {
    let r = redrive(&state, ActBy::api(&caller), q.tenant.as_deref(), &body).await?;
    render(&r, None)
}
