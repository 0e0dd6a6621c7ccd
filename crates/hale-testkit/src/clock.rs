//! Clocks for tests and simulations.
//!
//! The engine stamps records with wall time from the [`Clock`] port and waits
//! on tokio time. Two test clocks cover the two ways tests drive time:
//!
//! * [`ManualClock`]: wall time moves only when the test says so. Use it for
//!   rules that read `now` but never sleep.
//! * [`TokioClock`]: wall time follows tokio's clock from a fixed base, so a
//!   test on paused tokio time (`#[tokio::test(start_paused = true)]`) sees
//!   wall time advance exactly as far as `tokio::time::advance` (or an
//!   auto-advanced sleep) moves it. Timeouts and record timestamps then agree.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use hale_domain::Timestamp;
use hale_engine::ports::Clock;

// === impl ManualClock ===

/// A [`Clock`] whose time is set and advanced by hand.
///
/// Clones share the same time, so a test can keep one handle and give
/// another to the engine.
#[derive(Debug, Clone)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock that reads `start` until it is moved.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            micros: Arc::new(AtomicI64::new(start.unix_micros())),
        }
    }

    /// Sets the time (it may go backwards, to test clock adjustments).
    pub fn set(&self, now: Timestamp) {
        self.micros.store(now.unix_micros(), Ordering::SeqCst);
    }

    /// Moves the time forward by `by` (saturating) and returns the new time.
    pub fn advance(&self, by: Duration) -> Timestamp {
        let add = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        // `fetch_update` makes concurrent advances add up instead of losing
        // one of them.
        let previous = self
            .micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(add))
            })
            .unwrap_or_else(|current| current);
        Timestamp::from_unix_micros(previous.saturating_add(add))
    }
}

impl Default for ManualClock {
    /// A clock at 2027-01-15T08:00:00Z, a fixed and unremarkable instant.
    fn default() -> Self {
        ManualClock::new(Timestamp::from_unix_secs(1_800_000_000))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.micros.load(Ordering::SeqCst))
    }
}

// === impl TokioClock ===

/// A [`Clock`] that reads `base + (tokio now - construction instant)`.
///
/// Construct it inside the test's runtime (after the runtime paused its
/// clock) so both instants come from the same tokio clock. Clones share the
/// base and origin.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: Timestamp,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `base` now and moves with tokio time.
    pub fn new(base: Timestamp) -> Self {
        TokioClock {
            base,
            origin: tokio::time::Instant::now(),
        }
    }

    /// The wall time this clock started at.
    pub fn base(&self) -> Timestamp {
        self.base
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.base + self.origin.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let clock = ManualClock::new(T0);
        let shared = clock.clone();
        assert_eq!(shared.now(), T0);
        let later = clock.advance(Duration::from_micros(1_500_001));
        assert_eq!(
            later,
            Timestamp::from_unix_micros(T0.unix_micros() + 1_500_001)
        );
        assert_eq!(shared.now(), later, "clones must share the time");
        shared.set(Timestamp::UNIX_EPOCH);
        assert_eq!(clock.now(), Timestamp::UNIX_EPOCH, "set goes backwards too");
    }

    #[test]
    fn manual_clock_advance_saturates_instead_of_wrapping() {
        let clock = ManualClock::new(Timestamp::from_unix_micros(i64::MAX - 5));
        assert_eq!(
            clock.advance(Duration::from_secs(3600)),
            Timestamp::from_unix_micros(i64::MAX)
        );
        assert_eq!(clock.now(), Timestamp::from_unix_micros(i64::MAX));
    }

    #[test]
    fn manual_clock_concurrent_advances_all_count() {
        let clock = ManualClock::new(T0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                let c = clock.clone();
                s.spawn(move || {
                    for _ in 0..1000 {
                        c.advance(Duration::from_micros(1));
                    }
                });
            }
        });
        assert_eq!(clock.now(), T0 + Duration::from_micros(8000));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_tokio_time() {
        let clock = TokioClock::new(T0);
        assert_eq!(clock.now(), T0);
        assert_eq!(clock.base(), T0);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now(), T0 + Duration::from_secs(90));
        // An auto-advanced sleep moves wall time by exactly its duration.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(clock.now(), T0 + Duration::from_millis(90_250));
        let copy = clock;
        assert_eq!(copy.now(), clock.now());
    }
}
