//! Healing operations: the list with the API's filters, and one operation
//! with its state, diagnosis, action log and failure class. An operation
//! that is still running refreshes itself until it finishes.

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::effectiveness::Effectiveness;
use hale_domain::healing::{HealingOperation, HealingState};
use maud::{Markup, html};

use super::extract::{PageQuery, TenantPage};
use super::incidents::{select, tenant_field, timeline};
use super::page::{self, Frame, Result, badge, encode, ok, time, time_opt, wire};
use crate::routes::AppState;
use crate::routes::reads::{self, AuditQuery, OneQuery, OperationsQuery, TimelineQuery};

pub(crate) fn state_badge(s: HealingState) -> Markup {
    let tone = match s {
        HealingState::Completed => "good",
        HealingState::Failed | HealingState::Interrupted => "bad",
        HealingState::Idle => "info",
        HealingState::Diagnosing | HealingState::Healing | HealingState::Verifying => "warn",
    };
    badge(s.as_str(), tone)
}

/// Whether a completed operation fixed what its alert was about.
pub(crate) fn effectiveness_badge(e: Option<Effectiveness>) -> Markup {
    match e {
        Some(Effectiveness::Effective) => badge("effective", "good"),
        Some(Effectiveness::Ineffective) => badge("ineffective", "bad"),
        Some(Effectiveness::Pending) => badge("pending", "info"),
        None => html! { "—" },
    }
}

/// A text filter field.
pub(crate) fn text_field(name: &str, label: &str, value: Option<&str>, hint: &str) -> Markup {
    html! {
        div .field {
            label for=(name) { (label) }
            input #(name) type="text" name=(name) value=(value.unwrap_or("")) placeholder=(hint);
        }
    }
}

fn op_link(frame: &Frame, op: &HealingOperation) -> Markup {
    html! { a href=(frame.href(&format!("/console/operations/{}", encode(op.id.as_str())))) { (op.id) } }
}

/// `GET /console/operations`.
pub(crate) async fn list(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    PageQuery(mut q): PageQuery<OperationsQuery>,
) -> Result<Response> {
    q.tenant = frame.tenant_arg().map(str::to_owned);
    let list = reads::operations(&state, &frame.session.identity, &q).await?;
    let states: Vec<&str> = HealingState::ALL.iter().map(|s| s.as_str()).collect();
    let base = frame.href(&format!(
        "/console/operations?state={}&strategy={}&resource={}&since={}&until={}",
        encode(q.state.as_deref().unwrap_or("")),
        encode(q.strategy.as_deref().unwrap_or("")),
        encode(q.resource.as_deref().unwrap_or("")),
        encode(q.since.as_deref().unwrap_or("")),
        encode(q.until.as_deref().unwrap_or("")),
    ));
    let body = html! {
        h1 { "Operations" }
        form .filters method="get" action="/console/operations" {
            (tenant_field(&frame))
            (select("state", "State", &states, q.state.as_deref()))
            (text_field("strategy", "Strategy", q.strategy.as_deref(), "strategy id"))
            (text_field("resource", "Resource", q.resource.as_deref(), "ns:kind/name"))
            (text_field("since", "Since", q.since.as_deref(), "RFC 3339"))
            (text_field("until", "Until", q.until.as_deref(), "RFC 3339"))
            button type="submit" { "Filter" }
        }
        @if list.items.is_empty() {
            p { "No operations match." }
        } @else {
            table {
                thead { tr { th { "Operation" } th { "State" } th { "Strategy and target" } th { "Failure" } th { "Started" } } }
                tbody {
                    @for op in &list.items {
                        tr {
                            td data-label="Operation" { (op_link(&frame, op)) }
                            td data-label="State" {
                                (state_badge(op.state))
                                @if op.effectiveness.is_some() { " " (effectiveness_badge(op.effectiveness)) }
                            }
                            td data-label="Strategy and target" { (op.strategy_id) " on " (op.resource) }
                            td data-label="Failure" {
                                @match op.failure_class { Some(c) => { (badge(c.as_str(), "bad")) } None => { "—" } }
                            }
                            td data-label="Started" { (time(op.started_at)) }
                        }
                    }
                }
            }
            (page::pager(&base, q.offset.unwrap_or(0), q.limit.unwrap_or(50), list.next_offset))
        }
    };
    Ok(ok(frame.render("Operations", Some(5), body)))
}

