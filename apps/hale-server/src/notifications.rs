//! From `[notifications]` to the engine's outbox delivery: each channel
//! built with its secret read from the environment or a file, the routes,
//! and a claimer name unique to this process.

use std::sync::Arc;

use hale_engine::DeliverySetup;
use hale_engine::ports::{Clock, NotificationChannel};
use hale_notify::{
    Links, PAGERDUTY_EVENTS_URL, PagerDutyChannel, SecretSource, SlackChannel, WebhookChannel,
    WebhookSecret,
};

use crate::config::{ChannelConfig, ChannelKind, Config, SecretRef};
use crate::wiring::WiringError;

fn read(c: &ChannelConfig, what: &str, source: Option<SecretRef>) -> Result<String, WiringError> {
    let source = match source {
        Some(SecretRef::Env(name)) => SecretSource::Env(name),
        Some(SecretRef::File(path)) => SecretSource::File(path),
        None => {
            return Err(WiringError::Notifications(format!(
                "channel {:?} has no {what} source",
                c.name
            )));
        }
    };
    source
        .read()
        .map(|s| s.expose().to_owned())
        .map_err(|e| WiringError::Notifications(format!("channel {:?}: {what}: {e}", c.name)))
}

/// One channel, its secret read now (a missing one stops the start, so a
/// typo is found at once rather than at the first escalation).
fn channel(
    c: &ChannelConfig,
    links: &Links,
    clock: &Arc<dyn Clock>,
    timeout: std::time::Duration,
) -> Result<Arc<dyn NotificationChannel>, WiringError> {
    Ok(match c.kind {
        ChannelKind::Webhook => {
            let secret = read(c, "secret", c.secret_source())?;
            let secret = WebhookSecret::parse(&secret)
                .map_err(|e| WiringError::Notifications(format!("channel {:?}: {e}", c.name)))?;
            let url = c.url.clone().unwrap_or_default();
            Arc::new(WebhookChannel::new(
                c.name.clone(),
                url,
                secret,
                links.clone(),
                clock.clone(),
                timeout,
            ))
        }
        ChannelKind::Slack => {
            let url = read(c, "url", c.url_source())?;
            Arc::new(SlackChannel::new(
                c.name.clone(),
                hale_notify::Secret::new(url),
                links.clone(),
                timeout,
            ))
        }
        ChannelKind::Pagerduty => {
            let key = read(c, "routing key", c.routing_key_source())?;
            Arc::new(PagerDutyChannel::new(
                c.name.clone(),
                hale_notify::Secret::new(key),
                c.url
                    .clone()
                    .unwrap_or_else(|| PAGERDUTY_EVENTS_URL.to_owned()),
                links.clone(),
                timeout,
            ))
        }
    })
}

/// Reads every channel's secrets as the server does at start, without
/// building a delivery: `check-config` finds a missing variable or file
/// before a start does. The error names the channel and the source, never
/// a value.
pub fn check_secrets(config: &Config) -> Result<(), WiringError> {
    let links = Links::new(config.server.public_url.as_deref());
    let clock: Arc<dyn Clock> = Arc::new(hale_engine::SystemClock);
    for c in &config.notifications.channels {
        channel(c, &links, &clock, config.notifications.attempt_timeout)?;
    }
    Ok(())
}

/// The delivery setup for `config`. Runs with no channels too: notices
/// are still recorded and listed by `GET /v1/notifications`.
pub fn delivery_setup(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<DeliverySetup, WiringError> {
    let n = &config.notifications;
    let links = Links::new(config.server.public_url.as_deref());
    let channels = n
        .channels
        .iter()
        .map(|c| channel(c, &links, &clock, n.attempt_timeout))
        .collect::<Result<Vec<_>, _>>()?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "hale".to_owned());
    let claimer = format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut setup = DeliverySetup::new(channels, n.routes(), claimer);
    setup.policy = n.policy();
    setup.interval = n.interval;
    setup.attempt_timeout = n.attempt_timeout;
    setup.lease = (n.attempt_timeout * 3).max(std::time::Duration::from_secs(30));
    setup.expiry_warning = n.expiry_warning;
    Ok(setup)
}
