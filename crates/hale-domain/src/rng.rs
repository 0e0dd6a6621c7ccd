//! A small seedable random source for jitter.
//!
//! SplitMix64: deterministic for a given seed, so replays and tests are
//! reproducible. Not for anything security-related.

use serde::{Deserialize, Serialize};

/// A seedable pseudo-random generator (SplitMix64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JitterRng {
    state: u64,
}

impl JitterRng {
    /// A generator that yields the same sequence for the same seed.
    pub const fn seeded(seed: u64) -> Self {
        JitterRng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..=max` (inclusive).
    pub fn below_inclusive(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        // Multiply-shift maps 64 random bits onto the range with negligible
        // bias for the ranges jitter uses (durations in microseconds).
        let range = u128::from(max) + 1;
        ((u128::from(self.next_u64()) * range) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = JitterRng::seeded(7);
        let mut b = JitterRng::seeded(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn bounded() {
        let mut r = JitterRng::seeded(1);
        for max in [0u64, 1, 2, 10, 1_000_000] {
            for _ in 0..1000 {
                assert!(r.below_inclusive(max) <= max);
            }
        }
    }
}
