//! The overview: is Hale healing here, and if not, why; dormancy, breakers,
//! switches by layer, background tasks, issues and recommendations. Per
//! tenant, or across the platform for a platform session that picked no
//! tenant. It refreshes itself every few seconds.

use axum::extract::State;
use axum::response::Response;
use hale_domain::breaker::BreakerState;
use hale_domain::dormancy::DormantRecord;
use hale_domain::kill_switch::{self, Feature, SwitchLayer, SwitchVerdict};
use hale_engine::status::{BackgroundTasksStatus, BreakerStatus, StrategyEffectivenessStatus};
use hale_engine::{StatusSnapshot, SwitchesView};
use maud::{Markup, html};

use super::extract::{Page, PageQuery};
use super::page::{self, Frame, Result, badge, ok, time, time_opt, wire};
use crate::routes::AppState;
use crate::routes::reads::{self, ApprovalsQuery, OneQuery};

/// Seconds between refreshes of the overview.
const REFRESH: u32 = 5;

/// `GET /console`.
pub(crate) async fn overview(
    State(state): State<AppState>,
    Page(frame): Page,
    // Refuses an unknown query parameter with 422, as the API does.
    _: PageQuery<OneQuery>,
) -> Result<Response> {
    let who = &frame.session.identity;
    let status = reads::status(&state, who, frame.tenant_arg()).await?;
    let switches = reads::switches(&state, who, frame.tenant_arg()).await?;
    let pending = match frame.tenant_arg() {
        Some(t) => {
            let q = ApprovalsQuery {
                tenant: Some(t.to_owned()),
                status: Some("pending".into()),
                limit: Some(100),
                ..ApprovalsQuery::default()
            };
            Some(reads::approvals(&state, who, &q).await?.items.len())
        }
        None => None,
    };
    let title = match &frame.tenant {
        Some(t) => format!("Overview of {t}"),
        None => "Overview of the platform".to_owned(),
    };
    let body = html! {
        h1 { (title) }
        (healing(&frame, &status, &switches))
        @if let Some(n) = pending {
            section aria-labelledby="approvals-h" {
                h2 #approvals-h { "Approvals" }
                p {
                    a href=(frame.href("/console/approvals")) {
                        (n) @if n >= 100 { "+" } " pending approval request" @if n != 1 { "s" }
                    }
                }
            }
        }
        @if !status.tenants.is_empty() {
            (tenants(&frame, &status))
        }
        (issues(&status))
        (breakers(&frame, &status.circuit_breakers))
        (effectiveness(&frame, &status.effectiveness))
        (switch_layers(&switches))
        (tasks(&status.background_tasks))
        p .hint { "Taken at " (time(status.generated_at)) "; this page refreshes every " (REFRESH) " seconds." }
    };
    Ok(ok(frame.render(&title, Some(REFRESH), body)))
}

/// Why automatic healing is off, in sentences.
fn reasons_off(status: &StatusSnapshot, switches: &SwitchesView) -> Vec<String> {
    let mut out = Vec::new();
    if switches.flags.is_none() {
        out.push(
            "the flag source has never been read, so automation stays off (fail closed)".into(),
        );
    }
    let tenant_layers = switches.tenant.clone().unwrap_or_default();
    if let SwitchVerdict::Disabled { by } = kill_switch::evaluate(
        &switches.global_effective,
        &tenant_layers,
        Feature::AutoHealing,
        None,
        &[],
    ) {
        out.push(match by {
            SwitchLayer::Global(f) => format!("the global {f} switch is off"),
            SwitchLayer::Tenant => "the tenant's kill switch is off".to_owned(),
            other => format!("the {other} switch is off"),
        });
    }
    if let Some(d) = &status.self_healing.dormant {
        out.push(format!("dormant: {}", d.reason));
    }
    if out.is_empty() && !status.self_healing.enabled {
        out.push("the whole engine is dormant or switched off; see the issues below".into());
    }
    out
}

