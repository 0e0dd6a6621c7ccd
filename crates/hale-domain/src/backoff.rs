//! Exponential backoff with jitter (seed 002, layer 2).
//!
//! The ceiling for the n-th consecutive failure is `base * multiplier^(n-1)`
//! capped at `max`: 5 s, 10 s, 20 s, 40 s, 80 s, ... 10 min with the seed
//! defaults. Jitter picks the actual delay at or below the ceiling, so a
//! jittered delay never exceeds `max`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rng::JitterRng;

/// How the actual delay is drawn from the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// The delay is the ceiling.
    #[default]
    None,
    /// Uniform in `[0, ceiling]`.
    Full,
    /// Uniform in `[ceiling/2, ceiling]`.
    Equal,
    /// "Decorrelated" (AWS architecture blog): uniform in
    /// `[base, min(max, 3 * previous)]`.
    Decorrelated,
}

/// Backoff parameters; [`Default`] is seed 002: base 5 s, doubling, max 10 min,
/// no jitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackoffPolicy {
    /// The first delay.
    #[serde(with = "crate::time::duration")]
    pub base: Duration,
    /// The cap.
    #[serde(with = "crate::time::duration")]
    pub max: Duration,
    /// Growth factor per failure (>= 1).
    pub multiplier: f64,
    /// Jitter strategy.
    pub jitter: Jitter,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(600),
            multiplier: 2.0,
            jitter: Jitter::None,
        }
    }
}

/// A backoff policy that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackoffPolicyError {
    /// `base` must be positive and at most `max`.
    #[error("backoff base ({base:?}) must be positive and at most max ({max:?})")]
    BaseOutOfRange {
        /// The base given.
        base: Duration,
        /// The max given.
        max: Duration,
    },
    /// `multiplier` must be a finite number >= 1.
    #[error("backoff multiplier must be a finite number >= 1, got {0}")]
    BadMultiplier(f64),
}

impl BackoffPolicy {
    /// Checks the policy.
    pub fn validate(&self) -> Result<(), BackoffPolicyError> {
        if self.base.is_zero() || self.base > self.max {
            return Err(BackoffPolicyError::BaseOutOfRange {
                base: self.base,
                max: self.max,
            });
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(BackoffPolicyError::BadMultiplier(self.multiplier));
        }
        Ok(())
    }

    /// The un-jittered delay after `failures` consecutive failures (0 means no
    /// delay). Monotone in `failures` and never above `max`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let exp = i32::try_from(failures - 1).unwrap_or(i32::MAX);
        let secs = self.base.as_secs_f64() * self.multiplier.powi(exp);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs).min(self.max)
        }
    }
}

/// Backoff state for one scope: consecutive failures and the last delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
    last_delay: Duration,
    rng: JitterRng,
}

