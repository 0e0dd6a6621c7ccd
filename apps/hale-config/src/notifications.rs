//! `[notifications]`: the channels people are reached through and the
//! routes that say which notices go where (issue 17).
//!
//! Secrets (a webhook's signing secret, a Slack webhook URL, a PagerDuty
//! routing key) are never written in the file: each is named by an
//! environment variable (`*_env`) or a file (`*_file`, e.g. a mounted
//! Kubernetes secret). A value written inline is refused with a message
//! that says so.

use std::path::PathBuf;
use std::time::Duration;

use hale_domain::Severity;
use hale_domain::notification::NoticeKind;
use hale_domain::notification::routing::{Route, Routes};
use hale_domain::time::duration;
use hale_domain::{TenantId, notification::DeliveryPolicy};
use serde::Deserialize;

/// `[notifications]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsSection {
    /// How often the delivery task runs.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// The longest one attempt may take.
    #[serde(with = "duration")]
    pub attempt_timeout: Duration,
    /// First retry delay (doubling up to `retry_max`).
    #[serde(with = "duration")]
    pub retry_base: Duration,
    /// Longest retry delay.
    #[serde(with = "duration")]
    pub retry_max: Duration,
    /// A delivery is given up once its retries would be due later than
    /// this after its first failed attempt (default `"72h"`, so a weekend's
    /// outage loses nothing; `hale notifications redrive` sends given-up
    /// deliveries again).
    #[serde(with = "duration")]
    pub give_up_after: Duration,
    /// Attempts before a delivery is given up, if that comes before
    /// `give_up_after` (unset by default).
    pub max_attempts: Option<u32>,
    /// A pending approval's reminder goes out this long before it expires.
    #[serde(with = "duration")]
    pub expiry_warning: Duration,
    /// `[[notifications.channels]]`.
    pub channels: Vec<ChannelConfig>,
    /// `[[notifications.routes]]`.
    pub routes: Vec<RouteConfig>,
}

impl Default for NotificationsSection {
    fn default() -> Self {
        let policy = DeliveryPolicy::default();
        NotificationsSection {
            interval: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
            retry_base: policy.backoff.base,
            retry_max: policy.backoff.max,
            give_up_after: policy.give_up_after,
            max_attempts: policy.max_attempts,
            expiry_warning: Duration::from_secs(15 * 60),
            channels: Vec::new(),
            routes: Vec::new(),
        }
    }
}

/// A channel's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A generic webhook signed per Standard Webhooks.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// PagerDuty Events API v2.
    Pagerduty,
}

/// `[[notifications.channels]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// The name routes use.
    pub name: String,
    /// `webhook`, `slack` or `pagerduty`.
    pub kind: ChannelKind,
    /// The webhook's URL (not a secret for a generic webhook; for PagerDuty
    /// the Events API endpoint, default the public one). Refused for Slack,
    /// whose URL is its credential.
    pub url: Option<String>,
    /// The environment variable holding the URL (Slack).
    pub url_env: Option<String>,
    /// The file holding the URL (Slack).
    pub url_file: Option<PathBuf>,
    /// Refused: write `secret_env` or `secret_file`.
    pub secret: Option<String>,
    /// The environment variable holding the webhook's `whsec_` secret.
    pub secret_env: Option<String>,
    /// The file holding the webhook's `whsec_` secret.
    pub secret_file: Option<PathBuf>,
    /// Refused: write `routing_key_env` or `routing_key_file`.
    pub routing_key: Option<String>,
    /// The environment variable holding PagerDuty's routing key.
    pub routing_key_env: Option<String>,
    /// The file holding PagerDuty's routing key.
    pub routing_key_file: Option<PathBuf>,
}

/// `[[notifications.routes]]`: notices of `tenant` (or, with `platform =
/// true`, the platform-wide ones) of `kinds` (every kind when absent) at
/// `min_severity` or worse go to `channel`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The tenant whose notices this route takes.
    pub tenant: Option<String>,
    /// Platform-wide notices (the lock backend, global kill switches,
    /// global dormancy entered or resumed) instead of a tenant's.
    #[serde(default)]
    pub platform: bool,
    /// Which kinds (wire names); every kind when absent.
    #[serde(default)]
    pub kinds: Vec<NoticeKind>,
    /// The least urgent severity that goes (`P0`..`P3`, default `P3`).
    #[serde(default = "least_urgent")]
    pub min_severity: Severity,
    /// The channel's name.
    pub channel: String,
}

