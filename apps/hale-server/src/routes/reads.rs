//! Reads: status, operations, incidents, knowledge entries, approvals, audit log, timeline,
//! switches and breakers, each for the caller's tenant, with filters and
//! newest-first pagination. Another tenant's ids read as 404: the stores
//! only ever look inside the caller's tenant.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::approval::ApprovalRequest;
use hale_domain::effectiveness::EffectivenessTally;
use hale_domain::healing::HealingOperation;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::incident::Incident;
use hale_domain::record::knowledge::KnowledgeEntry;
use hale_domain::record::timeline::TimelineEvent;
use hale_domain::{
    ApprovalId, IncidentId, KnowledgeId, OperationId, ResourceRef, StrategyId, TenantId, Timestamp,
};
use hale_engine::ports::{
    ApprovalFilter, AuditFilter, IncidentFilter, KnowledgeFilter, OperationFilter, Page,
    PageRequest, Stores, TimelineFilter,
};
use hale_engine::{BreakerView, StatusSnapshot, SwitchesView, TenantPolicy};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{AppState, render};
use crate::auth::{Caller, Identity, Permission, TokenTenant};
use crate::error::ApiError;
use crate::extract::QueryArgs;

// === Parsing filter values ===

/// A page from `?limit=` (1..=1000, default 50) and `?offset=`.
pub(super) fn page(limit: Option<u32>, offset: Option<u64>) -> Result<PageRequest, ApiError> {
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
pub(crate) fn wire<T: DeserializeOwned>(
    name: &str,
    value: Option<&str>,
) -> Result<Option<T>, ApiError> {
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
    who: &Identity,
    asked: Option<&str>,
) -> Result<(TenantId, &'a Stores), ApiError> {
    who.require(Permission::Read)?;
    let tenant = who.tenant_for(asked)?;
    state.engine().policy(&tenant)?;
    Ok((tenant, &state.engine().ports().stores))
}

/// One object, or 404 naming what was asked for.
fn one<T>(found: Option<T>, what: &str, id: &str) -> Result<T, ApiError> {
    found.ok_or_else(|| ApiError::NotFound(format!("no {what} {id:?}")))
}

/// The query of a single-object read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OneQuery {
    pub(crate) tenant: Option<String>,
    pub(crate) tz: Option<String>,
}

// === Tenants and policies ===

/// The tenants `who` may read: every configured tenant for a platform
/// token, its own for a tenant token.
pub(crate) fn readable_tenants(
    state: &AppState,
    who: &Identity,
) -> Result<Vec<TenantId>, ApiError> {
    who.require(Permission::Read)?;
    Ok(match &who.tenant {
        TokenTenant::Platform => state.engine().tenants(),
        TokenTenant::Tenant(own) => vec![own.clone()],
    })
}

/// A tenant's policy (its strategies, for the console's switch forms).
pub(crate) fn policy(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
) -> Result<Arc<TenantPolicy>, ApiError> {
    who.require(Permission::Read)?;
    let tenant = who.tenant_for(tenant)?;
    Ok(state.engine().policy(&tenant)?)
}

// === /v1/status ===

/// The status of the asked tenant, or the global status for a platform
/// token that names none.
pub(crate) async fn status(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
) -> Result<StatusSnapshot, ApiError> {
    who.require(Permission::Read)?;
    Ok(match who.scope_for(tenant)? {
        Some(t) => state.engine().status(&t).await?,
        None => state.engine().global_status().await?,
    })
}

pub(crate) async fn status_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let snapshot = status(&state, &caller, q.tenant.as_deref()).await?;
    render(&snapshot, q.tz.as_deref())
}

// === /v1/operations ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperationsQuery {
    pub(crate) tenant: Option<String>,
    pub(crate) tz: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u64>,
    pub(crate) state: Option<String>,
    pub(crate) strategy: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
}

/// A page of the tenant's operations.
pub(crate) async fn operations(
    state: &AppState,
    who: &Identity,
    q: &OperationsQuery,
) -> Result<Page<HealingOperation>, ApiError> {
    let (tenant, stores) = reader(state, who, q.tenant.as_deref())?;
    let filter = OperationFilter {
        state: wire("state", q.state.as_deref())?,
        strategy_id: nonempty(q.strategy.as_deref()).map(StrategyId::new),
        resource: resource(q.resource.as_deref())?,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    Ok(stores.operations.list_operations(&tenant, &filter).await?)
}

pub(crate) async fn operations_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OperationsQuery>,
) -> Result<Response, ApiError> {
    render(&operations(&state, &caller, &q).await?, q.tz.as_deref())
}

/// One operation of the tenant (404 for another tenant's id).
pub(crate) async fn operation(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
    id: &str,
) -> Result<HealingOperation, ApiError> {
    let (tenant, stores) = reader(state, who, tenant)?;
    let found = stores
        .operations
        .get_operation(&tenant, &OperationId::new(id))
        .await?;
    one(found, "operation", id)
}

