//! The silence source over Alertmanager's API v2
//! ([`hale_engine::ports::SilenceSource`]).
//!
//! For one alert, Hale asks the tenant's Alertmanager for the alerts it
//! holds that carry the alert's labels and are silenced:
//!
//! ```text
//! GET {url}/api/v2/alerts?active=false&silenced=true&inhibited=true&unprocessed=false
//!     &filter=alertname="HighErrorRate"&filter=namespace="prod"&...
//! ```
//!
//! Alertmanager applies its own matching (the `filter` matchers select
//! alerts whose labels equal the values), and answers with each alert's
//! `status.silencedBy`. An alert counts as silenced when an answer has
//! exactly its label set and at least one silence id. Asking Alertmanager
//! rather than reading `/api/v2/silences` and matching here keeps its
//! semantics (regex matchers, negative matchers, expiry) where they are
//! defined.
//!
//! Answers are cached per (URL, label set) for at most 30 s (the port's
//! contract); errors are never cached. Every request has a timeout (5 s by
//! default). Error messages name the URL with its credentials redacted.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use hale_engine::ports::{SilenceAnswer, SilenceError, SilenceQuery, SilenceSource};
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::time::Instant;

/// The longest an answer may be cached (the port's contract).
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(30);

/// Settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertmanagerSettings {
    /// How long an answer is reused (clamped to [`MAX_CACHE_TTL`]).
    pub cache_ttl: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for AlertmanagerSettings {
    fn default() -> Self {
        AlertmanagerSettings {
            cache_ttl: MAX_CACHE_TTL,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Asks Alertmanagers over HTTP (see the crate docs).
#[derive(Debug)]
pub struct AlertmanagerSilences {
    client: reqwest::Client,
    settings: AlertmanagerSettings,
    cache: Mutex<HashMap<CacheKey, (Instant, SilenceAnswer)>>,
}

/// An Alertmanager URL and an alert's label set.
type CacheKey = (String, BTreeMap<String, String>);

/// The part of an alert of `GET /api/v2/alerts` that is read.
#[derive(Debug, Deserialize)]
struct GettableAlert {
    labels: BTreeMap<String, String>,
    status: AlertStatus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertStatus {
    #[serde(default)]
    silenced_by: Vec<String>,
}

/// At most this many cached answers; the cache is cleared when full (it is
/// a 30-second memory, not a store).
const MAX_CACHED: usize = 10_000;

impl AlertmanagerSilences {
    /// A source with `settings`.
    pub fn new(settings: AlertmanagerSettings) -> Result<Self, SilenceError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| SilenceError(format!("cannot build the HTTP client: {e}")))?;
        Ok(AlertmanagerSilences {
            client,
            settings: AlertmanagerSettings {
                cache_ttl: settings.cache_ttl.min(MAX_CACHE_TTL),
                ..settings
            },
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, key: &CacheKey) -> Option<SilenceAnswer> {
        let cache = self.cache.lock();
        let (at, answer) = cache.get(key)?;
        (at.elapsed() < self.settings.cache_ttl).then(|| answer.clone())
    }

    async fn ask(&self, q: &SilenceQuery<'_>) -> Result<SilenceAnswer, SilenceError> {
        let base = q.alertmanager.trim_end_matches('/');
        let shown = hale_redact::redact_url(base);
        let mut params: Vec<(&str, String)> = vec![
            ("active", "false".into()),
            ("silenced", "true".into()),
            ("inhibited", "true".into()),
            ("unprocessed", "false".into()),
        ];
        params.extend(
            q.labels
                .iter()
                .filter(|(k, _)| plain_label_name(k))
                .map(|(k, v)| ("filter", matcher(k, v))),
        );
        let url = reqwest::Url::parse_with_params(&format!("{base}/api/v2/alerts"), &params)
            .map_err(|_| SilenceError(format!("{shown}: not a valid URL")))?;
        let res = self.client.get(url).send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                "request failed".to_owned()
            };
            SilenceError(format!("{shown}: {why}"))
        })?;
        let status = res.status();
        if !status.is_success() {
            return Err(SilenceError(format!("{shown}: answered HTTP {status}")));
        }
        let alerts: Vec<GettableAlert> = res
            .json()
            .await
            .map_err(|e| SilenceError(format!("{shown}: not a list of alerts ({e})")))?;
        let mut silences: Vec<String> = alerts
            .into_iter()
            .filter(|a| &a.labels == q.labels)
            .flat_map(|a| a.status.silenced_by)
            .collect();
        silences.sort();
        silences.dedup();
        Ok(match silences.is_empty() {
            true => SilenceAnswer::NotSilenced,
            false => SilenceAnswer::Silenced(silences),
        })
    }
}

/// A matcher `name="value"` with the value escaped as Alertmanager's
/// matcher syntax wants (`\` and `"` escaped, newlines as `\n`).
fn matcher(name: &str, value: &str) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + 3);
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Label names that every Alertmanager version accepts unquoted in a
/// matcher. Other labels are not sent as filters (the answer is then
/// compared on the whole label set, so nothing else is mistaken for the
/// alert).
fn plain_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[async_trait]
impl SilenceSource for AlertmanagerSilences {
    async fn silenced(&self, q: &SilenceQuery<'_>) -> Result<SilenceAnswer, SilenceError> {
        let key = (q.alertmanager.to_owned(), q.labels.clone());
        if let Some(answer) = self.cached(&key) {
            return Ok(answer);
        }
        let answer = self.ask(q).await?;
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), answer.clone()));
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_escape_quotes_backslashes_and_newlines() {
        assert_eq!(matcher("service", "web"), "service=\"web\"");
        assert_eq!(matcher("msg", "a\"b\\c\nd"), "msg=\"a\\\"b\\\\c\\nd\"");
        assert!(plain_label_name("alertname"));
        assert!(plain_label_name("_x9"));
        assert!(!plain_label_name("9x"));
        assert!(!plain_label_name("a.b"));
        assert!(!plain_label_name(""));
    }

    #[test]
    fn the_cache_is_never_longer_than_thirty_seconds() {
        let s = AlertmanagerSilences::new(AlertmanagerSettings {
            cache_ttl: Duration::from_secs(300),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        assert_eq!(s.settings.cache_ttl, MAX_CACHE_TTL);
    }

    #[tokio::test]
    async fn an_unreachable_alertmanager_is_an_error_without_credentials() {
        let s = AlertmanagerSilences::new(AlertmanagerSettings {
            cache_ttl: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
        })
        .unwrap();
        // A port nothing listens on (bound, then dropped).
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://admin:hunter2@127.0.0.1:{port}");
        let tenant = hale_domain::TenantId::new("t").unwrap();
        let labels = BTreeMap::from([("alertname".to_owned(), "X".to_owned())]);
        let q = SilenceQuery {
            tenant: &tenant,
            alertmanager: &url,
            labels: &labels,
        };
        let e = s.silenced(&q).await.unwrap_err();
        assert!(!e.0.contains("hunter2"), "{e}");
        assert!(e.0.contains("could not connect"), "{e}");
        // Errors are not cached: the next question asks again.
        assert!(s.cache.lock().is_empty());
    }
}
