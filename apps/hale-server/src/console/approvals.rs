//! Approvals: the queue with risk, signatures needed and given, blast
//! radius, dry-run results and an expiry countdown; one request in full,
//! with the signatures already given (a second signer sees the first), and
//! the forms to approve or reject with a reason.

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::RiskLevel;
use hale_domain::approval::{ApprovalRequest, ApprovalStatus};
use maud::{Markup, html};

use super::controls::with_tenant;
use super::extract::{PageQuery, Posted, TenantPage};
use super::page::{self, Result, badge, countdown, encode, ok, see_other, time, time_opt};
use super::session::Flash;
use crate::routes::AppState;
use crate::routes::acts::{self, ActBy, ApproveBody, ReasonBody};
use crate::routes::reads::{self, ApprovalsQuery, OneQuery};

/// Seconds between refreshes of the queue.
const REFRESH: u32 = 10;

pub(crate) fn risk_badge(r: RiskLevel) -> Markup {
    let tone = match r {
        RiskLevel::Low => "good",
        RiskLevel::Medium => "warn",
        RiskLevel::High | RiskLevel::Critical => "bad",
    };
    badge(r.as_str(), tone)
}

pub(crate) fn status_badge(s: ApprovalStatus) -> Markup {
    let tone = match s {
        ApprovalStatus::Pending => "warn",
        ApprovalStatus::Approved => "good",
        ApprovalStatus::Rejected | ApprovalStatus::Expired => "bad",
    };
    badge(s.as_str(), tone)
}

fn signatures_text(a: &ApprovalRequest) -> String {
    let who: Vec<&str> = a.signatures.iter().map(|s| s.identity.as_str()).collect();
    let mut t = format!("{} of {}", a.current_signatures(), a.required_signatures);
    if !who.is_empty() {
        t.push_str(&format!(" ({})", who.join(", ")));
    }
    t
}

fn blast_radius(a: &ApprovalRequest) -> Markup {
    let b = &a.blast_radius;
    html! {
        (b.namespaces.join(", "))
        @if !b.resources.is_empty() { " · " (b.resources.join(", ")) }
        @if let Some(p) = b.estimated_pods { " · ~" (p) " pods" }
    }
}

fn dry_runs_summary(a: &ApprovalRequest) -> Markup {
    let failed = a.dry_run_checks.iter().filter(|c| !c.passed).count();
    html! {
        @if a.dry_run_checks.is_empty() {
            span .muted { "none" }
        } @else if failed == 0 {
            (badge(&format!("{} passed", a.dry_run_checks.len()), "good"))
        } @else {
            (badge(&format!("{failed} of {} failed", a.dry_run_checks.len()), "bad"))
        }
    }
}

/// `GET /console/approvals`: pending requests first (`?status=all` for
/// every status).
pub(crate) async fn list(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    PageQuery(mut q): PageQuery<ApprovalsQuery>,
) -> Result<Response> {
    let shown = match q.status.as_deref().map(str::trim) {
        None | Some("") => "pending".to_owned(),
        Some(s) => s.to_ascii_lowercase(),
    };
    q.status = (shown != "all").then(|| shown.clone());
    q.tenant = frame.tenant_arg().map(str::to_owned);
    let list = reads::approvals(&state, &frame.session.identity, &q).await?;
    let base = frame.href(&format!("/console/approvals?status={}", encode(&shown)));
    let body = html! {
        h1 { "Approvals" }
        nav .tabs aria-label="Status" {
            @for s in ["pending", "approved", "rejected", "expired", "all"] {
                a href=(frame.href(&format!("/console/approvals?status={s}"))) aria-current=[(s == shown).then_some("page")] { (s) }
            }
        }
        @if list.items.is_empty() {
            p { "No " (shown) " approval requests." }
        } @else {
            table .approvals {
                thead { tr {
                    th { "Request" } th { "Risk" } th { "Signatures" } th { "Blast radius" } th { "Dry runs" } th { "Expires" }
                } }
                tbody {
                    @for a in &list.items {
                        tr {
                            td data-label="Request" {
                                a href=(frame.href(&format!("/console/approvals/{}", encode(a.id.as_str())))) { (a.id) }
                                br;
                                (a.action)
                                br;
                                span .muted { (a.strategy_id) }
                            }
                            td data-label="Risk" { (risk_badge(a.risk_level)) }
                            td data-label="Signatures" { (signatures_text(a)) }
                            td data-label="Blast radius" { (blast_radius(a)) }
                            td data-label="Dry runs" { (dry_runs_summary(a)) }
                            td data-label="Expires" {
                                @if a.status == ApprovalStatus::Pending {
                                    (countdown(a.expires_at, frame.now))
                                } @else {
                                    (status_badge(a.status))
                                }
                            }
                        }
                    }
                }
            }
            (page::pager(&base, q.offset.unwrap_or(0), q.limit.unwrap_or(50), list.next_offset))
        }
    };
    Ok(ok(frame.render("Approvals", Some(REFRESH), body)))
}