impl Backoff {
    /// Fresh state with the given policy and jitter seed.
    pub fn new(policy: BackoffPolicy, seed: u64) -> Result<Self, BackoffPolicyError> {
        policy.validate()?;
        Ok(Backoff {
            policy,
            failures: 0,
            last_delay: Duration::ZERO,
            rng: JitterRng::seeded(seed),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &BackoffPolicy {
        &self.policy
    }

    /// Consecutive failures recorded since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The delay most recently returned by [`Backoff::on_failure`].
    pub fn current_delay(&self) -> Duration {
        self.last_delay
    }

    /// Records a failure and returns how long to wait before the next
    /// attempt.
    pub fn on_failure(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let ceiling = self.policy.ceiling(self.failures);
        let delay = match self.policy.jitter {
            Jitter::None => ceiling,
            Jitter::Full => self.uniform(Duration::ZERO, ceiling),
            Jitter::Equal => self.uniform(ceiling / 2, ceiling),
            Jitter::Decorrelated => {
                let prev = if self.last_delay.is_zero() {
                    self.policy.base
                } else {
                    self.last_delay
                };
                let upper = prev.saturating_mul(3).min(self.policy.max);
                self.uniform(self.policy.base.min(upper), upper)
            }
        };
        self.last_delay = delay.min(self.policy.max);
        self.last_delay
    }

    /// Forgets the failures after a success (seed scenario 8: "backoff resets
    /// after recovery").
    pub fn reset(&mut self) {
        self.failures = 0;
        self.last_delay = Duration::ZERO;
    }

    fn uniform(&mut self, lo: Duration, hi: Duration) -> Duration {
        let lo_us = u64::try_from(lo.as_micros()).unwrap_or(u64::MAX);
        let hi_us = u64::try_from(hi.as_micros()).unwrap_or(u64::MAX);
        if hi_us <= lo_us {
            return hi;
        }
        Duration::from_micros(lo_us + self.rng.below_inclusive(hi_us - lo_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_table() {
        let mut b = Backoff::new(BackoffPolicy::default(), 0).unwrap();
        let secs: Vec<u64> = (0..12).map(|_| b.on_failure().as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600, 600, 600]);
        b.reset();
        assert_eq!(b.on_failure(), Duration::from_secs(5));
    }

    #[test]
    fn sub_second_resolution() {
        let p = BackoffPolicy {
            base: Duration::from_millis(250),
            max: Duration::from_secs(2),
            ..BackoffPolicy::default()
        };
        assert_eq!(p.ceiling(1), Duration::from_millis(250));
        assert_eq!(p.ceiling(2), Duration::from_millis(500));
        assert_eq!(p.ceiling(5), Duration::from_secs(2));
    }

    #[test]
    fn bad_policies_are_refused() {
        let p = BackoffPolicy {
            base: Duration::ZERO,
            ..BackoffPolicy::default()
        };
        assert!(Backoff::new(p, 0).is_err());
        let p = BackoffPolicy {
            multiplier: 0.5,
            ..BackoffPolicy::default()
        };
        assert!(Backoff::new(p, 0).is_err());
    }

    #[test]
    fn same_seed_same_delays() {
        let p = BackoffPolicy {
            jitter: Jitter::Decorrelated,
            ..BackoffPolicy::default()
        };
        let mut a = Backoff::new(p.clone(), 42).unwrap();
        let mut b = Backoff::new(p, 42).unwrap();
        for _ in 0..20 {
            assert_eq!(a.on_failure(), b.on_failure());
        }
    }

    #[test]
    fn validation_boundaries() {
        let ok = |base: u64, max: u64, multiplier: f64| {
            BackoffPolicy {
                base: Duration::from_secs(base),
                max: Duration::from_secs(max),
                multiplier,
                jitter: Jitter::None,
            }
            .validate()
        };
        assert_eq!(
            ok(5, 5, 1.0),
            Ok(()),
            "base may equal max; a multiplier of 1 is constant"
        );
        assert_eq!(
            ok(6, 5, 2.0),
            Err(BackoffPolicyError::BaseOutOfRange {
                base: Duration::from_secs(6),
                max: Duration::from_secs(5)
            })
        );
        assert!(matches!(
            ok(0, 5, 2.0),
            Err(BackoffPolicyError::BaseOutOfRange { .. })
        ));
        for bad in [0.99, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(ok(1, 5, bad), Err(BackoffPolicyError::BadMultiplier(_))),
                "{bad}"
            );
        }
        assert_eq!(ok(1, 5, 1.5), Ok(()));
    }

    #[test]
    fn ceiling_caps_even_when_the_growth_overflows() {
        let p = BackoffPolicy {
            multiplier: 4.0,
            ..BackoffPolicy::default()
        };
        assert_eq!(p.ceiling(0), Duration::ZERO);
        assert_eq!(p.ceiling(1), Duration::from_secs(5));
        assert_eq!(p.ceiling(3), Duration::from_secs(80));
        assert_eq!(
            p.ceiling(600),
            p.max,
            "4^599 is finite in f64 but no Duration"
        );
        assert_eq!(p.ceiling(u32::MAX), p.max, "infinite growth caps too");
    }

    #[test]
    fn state_accessors() {
        let p = BackoffPolicy {
            base: Duration::from_secs(2),
            ..BackoffPolicy::default()
        };
        let mut b = Backoff::new(p.clone(), 1).unwrap();
        assert_eq!(b.policy(), &p);
        assert_eq!((b.failures(), b.current_delay()), (0, Duration::ZERO));
        b.on_failure();
        b.on_failure();
        assert_eq!(
            (b.failures(), b.current_delay()),
            (2, Duration::from_secs(4))
        );
        b.reset();
        assert_eq!((b.failures(), b.current_delay()), (0, Duration::ZERO));
    }

    /// With the ceiling pinned (base = max), each jitter draws over its
    /// whole interval: the smallest and largest of many draws lie near the
    /// interval's ends.
    #[test]
    fn each_jitter_spans_its_interval() {
        let spread = |jitter: Jitter, base: u64, max: u64| {
            let p = BackoffPolicy {
                base: Duration::from_secs(base),
                max: Duration::from_secs(max),
                multiplier: 2.0,
                jitter,
            };
            let mut b = Backoff::new(p, 11).unwrap();
            let draws: Vec<f64> = (0..400).map(|_| b.on_failure().as_secs_f64()).collect();
            let lo = draws.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = draws.iter().copied().fold(0.0, f64::max);
            (lo, hi)
        };
        let (lo, hi) = spread(Jitter::Full, 100, 100);
        assert!(lo < 5.0 && hi > 95.0 && hi <= 100.0, "full: {lo}..{hi}");
        let (lo, hi) = spread(Jitter::Equal, 100, 100);
        assert!(
            (50.0..55.0).contains(&lo) && hi > 95.0 && hi <= 100.0,
            "equal: {lo}..{hi}"
        );
        // Decorrelated: between base and min(max, 3 x previous).
        let (lo, hi) = spread(Jitter::Decorrelated, 10, 100);
        assert!(
            (10.0..15.0).contains(&lo) && hi > 90.0 && hi <= 100.0,
            "decorrelated: {lo}..{hi}"
        );
        let p = BackoffPolicy {
            base: Duration::from_secs(10),
            max: Duration::from_secs(1000),
            multiplier: 2.0,
            jitter: Jitter::Decorrelated,
        };
        let mut b = Backoff::new(p, 5).unwrap();
        let first = b.on_failure();
        assert!(
            first >= Duration::from_secs(10) && first <= Duration::from_secs(30),
            "{first:?}"
        );
        for _ in 0..100 {
            let prev = b.current_delay();
            let d = b.on_failure();
            assert!(
                d >= Duration::from_secs(10) && d <= prev * 3,
                "{d:?} after {prev:?}"
            );
        }
    }

    fn jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated)
        ]
    }

    fn policy() -> impl Strategy<Value = BackoffPolicy> {
        (1u64..10_000, 1u64..1_000_000, 1.0f64..4.0, jitter()).prop_map(|(base, extra, m, j)| {
            BackoffPolicy {
                base: Duration::from_millis(base),
                max: Duration::from_millis(base + extra),
                multiplier: m,
                jitter: j,
            }
        })
    }

    proptest! {
        /// The ceiling is monotone until the cap and never exceeds it; every
        /// delay, with any jitter, is at most the cap (and, except for
        /// decorrelated jitter, at most the ceiling).
        #[test]
        fn prop_backoff_monotone_until_cap_and_never_exceeds_it(
            p in policy(), seed in any::<u64>(), n in 1usize..200
        ) {
            let mut b = Backoff::new(p.clone(), seed).unwrap();
            let mut prev_ceiling = Duration::ZERO;
            for i in 1..=n {
                let d = b.on_failure();
                let ceiling = p.ceiling(u32::try_from(i).unwrap());
                prop_assert!(ceiling >= prev_ceiling, "ceiling fell at failure {}", i);
                prop_assert!(ceiling <= p.max);
                prop_assert!(d <= p.max, "delay {:?} above max {:?}", d, p.max);
                if p.jitter != Jitter::Decorrelated {
                    prop_assert!(d <= ceiling);
                }
                if p.jitter == Jitter::None {
                    prop_assert_eq!(d, ceiling);
                }
                prev_ceiling = ceiling;
            }
        }

        /// After a reset the next delay starts from the base again.
        #[test]
        fn prop_backoff_reset_starts_over(p in policy(), seed in any::<u64>(), n in 1usize..50) {
            let mut b = Backoff::new(BackoffPolicy { jitter: Jitter::None, ..p.clone() }, seed).unwrap();
            for _ in 0..n { b.on_failure(); }
            b.reset();
            prop_assert_eq!(b.failures(), 0);
            prop_assert_eq!(b.on_failure(), p.ceiling(1));
        }
    }
}
