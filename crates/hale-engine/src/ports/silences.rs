//! Silences: asking a tenant's Alertmanager whether a human silenced an
//! alert, before an automatic action ([`hale_domain::silence`] decides what
//! the answer means).
//!
//! Contract:
//! * `silenced` answers for one alert (its full label set) in one
//!   Alertmanager (the tenant's configured URL): `Ok(Silenced)` with the
//!   ids of the silences that mute it, or `Ok(NotSilenced)`;
//! * it MUST return `Err(SilenceError)` when the Alertmanager cannot be
//!   reached, times out (a bounded timeout of its own, a few seconds at
//!   most) or answers with anything but a valid list; never a guess;
//! * answers MAY be cached, for at most 30 s (a silence a human just
//!   created or expired is in force within that time); errors are never
//!   cached;
//! * error messages never carry credentials from the URL.

use std::collections::BTreeMap;

use async_trait::async_trait;
use hale_domain::TenantId;

/// One question.
#[derive(Debug, Clone, Copy)]
pub struct SilenceQuery<'a> {
    /// The tenant asking.
    pub tenant: &'a TenantId,
    /// The tenant's Alertmanager (`http://alertmanager:9093`).
    pub alertmanager: &'a str,
    /// The alert's labels.
    pub labels: &'a BTreeMap<String, String>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SilenceAnswer {
    /// No silence mutes the alert.
    NotSilenced,
    /// These silences mute it.
    Silenced(Vec<String>),
}

/// The Alertmanager could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alertmanager unavailable: {0}")]
pub struct SilenceError(pub String);

/// Asks Alertmanagers about silences (see the module docs).
#[async_trait]
pub trait SilenceSource: Send + Sync {
    /// Whether the alert is silenced.
    async fn silenced(&self, query: &SilenceQuery<'_>) -> Result<SilenceAnswer, SilenceError>;
}

/// No Alertmanager to ask: every answer is an error. The default, so a
/// tenant that configures an Alertmanager without the server wiring an
/// adapter fails closed rather than acting.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSilenceSource;

#[async_trait]
impl SilenceSource for NoSilenceSource {
    async fn silenced(&self, _: &SilenceQuery<'_>) -> Result<SilenceAnswer, SilenceError> {
        Err(SilenceError("no silence source is configured".into()))
    }
}
