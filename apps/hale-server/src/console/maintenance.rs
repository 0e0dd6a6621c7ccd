//! Maintenance windows and remediation budgets (issue 16): the tenant's
//! windows, configured and opened through the API, with who opened and
//! ended each and why; a form to open an ad-hoc window and one to end each
//! open one; and each budget's use now. The forms call the acts of
//! `routes::acts` the JSON API calls (`POST /v1/maintenance-windows`,
//! `.../{id}/end`), so its roles, validation and audit apply.

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::Timestamp;
use hale_domain::maintenance::{Schedule, WindowMode, WindowScope};
use hale_engine::status::BudgetUseStatus;
use hale_engine::windows::{NewWindow, WindowSource, WindowView};
use maud::{Markup, html};
use serde::Deserialize;

use super::controls::with_tenant;
use super::extract::{PageQuery, Posted, TenantPage};
use super::page::{self, Frame, Result, badge, encode, ok, see_other, time, time_opt, wire};
use super::session::Flash;
use crate::error::ApiError;
use crate::routes::AppState;
use crate::routes::acts::{self, ActBy, ReasonBody};
use crate::routes::reads::{self, OneQuery};

/// How a window's schedule reads.
fn schedule(s: &Schedule) -> Markup {
    match s {
        Schedule::OneOff { start, end } => html! { "from " (time(*start)) " to " (time(*end)) },
        Schedule::Weekly {
            days,
            start,
            duration,
            time_zone,
        } => {
            let days: Vec<String> = days.iter().map(wire).collect();
            html! {
                "weekly on " (days.join(", ")) " at " (start) " for "
                (hale_domain::time::duration::format(*duration)) " (" (wire(time_zone)) ")"
            }
        }
    }
}

