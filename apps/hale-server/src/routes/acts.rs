//! Acts: approve and reject, kill switches, dormancy, breaker and attempt
//! resets, knowledge entries (write a runbook, archive) and closing an
//! incident. Each is carried out and audited by the engine with the caller's
//! name as the actor; this layer only checks who may and turns the input
//! into the engine's arguments.
//!
//! Every act is one function here (`approve`, `set_switch`, ...) taking
//! the caller as an [`ActBy`] and the input as the same struct the JSON
//! API deserializes. The JSON handlers (`*_json`) and the operator console
//! (`crate::console`) both call them, so one rule serves both: a change to
//! who may do what is made here once.

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::approval::ApprovalRequest;
use hale_domain::breaker::Transition;
use hale_domain::dormancy::ResumeRecord;
use hale_domain::kill_switch::{Feature, Switch};
use hale_domain::maintenance::MaintenanceWindow;
use hale_domain::record::incident::Incident;
use hale_domain::record::knowledge::KnowledgeEntry;
use hale_domain::strategy::ActionKind;
use hale_domain::{
    ApprovalId, AuthorizationChannel, IncidentId, KnowledgeId, Origin, ResourceRef, Scope,
    StrategyId, TenantId,
};
use hale_engine::windows::NewWindow;
use hale_engine::{ApprovalResult, NewRunbook, SwitchesView, TenantSwitchTarget};
use serde::Deserialize;

use super::{AppState, render};
use crate::auth::{Caller, Identity, Permission};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryArgs};

// === Who acts ===

/// The caller of an act and the channel it came through: `manual` for the
/// JSON API, `web` for the console.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActBy<'a> {
    who: &'a Identity,
    channel: AuthorizationChannel,
}

impl<'a> ActBy<'a> {
    /// A caller of the JSON API.
    pub(crate) fn api(who: &'a Identity) -> Self {
        ActBy {
            who,
            channel: AuthorizationChannel::Manual,
        }
    }

    /// A signed-in console session.
    pub(crate) fn web(who: &'a Identity) -> Self {
        ActBy {
            who,
            channel: AuthorizationChannel::Web,
        }
    }

    /// The identity.
    pub(crate) fn identity(&self) -> &Identity {
        self.who
    }

    /// Who acted and through which channel, as the engine records it.
    pub(crate) fn origin(&self) -> Origin {
        match self.channel {
            AuthorizationChannel::Web => Origin::web(self.who.actor()),
            _ => Origin::manual(self.who.actor()),
        }
    }

    /// Logs the act (never its reason text, which may quote a secret).
    pub(crate) fn log(&self, act: &str, scope: &str) {
        let origin = self.origin();
        tracing::info!(
            actor = %origin.actor,
            channel = origin.channel.as_str(),
            role = self.who.role.as_str(),
            act,
            scope,
            "human act"
        );
    }
}

// === The rules ===

/// Who may act on one tenant: the operator role, on the caller's own
/// tenant (or, for a platform token, the tenant it names).
pub(crate) fn tenant_act(who: &Identity, asked: Option<&str>) -> Result<TenantId, ApiError> {
    who.require(Permission::Operate)?;
    who.tenant_for(asked)
}

/// Who may act on the whole platform (global switches, global dormancy): a
/// platform token (`tenant = "*"`) with the admin role. A tenant's token,
/// admin or not, may not lift or set a platform-wide stop.
pub(crate) fn platform_act(who: &Identity) -> Result<(), ApiError> {
    who.require(Permission::Administer)?;
    who.require_platform()
}

/// Whether `who` may act on a tenant at all (the console shows no action
/// forms otherwise).
pub(crate) fn may_act_on_tenants(who: &Identity) -> bool {
    who.require(Permission::Operate).is_ok()
}

/// Whether `who` may act on the whole platform.
pub(crate) fn may_act_on_platform(who: &Identity) -> bool {
    platform_act(who).is_ok()
}

/// `?tenant=` (platform tokens only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActQuery {
    pub(crate) tenant: Option<String>,
}