pub(crate) async fn operation_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let op = operation(&state, &caller, q.tenant.as_deref(), &id).await?;
    render(&op, q.tz.as_deref())
}

// === /v1/incidents ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncidentsQuery {
    pub(crate) tenant: Option<String>,
    pub(crate) tz: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u64>,
    pub(crate) status: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
}

/// A page of the tenant's incidents.
pub(crate) async fn incidents(
    state: &AppState,
    who: &Identity,
    q: &IncidentsQuery,
) -> Result<Page<Incident>, ApiError> {
    let (tenant, stores) = reader(state, who, q.tenant.as_deref())?;
    let filter = IncidentFilter {
        status: wire("status", q.status.as_deref())?,
        severity: wire("severity", q.severity.as_deref())?,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    Ok(stores.incidents.list_incidents(&tenant, &filter).await?)
}

pub(crate) async fn incidents_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<IncidentsQuery>,
) -> Result<Response, ApiError> {
    render(&incidents(&state, &caller, &q).await?, q.tz.as_deref())
}

/// One incident of the tenant.
pub(crate) async fn incident(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
    id: &str,
) -> Result<Incident, ApiError> {
    let (tenant, stores) = reader(state, who, tenant)?;
    let found = stores
        .incidents
        .get_incident(&tenant, &IncidentId::new(id))
        .await?;
    one(found, "incident", id)
}

/// An incident as `GET /v1/incidents/{id}` shows it: the record and how
/// its operations' fixes held.
#[derive(Debug, Serialize)]
pub(crate) struct IncidentView {
    #[serde(flatten)]
    pub(crate) incident: Incident,
    /// The effectiveness verdicts of the incident's operations (those that
    /// track one: completed with a firing alert).
    pub(crate) effectiveness: EffectivenessTally,
}

/// Operations of one incident whose verdicts an incident read counts (the
/// newest; an incident's operations are bounded by its strategies'
/// attempts, so this is a guard against a pathological one, not a page).
const MAX_COUNTED_OPERATIONS: usize = 200;

/// How the fixes of `inc`'s operations held: each operation's verdict,
/// counted (of its newest [`MAX_COUNTED_OPERATIONS`]).
pub(crate) async fn incident_effectiveness(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
    inc: &Incident,
) -> Result<EffectivenessTally, ApiError> {
    let (tenant, stores) = reader(state, who, tenant)?;
    let mut tally = EffectivenessTally::default();
    for id in inc.operation_ids.iter().rev().take(MAX_COUNTED_OPERATIONS) {
        let op = stores.operations.get_operation(&tenant, id).await?;
        if let Some(verdict) = op.and_then(|op| op.effectiveness) {
            tally.add(verdict, 1);
        }
    }
    Ok(tally)
}

pub(crate) async fn incident_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let tenant = q.tenant.as_deref();
    let incident = incident(&state, &caller, tenant, &id).await?;
    let effectiveness = incident_effectiveness(&state, &caller, tenant, &incident).await?;
    render(
        &IncidentView {
            incident,
            effectiveness,
        },
        q.tz.as_deref(),
    )
}

// === /v1/knowledge ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KnowledgeQuery {
    pub(crate) tenant: Option<String>,
    pub(crate) tz: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u64>,
    #[serde(rename = "type")]
    pub(crate) entry_type: Option<String>,
    pub(crate) status: Option<String>,
}

/// A page of the tenant's knowledge entries (listing counts no views).
pub(crate) async fn knowledge(
    state: &AppState,
    who: &Identity,
    q: &KnowledgeQuery,
) -> Result<Page<KnowledgeEntry>, ApiError> {
    let (tenant, _) = reader(state, who, q.tenant.as_deref())?;
    let filter = KnowledgeFilter {
        entry_type: wire("type", q.entry_type.as_deref())?,
        status: wire("status", q.status.as_deref())?,
        symptoms_hash: None,
        page: page(q.limit, q.offset)?,
    };
    Ok(state.engine().knowledge(&tenant, &filter).await?)
}

pub(crate) async fn knowledge_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<KnowledgeQuery>,
) -> Result<Response, ApiError> {
    render(&knowledge(&state, &caller, &q).await?, q.tz.as_deref())
}

/// One knowledge entry of the tenant; the read counts as a view.
pub(crate) async fn knowledge_entry(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
    id: &str,
) -> Result<KnowledgeEntry, ApiError> {
    let (tenant, _) = reader(state, who, tenant)?;
    Ok(state
        .engine()
        .view_knowledge(&tenant, &KnowledgeId::new(id))
        .await?)
}

pub(crate) async fn knowledge_entry_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let entry = knowledge_entry(&state, &caller, q.tenant.as_deref(), &id).await?;
    render(&entry, q.tz.as_deref())
}

// === /v1/approvals ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalsQuery {
    pub(crate) tenant: Option<String>,
    pub(crate) tz: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u64>,
    pub(crate) status: Option<String>,
    pub(crate) resource: Option<String>,
}

