//! The generic webhook's JSON body (documented in docs/api.md).

use hale_domain::notification::Notice;
use serde_json::{Value, json};

use crate::links::Links;

/// The body a [`crate::WebhookChannel`] posts: the Standard Webhooks
/// envelope `{type, timestamp, data}` with the notice (its id, tenant —
/// `null` for platform-wide —, kind, severity, subject, summary, time) and
/// the console link as `data.url` when a public URL is known.
pub fn webhook_body(n: &Notice, links: &Links) -> Value {
    json!({
        "type": format!("hale.{}", n.kind),
        "timestamp": n.at.to_rfc3339(),
        "data": {
            "id": n.id,
            "tenant": n.tenant,
            "kind": n.kind,
            "severity": n.severity,
            "subject": n.subject,
            "summary": n.summary,
            "at": n.at,
            "url": links.for_notice(n),
        }
    })
}