// === Approvals ===

/// The body of an approval.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveBody {
    pub(crate) comment: Option<String>,
}

/// Signs approval `id`.
pub(crate) async fn approve(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    id: &str,
    body: ApproveBody,
) -> Result<ApprovalResult, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    let comment = body.comment.filter(|c| !c.trim().is_empty());
    by.log("approval.sign", tenant.as_str());
    Ok(state
        .engine()
        .approve(&tenant, &ApprovalId::new(id), by.origin(), comment)
        .await?)
}

pub(crate) async fn approve_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<Response, ApiError> {
    let result = approve(&state, ActBy::api(&caller), q.tenant.as_deref(), &id, body).await?;
    render(&result, None)
}

/// A body with only a reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    pub(crate) reason: String,
}

/// Rejects approval `id`.
pub(crate) async fn reject(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    id: &str,
    body: ReasonBody,
) -> Result<ApprovalRequest, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    by.log("approval.reject", tenant.as_str());
    Ok(state
        .engine()
        .reject(&tenant, &ApprovalId::new(id), by.origin(), &body.reason)
        .await?)
}

pub(crate) async fn reject_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Response, ApiError> {
    let approval = reject(&state, ActBy::api(&caller), q.tenant.as_deref(), &id, body).await?;
    render(&serde_json::json!({ "approval": approval }), None)
}

// === Switches ===

/// The body of a switch change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SwitchBody {
    pub(crate) layer: String,
    #[serde(default)]
    pub(crate) key: Option<String>,
    pub(crate) state: String,
    pub(crate) reason: String,
}

fn key_of(body: &SwitchBody) -> Result<&str, ApiError> {
    body.key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::Invalid(format!("key: layer {:?} needs a key", body.layer)))
}

/// Sets (or unsets) a switch; answers the layers after the change (the
/// tenant's included for a tenant-level switch).
pub(crate) async fn set_switch(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    body: &SwitchBody,
) -> Result<SwitchesView, ApiError> {
    let switch = match body.state.trim() {
        "on" => Some(Switch::On),
        "off" => Some(Switch::Off),
        "unset" => None,
        other => {
            return Err(ApiError::Invalid(format!(
                "state: {other:?}; expected \"on\", \"off\" or \"unset\""
            )));
        }
    };
    let engine = state.engine();
    let who = by.identity();
    let layer = body.layer.trim();
    if layer == "global" {
        platform_act(who)?;
        let feature: Feature = key_of(body)?
            .parse()
            .map_err(|e: String| ApiError::Invalid(format!("key: {e}")))?;
        by.log("switch.set", "global");
        engine
            .set_global_switch(feature, switch, by.origin(), &body.reason)
            .await?;
        return Ok(engine.switches(None).await?);
    }
    who.require(Permission::Operate)?;
    let target = match layer {
        "tenant" => TenantSwitchTarget::Tenant,
        "strategy" => TenantSwitchTarget::Strategy(StrategyId::new(key_of(body)?)),
        "action_kind" => TenantSwitchTarget::ActionKind(
            ActionKind::new(key_of(body)?).map_err(|e| ApiError::Invalid(format!("key: {e}")))?,
        ),
        other => {
            return Err(ApiError::Invalid(format!(
                "layer: {other:?}; expected \"global\", \"tenant\", \"strategy\" or \"action_kind\""
            )));
        }
    };
    let tenant = tenant_act(who, tenant)?;
    by.log("switch.set", tenant.as_str());
    engine
        .set_tenant_switch(&tenant, target, switch, by.origin(), &body.reason)
        .await?;
    Ok(engine.switches(Some(&tenant)).await?)
}

pub(crate) async fn set_switch_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<SwitchBody>,
) -> Result<Response, ApiError> {
    let view = set_switch(&state, ActBy::api(&caller), q.tenant.as_deref(), &body).await?;
    render(&view, None)
}

// === Dormancy ===

/// The body of a dormancy act.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DormancyBody {
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

