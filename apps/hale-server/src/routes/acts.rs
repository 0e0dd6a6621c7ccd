//! Acts: approve and reject, kill switches, dormancy, breaker and attempt
//! resets. Each is carried out and audited by the engine with the token's
//! name as the actor and channel `manual`; this layer only checks who may
//! and turns the body into the engine's arguments.

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::kill_switch::{Feature, Switch};
use hale_domain::strategy::ActionKind;
use hale_domain::{ApprovalId, ResourceRef, Scope, StrategyId};
use hale_engine::TenantSwitchTarget;
use serde::Deserialize;

use super::{AppState, render};
use crate::auth::{Caller, Permission};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryArgs};

/// `?tenant=` (platform tokens only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActQuery {
    tenant: Option<String>,
}

// === Approvals ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveBody {
    comment: Option<String>,
}

pub(crate) async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Operate)?;
    let tenant = caller.tenant_for(q.tenant.as_deref())?;
    let comment = body.comment.filter(|c| !c.trim().is_empty());
    let result = state
        .engine()
        .approve(&tenant, &ApprovalId::new(id), &caller.actor(), comment)
        .await?;
    render(&result, None)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    reason: String,
}

pub(crate) async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Operate)?;
    let tenant = caller.tenant_for(q.tenant.as_deref())?;
    let approval = state
        .engine()
        .reject(&tenant, &ApprovalId::new(id), &caller.actor(), &body.reason)
        .await?;
    render(&serde_json::json!({ "approval": approval }), None)
}

// === Switches ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SwitchBody {
    layer: String,
    #[serde(default)]
    key: Option<String>,
    state: String,
    reason: String,
}

fn key_of(body: &SwitchBody) -> Result<&str, ApiError> {
    body.key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::Invalid(format!("key: layer {:?} needs a key", body.layer)))
}

pub(crate) async fn set_switch(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<SwitchBody>,
) -> Result<Response, ApiError> {
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
    let actor = caller.actor();
    let layer = body.layer.trim();
    if layer == "global" {
        caller.require(Permission::Administer)?;
        let feature: Feature = key_of(&body)?
            .parse()
            .map_err(|e: String| ApiError::Invalid(format!("key: {e}")))?;
        engine
            .set_global_switch(feature, switch, &actor, &body.reason)
            .await?;
        return render(&engine.switches(None).await?, None);
    }
    caller.require(Permission::Operate)?;
    let target = match layer {
        "tenant" => TenantSwitchTarget::Tenant,
        "strategy" => TenantSwitchTarget::Strategy(StrategyId::new(key_of(&body)?)),
        "action_kind" => TenantSwitchTarget::ActionKind(
            ActionKind::new(key_of(&body)?).map_err(|e| ApiError::Invalid(format!("key: {e}")))?,
        ),
        other => {
            return Err(ApiError::Invalid(format!(
                "layer: {other:?}; expected \"global\", \"tenant\", \"strategy\" or \"action_kind\""
            )));
        }
    };
    let tenant = caller.tenant_for(q.tenant.as_deref())?;
    engine
        .set_tenant_switch(&tenant, target, switch, &actor, &body.reason)
        .await?;
    render(&engine.switches(Some(&tenant)).await?, None)
}

// === Dormancy ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DormancyBody {
    reason: String,
    #[serde(default)]
    scope: Option<String>,
}

/// The scope of a dormancy act, checked against the caller's role.
fn dormancy_scope(caller: &Caller, q: &ActQuery, body: &DormancyBody) -> Result<Scope, ApiError> {
    match body.scope.as_deref().map(str::trim).unwrap_or("tenant") {
        "global" => {
            caller.require(Permission::Administer)?;
            Ok(Scope::Global)
        }
        "tenant" => {
            caller.require(Permission::Operate)?;
            Ok(Scope::Tenant(caller.tenant_for(q.tenant.as_deref())?))
        }
        other => Err(ApiError::Invalid(format!(
            "scope: {other:?}; expected \"tenant\" or \"global\""
        ))),
    }
}

pub(crate) async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<DormancyBody>,
) -> Result<Response, ApiError> {
    let scope = dormancy_scope(&caller, &q, &body)?;
    if let Scope::Tenant(t) = &scope {
        state.engine().policy(t)?;
    }
    let record = state
        .engine()
        .resume(&scope, &body.reason, &caller.actor())
        .await?;
    render(
        &serde_json::json!({ "scope": scope.to_string(), "resumed": record }),
        None,
    )
}

pub(crate) async fn enter_dormant(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<DormancyBody>,
) -> Result<Response, ApiError> {
    let scope = dormancy_scope(&caller, &q, &body)?;
    let entered = state
        .engine()
        .enter_dormant(&scope, &body.reason, &caller.actor())
        .await?;
    render(
        &serde_json::json!({ "scope": scope.to_string(), "entered": entered }),
        None,
    )
}

// === Breakers and attempts ===

pub(crate) async fn reset_breaker(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Operate)?;
    let tenant = caller.tenant_for(q.tenant.as_deref())?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::Invalid("reason: a reason is required".into()));
    }
    let transition = state
        .engine()
        .reset_breaker(&tenant, &name, &body.reason, &caller.actor())
        .await?;
    render(
        &serde_json::json!({ "breaker": name, "transition": transition }),
        None,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttemptsBody {
    strategy: String,
    resource: String,
    reason: String,
}

pub(crate) async fn reset_attempts(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ActQuery>,
    JsonBody(body): JsonBody<AttemptsBody>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Operate)?;
    let tenant = caller.tenant_for(q.tenant.as_deref())?;
    let resource = ResourceRef::parse(body.resource.trim())
        .map_err(|e| ApiError::Invalid(format!("resource: {e} (expected namespace:kind/name)")))?;
    state
        .engine()
        .reset_attempts(
            &tenant,
            &StrategyId::new(body.strategy.trim()),
            &resource,
            &body.reason,
            &caller.actor(),
        )
        .await?;
    render(
        &serde_json::json!({ "strategy": body.strategy, "resource": resource.key(), "reset": true }),
        None,
    )
}
