//! The intake workload: an endless, deterministic sequence of alert
//! batches with the mix a busy Alertmanager delivers.
//!
//! Batch `i` is a pure function of `(seed, i)`, so Hale and the reference
//! Alertmanager are sent exactly the same alerts in the same order, however
//! far each gets within the run, and a run can be repeated.
//!
//! The mix, per alert (defaults in [`Mix::default`]):
//!
//! * **repeat**: a service's standing alert, resent unchanged (same
//!   `startsAt`): Alertmanager's `repeat_interval` and HA peers. After the
//!   first, Hale drops these on the delivery idempotency key.
//! * **refire**: the same alert with a later `startsAt` (the rule
//!   re-evaluated after a gap, or Prometheus restarted): same fingerprint,
//!   new delivery. Hale converges it onto the fingerprint (a duplicate of
//!   the open episode, or a new episode after a resolve: flapping).
//! * **new**: a new fingerprint on a known service (an extra `pod` label):
//!   a new incident, strategy matching, guards.
//! * **resolved**: a service's alert resolving (`endsAt` set).

use crate::alerts::{ALERTNAMES, LoadAlert};
use crate::rng::mix64;

/// Shares of each kind of alert, in percent (they must sum to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Unchanged resends of a standing alert.
    pub repeat: u8,
    /// Same fingerprint, new `startsAt`.
    pub refire: u8,
    /// New fingerprints.
    pub new: u8,
    /// Resolutions.
    pub resolved: u8,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            repeat: 60,
            refire: 15,
            new: 10,
            resolved: 15,
        }
    }
}

impl Mix {
    /// Checks the shares add up to 100.
    pub fn validate(&self) -> Result<(), String> {
        let sum = u32::from(self.repeat)
            + u32::from(self.refire)
            + u32::from(self.new)
            + u32::from(self.resolved);
        if sum == 100 {
            Ok(())
        } else {
            Err(format!("the mix must add up to 100%, not {sum}%"))
        }
    }
}

/// The kinds of [`Mix`], for counting what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// See [`Mix::repeat`].
    Repeat,
    /// See [`Mix::refire`].
    Refire,
    /// See [`Mix::new`].
    New,
    /// See [`Mix::resolved`].
    Resolved,
}

/// The workload's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Seeds the sequence.
    pub seed: u64,
    /// Distinct services (deployments `svc-0000`..), each with one
    /// standing alert.
    pub services: u32,
    /// Alerts per webhook body (Alertmanager's group size).
    pub batch: usize,
    /// The shares.
    pub mix: Mix,
    /// The run's reference time (Unix seconds): standing alerts started an
    /// hour before it.
    pub base: i64,
    /// How many alerts share one refire/resolve "epoch": the `startsAt` of
    /// refires moves on (and resolutions end) once per this many alerts.
    pub epoch_alerts: u64,
}

impl Workload {
    /// The alert with global index `j`, and its kind.
    pub fn alert(&self, j: u64) -> (LoadAlert, Kind) {
        let h = mix64(self.seed ^ j.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let service = u32::try_from((h >> 8) % u64::from(self.services.max(1))).unwrap_or(0);
        let alertname = service as usize % ALERTNAMES.len();
        // Epochs are whole minutes within the hour before the reference
        // time (cycling after 59), so a refire starts after the standing
        // alert and a resolution never ends in the future.
        let epoch = i64::try_from((j / self.epoch_alerts.max(1)) % 59).unwrap_or(0);
        let standing = self.base - 3600;
        let roll = (h % 100) as u8;
        let m = self.mix;
        let mut alert = LoadAlert {
            alertname,
            service,
            pod: None,
            starts_at: standing,
            ends_at: None,
        };
        let kind = if roll < m.repeat {
            Kind::Repeat
        } else if roll < m.repeat + m.refire {
            alert.starts_at = standing + 60 * (epoch + 1);
            Kind::Refire
        } else if roll < m.repeat + m.refire + m.new {
            alert.pod = Some(j);
            alert.starts_at = standing + 60 * (epoch + 1);
            Kind::New
        } else {
            alert.ends_at = Some(standing + 60 * (epoch + 1) + 30);
            Kind::Resolved
        };
        (alert, kind)
    }

    /// Batch `i`: alerts `i * batch .. (i + 1) * batch`.
    pub fn batch(&self, i: u64) -> Vec<LoadAlert> {
        let n = self.batch.max(1) as u64;
        (i * n..(i + 1) * n).map(|j| self.alert(j).0).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> Workload {
        Workload {
            seed: 7,
            services: 100,
            batch: 10,
            mix: Mix::default(),
            base: 1_790_000_000,
            epoch_alerts: 1000,
        }
    }

    #[test]
    fn batches_are_a_pure_function_of_the_index() {
        let w = workload();
        assert_eq!(w.batch(17), w.batch(17));
        assert_ne!(w.batch(17), w.batch(18));
        assert_eq!(w.batch(3).len(), 10);
    }

    #[test]
    fn the_mix_is_roughly_the_configured_one() {
        let w = workload();
        let mut counts = [0u32; 4];
        for j in 0..20_000 {
            let i = match w.alert(j).1 {
                Kind::Repeat => 0,
                Kind::Refire => 1,
                Kind::New => 2,
                Kind::Resolved => 3,
            };
            counts[i] += 1;
        }
        let expect = [60, 15, 10, 15];
        for (got, want) in counts.iter().zip(expect) {
            let pct = f64::from(*got) / 200.0;
            assert!((pct - f64::from(want)).abs() < 2.0, "{counts:?}");
        }
    }

    #[test]
    fn repeats_are_identical_and_new_alerts_are_unique() {
        let w = workload();
        let repeats: Vec<LoadAlert> = (0..5000)
            .map(|j| w.alert(j))
            .filter(|(a, k)| *k == Kind::Repeat && a.service == 3)
            .map(|(a, _)| a)
            .collect();
        assert!(repeats.len() > 5);
        assert!(repeats.iter().all(|a| *a == repeats[0]));
        let mut fps: Vec<String> = (0..5000)
            .map(|j| w.alert(j))
            .filter(|(_, k)| *k == Kind::New)
            .map(|(a, _)| a.fingerprint())
            .collect();
        let n = fps.len();
        fps.sort();
        fps.dedup();
        assert_eq!(fps.len(), n);
    }

    #[test]
    fn resolutions_end_after_they_start_and_never_in_the_future() {
        let w = workload();
        for j in 0..300_000 {
            let (a, _) = w.alert(j);
            if let Some(end) = a.ends_at {
                assert!(end > a.starts_at && end <= w.base, "{a:?}");
            }
        }
    }

    #[test]
    fn a_mix_that_does_not_add_up_is_refused() {
        let bad = Mix {
            repeat: 50,
            ..Mix::default()
        };
        assert!(bad.validate().is_err());
        assert!(Mix::default().validate().is_ok());
    }
}
