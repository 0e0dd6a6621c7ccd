//! Reads: status, operations, incidents, approvals, audit log, timeline,
//! switches and breakers, each for the caller's tenant, with filters and
//! newest-first pagination. Another tenant's ids read as 404: the stores
//! only ever look inside the caller's tenant.

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::{
    ApprovalId, IncidentId, OperationId, ResourceRef, StrategyId, TenantId, Timestamp,
};
use hale_engine::ports::{
    ApprovalFilter, AuditFilter, IncidentFilter, OperationFilter, PageRequest, Stores,
    TimelineFilter,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{AppState, render};
use crate::auth::{Caller, Permission};
use crate::error::ApiError;
use crate::extract::QueryArgs;

// === Parsing filter values ===

/// A page from `?limit=` (1..=1000, default 50) and `?offset=`.
fn page(limit: Option<u32>, offset: Option<u64>) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::Invalid(format!(
            "limit must be between 1 and {}, got {limit}",
            PageRequest::MAX_LIMIT
        )));
    }
    Ok(PageRequest::new(limit, offset.unwrap_or(0)))
}

/// An enum value by its wire name, in any letter case
/// (`state=completed` and `state=COMPLETED` both work).
fn wire<T: DeserializeOwned>(name: &str, value: Option<&str>) -> Result<Option<T>, ApiError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    for candidate in [v.to_owned(), v.to_ascii_lowercase(), v.to_ascii_uppercase()] {
        if let Ok(t) = serde_json::from_value(serde_json::Value::String(candidate)) {
            return Ok(Some(t));
        }
    }
    Err(ApiError::Invalid(format!(
        "{name}: {v:?} is not a valid value"
    )))
}

fn time(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| Timestamp::parse_rfc3339(v).map_err(|e| ApiError::Invalid(format!("{name}: {e}"))))
        .transpose()
}

fn resource(value: Option<&str>) -> Result<Option<ResourceRef>, ApiError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            ResourceRef::parse(v).map_err(|e| {
                ApiError::Invalid(format!("resource: {e} (expected namespace:kind/name)"))
            })
        })
        .transpose()
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// The tenant a read is about, after the role check, and the stores to
/// read it from. A tenant that is not configured is 404.
fn reader<'a>(
    state: &'a AppState,
    caller: &Caller,
    asked: Option<&str>,
) -> Result<(TenantId, &'a Stores), ApiError> {
    caller.require(Permission::Read)?;
    let tenant = caller.tenant_for(asked)?;
    state.engine().policy(&tenant)?;
    Ok((tenant, &state.engine().ports().stores))
}

/// One object, or 404 naming what was asked for.
fn one<T: serde::Serialize>(
    found: Option<T>,
    what: &str,
    id: &str,
    tz: Option<&str>,
) -> Result<Response, ApiError> {
    match found {
        Some(item) => render(&item, tz),
        None => Err(ApiError::NotFound(format!("no {what} {id:?}"))),
    }
}

/// The query of a single-object read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OneQuery {
    tenant: Option<String>,
    tz: Option<String>,
}

// === /v1/status ===

pub(crate) async fn status(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let snapshot = match caller.scope_for(q.tenant.as_deref())? {
        Some(t) => state.engine().status(&t).await?,
        None => state.engine().global_status().await?,
    };
    render(&snapshot, q.tz.as_deref())
}

// === /v1/operations ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperationsQuery {
    tenant: Option<String>,
    tz: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
    state: Option<String>,
    strategy: Option<String>,
    resource: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

pub(crate) async fn operations(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OperationsQuery>,
) -> Result<Response, ApiError> {
    let (tenant, stores) = reader(&state, &caller, q.tenant.as_deref())?;
    let filter = OperationFilter {
        state: wire("state", q.state.as_deref())?,
        strategy_id: nonempty(q.strategy.as_deref()).map(StrategyId::new),
        resource: resource(q.resource.as_deref())?,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    render(
        &stores.operations.list_operations(&tenant, &filter).await?,
        q.tz.as_deref(),
    )
}

pub(crate) async fn operation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let (tenant, stores) = reader(&state, &caller, q.tenant.as_deref())?;
    let found = stores
        .operations
        .get_operation(&tenant, &OperationId::new(id.as_str()))
        .await?;
    one(found, "operation", &id, q.tz.as_deref())
}

// === /v1/incidents ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncidentsQuery {
    tenant: Option<String>,
    tz: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
    status: Option<String>,
    severity: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

