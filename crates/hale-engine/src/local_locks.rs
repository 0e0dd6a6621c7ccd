//! A production-quality single-process [`ResourceLocks`] and
//! [`IdempotencyKeys`]: the embedded default when Hale runs without Redis.
//!
//! Semantics are exactly the port contract (and the same conformance suite,
//! `hale_testkit::conformance::locks`, checks it):
//!
//! * one current lease per (tenant, resource); tenants never contend;
//! * a `Decision` request never takes a lock held at `Automatic` priority:
//!   it gets `Held` and the holder's pre-emption flag is set, which the
//!   automatic run sees at its next checkpoint; an `Automatic` request never
//!   takes any held lock;
//! * `extend`, `release` and `preemption_requested` act only for the current
//!   token;
//! * TTLs run on tokio time ([`tokio::time::Instant`]), so engine tests on
//!   paused time drive expiry with `tokio::time::advance`.
//!
//! # Fencing tokens across restarts
//!
//! Tokens come from one counter shared by every resource, so they are
//! strictly increasing per (tenant, resource) and a resource's entry can be
//! dropped entirely when it is released or expires: memory stays bounded by
//! the live locks, not by every resource ever locked.
//!
//! The counter is seeded at construction from the wall clock in microseconds
//! since the Unix epoch. A restarted process has no old holders of its own,
//! but a holder that was paused across the restart may still present its old
//! token to a fenced resource. Every token issued after the restart exceeds
//! every token issued before it as long as the previous process issued fewer
//! tokens than microseconds passed between its start and the restart (its
//! uptime plus the downtime), i.e. fewer than one million acquisitions per
//! second on average. The assumption breaks only if the host's clock is
//! stepped backwards across the restart by more than that margin.
//!
//! # Memory
//!
//! Expired entries are removed lazily when they are touched, and a sweep
//! runs whenever a map has doubled since the previous sweep (amortised O(1)
//! per insert), so each map holds at most about twice its live entries plus
//! a small constant. [`LocalLocks::purge_expired`] sweeps on demand, for a
//! periodic background job.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::coordination::LockPriority;
use hale_domain::{ResourceRef, TenantId};
use tokio::time::Instant;

use crate::ports::{
    Acquire, Clock, FencingToken, IdempotencyKeys, Lease, LockError, LockHolder, LockRequest,
    ResourceLocks, SystemClock,
};

/// Below this many entries a map is never swept: sweeping a tiny map buys
/// nothing and would run on almost every insert.
const MIN_SWEEP_LEN: usize = 1024;

/// In-process fenced resource locks and idempotency keys.
///
/// Cheap to share behind an `Arc`; every operation takes one short mutex
/// section and never awaits while holding it.
#[derive(Debug)]
pub struct LocalLocks {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The last fencing token issued (for any resource).
    last_token: u64,
    locks: HashMap<(TenantId, ResourceRef), Holding>,
    keys: HashMap<(TenantId, String), Instant>,
    /// Sweep `locks` when it reaches this many entries.
    locks_sweep_at: usize,
    /// Sweep `keys` when it reaches this many entries.
    keys_sweep_at: usize,
}

/// The current holding of one resource.
#[derive(Debug, Clone)]
struct Holding {
    priority: LockPriority,
    holder: String,
    token: FencingToken,
    preemption_requested: bool,
    expires_at: Instant,
}

impl Holding {
    fn is_live(&self, now: Instant) -> bool {
        now < self.expires_at
    }

    fn observed(&self) -> LockHolder {
        LockHolder {
            priority: self.priority,
            holder: self.holder.clone(),
            token: self.token,
            preemption_requested: self.preemption_requested,
        }
    }
}

// === impl LocalLocks ===

impl LocalLocks {
    /// Creates an empty lock table whose fencing tokens start above the
    /// clock's current time in microseconds (see the module docs for why
    /// that keeps tokens increasing across restarts).
    pub fn new(clock: &dyn Clock) -> Self {
        // A clock before the epoch is a misconfigured host; tokens then start
        // at 1, which is still correct within this process.
        let seed = u64::try_from(clock.now().unix_micros()).unwrap_or(0);
        LocalLocks {
            state: Mutex::new(State {
                last_token: seed,
                locks: HashMap::new(),
                keys: HashMap::new(),
                locks_sweep_at: MIN_SWEEP_LEN,
                keys_sweep_at: MIN_SWEEP_LEN,
            }),
        }
    }

