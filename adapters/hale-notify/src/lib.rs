//! # hale-notify
//!
//! Hale's notification channels, each a
//! [`NotificationChannel`](hale_engine::ports::NotificationChannel) that the
//! engine's outbox delivery task feeds (issue 17):
//!
//! * [`WebhookChannel`]: a generic webhook signed as the
//!   [Standard Webhooks](https://www.standardwebhooks.com/) specification
//!   says (`webhook-id`, `webhook-timestamp`, `webhook-signature` with
//!   `v1,` base64 HMAC-SHA256 of `id.timestamp.body`, keyed by a `whsec_`
//!   secret), so a receiver's existing library verifies it.
//! * [`SlackChannel`]: a Slack incoming webhook with a Block Kit message,
//!   linking to the approval or incident in the console when a public URL
//!   is known.
//! * [`PagerDutyChannel`]: PagerDuty Events API v2, `trigger` and
//!   `resolve` with a `dedup_key` that pairs them (an incident's id).
//!
//! Every request carries the notice id (the webhook id, Slack's block
//! text, PagerDuty's `custom_details`), so receivers drop the repeats that
//! at-least-once delivery makes. Secrets come from the environment or a
//! file ([`SecretSource`]), never from the configuration text; errors never
//! name a URL (Slack and PagerDuty URLs and keys are credentials).
//!
//! ```
//! use hale_notify::WebhookSecret;
//!
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! assert_eq!(
//!     secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#),
//!     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
//! );
//! ```

#![warn(missing_docs)]

mod http;
mod links;
mod pagerduty;
mod payload;
mod secret;
mod signature;
mod slack;
mod webhook;

pub use links::Links;
pub use pagerduty::{PAGERDUTY_EVENTS_URL, PagerDutyChannel, dedup_key};
pub use payload::webhook_body;
pub use secret::{Secret, SecretError, SecretSource};
pub use signature::{SignatureError, WebhookSecret};
pub use slack::{SlackChannel, slack_message};
pub use webhook::WebhookChannel;