/// The scope of a dormancy act, checked against the caller's role.
fn dormancy_scope(
    who: &Identity,
    tenant: Option<&str>,
    body: &DormancyBody,
) -> Result<Scope, ApiError> {
    match body.scope.as_deref().map(str::trim).unwrap_or("tenant") {
        "global" => {
            platform_act(who)?;
            Ok(Scope::Global)
        }
        "tenant" => Ok(Scope::Tenant(tenant_act(who, tenant)?)),
        other => Err(ApiError::Invalid(format!(
            "scope: {other:?}; expected \"tenant\" or \"global\""
        ))),
    }
}

/// Wakes a dormant scope.
pub(crate) async fn resume(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    body: &DormancyBody,
) -> Result<(Scope, ResumeRecord), ApiError> {
    let scope = dormancy_scope(by.identity(), tenant, body)?;
    if let Scope::Tenant(t) = &scope {
        state.engine().policy(t)?;
    }
    by.log("dormancy.resume", &scope.to_string());
    let record = state
        .engine()
        .resume(&scope, &body.reason, by.origin())
        .await?;
    Ok((scope, record))
}

pub(crate) async fn resume_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<DormancyBody>,
) -> Result<Response, ApiError> {
    let (scope, record) = resume(&state, ActBy::api(&caller), q.tenant.as_deref(), &body).await?;
    render(
        &serde_json::json!({ "scope": scope.to_string(), "resumed": record }),
        None,
    )
}

/// Puts a scope to sleep by hand; `false` when it already was.
pub(crate) async fn enter_dormant(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    body: &DormancyBody,
) -> Result<(Scope, bool), ApiError> {
    let scope = dormancy_scope(by.identity(), tenant, body)?;
    by.log("dormancy.enter", &scope.to_string());
    let entered = state
        .engine()
        .enter_dormant(&scope, &body.reason, by.origin())
        .await?;
    Ok((scope, entered))
}

pub(crate) async fn enter_dormant_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<DormancyBody>,
) -> Result<Response, ApiError> {
    let (scope, entered) =
        enter_dormant(&state, ActBy::api(&caller), q.tenant.as_deref(), &body).await?;
    render(
        &serde_json::json!({ "scope": scope.to_string(), "entered": entered }),
        None,
    )
}

// === Breakers and attempts ===

/// Resets breaker `name` of a tenant.
pub(crate) async fn reset_breaker(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    name: &str,
    body: &ReasonBody,
) -> Result<Option<Transition>, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::Invalid("reason: a reason is required".into()));
    }
    by.log("breaker.reset", tenant.as_str());
    Ok(state
        .engine()
        .reset_breaker(&tenant, name, &body.reason, by.origin())
        .await?)
}

pub(crate) async fn reset_breaker_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Response, ApiError> {
    let transition = reset_breaker(
        &state,
        ActBy::api(&caller),
        q.tenant.as_deref(),
        &name,
        &body,
    )
    .await?;
    render(
        &serde_json::json!({ "breaker": name, "transition": transition }),
        None,
    )
}

/// The body of an attempts reset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttemptsBody {
    pub(crate) strategy: String,
    pub(crate) resource: String,
    pub(crate) reason: String,
}

/// Clears a strategy's failure streak on a resource; answers the resource.
pub(crate) async fn reset_attempts(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    body: &AttemptsBody,
) -> Result<ResourceRef, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    let resource = ResourceRef::parse(body.resource.trim())
        .map_err(|e| ApiError::Invalid(format!("resource: {e} (expected namespace:kind/name)")))?;
    by.log("attempts.reset", tenant.as_str());
    state
        .engine()
        .reset_attempts(
            &tenant,
            &StrategyId::new(body.strategy.trim()),
            &resource,
            &body.reason,
            by.origin(),
        )
        .await?;
    Ok(resource)
}

pub(crate) async fn reset_attempts_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<AttemptsBody>,
) -> Result<Response, ApiError> {
    let resource = reset_attempts(&state, ActBy::api(&caller), q.tenant.as_deref(), &body).await?;
    render(
        &serde_json::json!({ "strategy": body.strategy, "resource": resource.key(), "reset": true }),
        None,
    )
}