    /// Removes every expired lock and idempotency key now.
    ///
    /// Not needed for correctness (expired entries are ignored and swept as
    /// the maps grow); a periodic job may call it to return memory after a
    /// burst.
    pub fn purge_expired(&self) {
        let now = Instant::now();
        let mut st = self.state();
        st.sweep_locks(now);
        st.sweep_keys(now);
    }

    /// The number of entries currently stored (live or not yet purged):
    /// locks plus idempotency keys. For metrics and memory tests.
    pub fn stored_entries(&self) -> usize {
        let st = self.state();
        st.locks.len() + st.keys.len()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section below leaves the maps consistent before
        // anything that could panic, so a poisoned lock still guards valid
        // state and refusing service would only turn one panic into many.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for LocalLocks {
    /// Seeds fencing tokens from the host's real-time clock.
    fn default() -> Self {
        LocalLocks::new(&SystemClock)
    }
}

/// The instant a TTL starting now ends, or `Invalid` for a zero or absurdly
/// large TTL.
fn deadline(now: Instant, ttl: Duration) -> Result<Instant, LockError> {
    if ttl.is_zero() {
        return Err(LockError::Invalid("ttl must be greater than zero".into()));
    }
    now.checked_add(ttl)
        .ok_or_else(|| LockError::Invalid(format!("ttl {ttl:?} is too large")))
}

impl State {
    fn next_token(&mut self) -> Result<FencingToken, LockError> {
        // Unreachable in practice (u64 microseconds last 580,000 years), but
        // repeating a token would break fencing, so refuse rather than wrap.
        let next = self
            .last_token
            .checked_add(1)
            .ok_or_else(|| LockError::Unavailable("fencing token space exhausted".into()))?;
        self.last_token = next;
        Ok(FencingToken(next))
    }

    /// The live holding of the lease's resource if the lease is it; drops an
    /// expired holding on the way.
    fn current(&mut self, lease: &Lease, now: Instant) -> Result<&mut Holding, LockError> {
        let key = (lease.tenant.clone(), lease.resource.clone());
        let live = match self.locks.get(&key) {
            Some(h) => h.is_live(now),
            None => return Err(LockError::NotHeld),
        };
        if !live {
            self.locks.remove(&key);
            return Err(LockError::NotHeld);
        }
        match self.locks.get_mut(&key) {
            Some(h) if h.token == lease.token => Ok(h),
            _ => Err(LockError::NotHeld),
        }
    }

    fn sweep_locks(&mut self, now: Instant) {
        self.locks.retain(|_, h| h.is_live(now));
        self.locks_sweep_at = (self.locks.len() * 2).max(MIN_SWEEP_LEN);
    }

    fn sweep_keys(&mut self, now: Instant) {
        self.keys.retain(|_, expires_at| now < *expires_at);
        self.keys_sweep_at = (self.keys.len() * 2).max(MIN_SWEEP_LEN);
    }
}

#[async_trait]
impl ResourceLocks for LocalLocks {
    async fn acquire(&self, req: &LockRequest) -> Result<Acquire, LockError> {
        let now = Instant::now();
        let expires_at = deadline(now, req.ttl)?;
        let mut st = self.state();
        let key = (req.tenant.clone(), req.resource.clone());
        if let Some(h) = st.locks.get_mut(&key).filter(|h| h.is_live(now)) {
            // Only the decision path may ask a holder to yield, and only an
            // automatic one: a decision holder is never pre-empted.
            if req.priority == LockPriority::Decision && h.priority == LockPriority::Automatic {
                h.preemption_requested = true;
            }
            return Ok(Acquire::Held(h.observed()));
        }
        let token = st.next_token()?;
        if st.locks.len() >= st.locks_sweep_at {
            st.sweep_locks(now);
        }
        st.locks.insert(
            key,
            Holding {
                priority: req.priority,
                holder: req.holder.clone(),
                token,
                preemption_requested: false,
                expires_at,
            },
        );
        Ok(Acquire::Acquired(Lease {
            tenant: req.tenant.clone(),
            resource: req.resource.clone(),
            priority: req.priority,
            holder: req.holder.clone(),
            token,
        }))
    }

