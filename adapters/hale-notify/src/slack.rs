//! Slack incoming webhooks with a Block Kit message.

use std::time::Duration;

use async_trait::async_trait;
use hale_domain::notification::Notice;
use hale_engine::ports::{ChannelError, NotificationChannel};
use serde_json::{Value, json};

use crate::links::Links;
use crate::secret::Secret;

/// Posts [`slack_message`] to an incoming-webhook URL (a credential: it
/// comes from a [`crate::SecretSource`]).
pub struct SlackChannel {
    name: String,
    url: Secret,
    links: Links,
    client: reqwest::Client,
}

impl std::fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackChannel")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SlackChannel {
    /// A channel named `name` posting to the webhook URL `url`.
    pub fn new(name: impl Into<String>, url: Secret, links: Links, timeout: Duration) -> Self {
        SlackChannel {
            name: name.into(),
            url,
            links,
            client: crate::http::client(timeout),
        }
    }
}

/// Escapes the three characters Slack's `mrkdwn` reserves.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A kind as a title: `approval_requested` -> `Approval requested`.
fn title(n: &Notice) -> String {
    let words = n.kind.as_str().replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// The Block Kit message for a notice: a header, the summary with severity
/// and tenant, a context line with the notice id (for deduplication) and,
/// with a public URL, a button to the approval or incident.
pub fn slack_message(n: &Notice, links: &Links) -> Value {
    let scope = n
        .tenant
        .as_ref()
        .map_or("platform".to_owned(), |t| format!("tenant `{t}`"));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": title(n)}}),
        json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("*{}* · {scope}\n{}", n.severity, escape(&n.summary))}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": format!("notice `{}` · {}", escape(&n.id), n.at.to_rfc3339())}]}),
    ];
    if let Some(url) = links.for_notice(n) {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in Hale"},
            "url": url,
        }]}));
    }
    json!({
        "text": format!("[{}] {}", n.severity, n.summary),
        "blocks": blocks,
    })
}

#[async_trait]
impl NotificationChannel for SlackChannel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, notice: &Notice) -> Result<(), ChannelError> {
        let req = self
            .client
            .post(self.url.expose())
            .json(&slack_message(notice, &self.links));
        crate::http::send(req).await
    }
}
