//! Incidents by severity and status, and one incident with its signals,
//! decision chain, timeline and operations.

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::Severity;
use hale_domain::effectiveness::EffectivenessTally;
use hale_domain::record::incident::IncidentStatus;
use hale_domain::record::timeline::{TimelineEvent, TimelineStatus};
use maud::{Markup, html};

use super::extract::{PageQuery, TenantPage};
use super::operations::{effectiveness_badge, state_badge};
use super::page::{self, Frame, Result, badge, encode, ok, time, time_opt};
use crate::routes::AppState;
use crate::routes::reads::{self, IncidentsQuery, OneQuery, TimelineQuery};

/// Operations shown on an incident's page.
const MAX_OPERATIONS: usize = 20;

pub(crate) fn severity_badge(s: Severity) -> Markup {
    let tone = match s {
        Severity::P0 | Severity::P1 => "bad",
        Severity::P2 => "warn",
        Severity::P3 => "info",
    };
    badge(s.as_str(), tone)
}

fn status_badge(s: IncidentStatus) -> Markup {
    let tone = match s {
        IncidentStatus::Resolved | IncidentStatus::Closed => "good",
        IncidentStatus::Mitigating => "info",
        IncidentStatus::Investigating => "warn",
        IncidentStatus::Escalated => "bad",
    };
    badge(s.as_str(), tone)
}

/// A select of enum values for a filter form; `""` means any.
pub(crate) fn select(name: &str, label: &str, values: &[&str], chosen: Option<&str>) -> Markup {
    let chosen = chosen.map(str::trim).unwrap_or("");
    html! {
        div .field {
            label for=(name) { (label) }
            select #(name) name=(name) {
                option value="" selected[chosen.is_empty()] { "any" }
                @for v in values {
                    option value=(v) selected[chosen.eq_ignore_ascii_case(v)] { (v) }
                }
            }
        }
    }
}

/// The hidden tenant field of a platform session's filter form.
pub(crate) fn tenant_field(frame: &Frame) -> Markup {
    html! {
        @if frame.is_platform() {
            @if let Some(t) = &frame.tenant { input type="hidden" name="tenant" value=(t); }
        }
    }
}

/// `GET /console/incidents`.
pub(crate) async fn list(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    PageQuery(mut q): PageQuery<IncidentsQuery>,
) -> Result<Response> {
    q.tenant = frame.tenant_arg().map(str::to_owned);
    let list = reads::incidents(&state, &frame.session.identity, &q).await?;
    let statuses: Vec<&str> = IncidentStatus::ALL.iter().map(|s| s.as_str()).collect();
    let base = frame.href(&format!(
        "/console/incidents?status={}&severity={}",
        encode(q.status.as_deref().unwrap_or("")),
        encode(q.severity.as_deref().unwrap_or(""))
    ));
    let body = html! {
        h1 { "Incidents" }
        form .filters method="get" action="/console/incidents" {
            (tenant_field(&frame))
            (select("severity", "Severity", &["P0", "P1", "P2", "P3"], q.severity.as_deref()))
            (select("status", "Status", &statuses, q.status.as_deref()))
            button type="submit" { "Filter" }
        }
        @if list.items.is_empty() {
            p { "No incidents match." }
        } @else {
            table {
                thead { tr { th { "Incident" } th { "Severity" } th { "Status" } th { "Title" } th { "Opened" } } }
                tbody {
                    @for i in &list.items {
                        tr {
                            td data-label="Incident" { a href=(frame.href(&format!("/console/incidents/{}", encode(i.id.as_str())))) { (i.id) } }
                            td data-label="Severity" { (severity_badge(i.severity)) }
                            td data-label="Status" { (status_badge(i.status)) }
                            td data-label="Title" { (i.title) }
                            td data-label="Opened" { (time(i.created_at)) }
                        }
                    }
                }
            }
            (page::pager(&base, q.offset.unwrap_or(0), q.limit.unwrap_or(50), list.next_offset))
        }
    };
    Ok(ok(frame.render("Incidents", Some(10), body)))
}

fn timeline_badge(s: TimelineStatus) -> Markup {
    let tone = match s {
        TimelineStatus::Info => "info",
        TimelineStatus::Success => "good",
        TimelineStatus::Warning => "warn",
        TimelineStatus::Error => "bad",
    };
    badge(s.as_str(), tone)
}