    async fn extend(&self, lease: &Lease, ttl: Duration) -> Result<(), LockError> {
        let now = Instant::now();
        let expires_at = deadline(now, ttl)?;
        let mut st = self.state();
        st.current(lease, now)?.expires_at = expires_at;
        Ok(())
    }

    async fn release(&self, lease: &Lease) -> Result<(), LockError> {
        let now = Instant::now();
        let mut st = self.state();
        st.current(lease, now)?;
        st.locks
            .remove(&(lease.tenant.clone(), lease.resource.clone()));
        Ok(())
    }

    async fn inspect(
        &self,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<LockHolder>, LockError> {
        let now = Instant::now();
        let st = self.state();
        Ok(st
            .locks
            .get(&(tenant.clone(), resource.clone()))
            .filter(|h| h.is_live(now))
            .map(Holding::observed))
    }

    async fn preemption_requested(&self, lease: &Lease) -> Result<bool, LockError> {
        let now = Instant::now();
        let mut st = self.state();
        Ok(st.current(lease, now)?.preemption_requested)
    }

    async fn ping(&self) -> Result<(), LockError> {
        Ok(())
    }
}

#[async_trait]
impl IdempotencyKeys for LocalLocks {
    async fn claim(&self, tenant: &TenantId, key: &str, ttl: Duration) -> Result<bool, LockError> {
        let now = Instant::now();
        let expires_at = deadline(now, ttl)?;
        let mut st = self.state();
        let entry = (tenant.clone(), key.to_owned());
        if st.keys.get(&entry).is_some_and(|until| now < *until) {
            return Ok(false);
        }
        if st.keys.len() >= st.keys_sweep_at {
            st.sweep_keys(now);
        }
        st.keys.insert(entry, expires_at);
        Ok(true)
    }