// === Maintenance windows ===

/// Opens a maintenance window on a tenant; answers the window.
pub(crate) async fn open_window(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    body: NewWindow,
) -> Result<MaintenanceWindow, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::Invalid("reason: a reason is required".into()));
    }
    by.log("maintenance_window.open", tenant.as_str());
    Ok(state
        .engine()
        .open_window(&tenant, body, by.origin())
        .await?)
}

pub(crate) async fn open_window_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<NewWindow>,
) -> Result<Response, ApiError> {
    let w = open_window(&state, ActBy::api(&caller), q.tenant.as_deref(), body).await?;
    render(&w, None)
}

/// Ends a maintenance window opened through the API; answers it.
pub(crate) async fn end_window(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    id: &str,
    body: &ReasonBody,
) -> Result<MaintenanceWindow, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::Invalid("reason: a reason is required".into()));
    }
    by.log("maintenance_window.end", tenant.as_str());
    Ok(state
        .engine()
        .end_window(&tenant, id, &body.reason, by.origin())
        .await?)
}

pub(crate) async fn end_window_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Response, ApiError> {
    let w = end_window(&state, ActBy::api(&caller), q.tenant.as_deref(), &id, &body).await?;
    render(&w, None)
}

// === Knowledge and incidents ===

/// The body of a runbook entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunbookBody {
    pub(crate) title: String,
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) category: Option<String>,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    #[serde(default)]
    pub(crate) related_incident_id: Option<String>,
}

/// Writes a runbook entry in the tenant's knowledge base.
pub(crate) async fn create_runbook(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    body: RunbookBody,
) -> Result<KnowledgeEntry, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    by.log("knowledge.create", tenant.as_str());
    let runbook = NewRunbook {
        title: body.title,
        content: body.content,
        category: body.category,
        tags: body.tags,
        related_incident_id: body
            .related_incident_id
            .map(|i| i.trim().to_owned())
            .filter(|i| !i.is_empty())
            .map(IncidentId::new),
    };
    Ok(state
        .engine()
        .create_runbook(&tenant, runbook, by.origin())
        .await?)
}

pub(crate) async fn create_runbook_json(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<RunbookBody>,
) -> Result<Response, ApiError> {
    let entry = create_runbook(&state, ActBy::api(&caller), q.tenant.as_deref(), body).await?;
    let mut res = render(&entry, None)?;
    *res.status_mut() = axum::http::StatusCode::CREATED;
    Ok(res)
}

/// Archives knowledge entry `id` (lifts an anti-pattern block).
pub(crate) async fn archive_knowledge(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    id: &str,
    body: &ReasonBody,
) -> Result<KnowledgeEntry, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    by.log("knowledge.archive", tenant.as_str());
    Ok(state
        .engine()
        .archive_knowledge(&tenant, &KnowledgeId::new(id), &body.reason, by.origin())
        .await?)
}

pub(crate) async fn archive_knowledge_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Response, ApiError> {
    let entry =
        archive_knowledge(&state, ActBy::api(&caller), q.tenant.as_deref(), &id, &body).await?;
    render(&entry, None)
}

/// Closes incident `id` with a reason.
pub(crate) async fn close_incident(
    state: &AppState,
    by: ActBy<'_>,
    tenant: Option<&str>,
    id: &str,
    body: &ReasonBody,
) -> Result<Incident, ApiError> {
    let tenant = tenant_act(by.identity(), tenant)?;
    by.log("incident.close", tenant.as_str());
    Ok(state
        .engine()
        .close_incident(&tenant, &IncidentId::new(id), &body.reason, by.origin())
        .await?)
}

pub(crate) async fn close_incident_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Response, ApiError> {
    let incident =
        close_incident(&state, ActBy::api(&caller), q.tenant.as_deref(), &id, &body).await?;
    render(&incident, None)
}