/// A timeline, oldest first (the store pages newest first).
pub(crate) fn timeline(events: &[TimelineEvent]) -> Markup {
    html! {
        @if events.is_empty() {
            p { "No events." }
        } @else {
            ol .timeline {
                @for e in events.iter().rev() {
                    li {
                        (time(e.created_at)) " " (timeline_badge(e.status)) " "
                        strong { (e.title) }
                        @if let Some(a) = &e.actor { " — " (a) }
                        @if let Some(d) = &e.description { br; span .muted { (d) } }
                    }
                }
            }
        }
    }
}

/// `GET /console/incidents/{id}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    Path(id): Path<String>,
    // Refuses an unknown query parameter with 422, as the API does.
    _: PageQuery<OneQuery>,
) -> Result<Response> {
    let who = &frame.session.identity;
    let inc = reads::incident(&state, who, frame.tenant_arg(), &id).await?;
    let events = reads::timeline(
        &state,
        who,
        &TimelineQuery {
            tenant: frame.tenant_arg().map(str::to_owned),
            incident_id: Some(inc.id.as_str().to_owned()),
            limit: Some(200),
            ..TimelineQuery::default()
        },
    )
    .await?;
    let held = reads::incident_effectiveness(&state, who, frame.tenant_arg(), &inc).await?;
    let mut ops = Vec::new();
    for op in inc.operation_ids.iter().rev().take(MAX_OPERATIONS) {
        ops.push(reads::operation(&state, who, frame.tenant_arg(), op.as_str()).await?);
    }
    let title = format!("Incident {}", inc.id);
    let body = html! {
        h1 { (title) " " (severity_badge(inc.severity)) " " (status_badge(inc.status)) }
        p .lead { (inc.title) }
        dl .facts {
            (page::row("Opened", time(inc.created_at)))
            (page::row("Resolved", time_opt(inc.resolved_at)))
            (page::row("Services", html! { (inc.affected_services.join(", ")) }))
            (page::row("Fingerprint", html! { code { (inc.fingerprint) } }))
            @if held != EffectivenessTally::default() {
                (page::row("Effectiveness", html! {
                    (held.effective) " effective, " (held.ineffective) " ineffective, "
                    (held.pending) " pending"
                }))
            }
            @if let Some(o) = &inc.outcome {
                (page::row("Outcome", html! { (o.result) ": " (o.summary) }))
            }
            @if !inc.proposal_ids.is_empty() {
                (page::row("Approval requests", html! {
                    @for (i, a) in inc.proposal_ids.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(frame.href(&format!("/console/approvals/{}", encode(a.as_str())))) { (a) }
                    }
                }))
            }
        }
        section aria-labelledby="signals-h" {
            h2 #signals-h { "Signals" }
            table {
                thead { tr { th { "Received" } th { "Alert" } th { "Status" } th { "Summary" } } }
                tbody {
                    @for s in &inc.signals {
                        tr {
                            td data-label="Received" { (time(s.received_at)) }
                            td data-label="Alert" { (s.alertname) }
                            td data-label="Status" { (s.status) }
                            td data-label="Summary" { (page::text_opt(s.summary.as_deref())) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="chain-h" {
            h2 #chain-h { "Decision chain" }
            @if inc.decision_chain.is_empty() {
                p { "No decisions yet." }
            } @else {
                table {
                    thead { tr { th { "At" } th { "Stage" } th { "Decision" } th { "Reason" } } }
                    tbody {
                        @for d in &inc.decision_chain {
                            tr {
                                td data-label="At" { (time(d.at)) }
                                td data-label="Stage" { (d.stage) }
                                td data-label="Decision" { (d.decision) }
                                td data-label="Reason" { (page::prose(&d.reason)) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="ops-h" {
            h2 #ops-h { "Operations" }
            @if ops.is_empty() {
                p { "No operations." }
            } @else {
                ul {
                    @for op in &ops {
                        li {
                            a href=(frame.href(&format!("/console/operations/{}", encode(op.id.as_str())))) { (op.id) }
                            " " (state_badge(op.state))
                            @if op.effectiveness.is_some() { " " (effectiveness_badge(op.effectiveness)) }
                            " " (op.strategy_id) " on " (op.resource)
                        }
                    }
                }
            }
        }
        section aria-labelledby="timeline-h" {
            h2 #timeline-h { "Timeline" }
            (timeline(&events.items))
        }
    };
    let refresh = inc.status.is_open().then_some(5);
    Ok(ok(frame.render(&title, refresh, body)))
}
