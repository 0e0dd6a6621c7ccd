//! Fair shares of intake's work between tenants.
//!
//! Admission ([`crate::admission`]) bounds how many deliveries a tenant may
//! have in flight, but every admitted delivery then competes for the same
//! few database connections and CPU. First come, first served there means a
//! tenant that keeps 64 deliveries in flight puts every other tenant's
//! delivery behind its own 64: the fairness benchmark saw a quiet tenant's
//! p99 grow 61x beside a flood (docs/benchmarks.md, "One tenant floods").
//!
//! So an admitted delivery also waits for one of a few work slots, and a
//! freed slot goes to the waiting tenant that runs the fewest deliveries
//! (ties: the one served longest ago), not to the oldest waiter. A tenant
//! alone still gets every slot; a flooding tenant beside a quiet one gets
//! what the quiet one leaves. The wait is bounded by the caller, and a
//! waiter that gives up (its request timed out or was dropped) leaves the
//! queue at once, so nothing piles up behind it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use hale_domain::TenantId;
use tokio::sync::oneshot;

/// Work slots shared fairly between tenants.
#[derive(Debug, Clone)]
pub struct FairShare {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    slots: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Slots held, in all.
    running: usize,
    /// Grants so far: orders "served longest ago".
    turn: u64,
    /// Tickets handed out: names a waiter so it can leave the queue.
    tickets: u64,
    tenants: HashMap<TenantId, TenantQueue>,
}

#[derive(Debug, Default)]
struct TenantQueue {
    running: usize,
    last_served: u64,
    waiting: VecDeque<(u64, oneshot::Sender<Slot>)>,
}

/// One held work slot; dropping it hands the slot to the next waiter.
#[derive(Debug)]
pub struct Slot {
    inner: Arc<Inner>,
    tenant: TenantId,
    armed: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.armed {
            self.inner.release(&self.tenant);
        }
    }
}

/// Takes a waiter out of the queue when its wait is abandoned.
struct Leave<'a> {
    inner: &'a Arc<Inner>,
    tenant: &'a TenantId,
    ticket: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(q) = st.tenants.get_mut(self.tenant) {
            q.waiting.retain(|(t, _)| *t != self.ticket);
        }
        st.forget_idle(self.tenant);
    }
}