fn healing(frame: &Frame, status: &StatusSnapshot, switches: &SwitchesView) -> Markup {
    let h = &status.self_healing;
    let reasons = reasons_off(status, switches);
    html! {
        section .card aria-labelledby="healing-h" {
            h2 #healing-h {
                "Automatic healing "
                @if h.enabled { (badge("on", "good")) } @else { (badge("off", "bad")) }
            }
            @if !h.enabled {
                ul .reasons { @for r in &reasons { li { (page::prose(r)) } } }
            }
            @if let Some(d) = &h.dormant {
                (dormant(frame, d))
            }
            dl .facts {
                (page::row("Consecutive failures", html! { (h.consecutive_failures) }))
                (page::row("Backoff", html! { (page::span(std::time::Duration::from_millis(h.backoff_delay))) }))
                (page::row("Next healing not before", time_opt(h.next_healing_at)))
                (page::row("Operations started", html! { (h.total_attempts) }))
                (page::row("Completed / failed", html! { (h.successful_healings) " / " (h.failed_healings) }))
                (page::row("Deferred alerts", html! { (h.deferred_alerts) }))
            }
        }
    }
}

fn dormant(frame: &Frame, d: &DormantRecord) -> Markup {
    html! {
        div .dormant role="status" {
            p {
                strong { "Dormant" } " since " (time(d.since)) " (" (wire(&d.triggered_by)) "): " (d.reason)
            }
            @if !d.resume_conditions.is_empty() {
                p { "Before resuming: " (d.resume_conditions.join("; ")) }
            }
            @if frame.can_operate() && frame.tenant.is_some() {
                p { a href=(frame.href("/console/recovery")) { "Walk the recovery steps" } }
            }
        }
    }
}

fn tenants(frame: &Frame, status: &StatusSnapshot) -> Markup {
    html! {
        section aria-labelledby="tenants-h" {
            h2 #tenants-h { "Tenants" }
            table {
                thead { tr { th { "Tenant" } th { "Dormant" } th { "Consecutive failures" } th { "Breakers not closed" } } }
                tbody {
                    @for t in &status.tenants {
                        tr {
                            td data-label="Tenant" {
                                a href=(format!("/console?tenant={}", page::encode(t.tenant.as_str()))) { (t.tenant) }
                            }
                            td data-label="Dormant" {
                                @if t.is_dormant { (badge("dormant", "bad")) } @else { "no" }
                            }
                            td data-label="Consecutive failures" { (t.consecutive_failures) }
                            td data-label="Breakers not closed" { (t.open_breakers) }
                        }
                    }
                }
            }
            @if frame.tenant.is_none() && frame.is_platform() {
                p .hint { "Pick a tenant above to act on it." }
            }
        }
    }
}

fn issues(status: &StatusSnapshot) -> Markup {
    html! {
        section aria-labelledby="issues-h" {
            h2 #issues-h { "Issues and recommendations" }
            @if status.issues.is_empty() && status.recommendations.is_empty() {
                p { "No issues." }
            }
            @if !status.issues.is_empty() {
                ul .issues { @for i in &status.issues { li { (page::prose(i)) } } }
            }
            @if !status.recommendations.is_empty() {
                h3 { "What to do" }
                ul .recommendations { @for r in &status.recommendations { li { (page::prose(r)) } } }
            }
        }
    }
}

/// The tone of a breaker state's badge.
pub(crate) fn breaker_badge(state: BreakerState) -> Markup {
    let tone = match state {
        BreakerState::Closed => "good",
        BreakerState::HalfOpen => "warn",
        BreakerState::Open | BreakerState::PermanentOpen => "bad",
    };
    badge(state.as_str(), tone)
}

