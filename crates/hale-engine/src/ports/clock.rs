//! Wall time for records.
//!
//! The engine never sleeps on the wall clock: waits and timeouts use tokio
//! time, so tests run on paused time. The `Clock` port only stamps records
//! and feeds the domain's time-parameterised rules.

use std::time::{SystemTime, UNIX_EPOCH};

use hale_domain::Timestamp;

/// A source of wall-clock time.
///
/// Contract: infallible and cheap; successive calls should not go backwards
/// by more than the host's clock adjustments. Implementations must be
/// `Send + Sync`.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The host's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one sanctioned wall-clock read in Hale's libraries: every other
    // component receives time from a `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
        };
        Timestamp::from_unix_micros(micros)
    }
}