fn scope(s: &WindowScope) -> String {
    let mut parts = Vec::new();
    if !s.namespaces.is_empty() {
        parts.push(format!("namespaces {}", s.namespaces.join(", ")));
    }
    if !s.strategies.is_empty() {
        let ids: Vec<&str> = s.strategies.iter().map(|i| i.as_str()).collect();
        parts.push(format!("strategies {}", ids.join(", ")));
    }
    if parts.is_empty() {
        "the whole tenant".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The form that ends an open window opened through the API.
fn end_form(frame: &Frame, w: &WindowView) -> Markup {
    let id = &w.window.id;
    let reason_id = format!("end-reason-{id}");
    html! {
        form .inline method="post"
            action=(frame.href(&format!("/console/maintenance/windows/{}/end", encode(id))))
            aria-label=(format!("End window {id}")) {
            (frame.csrf())
            label for=(reason_id) .sr-only { "Reason" }
            input #(reason_id) type="text" name="reason" required placeholder="why end it now" autocomplete="off";
            button type="submit" { "End now" }
        }
    }
}

fn windows_table(frame: &Frame, windows: &[WindowView]) -> Markup {
    html! {
        @if windows.is_empty() {
            p { "No maintenance windows." }
        } @else {
            table #windows {
                thead { tr { th { "Window" } th { "Mode" } th { "When" } th { "Covers" } th { "Who and why" } th { "State" } } }
                tbody {
                    @for w in windows {
                        tr {
                            td data-label="Window" { code { (w.window.id) } " " span .muted { (wire(&w.source)) } }
                            td data-label="Mode" {
                                @match w.window.mode {
                                    WindowMode::Block => { (badge("block", "bad")) }
                                    WindowMode::ApprovalOnly => { (badge("approval only", "warn")) }
                                }
                            }
                            td data-label="When" { (schedule(&w.window.schedule)) }
                            td data-label="Covers" { (scope(&w.window.scope)) }
                            td data-label="Who and why" {
                                (page::prose(&w.window.reason))
                                @if let Some(by) = &w.window.created_by {
                                    br; span .muted { "opened by " (by) " at " (time_opt(w.window.created_at)) }
                                }
                                @if let Some(e) = &w.window.ended {
                                    br; span .muted { "ended by " (e.by) " at " (time(e.at)) ": " (e.reason) }
                                }
                            }
                            td data-label="State" {
                                @if let Some(cur) = &w.current {
                                    (badge("active", "warn")) " until " (time(cur.end))
                                } @else if w.window.ended.is_some() {
                                    (badge("ended", "info"))
                                } @else {
                                    span .muted { "not active now" }
                                }
                                @if frame.can_operate() && w.source == WindowSource::Api && w.window.ended.is_none() {
                                    (end_form(frame, w))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A cap's use: `used of max`, or just `used` when nothing caps it.
fn of_cap(used: u32, max: Option<u32>) -> Markup {
    match max {
        Some(m) if used >= m => html! { (badge(&format!("{used} of {m}"), "bad")) },
        Some(m) => html! { (used) " of " (m) },
        None => html! { (used) " " span .muted { "(no cap)" } },
    }
}

fn budgets_table(scopes: &[BudgetUseStatus]) -> Markup {
    html! {
        table #budgets {
            thead { tr { th { "Budget" } th { "In flight" } th { "Started in the window" } th { "Pods disrupted in the window" } th { "Window" } } }
            tbody {
                @for b in scopes {
                    tr {
                        td data-label="Budget" { (b.scope) }
                        td data-label="In flight" { (of_cap(b.in_flight, b.limits.max_in_flight)) }
                        td data-label="Started in the window" { (of_cap(b.started, b.limits.max_started)) }
                        td data-label="Pods disrupted in the window" { (of_cap(b.pods_disrupted, b.limits.max_pods_disrupted)) }
                        td data-label="Window" { (hale_domain::time::duration::format(b.limits.window)) }
                    }
                }
            }
        }
    }
}

fn open_form(frame: &Frame) -> Markup {
    let start = frame.now.to_rfc3339();
    let end = frame
        .now
        .saturating_add(std::time::Duration::from_secs(3_600))
        .to_rfc3339();
    html! {
        section aria-labelledby="open-h" {
            h2 #open-h { "Open a window" }
            p .hint { "While a window is active Hale records alerts and does not act on its own (block), or asks a person first (approval only). Opening it is audited with your name and the reason." }
            form .stack #open-window method="post" action=(frame.href("/console/maintenance/windows")) {
                (frame.csrf())
                label for="window-id" { "Id (letters, digits, - and _)" }
                input #window-id type="text" name="id" required pattern="[A-Za-z0-9_\\-]{1,64}" autocomplete="off";
                label for="window-mode" { "Mode" }
                select #window-mode name="mode" {
                    option value="block" selected { "block: no automatic healing" }
                    option value="approval_only" { "approval only: a person approves each run" }
                }
                label for="window-start" { "From (RFC 3339)" }
                input #window-start type="text" name="start" required value=(start);
                label for="window-end" { "Until (RFC 3339)" }
                input #window-end type="text" name="end" required value=(end);
                label for="window-namespaces" { "Namespaces (comma-separated; empty: every namespace)" }
                input #window-namespaces type="text" name="namespaces" autocomplete="off";
                label for="window-strategies" { "Strategies (comma-separated; empty: every strategy)" }
                input #window-strategies type="text" name="strategies" autocomplete="off";
                label for="window-reason" { "Reason" }
                input #window-reason type="text" name="reason" required autocomplete="off";
                button type="submit" .danger { "Open window" }
            }
        }
    }
}

/// `GET /console/maintenance`.
pub(crate) async fn page(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    // Refuses an unknown query parameter with 422, as the API does.
    _: PageQuery<OneQuery>,
) -> Result<Response> {
    let who = &frame.session.identity;
    let windows = reads::maintenance_windows(&state, who, frame.tenant_arg()).await?;
    let status = reads::status(&state, who, frame.tenant_arg()).await?;
    let body = html! {
        h1 { "Maintenance" }
        section aria-labelledby="windows-h" {
            h2 #windows-h { "Maintenance windows" }
            (windows_table(&frame, &windows))
        }
        @if frame.can_operate() { (open_form(&frame)) }
        section aria-labelledby="budgets-h" {
            h2 #budgets-h { "Remediation budgets" }
            @match &status.remediation_budgets {
                Some(r) => {
                    p .hint { "How much automation may disrupt at once; the counts are shared by every replica. A run over a budget is blocked (budget_exhausted) and retried, never failed." }
                    (budgets_table(&r.scopes))
                }
                None => { p { "No remediation budget is configured for this tenant." } }
            }
        }
    };
    Ok(ok(frame.render("Maintenance", None, body)))
}

// === Form handlers ===

/// The open form's fields, as posted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowForm {
    id: String,
    mode: String,
    start: String,
    end: String,
    #[serde(default)]
    namespaces: String,
    #[serde(default)]
    strategies: String,
    reason: String,
}

fn list(field: &str) -> Vec<String> {
    field
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl WindowForm {
    /// The API's body for the same window; a field it would refuse names
    /// itself.
    fn into_window(self) -> std::result::Result<NewWindow, ApiError> {
        let at = |name: &str, v: &str| {
            v.trim().parse::<Timestamp>().map_err(|e| {
                ApiError::Invalid(format!(
                    "{name}: {e} (an RFC 3339 time, like 2026-12-08T20:00:00Z)"
                ))
            })
        };
        let mode = reads::wire::<WindowMode>("mode", Some(&self.mode))?
            .ok_or_else(|| ApiError::Invalid("mode: block or approval_only".into()))?;
        Ok(NewWindow {
            id: self.id.trim().to_owned(),
            mode,
            scope: WindowScope {
                namespaces: list(&self.namespaces),
                strategies: list(&self.strategies)
                    .into_iter()
                    .map(hale_domain::StrategyId::new)
                    .collect(),
            },
            schedule: Schedule::OneOff {
                start: at("start", &self.start)?,
                end: at("end", &self.end)?,
            },
            reason: self.reason,
        })
    }
}

fn back(posted_tenant: Option<&str>) -> String {
    with_tenant("/console/maintenance", posted_tenant)
}

/// `POST /console/maintenance/windows`.
pub(crate) async fn open(
    State(state): State<AppState>,
    posted: Posted<WindowForm>,
) -> Result<Response> {
    let Posted {
        session,
        tenant,
        back: to,
        body,
    } = posted;
    let by = ActBy::web(&session.identity);
    let window = body.into_window()?;
    let w = acts::open_window(&state, by, tenant.as_deref(), window).await?;
    state.sessions().flash(
        &session,
        Flash {
            ok: true,
            text: format!("Window {} ({}) opened.", w.id, w.mode),
        },
    );
    Ok(see_other(&to.unwrap_or_else(|| back(tenant.as_deref()))))
}

/// `POST /console/maintenance/windows/{id}/end`.
pub(crate) async fn end(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ReasonBody>,
) -> Result<Response> {
    let by = ActBy::web(&posted.session.identity);
    let w = acts::end_window(&state, by, posted.tenant(), &id, &posted.body).await?;
    state.sessions().flash(
        &posted.session,
        Flash {
            ok: true,
            text: format!("Window {} ended: automation may act again.", w.id),
        },
    );
    Ok(see_other(&posted.back_or(back(posted.tenant()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(start: &str, namespaces: &str) -> WindowForm {
        WindowForm {
            id: " db-upgrade ".into(),
            mode: "APPROVAL_ONLY".into(),
            start: start.into(),
            end: "2026-12-08T22:00:00Z".into(),
            namespaces: namespaces.into(),
            strategies: String::new(),
            reason: "failover drill".into(),
        }
    }

    #[test]
    fn the_form_makes_the_apis_one_off_window() {
        let w = form("2026-12-08T20:00:00Z", " prod, , staging ")
            .into_window()
            .unwrap();
        assert_eq!(w.id, "db-upgrade");
        assert_eq!(w.mode, WindowMode::ApprovalOnly);
        assert_eq!(w.scope.namespaces, ["prod", "staging"]);
        assert!(w.scope.strategies.is_empty());
        assert!(matches!(w.schedule, Schedule::OneOff { .. }));
        let e = form("tomorrow", "").into_window().unwrap_err();
        assert!(matches!(e, ApiError::Invalid(d) if d.starts_with("start:")));
    }
}
