//! Knowledge entries (issue 16): the tenant's runbooks, incident cases and
//! anti-patterns with the API's filters, and a form to archive each entry
//! that is not archived yet. Archiving an anti-pattern is the documented
//! way to lift the block it causes (guards `anti_pattern` and
//! `ineffective_chain`); the form calls the act the JSON API calls
//! (`POST /v1/knowledge/{id}/archive`), audited with who and why.

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::record::knowledge::{EntryStatus, EntryType, KnowledgeEntry};
use maud::{Markup, html};

use super::controls::with_tenant;
use super::extract::{PageQuery, Posted, TenantPage};
use super::incidents::{select, tenant_field};
use super::page::{self, Frame, Result, badge, encode, ok, see_other, time};
use super::session::Flash;
use crate::routes::AppState;
use crate::routes::acts::{self, ActBy, ReasonBody};
use crate::routes::reads::{self, KnowledgeQuery};

fn type_badge(t: EntryType) -> Markup {
    let tone = if t == EntryType::AntiPattern {
        "bad"
    } else {
        "info"
    };
    badge(t.as_str(), tone)
}

fn archive_form(frame: &Frame, e: &KnowledgeEntry) -> Markup {
    let reason_id = format!("archive-reason-{}", e.id);
    html! {
        form .inline method="post"
            action=(frame.href(&format!("/console/knowledge/{}/archive", encode(e.id.as_str()))))
            aria-label=(format!("Archive {}", e.id)) {
            (frame.csrf())
            label for=(reason_id) .sr-only { "Reason" }
            input #(reason_id) type="text" name="reason" required placeholder="why archive it" autocomplete="off";
            button type="submit" { "Archive" }
        }
    }
}

/// `GET /console/knowledge`.
pub(crate) async fn list(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    PageQuery(mut q): PageQuery<KnowledgeQuery>,
) -> Result<Response> {
    q.tenant = frame.tenant_arg().map(str::to_owned);
    let list = reads::knowledge(&state, &frame.session.identity, &q).await?;
    let types: Vec<&str> = EntryType::ALL.iter().map(|t| t.as_str()).collect();
    let statuses: Vec<&str> = EntryStatus::ALL.iter().map(|s| s.as_str()).collect();
    let base = frame.href(&format!(
        "/console/knowledge?type={}&status={}",
        encode(q.entry_type.as_deref().unwrap_or("")),
        encode(q.status.as_deref().unwrap_or(""))
    ));
    let body = html! {
        h1 { "Knowledge" }
        p .hint { "An anti-pattern remembers a fix that failed, or that did not hold, and blocks that strategy there. Archive it, with a reason, to allow the strategy again." }
        form .filters method="get" action="/console/knowledge" {
            (tenant_field(&frame))
            (select("type", "Type", &types, q.entry_type.as_deref()))
            (select("status", "Status", &statuses, q.status.as_deref()))
            button type="submit" { "Filter" }
        }
        @if list.items.is_empty() {
            p { "No knowledge entries match." }
        } @else {
            table #knowledge {
                thead { tr { th { "Entry" } th { "Type" } th { "Status" } th { "Strategy" } th { "Created" } th { "Archive" } } }
                tbody {
                    @for e in &list.items {
                        tr {
                            td data-label="Entry" {
                                details {
                                    summary { code { (e.id) } " " (e.title) }
                                    (page::prose(&e.content))
                                }
                            }
                            td data-label="Type" { (type_badge(e.entry_type)) }
                            td data-label="Status" { (e.status.as_str()) }
                            td data-label="Strategy" {
                                @match &e.failed_strategy_id { Some(s) => { (s) } None => { "—" } }
                            }
                            td data-label="Created" { (time(e.created_at)) }
                            td data-label="Archive" {
                                @if e.status == EntryStatus::Archived {
                                    span .muted { "archived " (time(e.updated_at)) }
                                } @else if frame.can_operate() {
                                    (archive_form(&frame, e))
                                } @else {
                                    "—"
                                }
                            }
                        }
                    }
                }
            }
            (page::pager(&base, q.offset.unwrap_or(0), q.limit.unwrap_or(50), list.next_offset))
        }
    };
    Ok(ok(frame.render("Knowledge", None, body)))
}

/// `POST /console/knowledge/{id}/archive`.
pub(crate) async fn archive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ReasonBody>,
) -> Result<Response> {
    let by = ActBy::web(&posted.session.identity);
    let e = acts::archive_knowledge(&state, by, posted.tenant(), &id, &posted.body).await?;
    let text = if e.entry_type == EntryType::AntiPattern {
        format!("Entry {} archived: its block is lifted.", e.id)
    } else {
        format!("Entry {} archived.", e.id)
    };
    state
        .sessions()
        .flash(&posted.session, Flash { ok: true, text });
    Ok(see_other(&posted.back_or(with_tenant(
        "/console/knowledge",
        posted.tenant(),
    ))))
}