    async fn release_claim(&self, tenant: &TenantId, key: &str) -> Result<(), LockError> {
        self.state().keys.remove(&(tenant.clone(), key.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hale_domain::Timestamp;
    use proptest::prelude::*;

    use super::*;

    struct FixedClock(i64);

    impl Clock for FixedClock {
        fn now(&self) -> Timestamp {
            Timestamp::from_unix_micros(self.0)
        }
    }

    const SEED: i64 = 1_700_000_000_000_000;

    fn locks() -> LocalLocks {
        LocalLocks::new(&FixedClock(SEED))
    }

    fn tenant(id: &str) -> TenantId {
        TenantId::new(id).unwrap()
    }

    fn resource(name: &str) -> ResourceRef {
        ResourceRef::new("prod", "deployment", name).unwrap()
    }

    fn req(t: &str, r: &str, priority: LockPriority, ttl_secs: u64) -> LockRequest {
        LockRequest {
            tenant: tenant(t),
            resource: resource(r),
            priority,
            holder: format!("{}-holder", priority.as_str()),
            ttl: Duration::from_secs(ttl_secs),
        }
    }

    async fn acquired(l: &LocalLocks, r: &LockRequest) -> Lease {
        match l.acquire(r).await.unwrap() {
            Acquire::Acquired(lease) => lease,
            Acquire::Held(h) => panic!("expected Acquired, got Held({h:?})"),
        }
    }

    async fn held(l: &LocalLocks, r: &LockRequest) -> LockHolder {
        match l.acquire(r).await.unwrap() {
            Acquire::Held(h) => h,
            Acquire::Acquired(lease) => panic!("expected Held, got Acquired({lease:?})"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn first_token_is_above_the_clock_seed() {
        let l = locks();
        let lease = acquired(&l, &req("a", "api", LockPriority::Automatic, 10)).await;
        assert_eq!(lease.token, FencingToken(SEED as u64 + 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_restarted_table_issues_greater_tokens() {
        let before = LocalLocks::new(&FixedClock(SEED));
        let r = req("a", "api", LockPriority::Automatic, 10);
        let mut last = FencingToken(0);
        for _ in 0..100 {
            let lease = acquired(&before, &r).await;
            before.release(&lease).await.unwrap();
            last = lease.token;
        }
        // One millisecond later is 1000 microseconds: more than the 100
        // tokens issued, so the new process starts above them.
        let after = LocalLocks::new(&FixedClock(SEED + 1_000));
        let lease = acquired(&after, &r).await;
        assert!(lease.token > last, "{} <= {}", lease.token, last);
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_before_the_epoch_still_issues_tokens() {
        let l = LocalLocks::new(&FixedClock(-5));
        let a = acquired(&l, &req("a", "api", LockPriority::Automatic, 10)).await;
        let b = acquired(&l, &req("a", "web", LockPriority::Automatic, 10)).await;
        assert_eq!((a.token, b.token), (FencingToken(1), FencingToken(2)));
    }

    #[tokio::test(start_paused = true)]
    async fn ttl_expiry_frees_the_lock_and_voids_the_old_lease() {
        let l = locks();
        let r = req("a", "api", LockPriority::Automatic, 30);
        let old = acquired(&l, &r).await;
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(l.inspect(&r.tenant, &r.resource).await.unwrap().is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(l.inspect(&r.tenant, &r.resource).await.unwrap(), None);
        assert_eq!(
            l.extend(&old, Duration::from_secs(30)).await,
            Err(LockError::NotHeld)
        );
        assert_eq!(l.release(&old).await, Err(LockError::NotHeld));
        assert_eq!(l.preemption_requested(&old).await, Err(LockError::NotHeld));
        let new = acquired(&l, &r).await;
        assert!(new.token > old.token);
        assert_eq!(l.release(&old).await, Err(LockError::NotHeld));
        l.release(&new).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn extend_moves_the_deadline_from_now() {
        let l = locks();
        let r = req("a", "api", LockPriority::Decision, 10);
        let lease = acquired(&l, &r).await;
        tokio::time::advance(Duration::from_secs(9)).await;
        l.extend(&lease, Duration::from_secs(10)).await.unwrap();
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(held(&l, &r).await.token, lease.token);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(acquired(&l, &r).await.token > lease.token);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_ttl_is_invalid() {
        let l = locks();
        let mut r = req("a", "api", LockPriority::Automatic, 10);
        r.ttl = Duration::ZERO;
        assert!(matches!(l.acquire(&r).await, Err(LockError::Invalid(_))));
        r.ttl = Duration::MAX;
        assert!(matches!(l.acquire(&r).await, Err(LockError::Invalid(_))));
        r.ttl = Duration::from_secs(1);
        let lease = acquired(&l, &r).await;
        assert!(matches!(
            l.extend(&lease, Duration::ZERO).await,
            Err(LockError::Invalid(_))
        ));
        let t = tenant("a");
        assert!(matches!(
            l.claim(&t, "k", Duration::ZERO).await,
            Err(LockError::Invalid(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn decision_request_flags_an_automatic_holder() {
        let l = locks();
        let auto = acquired(&l, &req("a", "api", LockPriority::Automatic, 60)).await;
        assert!(!l.preemption_requested(&auto).await.unwrap());
        let seen = held(&l, &req("a", "api", LockPriority::Decision, 60)).await;
        assert_eq!(seen.priority, LockPriority::Automatic);
        assert_eq!(seen.token, auto.token);
        assert!(seen.preemption_requested);
        assert!(l.preemption_requested(&auto).await.unwrap());
        // The flag belongs to the holding: the next holder starts clean.
        l.release(&auto).await.unwrap();
        let decision = acquired(&l, &req("a", "api", LockPriority::Decision, 60)).await;
        assert!(!l.preemption_requested(&decision).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn only_decision_over_automatic_requests_preemption() {
        let l = locks();
        let decision = acquired(&l, &req("a", "api", LockPriority::Decision, 60)).await;
        for p in [LockPriority::Automatic, LockPriority::Decision] {
            let seen = held(&l, &req("a", "api", p, 60)).await;
            assert!(!seen.preemption_requested);
        }
        assert!(!l.preemption_requested(&decision).await.unwrap());
        let auto = acquired(&l, &req("a", "web", LockPriority::Automatic, 60)).await;
        assert!(
            !held(&l, &req("a", "web", LockPriority::Automatic, 60))
                .await
                .preemption_requested
        );
        assert!(!l.preemption_requested(&auto).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn idempotency_keys_claim_once_per_ttl_and_tenant() {
        let l = locks();
        let (a, b) = (tenant("a"), tenant("b"));
        let ttl = Duration::from_secs(60);
        assert!(l.claim(&a, "delivery-1", ttl).await.unwrap());
        assert!(!l.claim(&a, "delivery-1", ttl).await.unwrap());
        assert!(l.claim(&b, "delivery-1", ttl).await.unwrap());
        assert!(l.claim(&a, "delivery-2", ttl).await.unwrap());
        tokio::time::advance(ttl).await;
        assert!(l.claim(&a, "delivery-1", ttl).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_released_claim_can_be_claimed_again() {
        let l = locks();
        let (a, b) = (tenant("a"), tenant("b"));
        let ttl = Duration::from_secs(60);
        assert!(l.claim(&a, "delivery-1", ttl).await.unwrap());
        assert!(l.claim(&b, "delivery-1", ttl).await.unwrap());
        l.release_claim(&a, "delivery-1").await.unwrap();
        l.release_claim(&a, "never-claimed").await.unwrap();
        assert!(l.claim(&a, "delivery-1", ttl).await.unwrap());
        assert!(!l.claim(&b, "delivery-1", ttl).await.unwrap());
        assert_eq!(l.stored_entries(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_do_not_accumulate() {
        let l = locks();
        let t = tenant("a");
        for i in 0..10_000 {
            let r = LockRequest {
                tenant: t.clone(),
                resource: resource(&format!("r{i}")),
                priority: LockPriority::Automatic,
                holder: "w".into(),
                ttl: Duration::from_secs(1),
            };
            acquired(&l, &r).await;
            assert!(
                l.claim(&t, &format!("k{i}"), Duration::from_secs(1))
                    .await
                    .unwrap()
            );
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        // At most 100 of each are live (1 s TTL, 10 ms apart); the sweeps
        // keep each map within twice that or the minimum sweep size.
        assert!(
            l.stored_entries() <= 2 * (2 * MIN_SWEEP_LEN + 1),
            "{}",
            l.stored_entries()
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        l.purge_expired();
        assert_eq!(l.stored_entries(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn released_locks_are_removed() {
        let l = locks();
        let lease = acquired(&l, &req("a", "api", LockPriority::Automatic, 60)).await;
        assert_eq!(l.stored_entries(), 1);
        l.release(&lease).await.unwrap();
        assert_eq!(l.stored_entries(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn contending_tasks_never_share_a_lock() {
        let l = Arc::new(locks());
        let holders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (l, holders, tokens) = (l.clone(), holders.clone(), tokens.clone());
            tasks.push(tokio::spawn(async move {
                let mut r = req("a", "api", LockPriority::Automatic, 5);
                r.holder = format!("task-{i}");
                let lease = loop {
                    match l.acquire(&r).await.unwrap() {
                        Acquire::Acquired(lease) => break lease,
                        Acquire::Held(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                    }
                };
                let before = holders.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                assert_eq!(before, 0, "two holders at once");
                tokens.lock().unwrap().push(lease.token);
                tokio::time::sleep(Duration::from_millis(3)).await;
                holders.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                l.release(&lease).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let tokens = tokens.lock().unwrap();
        assert_eq!(tokens.len(), 20);
        assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
    }

    /// One step of the model-checked property below.
    #[derive(Debug, Clone)]
    enum Op {
        Acquire {
            tenant: usize,
            resource: usize,
            decision: bool,
            ttl_ms: u64,
        },
        Release {
            lease: usize,
        },
        Extend {
            lease: usize,
            ttl_ms: u64,
        },
        Advance {
            ms: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..2usize, 0..2usize, any::<bool>(), 1..50u64).prop_map(
                |(tenant, resource, decision, ttl_ms)| Op::Acquire {
                    tenant,
                    resource,
                    decision,
                    ttl_ms
                }
            ),
            (0..16usize).prop_map(|lease| Op::Release { lease }),
            (0..16usize, 1..50u64).prop_map(|(lease, ttl_ms)| Op::Extend { lease, ttl_ms }),
            (1..40u64).prop_map(|ms| Op::Advance { ms }),
        ]
    }

    /// What the model expects of one (tenant, resource).
    #[derive(Debug, Clone, Copy)]
    struct ModelHolding {
        token: FencingToken,
        decision: bool,
        preempt: bool,
        expires_ms: u64,
    }

    proptest! {
        /// Against a plain model: at most one live holder per resource,
        /// tokens strictly increase per resource, only the current token can
        /// act, and pre-emption is requested only of automatic holders.
        #[test]
        fn prop_local_locks_match_the_contract_model(ops in prop::collection::vec(op(), 1..60)) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = locks();
                let tenants = [tenant("a"), tenant("b")];
                let resources = [resource("api"), resource("web")];
                let mut model: HashMap<(usize, usize), ModelHolding> = HashMap::new();
                let mut last_token: HashMap<(usize, usize), FencingToken> = HashMap::new();
                let mut leases: Vec<((usize, usize), Lease)> = Vec::new();
                let mut now_ms = 0u64;
                for op in ops {
                    match op {
                        Op::Acquire { tenant: t, resource: r, decision, ttl_ms } => {
                            let priority =
                                if decision { LockPriority::Decision } else { LockPriority::Automatic };
                            let request = LockRequest {
                                tenant: tenants[t].clone(),
                                resource: resources[r].clone(),
                                priority,
                                holder: "h".into(),
                                ttl: Duration::from_millis(ttl_ms),
                            };
                            let got = l.acquire(&request).await.unwrap();
                            let live = model.get_mut(&(t, r)).filter(|m| now_ms < m.expires_ms);
                            match (got, live) {
                                (Acquire::Acquired(lease), None) => {
                                    if let Some(prev) = last_token.get(&(t, r)) {
                                        assert!(lease.token > *prev);
                                    }
                                    last_token.insert((t, r), lease.token);
                                    model.insert((t, r), ModelHolding {
                                        token: lease.token,
                                        decision,
                                        preempt: false,
                                        expires_ms: now_ms + ttl_ms,
                                    });
                                    leases.push(((t, r), lease));
                                }
                                (Acquire::Held(seen), Some(m)) => {
                                    if decision && !m.decision {
                                        m.preempt = true;
                                    }
                                    assert_eq!(seen.token, m.token);
                                    assert_eq!(seen.preemption_requested, m.preempt);
                                }
                                (got, live) => panic!("backend {got:?} but model {live:?}"),
                            }
                        }
                        Op::Release { lease } | Op::Extend { lease, .. } if lease >= leases.len() => {}
                        Op::Release { lease } => {
                            let (key, lease) = &leases[lease];
                            let current = model
                                .get(key)
                                .is_some_and(|m| m.token == lease.token && now_ms < m.expires_ms);
                            let got = l.release(lease).await;
                            if current {
                                assert_eq!(got, Ok(()));
                                model.remove(key);
                            } else {
                                assert_eq!(got, Err(LockError::NotHeld));
                            }
                        }
                        Op::Extend { lease, ttl_ms } => {
                            let (key, lease) = &leases[lease];
                            let got = l.extend(lease, Duration::from_millis(ttl_ms)).await;
                            match model.get_mut(key) {
                                Some(m) if m.token == lease.token && now_ms < m.expires_ms => {
                                    assert_eq!(got, Ok(()));
                                    m.expires_ms = now_ms + ttl_ms;
                                    let flagged = l.preemption_requested(lease).await.unwrap();
                                    assert_eq!(flagged, m.preempt);
                                }
                                _ => assert_eq!(got, Err(LockError::NotHeld)),
                            }
                        }
                        Op::Advance { ms } => {
                            tokio::time::advance(Duration::from_millis(ms)).await;
                            now_ms += ms;
                        }
                    }
                }
            });
        }
    }
}