impl FairShare {
    /// `slots` deliveries at work at once (at least 1).
    pub fn new(slots: usize) -> FairShare {
        FairShare {
            inner: Arc::new(Inner {
                slots: slots.max(1),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// How many slots there are.
    pub fn slots(&self) -> usize {
        self.inner.slots
    }

    /// Slots held now.
    pub fn running(&self) -> usize {
        self.inner.lock().running
    }

    /// Deliveries waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.inner
            .lock()
            .tenants
            .values()
            .map(|q| q.waiting.len())
            .sum()
    }

    /// Deliveries of `tenant` waiting for a slot now.
    pub fn waiting_for(&self, tenant: &TenantId) -> usize {
        self.inner
            .lock()
            .tenants
            .get(tenant)
            .map_or(0, |q| q.waiting.len())
    }

    /// A slot for a delivery of `tenant`: at once when one is free,
    /// otherwise when the fair order reaches it. Dropping the future
    /// leaves the queue (and frees a slot granted in the meantime).
    pub async fn acquire(&self, tenant: &TenantId) -> Slot {
        loop {
            let (ticket, rx) = {
                let mut st = self.inner.lock();
                if st.running < self.inner.slots {
                    st.grant(tenant);
                    return self.slot(tenant);
                }
                st.tickets += 1;
                let ticket = st.tickets;
                let (tx, rx) = oneshot::channel();
                st.tenants
                    .entry(tenant.clone())
                    .or_default()
                    .waiting
                    .push_back((ticket, tx));
                (ticket, rx)
            };
            let leave = Leave {
                inner: &self.inner,
                tenant,
                ticket,
            };
            let granted = rx.await;
            drop(leave);
            // A queued sender is dropped only by a send or by this
            // future's own `Leave`, so this is always a slot; were it not,
            // queueing again is the safe answer.
            if let Ok(slot) = granted {
                return slot;
            }
        }
    }

    fn slot(&self, tenant: &TenantId) -> Slot {
        Slot {
            inner: self.inner.clone(),
            tenant: tenant.clone(),
            armed: true,
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Frees `tenant`'s slot and hands it to the next waiter in fair order.
    fn release(self: &Arc<Self>, tenant: &TenantId) {
        let mut st = self.lock();
        st.running = st.running.saturating_sub(1);
        if let Some(q) = st.tenants.get_mut(tenant) {
            q.running = q.running.saturating_sub(1);
        }
        st.forget_idle(tenant);
        while let Some(next) = st.next_tenant() {
            let Some((_, tx)) = st
                .tenants
                .get_mut(&next)
                .and_then(|q| q.waiting.pop_front())
            else {
                continue;
            };
            st.grant(&next);
            let slot = Slot {
                inner: self.clone(),
                tenant: next.clone(),
                armed: true,
            };
            match tx.send(slot) {
                Ok(()) => return,
                Err(mut unsent) => {
                    // The waiter left between its last poll and now: undo
                    // the grant by hand (dropping an armed slot here would
                    // take this lock again) and try the next one.
                    unsent.armed = false;
                    st.running -= 1;
                    if let Some(q) = st.tenants.get_mut(&next) {
                        q.running -= 1;
                    }
                    st.forget_idle(&next);
                }
            }
        }
    }
}

impl State {
    fn grant(&mut self, tenant: &TenantId) {
        self.turn += 1;
        self.running += 1;
        let turn = self.turn;
        let q = self.tenants.entry(tenant.clone()).or_default();
        q.running += 1;
        q.last_served = turn;
    }

    /// The waiting tenant running the fewest deliveries; of those, the one
    /// served longest ago.
    fn next_tenant(&self) -> Option<TenantId> {
        self.tenants
            .iter()
            .filter(|(_, q)| !q.waiting.is_empty())
            .min_by_key(|(_, q)| (q.running, q.last_served))
            .map(|(t, _)| t.clone())
    }

    /// Drops the bookkeeping of a tenant with nothing running or waiting,
    /// so the map holds only active tenants.
    fn forget_idle(&mut self, tenant: &TenantId) {
        if self
            .tenants
            .get(tenant)
            .is_some_and(|q| q.running == 0 && q.waiting.is_empty())
        {
            self.tenants.remove(tenant);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(id: &str) -> TenantId {
        TenantId::new(id).unwrap()
    }

    /// Starts a waiter for `tenant` that reports its grant on `done`.
    fn wait(
        share: &FairShare,
        tenant: &str,
        done: &tokio::sync::mpsc::UnboundedSender<(String, Slot)>,
    ) -> tokio::task::JoinHandle<()> {
        let (share, done, name) = (share.clone(), done.clone(), tenant.to_owned());
        tokio::spawn(async move {
            let slot = share.acquire(&t(&name)).await;
            let _ = done.send((name, slot));
        })
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_tenant_running_the_fewest() {
        let share = FairShare::new(2);
        let a1 = share.acquire(&t("flood")).await;
        let a2 = share.acquire(&t("flood")).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // The flood queues five more first; the quiet tenant comes last.
        for _ in 0..5 {
            wait(&share, "flood", &tx);
            settle().await;
        }
        wait(&share, "quiet", &tx);
        settle().await;
        assert_eq!(share.waiting(), 6);
        drop(a1);
        let (first, q1) = rx.recv().await.unwrap();
        assert_eq!(
            first, "quiet",
            "the quiet tenant runs nothing: it goes first"
        );
        drop(a2);
        let (second, f1) = rx.recv().await.unwrap();
        assert_eq!(second, "flood");
        assert_eq!(share.running(), 2);
        drop((q1, f1));
        settle().await;
        assert_eq!(share.running(), 2, "each release hands its slot on");
        assert_eq!(share.waiting(), 2);
    }

    #[tokio::test]
    async fn a_tenant_alone_gets_every_slot_and_they_all_come_back() {
        let share = FairShare::new(3);
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(share.acquire(&t("only")).await);
        }
        assert_eq!(share.running(), 3);
        drop(held);
        assert_eq!(share.running(), 0);
        assert_eq!(share.waiting(), 0);
        assert!(
            share.inner.lock().tenants.is_empty(),
            "idle tenants are forgotten"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_gives_up_leaves_the_queue_and_takes_no_slot() {
        let share = FairShare::new(1);
        let held = share.acquire(&t("a")).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(50), share.acquire(&t("b"))).await;
        assert!(gave_up.is_err());
        assert_eq!(share.waiting(), 0, "the abandoned wait left the queue");
        drop(held);
        assert_eq!(share.running(), 0, "no slot went to the waiter that left");
        let _again = share.acquire(&t("b")).await;
        assert_eq!(share.running(), 1);
    }

    #[tokio::test]
    async fn a_slot_granted_to_a_waiter_dropped_before_it_looked_is_freed() {
        let share = FairShare::new(1);
        let held = share.acquire(&t("a")).await;
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel::<(String, Slot)>();
        let waiter = wait(&share, "b", &tx);
        settle().await;
        // Grant to b, then cancel b before it runs again.
        drop(held);
        waiter.abort();
        let _ = waiter.await;
        settle().await;
        assert_eq!(share.running(), 0);
        assert_eq!(share.waiting(), 0);
    }
}
