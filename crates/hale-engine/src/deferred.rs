//! The alerts a tenant deferred, kept for the detection job to evaluate
//! again: bounded by count and by bytes, the oldest dropped first.
//!
//! A deferred alert is kept whole (its labels and annotations), so a count
//! alone does not bound memory: 10,000 alerts of 32 KiB of annotations are
//! 320 MiB. Both caps hold after every insertion; dropping the oldest loses
//! nothing durable (the alert is recorded in its incident, and
//! Alertmanager sends it again on its next repeat).

use std::collections::{HashMap, VecDeque};

use hale_domain::alert::Alert;
use hale_domain::convergence::Fingerprint;
use hale_domain::reason::NotActed;

/// One deferred alert and why it was not acted on.
#[derive(Debug, Clone)]
pub(crate) struct DeferredAlert {
    pub alert: Alert,
    pub reason: NotActed,
}

/// The bytes an alert holds in memory, near enough for a cap: its label and
/// annotation names and values, its generator URL and fingerprint, and a
/// fixed overhead per entry.
pub(crate) fn alert_bytes(alert: &Alert) -> usize {
    const OVERHEAD: usize = 256;
    let pairs = |m: &std::collections::BTreeMap<String, String>| -> usize {
        m.iter().map(|(k, v)| k.len() + v.len() + 48).sum()
    };
    OVERHEAD
        + pairs(&alert.labels)
        + pairs(&alert.annotations)
        + alert.generator_url.as_ref().map_or(0, String::len)
        + alert.source_fingerprint.as_ref().map_or(0, String::len)
}

/// Deferred alerts by fingerprint, in the order they were deferred.
#[derive(Debug, Default)]
pub(crate) struct DeferredQueue {
    map: HashMap<Fingerprint, (DeferredAlert, usize)>,
    order: VecDeque<Fingerprint>,
    bytes: usize,
}

impl DeferredQueue {
    /// Remembers `alert` (replacing an earlier one of the same
    /// fingerprint, which keeps its place), then drops the oldest until at
    /// most `max_count` alerts of at most `max_bytes` remain. The newest
    /// alert is always kept, whatever its size.
    pub(crate) fn remember(
        &mut self,
        fp: Fingerprint,
        deferred: DeferredAlert,
        max_count: usize,
        max_bytes: usize,
    ) {
        let size = alert_bytes(&deferred.alert);
        match self.map.insert(fp.clone(), (deferred, size)) {
            Some((_, old)) => self.bytes -= old,
            None => self.order.push_back(fp.clone()),
        }
        self.bytes += size;
        // The newest stays wherever it is in the order; if it comes up as
        // the oldest, it is set aside and put back in front afterwards.
        let mut set_aside = false;
        while self.map.len() > max_count.max(1) || (self.bytes > max_bytes && self.map.len() > 1) {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if oldest == fp {
                set_aside = true;
                continue;
            }
            if let Some((_, s)) = self.map.remove(&oldest) {
                self.bytes -= s;
            }
        }
        if set_aside {
            self.order.push_front(fp);
        }
    }

    /// Forgets the alert of `fp`, if remembered.
    pub(crate) fn forget(&mut self, fp: &Fingerprint) {
        if let Some((_, s)) = self.map.remove(fp) {
            self.bytes -= s;
            self.order.retain(|f| f != fp);
        }
    }

    /// Takes every alert, oldest first.
    pub(crate) fn take(&mut self) -> Vec<(Fingerprint, DeferredAlert)> {
        let out = self
            .order
            .drain(..)
            .filter_map(|fp| self.map.remove(&fp).map(|(d, _)| (fp, d)))
            .collect();
        self.map.clear();
        self.bytes = 0;
        out
    }

    /// How many are remembered.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Their bytes ([`alert_bytes`]).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use hale_domain::reason::{DeferralReason, NotActed};

    fn fp(i: u32) -> Fingerprint {
        Fingerprint::from_hex(format!("{i:064x}"))
    }

    fn deferred(annotation: usize) -> DeferredAlert {
        let mut alert = Alert::firing([("alertname", "HighErrorRate")]);
        alert
            .annotations
            .insert("description".into(), "x".repeat(annotation));
        DeferredAlert {
            alert,
            reason: NotActed::Deferred(DeferralReason::ResourceBusy),
        }
    }

    #[test]
    fn the_byte_cap_drops_the_oldest_first() {
        let mut q = DeferredQueue::default();
        for i in 0..10 {
            q.remember(fp(i), deferred(10_000), 1_000, 35_000);
        }
        assert_eq!(q.len(), 3);
        assert!(q.bytes() <= 35_000);
        let kept: Vec<Fingerprint> = q.take().into_iter().map(|(f, _)| f).collect();
        assert_eq!(kept, [fp(7), fp(8), fp(9)]);
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn the_newest_alert_is_kept_even_alone_over_the_cap() {
        let mut q = DeferredQueue::default();
        q.remember(fp(1), deferred(10), 10, 100);
        q.remember(fp(2), deferred(5_000), 10, 100);
        assert_eq!(q.len(), 1);
        assert_eq!(q.take()[0].0, fp(2));
    }

    #[test]
    fn a_replaced_alert_keeps_its_place_and_its_bytes_are_recounted() {
        let mut q = DeferredQueue::default();
        q.remember(fp(1), deferred(1_000), 10, 1 << 20);
        q.remember(fp(2), deferred(10), 10, 1 << 20);
        q.remember(fp(1), deferred(10), 10, 1 << 20);
        assert_eq!(q.bytes(), 2 * alert_bytes(&deferred(10).alert));
        q.forget(&fp(2));
        assert_eq!(q.len(), 1);
        assert_eq!(q.bytes(), alert_bytes(&deferred(10).alert));
    }

    proptest! {
        /// Whatever is remembered and forgotten, both caps hold (but for a
        /// single alert larger than the byte cap), the byte count is the
        /// sum of what is kept, and the newest is kept.
        #[test]
        fn prop_caps_hold_and_bytes_add_up(
            ops in proptest::collection::vec((0u32..20, 0usize..4_000, any::<bool>()), 1..80),
            max_count in 1usize..8,
            max_bytes in 500usize..20_000,
        ) {
            let mut q = DeferredQueue::default();
            for (i, size, forget) in ops {
                if forget {
                    q.forget(&fp(i));
                } else {
                    q.remember(fp(i), deferred(size), max_count, max_bytes);
                    prop_assert!(q.map.contains_key(&fp(i)));
                }
                prop_assert!(q.len() <= max_count);
                prop_assert!(q.bytes() <= max_bytes || q.len() == 1);
                let sum: usize = q.map.values().map(|(_, s)| *s).sum();
                prop_assert_eq!(q.bytes(), sum);
                prop_assert_eq!(q.order.len(), q.len());
            }
        }
    }
}