/// `GET /console/approvals/{id}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    Path(id): Path<String>,
    // Refuses an unknown query parameter with 422, as the API does.
    _: PageQuery<OneQuery>,
) -> Result<Response> {
    let a = reads::approval(&state, &frame.session.identity, frame.tenant_arg(), &id).await?;
    let me = frame.session.identity.name.as_str();
    let signed_by_me = a.signatures.iter().any(|s| s.identity.as_str() == me);
    let action = |verb: &str| {
        frame.href(&format!(
            "/console/approvals/{}/{verb}",
            encode(a.id.as_str())
        ))
    };
    let title = format!("Approval {}", a.id);
    let body = html! {
        h1 { (title) " " (status_badge(a.status)) }
        p .lead { (a.description) }
        dl .facts {
            (page::row("Action", html! { (a.action) }))
            (page::row("Strategy", html! { (a.strategy_id) }))
            (page::row("Risk", risk_badge(a.risk_level)))
            (page::row("Signatures", html! { (a.current_signatures()) " of " (a.required_signatures) " needed" }))
            (page::row("Blast radius", blast_radius(&a)))
            (page::row("Requested by", html! { (a.requested_by) " at " (time(a.created_at)) }))
            (page::row("Alert seen", html! { (a.hit_count) " time(s), last at " (time(a.last_seen_at)) }))
            @if a.status == ApprovalStatus::Pending {
                (page::row("Expires", html! { (countdown(a.expires_at, frame.now)) " (" (time(a.expires_at)) ")" }))
            } @else {
                (page::row("Decided", time_opt(a.resolved_at)))
            }
            @if let Some(inc) = &a.incident_id {
                (page::row("Incident", html! { a href=(frame.href(&format!("/console/incidents/{}", encode(inc.as_str())))) { (inc) } }))
            }
            @if let Some(r) = &a.rejection_reason {
                (page::row("Rejected", html! { "by " (page::text_opt(a.rejected_by.as_ref().map(|r| r.as_str()))) ": " (r) }))
            }
        }
        section aria-labelledby="sig-h" {
            h2 #sig-h { "Signatures" }
            @if a.signatures.is_empty() {
                p { "Nobody has signed yet." }
            } @else {
                ol .signatures {
                    @for s in &a.signatures {
                        li {
                            strong { (s.identity) } " signed at " (time(s.signed_at))
                            @if let Some(c) = &s.comment { ": " q { (c) } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="dry-h" {
            h2 #dry-h { "Dry runs" }
            @if a.dry_run_checks.is_empty() {
                p { "No dry-run checks were made." }
            } @else {
                table {
                    thead { tr { th { "Check" } th { "Result" } th { "Message" } } }
                    tbody {
                        @for c in &a.dry_run_checks {
                            tr {
                                td data-label="Check" { (c.name) }
                                td data-label="Result" { @if c.passed { (badge("passed", "good")) } @else { (badge("failed", "bad")) } }
                                td data-label="Message" { (c.message) }
                            }
                        }
                    }
                }
            }
        }
        @if a.status == ApprovalStatus::Pending && frame.can_operate() {
            section .decide aria-labelledby="decide-h" {
                h2 #decide-h { "Decide" }
                @if signed_by_me {
                    p .flash.good { "You signed this request; another identity must add the next signature." }
                } @else {
                    form .stack method="post" action=(action("approve")) {
                        (frame.csrf())
                        label for="comment" { "Comment (optional)" }
                        textarea #comment name="comment" rows="2" {}
                        button type="submit" .primary { "Approve as " (me) }
                    }
                }
                form .stack method="post" action=(action("reject")) {
                    (frame.csrf())
                    label for="reason" { "Reason for rejecting" }
                    textarea #reason name="reason" rows="2" required {}
                    button type="submit" .danger { "Reject" }
                }
            }
        }
    };
    Ok(ok(frame.render(&title, None, body)))
}

/// `POST /console/approvals/{id}/approve`.
pub(crate) async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ApproveBody>,
) -> Result<Response> {
    let Posted {
        session,
        tenant,
        body,
        ..
    } = posted;
    let by = ActBy::web(&session.identity);
    let result = acts::approve(&state, by, tenant.as_deref(), &id, body).await?;
    let text = match (&result.operation_id, &result.pending_reason) {
        (Some(op), _) => format!("Approved; operation {op} started."),
        (None, Some(why)) => format!(
            "Signed ({} of {}): {why}.",
            result.approval.current_signatures(),
            result.approval.required_signatures
        ),
        (None, None) => "Signed.".to_owned(),
    };
    state.sessions().flash(&session, Flash { ok: true, text });
    // A started operation is what the approver wants to watch next.
    let to = match &result.operation_id {
        Some(op) => with_tenant(
            &format!("/console/operations/{}", encode(op.as_str())),
            tenant.as_deref(),
        ),
        None => back_to(&id, tenant.as_deref()),
    };
    Ok(see_other(&to))
}

/// `POST /console/approvals/{id}/reject`.
pub(crate) async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ReasonBody>,
) -> Result<Response> {
    let Posted {
        session,
        tenant,
        body,
        ..
    } = posted;
    let by = ActBy::web(&session.identity);
    let a = acts::reject(&state, by, tenant.as_deref(), &id, body).await?;
    state.sessions().flash(
        &session,
        Flash {
            ok: true,
            text: format!("Rejected {}.", a.id),
        },
    );
    Ok(see_other(&back_to(&id, tenant.as_deref())))
}

fn back_to(id: &str, tenant: Option<&str>) -> String {
    with_tenant(&format!("/console/approvals/{}", encode(id)), tenant)
}
