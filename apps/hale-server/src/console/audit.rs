//! The audit log with the API's filters (`GET /v1/audit`'s query
//! parameters, the same names, the same validation).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use hale_domain::record::audit::AuditEntry;
use hale_domain::{AuthorizationChannel, SourceSystem};
use maud::{Markup, html};
use serde::Deserialize;

use super::extract::{PageQuery, TenantPage};
use super::incidents::{select, tenant_field};
use super::operations::text_field;
use super::page::{self, ConsoleError, Result, badge, encode, ok, time, wire};
use crate::routes::AppState;
use crate::routes::reads::{self, AuditQuery};

/// Audit entries as a table.
pub(crate) fn table(items: &[AuditEntry]) -> Markup {
    html! {
        @if items.is_empty() {
            p { "No audit entries match." }
        } @else {
            table .audit {
                thead { tr { th { "At" } th { "What" } th { "Target" } th { "Who" } th { "Result" } th { "Reason or error" } } }
                tbody {
                    @for e in items {
                        tr {
                            td data-label="At" { (time(e.created_at)) }
                            td data-label="What" { code { (e.operation_type) } }
                            td data-label="Target" { (e.target_resource) }
                            td data-label="Who" {
                                (e.executed_by) br;
                                span .muted { (e.source_system.as_str()) " · " (e.authorization_channel.as_str()) }
                            }
                            td data-label="Result" {
                                @if e.success { (badge("ok", "good")) } @else { (badge("failed", "bad")) }
                                @if let Some(c) = e.failure_classification { " " (c.as_str()) }
                            }
                            td data-label="Reason or error" {
                                @if let Some(err) = &e.error_message { (page::prose(err)) }
                                @else { (page::text_opt(e.reason.as_deref())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The audit page's query: the API's, except that `success` may come
/// empty from the filter form's "any".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditPageQuery {
    tenant: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
    operation_type: Option<String>,
    operation_id: Option<String>,
    approval_id: Option<String>,
    incident_id: Option<String>,
    source_system: Option<String>,
    channel: Option<String>,
    success: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

impl AuditPageQuery {
    fn into_api(self) -> Result<AuditQuery> {
        let success = match self.success.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(ConsoleError::page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("success: {other:?}; expected true or false"),
                ));
            }
        };
        Ok(AuditQuery {
            tenant: self.tenant,
            tz: None,
            limit: self.limit,
            offset: self.offset,
            operation_type: self.operation_type,
            operation_id: self.operation_id,
            approval_id: self.approval_id,
            incident_id: self.incident_id,
            source_system: self.source_system,
            channel: self.channel,
            success,
            since: self.since,
            until: self.until,
        })
    }
}

/// `GET /console/audit`.
pub(crate) async fn list(
    State(state): State<AppState>,
    TenantPage(frame): TenantPage,
    PageQuery(q): PageQuery<AuditPageQuery>,
) -> Result<Response> {
    let mut q = q.into_api()?;
    q.tenant = frame.tenant_arg().map(str::to_owned);
    let page = reads::audit(&state, &frame.session.identity, &q).await?;
    let sources: Vec<String> = [
        SourceSystem::FailureWatcher,
        SourceSystem::DecisionManager,
        SourceSystem::Api,
    ]
    .iter()
    .map(wire)
    .collect();
    let channels: Vec<String> = [
        AuthorizationChannel::AutoRepair,
        AuthorizationChannel::DecisionManager,
        AuthorizationChannel::Manual,
        AuthorizationChannel::Web,
    ]
    .iter()
    .map(wire)
    .collect();
    fn s(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let success = q.success.map(|b| b.to_string());
    let opt = |v: &Option<String>| encode(v.as_deref().unwrap_or(""));
    let mut base = format!(
        "/console/audit?operation_type={}&operation_id={}&approval_id={}&incident_id={}&source_system={}&channel={}&since={}&until={}",
        opt(&q.operation_type),
        opt(&q.operation_id),
        opt(&q.approval_id),
        opt(&q.incident_id),
        opt(&q.source_system),
        opt(&q.channel),
        opt(&q.since),
        opt(&q.until),
    );
    if let Some(b) = &success {
        base.push_str(&format!("&success={b}"));
    }
    let base = frame.href(&base);
    let body = html! {
        h1 { "Audit log" }
        form .filters method="get" action="/console/audit" {
            (tenant_field(&frame))
            (text_field("operation_type", "Kind", q.operation_type.as_deref(), "e.g. approval.signed"))
            (text_field("operation_id", "Operation", q.operation_id.as_deref(), "op-…"))
            (text_field("approval_id", "Approval", q.approval_id.as_deref(), "apr-…"))
            (text_field("incident_id", "Incident", q.incident_id.as_deref(), "INC-…"))
            (select("source_system", "Source", &s(&sources), q.source_system.as_deref()))
            (select("channel", "Channel", &s(&channels), q.channel.as_deref()))
            (select("success", "Result", &["true", "false"], success.as_deref()))
            (text_field("since", "Since", q.since.as_deref(), "RFC 3339"))
            (text_field("until", "Until", q.until.as_deref(), "RFC 3339"))
            button type="submit" { "Filter" }
        }
        (table(&page.items))
        (page::pager(&base, q.offset.unwrap_or(0), q.limit.unwrap_or(50), page.next_offset))
    };
    Ok(ok(frame.render("Audit log", None, body)))
}
