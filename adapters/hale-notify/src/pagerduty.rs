//! PagerDuty Events API v2: `trigger` for what begins a condition,
//! `resolve` for what ends it, paired by `dedup_key`.

use std::time::Duration;

use async_trait::async_trait;
use hale_domain::Severity;
use hale_domain::notification::{Notice, NoticeKind};
use hale_engine::ports::{ChannelError, NotificationChannel};
use serde_json::{Value, json};

use crate::links::Links;
use crate::secret::Secret;

/// The Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Sends Events API v2 events with an integration's routing key (a
/// credential: it comes from a [`crate::SecretSource`]).
pub struct PagerDutyChannel {
    name: String,
    routing_key: Secret,
    url: String,
    links: Links,
    client: reqwest::Client,
}

impl std::fmt::Debug for PagerDutyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDutyChannel")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PagerDutyChannel {
    /// A channel named `name` sending to `url` (normally
    /// [`PAGERDUTY_EVENTS_URL`]).
    pub fn new(
        name: impl Into<String>,
        routing_key: Secret,
        url: impl Into<String>,
        links: Links,
        timeout: Duration,
    ) -> Self {
        PagerDutyChannel {
            name: name.into(),
            routing_key,
            url: url.into(),
            links,
            client: crate::http::client(timeout),
        }
    }

    /// The event for a notice.
    pub fn event(&self, n: &Notice) -> Value {
        event(self.routing_key.expose(), n, &self.links)
    }
}

/// The key that pairs a trigger with its resolve: the incident's id for
/// incidents, the approval's for approvals, the scope's dormancy, the
/// breaker, the lock backend; the notice's own id for one-off events.
pub fn dedup_key(n: &Notice) -> String {
    let scope = n.tenant.as_ref().map_or("platform", |t| t.as_str());
    let s = &n.subject;
    match n.kind {
        NoticeKind::IncidentOpened | NoticeKind::IncidentResolved => s
            .incident_id
            .as_ref()
            .map_or_else(|| n.id.clone(), ToString::to_string),
        NoticeKind::ApprovalRequested
        | NoticeKind::ApprovalExpiringSoon
        | NoticeKind::ApprovalApproved
        | NoticeKind::ApprovalRejected
        | NoticeKind::ApprovalExpired => s
            .approval_id
            .as_ref()
            .map_or_else(|| n.id.clone(), ToString::to_string),
        NoticeKind::DormancyEntered | NoticeKind::DormancyResumed => {
            format!("hale:{scope}:dormancy")
        }
        NoticeKind::BreakerPermanentOpen | NoticeKind::BreakerReset => format!(
            "hale:{scope}:{}",
            s.resource.as_deref().unwrap_or("breaker")
        ),
        NoticeKind::LockBackendUnavailable | NoticeKind::LockBackendRecovered => {
            "hale:platform:lock_backend".to_owned()
        }
        NoticeKind::HealingEscalated | NoticeKind::KillSwitchChanged => n.id.clone(),
    }
}

fn pd_severity(s: Severity) -> &'static str {
    match s {
        Severity::P0 => "critical",
        Severity::P1 => "error",
        Severity::P2 => "warning",
        Severity::P3 => "info",
    }
}

fn event(routing_key: &str, n: &Notice, links: &Links) -> Value {
    let action = if n.kind.resolves() {
        "resolve"
    } else {
        "trigger"
    };
    let mut summary = format!("[hale] {}", n.summary);
    if summary.len() > 1024 {
        let mut end = 1021;
        while !summary.is_char_boundary(end) {
            end -= 1;
        }
        summary.truncate(end);
        summary.push_str("...");
    }
    let mut e = json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(n),
        "payload": {
            "summary": summary,
            "source": "hale",
            "severity": pd_severity(n.severity),
            "timestamp": n.at.to_rfc3339(),
            "component": n.subject.resource,
            "group": n.tenant.as_ref().map_or("platform", |t| t.as_str()),
            "class": n.kind,
            "custom_details": {
                "notice_id": n.id,
                "kind": n.kind,
                "subject": n.subject,
            },
        },
    });
    if let Some(url) = links.for_notice(n) {
        e["links"] = json!([{"href": url, "text": "Open in Hale"}]);
    }
    e
}

#[async_trait]
impl NotificationChannel for PagerDutyChannel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, notice: &Notice) -> Result<(), ChannelError> {
        let req = self.client.post(&self.url).json(&self.event(notice));
        crate::http::send(req).await
    }
}
