//! `GET /v1/notifications`: the outbox's deliveries (notice, channel,
//! attempts, last error, delivered at), newest notice first, for the
//! caller's tenant; a platform token without `?tenant=` reads the
//! platform-wide notices (the lock backend).

use axum::extract::State;
use axum::response::Response;
use hale_engine::ports::{DeliveryFilter, NoticeDelivery, Page};
use serde::Deserialize;

use super::reads::{page, wire};
use super::{AppState, render};
use crate::auth::{Caller, Identity, Permission};
use crate::error::ApiError;
use crate::extract::QueryArgs;

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
