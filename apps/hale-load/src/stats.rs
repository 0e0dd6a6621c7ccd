//! Latency percentiles, computed exactly from every sample (a run records
//! at most a few million samples, so sorting them is cheaper than being
//! clever).

use std::time::Duration;

/// Latency samples in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Samples {
    micros: Vec<u64>,
}

/// The summary of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
    /// Arithmetic mean.
    pub mean: Duration,
}

impl Samples {
    /// Records one sample.
    pub fn record(&mut self, d: Duration) {
        self.micros
            .push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one sample given in microseconds.
    pub fn record_micros(&mut self, us: u64) {
        self.micros.push(us);
    }

    /// Takes every sample of `other`.
    pub fn merge(&mut self, other: Samples) {
        self.micros.extend(other.micros);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// The summary (all zeros when empty). Percentiles are nearest-rank:
    /// p99 is the smallest sample at or above 99% of all samples.
    pub fn summary(&self) -> Summary {
        let mut v = self.micros.clone();
        v.sort_unstable();
        let us = Duration::from_micros;
        if v.is_empty() {
            return Summary {
                count: 0,
                p50: Duration::ZERO,
                p90: Duration::ZERO,
                p99: Duration::ZERO,
                max: Duration::ZERO,
                mean: Duration::ZERO,
            };
        }
        let rank = |p: f64| -> Duration {
            // Nearest rank: ceil(p * n), 1-based.
            let n = v.len() as f64;
            let r = (p * n).ceil().max(1.0) as usize;
            us(v[r.min(v.len()) - 1])
        };
        let sum: u128 = v.iter().map(|&x| u128::from(x)).sum();
        Summary {
            count: v.len(),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: us(v[v.len() - 1]),
            mean: us(u64::try_from(sum / v.len() as u128).unwrap_or(u64::MAX)),
        }
    }
}

/// A duration in milliseconds with two decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for i in 1..=100 {
            s.record_micros(i);
        }
        let sum = s.summary();
        assert_eq!(sum.count, 100);
        assert_eq!(sum.p50, Duration::from_micros(50));
        assert_eq!(sum.p90, Duration::from_micros(90));
        assert_eq!(sum.p99, Duration::from_micros(99));
        assert_eq!(sum.max, Duration::from_micros(100));
        assert_eq!(sum.mean, Duration::from_micros(50));
    }

    #[test]
    fn one_sample_is_every_percentile_and_none_is_zero() {
        let mut s = Samples::default();
        assert_eq!(s.summary().p99, Duration::ZERO);
        s.record(Duration::from_millis(3));
        let sum = s.summary();
        assert_eq!(
            (sum.p50, sum.p99, sum.max),
            (sum.max, sum.max, Duration::from_millis(3))
        );
    }

    #[test]
    fn merging_keeps_every_sample() {
        let mut a = Samples::default();
        a.record_micros(10);
        let mut b = Samples::default();
        b.record_micros(1000);
        b.record_micros(20);
        a.merge(b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.summary().max, Duration::from_micros(1000));
    }

    #[test]
    fn milliseconds_print_with_two_decimals() {
        assert_eq!(ms(Duration::from_micros(1234)), "1.23");
    }
}