pub(crate) async fn incidents(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<IncidentsQuery>,
) -> Result<Response, ApiError> {
    let (tenant, stores) = reader(&state, &caller, q.tenant.as_deref())?;
    let filter = IncidentFilter {
        status: wire("status", q.status.as_deref())?,
        severity: wire("severity", q.severity.as_deref())?,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    render(
        &stores.incidents.list_incidents(&tenant, &filter).await?,
        q.tz.as_deref(),
    )
}

pub(crate) async fn incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let (tenant, stores) = reader(&state, &caller, q.tenant.as_deref())?;
    let found = stores
        .incidents
        .get_incident(&tenant, &IncidentId::new(id.as_str()))
        .await?;
    one(found, "incident", &id, q.tz.as_deref())
}

// === /v1/approvals ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalsQuery {
    tenant: Option<String>,
    tz: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
    status: Option<String>,
    resource: Option<String>,
}

pub(crate) async fn approvals(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ApprovalsQuery>,
) -> Result<Response, ApiError> {
    let (tenant, stores) = reader(&state, &caller, q.tenant.as_deref())?;
    let filter = ApprovalFilter {
        status: wire("status", q.status.as_deref())?,
        resource: resource(q.resource.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    render(
        &stores.approvals.list_approvals(&tenant, &filter).await?,
        q.tz.as_deref(),
    )
}

pub(crate) async fn approval(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let (tenant, stores) = reader(&state, &caller, q.tenant.as_deref())?;
    let found = stores
        .approvals
        .get_approval(&tenant, &ApprovalId::new(id.as_str()))
        .await?;
    one(found, "approval", &id, q.tz.as_deref())
}

// === /v1/audit ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    tenant: Option<String>,
    tz: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
    operation_type: Option<String>,
    operation_id: Option<String>,
    approval_id: Option<String>,
    incident_id: Option<String>,
    source_system: Option<String>,
    channel: Option<String>,
    success: Option<bool>,
    since: Option<String>,
    until: Option<String>,
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<AuditQuery>,
) -> Result<Response, ApiError> {
    let (tenant, stores) = reader(&state, &caller, q.tenant.as_deref())?;
    let filter = AuditFilter {
        operation_type: nonempty(q.operation_type.as_deref()).map(str::to_owned),
        operation_id: nonempty(q.operation_id.as_deref()).map(OperationId::new),
        approval_id: nonempty(q.approval_id.as_deref()).map(ApprovalId::new),
        incident_id: nonempty(q.incident_id.as_deref()).map(IncidentId::new),
        source_system: wire("source_system", q.source_system.as_deref())?,
        authorization_channel: wire("channel", q.channel.as_deref())?,
        success: q.success,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    render(
        &stores.audit.list_audit(&tenant, &filter).await?,
        q.tz.as_deref(),
    )
}

// === /v1/timeline ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimelineQuery {
    tenant: Option<String>,
    tz: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
    incident_id: Option<String>,
    operation_id: Option<String>,
    approval_id: Option<String>,
    event_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

pub(crate) async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<TimelineQuery>,
) -> Result<Response, ApiError> {
    let (tenant, stores) = reader(&state, &caller, q.tenant.as_deref())?;
    let filter = TimelineFilter {
        incident_id: nonempty(q.incident_id.as_deref()).map(IncidentId::new),
        operation_id: nonempty(q.operation_id.as_deref()).map(OperationId::new),
        approval_id: nonempty(q.approval_id.as_deref()).map(ApprovalId::new),
        event_type: wire("event_type", q.event_type.as_deref())?,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    render(
        &stores.timeline.list_timeline(&tenant, &filter).await?,
        q.tz.as_deref(),
    )
}

// === /v1/switches, /v1/breakers ===

pub(crate) async fn switches(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let tenant = caller.scope_for(q.tenant.as_deref())?;
    let view = state.engine().switches(tenant.as_ref()).await?;
    render(&view, q.tz.as_deref())
}

pub(crate) async fn breakers(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let tenant = caller.tenant_for(q.tenant.as_deref())?;
    let list = state.engine().breakers(&tenant).await?;
    render(&serde_json::json!({ "items": list }), q.tz.as_deref())
}

#[cfg(test)]
mod tests {
    use hale_domain::healing::HealingState;

    use super::*;

    #[test]
    fn enum_filters_take_any_letter_case() {
        let s: Option<HealingState> = wire("state", Some("completed")).unwrap();
        assert_eq!(s, Some(HealingState::Completed));
        let s: Option<HealingState> = wire("state", Some("FAILED")).unwrap();
        assert_eq!(s, Some(HealingState::Failed));
        let e = wire::<HealingState>("state", Some("sleeping")).unwrap_err();
        assert!(matches!(e, ApiError::Invalid(d) if d.contains("state")));
        assert_eq!(wire::<HealingState>("state", Some(" ")).unwrap(), None);
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(page(None, None).unwrap(), PageRequest::new(50, 0));
        assert!(page(Some(0), None).is_err());
        assert!(page(Some(1001), None).is_err());
        assert_eq!(
            page(Some(1000), Some(7)).unwrap(),
            PageRequest::new(1000, 7)
        );
    }
}
