//! Dormancy recovery as seed 002's runbook ("운영 가이드"), one step after
//! another on one page: check the status, read what failed (and fix it
//! where it lives), reset the breaker, resume, and check again. Each step
//! shows the live state, so the last one is the check.

use axum::extract::State;
use axum::response::Response;
use hale_domain::breaker::BreakerState;
use maud::{Markup, html};

use super::extract::{PageQuery, TenantPage};
use super::overview::{breaker_badge, breakers};
use super::page::{Result, badge, encode, ok, time};
use crate::routes::AppState;
use crate::routes::reads::{self, AuditQuery, OneQuery, OperationsQuery};

fn step(id: &str, n: u8, title: &str, body: Markup) -> Markup {
    html! {
        li #(id) .step {
            h2 { span .n { (n) } " " (title) }
            (body)
        }
    }
}

/// `GET /console/recovery`.
pub(crate) async fn page(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    // Refuses an unknown query parameter with 422, as the API does.
    _: PageQuery<OneQuery>,
) -> Result<Response> {
    let who = &frame.session.identity;
    let tenant = frame.tenant_arg().map(str::to_owned);
    let status = reads::status(&state, who, frame.tenant_arg()).await?;
    let failed_ops = reads::operations(
        &state,
        who,
        &OperationsQuery {
            tenant: tenant.clone(),
            state: Some("FAILED".into()),
            limit: Some(5),
            ..OperationsQuery::default()
        },
    )
    .await?;
    let failed_audit = reads::audit(
        &state,
        who,
        &AuditQuery {
            tenant,
            success: Some(false),
            limit: Some(10),
            ..AuditQuery::default()
        },
    )
    .await?;
    let h = &status.self_healing;
    let not_closed: Vec<_> = status
        .circuit_breakers
        .iter()
        .filter(|b| b.state != BreakerState::Closed)
        .collect();
    let recovered = !h.is_dormant && not_closed.is_empty();
    let body = html! {
        h1 { "Recovery from dormancy" }
        p .lead {
            "Seed 002's runbook: check, fix the cause, reset the breaker, resume, check again. "
            "Resuming before the cause is fixed only fails again."
        }
        ol .steps {
            (step("step-status", 1, "Check the status", html! {
                @match &h.dormant {
                    Some(d) => {
                        p { (badge("dormant", "bad")) " since " (time(d.since)) " (" (super::page::wire(&d.triggered_by)) "): " strong { (d.reason) } }
                        @if !d.resume_conditions.is_empty() {
                            p { "Resume when: " (d.resume_conditions.join("; ")) }
                        }
                    }
                    None => { p { (badge("awake", "good")) " This tenant is not dormant." } }
                }
                (breakers(&frame, &status.circuit_breakers))
                @if !status.issues.is_empty() {
                    ul .issues { @for i in &status.issues { li { (super::page::prose(i)) } } }
                }
            }))
            (step("step-failures", 2, "Read what failed, and fix it where it lives", html! {
                @if failed_ops.items.is_empty() {
                    p { "No failed operations." }
                } @else {
                    table {
                        thead { tr { th { "Operation" } th { "Failure" } th { "Error" } } }
                        tbody {
                            @for op in &failed_ops.items {
                                tr {
                                    td data-label="Operation" { a href=(frame.href(&format!("/console/operations/{}", encode(op.id.as_str())))) { (op.id) } }
                                    td data-label="Failure" { @match op.failure_class { Some(c) => { (c.as_str()) } None => { "—" } } }
                                    td data-label="Error" { (super::page::text_opt(op.error.as_deref())) }
                                }
                            }
                        }
                    }
                }
                h3 { "Failed audit entries" }
                (super::audit::table(&failed_audit.items))
                p .hint {
                    "Then fix it outside Hale: rotate the executor's credentials (an unauthorized error latches the breaker), "
                    "restore the target, or correct the strategy."
                }
            }))
            (step("step-breaker", 3, "Reset the breaker (when one is not CLOSED)", html! {
                @if not_closed.is_empty() {
                    p { "Every breaker is CLOSED; nothing to reset." }
                }
                @for b in &not_closed {
                    @if frame.can_operate() {
                        form .stack method="post" action=(frame.href(&format!("/console/breakers/{}/reset", encode(&b.name)))) {
                            (frame.csrf())
                            p { "Breaker " strong { (b.name) } " is " (breaker_badge(b.state)) }
                            label for=(format!("breaker-reason-{}", b.name)) { "Reason for resetting " (b.name) }
                            input #(format!("breaker-reason-{}", b.name)) type="text" name="reason" required autocomplete="off";
                            button type="submit" { "Reset " (b.name) }
                        }
                    } @else {
                        p { "Breaker " (b.name) " is " (breaker_badge(b.state)) "." }
                    }
                }
            }))
            (step("step-resume", 4, "Resume from dormancy", html! {
                @if !h.is_dormant {
                    p { "Not dormant; nothing to resume." }
                } @else if frame.can_operate() {
                    form .stack method="post" action=(frame.href("/console/dormancy/resume")) {
                        (frame.csrf())
                        input type="hidden" name="scope" value="tenant";
                        label for="resume-reason" { "What was fixed (recorded in the audit log)" }
                        input #resume-reason type="text" name="reason" required autocomplete="off";
                        p .hint { "Resuming also clears the backoff and the failure streaks." }
                        button type="submit" .primary { "Resume" }
                    }
                } @else {
                    p { "An operator must resume it." }
                }
            }))
            (step("check", 5, "Check again", html! {
                @if recovered {
                    p #verdict .flash.good role="status" { "Recovered: not dormant, and every breaker is CLOSED." }
                } @else {
                    p #verdict .flash.bad role="status" {
                        "Not yet: "
                        @if h.is_dormant { "still dormant" }
                        @if h.is_dormant && !not_closed.is_empty() { "; " }
                        @if !not_closed.is_empty() {
                            "breaker(s) "
                            (not_closed.iter().map(|b| format!("{} {}", b.name, b.state)).collect::<Vec<_>>().join(", "))
                        }
                        "."
                    }
                }
                p { a href=(frame.href("/console/recovery")) { "Check again" } " (status taken at " (time(status.generated_at)) ")" }
            }))
        }
    };
    Ok(ok(frame.render("Recovery", None, body)))
}
