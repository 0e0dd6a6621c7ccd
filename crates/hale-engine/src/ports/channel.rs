//! A way to reach people: one configured notification channel (a signed
//! webhook, Slack, PagerDuty, ...), fed by the outbox's delivery task.

use async_trait::async_trait;
use hale_domain::notification::Notice;

/// A channel did not take a notice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChannelError(pub String);

/// One notification channel.
///
/// Contract: [`NotificationChannel::send`] returns `Ok` only when the
/// receiver accepted the notice (a 2xx answer); every other answer, a
/// timeout or a connection failure is an error, and the delivery task tries
/// again later, so a receiver sees a notice at least once and drops repeats
/// by the notice id the channel sends along. Errors never contain secrets
/// (URLs with tokens, signing keys). Bounded in time: the delivery task
/// also stops an attempt that takes longer than its timeout.
#[async_trait]
pub trait NotificationChannel: Send + Sync {
    /// The channel's configured name (routes name it).
    fn name(&self) -> &str;

    /// Delivers one notice.
    async fn send(&self, notice: &Notice) -> Result<(), ChannelError>;
}