fn least_urgent() -> Severity {
    Severity::P3
}

/// Where a secret is: an environment variable or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file.
    File(PathBuf),
}

/// Which secret a channel's `*_env` / `*_file` pair names.
fn source(env: &Option<String>, file: &Option<PathBuf>) -> Option<SecretRef> {
    match (env, file) {
        (Some(e), _) => Some(SecretRef::Env(e.clone())),
        (None, Some(f)) => Some(SecretRef::File(f.clone())),
        (None, None) => None,
    }
}

impl ChannelConfig {
    /// Where the URL is (Slack).
    pub fn url_source(&self) -> Option<SecretRef> {
        source(&self.url_env, &self.url_file)
    }

    /// Where the signing secret is (webhook).
    pub fn secret_source(&self) -> Option<SecretRef> {
        source(&self.secret_env, &self.secret_file)
    }

    /// Where the routing key is (PagerDuty).
    pub fn routing_key_source(&self) -> Option<SecretRef> {
        source(&self.routing_key_env, &self.routing_key_file)
    }

    /// Problems with this channel as `(field, message)`.
    pub(super) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let inline = |what: &str, key: &str| {
            format!(
                "secrets are never written in the configuration: remove {key} and set {key}_env \
                 (an environment variable) or {key}_file (a file) holding the {what}"
            )
        };
        if self.secret.is_some() {
            out.push((
                "secret",
                inline("webhook's whsec_ signing secret", "secret"),
            ));
        }
        if self.routing_key.is_some() {
            out.push((
                "routing_key",
                inline("PagerDuty routing key", "routing_key"),
            ));
        }
        let both = |a: &str| format!("set one of {a}_env and {a}_file, not both");
        if self.url_env.is_some() && self.url_file.is_some() {
            out.push(("url_env", both("url")));
        }
        if self.secret_env.is_some() && self.secret_file.is_some() {
            out.push(("secret_env", both("secret")));
        }
        if self.routing_key_env.is_some() && self.routing_key_file.is_some() {
            out.push(("routing_key_env", both("routing_key")));
        }
        let http = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        match self.kind {
            ChannelKind::Webhook => {
                match &self.url {
                    None => out.push(("url", "a webhook channel needs url".to_owned())),
                    Some(u) if !http(u) => {
                        out.push(("url", format!("{u:?} must start with https:// or http://")))
                    }
                    Some(_) => {}
                }
                if self.secret_source().is_none() && self.secret.is_none() {
                    out.push((
                        "secret_env",
                        "a webhook channel needs secret_env or secret_file (a whsec_ secret)"
                            .to_owned(),
                    ));
                }
            }
            ChannelKind::Slack => {
                if self.url.is_some() {
                    out.push((
                        "url",
                        inline("Slack incoming-webhook URL (it is a credential)", "url"),
                    ));
                } else if self.url_source().is_none() {
                    out.push((
                        "url_env",
                        "a slack channel needs url_env or url_file".to_owned(),
                    ));
                }
            }
            ChannelKind::Pagerduty => {
                if let Some(u) = &self.url
                    && !http(u)
                {
                    out.push(("url", format!("{u:?} must start with https:// or http://")));
                }
                if self.routing_key_source().is_none() && self.routing_key.is_none() {
                    out.push((
                        "routing_key_env",
                        "a pagerduty channel needs routing_key_env or routing_key_file".to_owned(),
                    ));
                }
            }
        }
        out
    }
}

impl NotificationsSection {
    /// The delivery policy.
    pub fn policy(&self) -> DeliveryPolicy {
        let mut p = DeliveryPolicy::default();
        p.backoff.base = self.retry_base;
        p.backoff.max = self.retry_max;
        p.give_up_after = self.give_up_after;
        p.max_attempts = self.max_attempts;
        p
    }

