//! A tiny deterministic mixer for generating workloads: the same seed and
//! index always give the same alert, with no RNG state to share between
//! connections.

/// SplitMix64's finaliser: a bijective, well-mixed hash of a `u64`.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_is_deterministic_and_spreads_neighbours() {
        assert_eq!(mix64(1), mix64(1));
        let buckets = (0..10_000u64).fold([0u32; 10], |mut b, i| {
            b[(mix64(i) % 10) as usize] += 1;
            b
        });
        assert!(
            buckets.iter().all(|n| (900..1100).contains(n)),
            "{buckets:?}"
        );
    }
}