pub(crate) fn breakers(frame: &Frame, list: &[BreakerStatus]) -> Markup {
    html! {
        section aria-labelledby="breakers-h" {
            h2 #breakers-h { "Circuit breakers" }
            @if list.is_empty() {
                p { "No breaker has been used yet." }
            } @else {
                table {
                    thead { tr {
                        @if frame.tenant.is_none() { th { "Tenant" } }
                        th { "Breaker" } th { "State" } th { "Failures" } th { "Last failure" } th { "Why latched" }
                    } }
                    tbody {
                        @for b in list {
                            tr {
                                @if frame.tenant.is_none() { td data-label="Tenant" { (b.tenant) } }
                                td data-label="Breaker" { (b.name) }
                                td data-label="State" { (breaker_badge(b.state)) }
                                td data-label="Failures" { (b.failure_count) }
                                td data-label="Last failure" {
                                    @match b.last_failure_ago {
                                        Some(s) => { (page::span(std::time::Duration::from_secs(s))) " ago" }
                                        None => { "—" }
                                    }
                                }
                                td data-label="Why latched" { (page::text_opt(b.permanent_reason.as_deref())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether each strategy's completed fixes held (docs/effectiveness.md),
/// counted in the store every replica shares; nothing before the first
/// operation that tracks it.
fn effectiveness(frame: &Frame, list: &[StrategyEffectivenessStatus]) -> Markup {
    html! {
        @if !list.is_empty() {
            section aria-labelledby="effectiveness-h" {
                h2 #effectiveness-h { "Effectiveness of fixes" }
                table {
                    thead { tr {
                        @if frame.tenant.is_none() { th { "Tenant" } }
                        th { "Strategy" } th { "Effective" } th { "Ineffective" } th { "Pending" } th { "Effective rate" }
                    } }
                    tbody {
                        @for e in list {
                            tr {
                                @if frame.tenant.is_none() { td data-label="Tenant" { (e.tenant) } }
                                td data-label="Strategy" { (e.strategy) }
                                td data-label="Effective" { (e.effective) }
                                td data-label="Ineffective" { (e.ineffective) }
                                td data-label="Pending" { (e.pending) }
                                td data-label="Effective rate" {
                                    @match e.effective_rate {
                                        Some(r) => { (format!("{:.0}%", r * 100.0)) }
                                        None => { "—" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `on`, `off` or `—` for a switch that may be unset.
fn switch_text<T: serde::Serialize>(s: Option<&T>) -> Markup {
    match s {
        Some(s) => {
            let w = wire(s);
            badge(&w, if w == "off" { "bad" } else { "good" })
        }
        None => html! { span .muted { "unset" } },
    }
}

pub(crate) fn switch_layers(view: &SwitchesView) -> Markup {
    html! {
        section aria-labelledby="switches-h" {
            h2 #switches-h { "Switches by layer" }
            table {
                caption { "Global features: the effective value combines the flag source (FEATURE_*) and switches set at run time; an off in either wins." }
                thead { tr { th { "Feature" } th { "Effective" } th { "Flag source" } th { "Run time" } } }
                tbody {
                    @for f in Feature::ALL {
                        tr {
                            td data-label="Feature" { (f) }
                            td data-label="Effective" {
                                @if view.global_effective.is_on(f) { (badge("on", "good")) } @else { (badge("off", "bad")) }
                            }
                            td data-label="Flag source" {
                                @match &view.flags {
                                    Some(flags) => { (switch_text(flags.features.get(&f))) }
                                    None => { span .muted { "never read" } }
                                }
                            }
                            td data-label="Run time" { (switch_text(view.global_runtime.features.get(&f))) }
                        }
                    }
                }
            }
            @if let Some(t) = &view.tenant {
                table {
                    caption { "Tenant layers: the most specific switch that is off stops an action." }
                    thead { tr { th { "Layer" } th { "Key" } th { "State" } } }
                    tbody {
                        tr { td data-label="Layer" { "tenant" } td data-label="Key" { "—" } td data-label="State" { (switch_text(t.tenant.as_ref())) } }
                        @for (k, s) in &t.strategies {
                            tr { td data-label="Layer" { "strategy" } td data-label="Key" { (k) } td data-label="State" { (switch_text(Some(s))) } }
                        }
                        @for (k, s) in &t.action_kinds {
                            tr { td data-label="Layer" { "action kind" } td data-label="Key" { (k) } td data-label="State" { (switch_text(Some(s))) } }
                        }
                    }
                }
            }
        }
    }
}

fn tasks(t: &BackgroundTasksStatus) -> Markup {
    html! {
        section aria-labelledby="tasks-h" {
            h2 #tasks-h { "Background tasks" }
            p { (t.active_tasks) " of " (t.total_tasks) " running." }
            @if !t.tasks.is_empty() {
                table {
                    thead { tr { th { "Task" } th { "Every" } th { "Runs" } th { "Failures" } th { "Last run" } th { "Last error" } } }
                    tbody {
                        @for task in &t.tasks {
                            tr {
                                td data-label="Task" {
                                    (task.id)
                                    @if !task.enabled { " " (badge("stopped", "warn")) }
                                }
                                td data-label="Every" { (page::span(std::time::Duration::from_secs(task.interval_seconds))) }
                                td data-label="Runs" { (task.execution_count) }
                                td data-label="Failures" { (task.failure_count) }
                                td data-label="Last run" { (time_opt(task.last_run_at)) }
                                td data-label="Last error" { (page::text_opt(task.last_error.as_deref())) }
                            }
                        }
                    }
                }
            }
        }
    }
}