    /// The routes (call after validation: bad tenant ids are skipped).
    pub fn routes(&self) -> Routes {
        Routes {
            routes: self
                .routes
                .iter()
                .filter_map(|r| {
                    let tenant = match (&r.tenant, r.platform) {
                        (Some(t), false) => Some(TenantId::new(t.clone()).ok()?),
                        (None, true) => None,
                        _ => return None,
                    };
                    Some(Route {
                        tenant,
                        kinds: r.kinds.clone(),
                        min_severity: r.min_severity,
                        channel: r.channel.clone(),
                    })
                })
                .collect(),
        }
    }
}

/// Every problem with `[notifications]`, located in `text`.
pub(super) fn validate(
    n: &NotificationsSection,
    tenants: &std::collections::BTreeSet<&str>,
    text: &str,
    origin: &str,
) -> Vec<super::ConfigError> {
    let mut out = Vec::new();
    let mut bad = |path: String, message: String| {
        out.push(super::ConfigError::at_path(origin, text, &path, message));
    };
    for (key, d) in [
        ("interval", n.interval),
        ("attempt_timeout", n.attempt_timeout),
        ("retry_base", n.retry_base),
        ("give_up_after", n.give_up_after),
    ] {
        if d.is_zero() {
            bad(format!("notifications.{key}"), "must be positive".into());
        }
    }
    if let Err(e) = n.policy().backoff.validate() {
        bad("notifications.retry_max".into(), e.to_string());
    }
    if n.max_attempts == Some(0) {
        bad(
            "notifications.max_attempts".into(),
            "must be at least 1".into(),
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, c) in n.channels.iter().enumerate() {
        if c.name.trim().is_empty() {
            bad(
                format!("notifications.channels[{i}].name"),
                "must not be empty".into(),
            );
        } else if !names.insert(c.name.as_str()) {
            bad(
                format!("notifications.channels[{i}].name"),
                format!("channel {:?} is configured twice", c.name),
            );
        }
        for (field, message) in c.problems() {
            bad(format!("notifications.channels[{i}].{field}"), message);
        }
    }
    for (i, r) in n.routes.iter().enumerate() {
        let at = |f: &str| format!("notifications.routes[{i}].{f}");
        match (&r.tenant, r.platform) {
            (Some(_), true) | (None, false) => bad(
                at("tenant"),
                "set either tenant = \"<id>\" or platform = true".into(),
            ),
            (Some(t), false) if !tenants.contains(t.as_str()) => bad(
                at("tenant"),
                format!("{t:?} is not a configured tenant (one of {tenants:?})"),
            ),
            _ => {}
        }
        if !names.contains(r.channel.as_str()) {
            bad(
                at("channel"),
                format!(
                    "{:?} is not a configured channel (one of {names:?})",
                    r.channel
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse_str;
    use super::*;

    const TENANT: &str = r#"
[[tenants]]
id = "shop"
namespaces = ["prod"]

[[tenants.strategies]]
id = "restart"
risk = "low"
trigger = { alertnames = ["HighErrorRate"] }
target = { kind = "deployment" }
actions = [{ kind = "rollout_restart" }]
"#;

    fn errors(notifications: &str) -> Vec<String> {
        let text = format!("{notifications}\n{TENANT}");
        match parse_str(&text, "hale.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn channels_and_routes_parse_into_routes() {
        let text = format!(
            r#"
[[notifications.channels]]
name = "hook"
kind = "webhook"
url = "https://hooks.example.com/hale"
secret_env = "HALE_WEBHOOK_SECRET"

[[notifications.channels]]
name = "slack"
kind = "slack"
url_file = "/etc/hale/slack"

[[notifications.routes]]
tenant = "shop"
kinds = ["approval_requested"]
min_severity = "P2"
channel = "slack"

[[notifications.routes]]
platform = true
channel = "hook"
{TENANT}"#
        );
        let c = parse_str(&text, "hale.toml").unwrap_or_else(|e| panic!("{e}"));
        let routes = c.notifications.routes();
        assert_eq!(routes.routes.len(), 2);
        assert_eq!(
            routes.routes[0].tenant,
            Some(TenantId::new("shop").unwrap())
        );
        assert_eq!(routes.routes[0].kinds, vec![NoticeKind::ApprovalRequested]);
        assert_eq!(routes.routes[0].min_severity, Severity::P2);
        assert_eq!(routes.routes[1].tenant, None);
        assert_eq!(routes.routes[1].min_severity, Severity::P3);
        assert_eq!(
            c.notifications.channels[0].secret_source(),
            Some(SecretRef::Env("HALE_WEBHOOK_SECRET".into()))
        );
        assert_eq!(c.notifications.policy(), DeliveryPolicy::default());
    }

    #[test]
    fn the_give_up_is_configurable_and_defaults_to_72_hours() {
        let d = NotificationsSection::default();
        assert_eq!(d.max_attempts, None);
        assert_eq!(d.give_up_after, Duration::from_secs(72 * 3600));
        let text = format!("[notifications]\ngive_up_after = \"1h\"\n{TENANT}");
        let c = parse_str(&text, "hale.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.notifications.policy().give_up_after,
            Duration::from_secs(3600)
        );
        assert!(
            errors("[notifications]\ngive_up_after = \"0s\"")
                .iter()
                .any(|e| e.contains("notifications.give_up_after")),
            "{:?}",
            errors("[notifications]\ngive_up_after = \"0s\"")
        );
        let text = format!(
            "[notifications]\nmax_attempts = 3\nretry_base = \"1s\"\nretry_max = \"4s\"\n{TENANT}"
        );
        let c = parse_str(&text, "hale.toml").unwrap_or_else(|e| panic!("{e}"));
        let p = c.notifications.policy();
        assert_eq!(p.max_attempts, Some(3));
        let now = hale_domain::Timestamp::from_unix_secs(0);
        assert!(
            p.retry_at(2, now).is_some(),
            "the second failure is retried"
        );
        assert_eq!(p.retry_at(3, now), None, "the third gives up");
        assert!(
            errors("[notifications]\nmax_attempts = 0")
                .iter()
                .any(|e| e.contains("notifications.max_attempts") && e.contains("at least 1")),
            "{:?}",
            errors("[notifications]\nmax_attempts = 0")
        );
    }

    #[test]
    fn inline_secrets_are_refused_with_a_message_that_says_where_they_go() {
        let e = errors(
            r#"
[[notifications.channels]]
name = "hook"
kind = "webhook"
url = "https://hooks.example.com/hale"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[[notifications.channels]]
name = "slack"
kind = "slack"
url = "https://hooks.slack.com/services/T0/B0/XXXX"

[[notifications.channels]]
name = "pager"
kind = "pagerduty"
routing_key = "R0UTING"
"#,
        );
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(e[0].starts_with("hale.toml:6:10: notifications.channels[0].secret: secrets are never written in the configuration: remove secret and set secret_env"), "{}", e[0]);
        assert!(
            e[1].contains("notifications.channels[1].url: secrets are never written"),
            "{}",
            e[1]
        );
        assert!(
            e[2].contains("notifications.channels[2].routing_key: secrets are never written"),
            "{}",
            e[2]
        );
        for line in &e {
            assert!(
                !line.contains("whsec_Mf") && !line.contains("XXXX") && !line.contains("R0UTING"),
                "{line}"
            );
        }
    }

    #[test]
    fn routes_must_name_configured_channels_and_tenants() {
        let e = errors(
            r#"
[[notifications.channels]]
name = "hook"
kind = "webhook"
url = "ftp://nope"
secret_env = "X"

[[notifications.routes]]
tenant = "nobody"
channel = "hook"

[[notifications.routes]]
channel = "ghost"

[[notifications.routes]]
tenant = "shop"
platform = true
kinds = ["approval_requested"]
channel = "hook"
"#,
        );
        let all = e.join("\n");
        assert!(
            all.contains("channels[0].url: \"ftp://nope\" must start with"),
            "{all}"
        );
        assert!(
            all.contains("routes[0].tenant: \"nobody\" is not a configured tenant"),
            "{all}"
        );
        assert!(all.contains("routes[1].tenant: set either tenant"), "{all}");
        assert!(
            all.contains("routes[1].channel: \"ghost\" is not a configured channel"),
            "{all}"
        );
        assert!(all.contains("routes[2].tenant: set either tenant"), "{all}");
        let e = errors(
            "[[notifications.routes]]\ntenant = \"shop\"\nkinds = [\"approval_granted\"]\nchannel = \"x\"\n",
        );
        assert!(e[0].contains("approval_granted"), "{e:?}");
    }
}
