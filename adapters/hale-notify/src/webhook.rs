//! The generic webhook channel, signed per Standard Webhooks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::notification::Notice;
use hale_engine::ports::{ChannelError, Clock, NotificationChannel};

use crate::links::Links;
use crate::payload::webhook_body;
use crate::signature::WebhookSecret;

/// Posts [`webhook_body`] to a URL with the `webhook-id` (the notice id,
/// the same on every retry), `webhook-timestamp` (seconds, fresh per
/// attempt) and `webhook-signature` headers.
pub struct WebhookChannel {
    name: String,
    url: String,
    secret: WebhookSecret,
    links: Links,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
}

impl std::fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChannel")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl WebhookChannel {
    /// A channel named `name` posting to `url`.
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        secret: WebhookSecret,
        links: Links,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> WebhookChannel {
        WebhookChannel {
            name: name.into(),
            url: url.into(),
            secret,
            links,
            clock,
            client: crate::http::client(timeout),
        }
    }
}

#[async_trait]
impl NotificationChannel for WebhookChannel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, notice: &Notice) -> Result<(), ChannelError> {
        let body = serde_json::to_vec(&webhook_body(notice, &self.links))
            .map_err(|e| ChannelError(format!("cannot encode the notice: {e}")))?;
        let timestamp = self.clock.now().unix_micros().div_euclid(1_000_000);
        let signature = self.secret.sign(&notice.id, timestamp, &body);
        let req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &notice.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        crate::http::send(req).await
    }
}