/// `GET /console/operations/{id}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    Path(id): Path<String>,
    // Refuses an unknown query parameter with 422, as the API does.
    _: PageQuery<OneQuery>,
) -> Result<Response> {
    let who = &frame.session.identity;
    let op = reads::operation(&state, who, frame.tenant_arg(), &id).await?;
    let tenant = frame.tenant_arg().map(str::to_owned);
    let events = reads::timeline(
        &state,
        who,
        &TimelineQuery {
            tenant: tenant.clone(),
            operation_id: Some(op.id.as_str().to_owned()),
            limit: Some(200),
            ..TimelineQuery::default()
        },
    )
    .await?;
    let audit = reads::audit(
        &state,
        who,
        &AuditQuery {
            tenant,
            operation_id: Some(op.id.as_str().to_owned()),
            limit: Some(200),
            ..AuditQuery::default()
        },
    )
    .await?;
    let title = format!("Operation {}", op.id);
    let body = html! {
        h1 { (title) " " span #op-state { (state_badge(op.state)) } }
        dl .facts {
            (page::row("Strategy", html! { (op.strategy_id) }))
            (page::row("Target", html! { (op.resource) }))
            (page::row("Risk", super::approvals::risk_badge(op.risk)))
            (page::row("Started by", html! { (wire(&op.source_system)) " via " (wire(&op.authorization_channel)) }))
            (page::row("Attempt", html! { (op.attempt_number) }))
            (page::row("Started", time(op.started_at)))
            (page::row("Finished", time_opt(op.completed_at)))
            (page::row("Result", html! { @match &op.result { Some(r) => { (wire(r)) } None => { "—" } } }))
            (page::row("Effectiveness", html! {
                (effectiveness_badge(op.effectiveness))
                @if let Some(at) = op.effectiveness_settled_at { " since " (time(at)) }
                @else if let Some(at) = op.alert_resolved_at { " (alert resolved at " (time(at)) ")" }
            }))
            (page::row("Failure class", html! { @match op.failure_class { Some(c) => { (badge(c.as_str(), "bad")) } None => { "—" } } }))
            (page::row("Error", page::text_opt(op.error.as_deref())))
            (page::row("Escalated", html! { @if op.escalated { "yes" } @else { "no" } }))
            @if let Some(inc) = &op.incident_id {
                (page::row("Incident", html! { a href=(frame.href(&format!("/console/incidents/{}", encode(inc.as_str())))) { (inc) } }))
            }
            @if let Some(a) = &op.approval_id {
                (page::row("Approval", html! { a href=(frame.href(&format!("/console/approvals/{}", encode(a.as_str())))) { (a) } }))
            }
        }
        section aria-labelledby="diag-h" {
            h2 #diag-h { "Diagnosis" }
            @match &op.diagnosis {
                Some(d) => {
                    dl .facts {
                        (page::row("Root cause", html! { (d.root_cause) }))
                        (page::row("Confidence", html! { (format!("{:.0}%", d.confidence * 100.0)) }))
                        (page::row("Component", html! { (d.component) }))
                        (page::row("Metric", html! { (d.metric) }))
                        (page::row("Suggested fix", html! { (d.suggested_fix) }))
                    }
                }
                None => { p { "No diagnosis yet." } }
            }
        }
        section aria-labelledby="actions-h" {
            h2 #actions-h { "Action log" }
            @if op.actions_run.is_empty() {
                p { "No action has run yet." }
            } @else {
                table {
                    thead { tr { th { "Action" } th { "Phase" } th { "Started" } th { "Took" } th { "Result" } th { "Message" } } }
                    tbody {
                        @for a in &op.actions_run {
                            tr {
                                td data-label="Action" { (a.action) @if a.dry_run { " " (badge("dry run", "info")) } }
                                td data-label="Phase" { (wire(&a.phase)) }
                                td data-label="Started" { (time(a.started_at)) }
                                td data-label="Took" { (hale_domain::time::duration::format(a.duration)) }
                                td data-label="Result" {
                                    @if a.success { (badge("ok", "good")) } @else { (badge("failed", "bad")) }
                                    @if let Some(c) = a.failure { " " (c.as_str()) }
                                }
                                td data-label="Message" { (page::text_opt(a.message.as_deref())) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="opaudit-h" {
            h2 #opaudit-h { "Audit entries" }
            (super::audit::table(&audit.items))
        }
        section aria-labelledby="optl-h" {
            h2 #optl-h { "Timeline" }
            (timeline(&events.items))
        }
    };
    let refresh = (!op.state.is_terminal()).then_some(2);
    Ok(ok(frame.render(&title, refresh, body)))
}