/// A page of the tenant's approval requests.
pub(crate) async fn approvals(
    state: &AppState,
    who: &Identity,
    q: &ApprovalsQuery,
) -> Result<Page<ApprovalRequest>, ApiError> {
    let (tenant, stores) = reader(state, who, q.tenant.as_deref())?;
    let filter = ApprovalFilter {
        status: wire("status", q.status.as_deref())?,
        resource: resource(q.resource.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    Ok(stores.approvals.list_approvals(&tenant, &filter).await?)
}

pub(crate) async fn approvals_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ApprovalsQuery>,
) -> Result<Response, ApiError> {
    render(&approvals(&state, &caller, &q).await?, q.tz.as_deref())
}

/// One approval request of the tenant.
pub(crate) async fn approval(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
    id: &str,
) -> Result<ApprovalRequest, ApiError> {
    let (tenant, stores) = reader(state, who, tenant)?;
    let found = stores
        .approvals
        .get_approval(&tenant, &ApprovalId::new(id))
        .await?;
    one(found, "approval", id)
}

pub(crate) async fn approval_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let a = approval(&state, &caller, q.tenant.as_deref(), &id).await?;
    render(&a, q.tz.as_deref())
}

// === /v1/audit ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    pub(crate) tenant: Option<String>,
    pub(crate) tz: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u64>,
    pub(crate) operation_type: Option<String>,
    pub(crate) operation_id: Option<String>,
    pub(crate) approval_id: Option<String>,
    pub(crate) incident_id: Option<String>,
    pub(crate) source_system: Option<String>,
    pub(crate) channel: Option<String>,
    pub(crate) success: Option<bool>,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
}

/// A page of the tenant's audit log.
pub(crate) async fn audit(
    state: &AppState,
    who: &Identity,
    q: &AuditQuery,
) -> Result<Page<AuditEntry>, ApiError> {
    let (tenant, stores) = reader(state, who, q.tenant.as_deref())?;
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
    Ok(stores.audit.list_audit(&tenant, &filter).await?)
}

pub(crate) async fn audit_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<AuditQuery>,
) -> Result<Response, ApiError> {
    render(&audit(&state, &caller, &q).await?, q.tz.as_deref())
}

// === /v1/timeline ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimelineQuery {
    pub(crate) tenant: Option<String>,
    pub(crate) tz: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u64>,
    pub(crate) incident_id: Option<String>,
    pub(crate) operation_id: Option<String>,
    pub(crate) approval_id: Option<String>,
    pub(crate) event_type: Option<String>,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
}

/// A page of the tenant's timeline.
pub(crate) async fn timeline(
    state: &AppState,
    who: &Identity,
    q: &TimelineQuery,
) -> Result<Page<TimelineEvent>, ApiError> {
    let (tenant, stores) = reader(state, who, q.tenant.as_deref())?;
    let filter = TimelineFilter {
        incident_id: nonempty(q.incident_id.as_deref()).map(IncidentId::new),
        operation_id: nonempty(q.operation_id.as_deref()).map(OperationId::new),
        approval_id: nonempty(q.approval_id.as_deref()).map(ApprovalId::new),
        event_type: wire("event_type", q.event_type.as_deref())?,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        page: page(q.limit, q.offset)?,
    };
    Ok(stores.timeline.list_timeline(&tenant, &filter).await?)
}

pub(crate) async fn timeline_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<TimelineQuery>,
) -> Result<Response, ApiError> {
    render(&timeline(&state, &caller, &q).await?, q.tz.as_deref())
}

// === /v1/switches, /v1/breakers ===

/// The switch layers: global, and the tenant's when one is asked for (a
/// tenant token always asks for its own).
pub(crate) async fn switches(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
) -> Result<SwitchesView, ApiError> {
    who.require(Permission::Read)?;
    let tenant = who.scope_for(tenant)?;
    Ok(state.engine().switches(tenant.as_ref()).await?)
}

pub(crate) async fn switches_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let view = switches(&state, &caller, q.tenant.as_deref()).await?;
    render(&view, q.tz.as_deref())
}

/// The tenant's breakers.
pub(crate) async fn breakers(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
) -> Result<Vec<BreakerView>, ApiError> {
    who.require(Permission::Read)?;
    let tenant = who.tenant_for(tenant)?;
    Ok(state.engine().breakers(&tenant).await?)
}

pub(crate) async fn breakers_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let list = breakers(&state, &caller, q.tenant.as_deref()).await?;
    render(&serde_json::json!({ "items": list }), q.tz.as_deref())
}

/// The tenant's maintenance windows (configured and opened through the API).
pub(crate) async fn maintenance_windows(
    state: &AppState,
    who: &Identity,
    tenant: Option<&str>,
) -> Result<Vec<hale_engine::windows::WindowView>, ApiError> {
    who.require(Permission::Read)?;
    let tenant = who.tenant_for(tenant)?;
    Ok(state.engine().maintenance_windows(&tenant).await?)
}

pub(crate) async fn maintenance_windows_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OneQuery>,
) -> Result<Response, ApiError> {
    let list = maintenance_windows(&state, &caller, q.tenant.as_deref()).await?;
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
