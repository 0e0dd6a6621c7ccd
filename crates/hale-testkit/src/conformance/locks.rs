//! The `ResourceLocks` / `IdempotencyKeys` contract, written once and run
//! unchanged against every lock backend (the in-process `LocalLocks`, Redis).
//!
//! Each check is a plain async function over `&dyn ResourceLocks` (or
//! `&dyn IdempotencyKeys`), so it can also be called from a hand-written
//! test. [`lock_conformance_tests!`](crate::lock_conformance_tests) expands
//! into one `#[tokio::test]` per check:
//!
//! ```ignore
//! async fn backend() -> Option<std::sync::Arc<MyLocks>> {
//!     // `None` skips every check (e.g. the service is not configured).
//!     Some(std::sync::Arc::new(MyLocks::new()))
//! }
//! hale_testkit::lock_conformance_tests!(backend);
//! ```
//!
//! The factory must return a fresh client each call that talks to the same
//! backend (the restart check calls it twice). Every check uses its own
//! random tenant ids, so checks may run in parallel against one shared
//! service and leftovers of an earlier run never interfere.
//!
//! The checks run on real time, because a service's expiry (Redis) cannot
//! see tokio's paused clock. A lock left to expire has a 250 ms TTL; one that
//! must still be live at the check's next call has 1 s; every wait past a
//! TTL adds 700 ms, so the checks hold on a loaded machine and a whole suite
//! still runs in about two seconds (the checks run in parallel).

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hale_domain::coordination::LockPriority::{self, Automatic, Decision};
use hale_domain::{ResourceRef, TenantId};
use hale_engine::ports::{
    Acquire, FencingToken, IdempotencyKeys, Lease, LockError, LockHolder, LockRequest,
    ResourceLocks,
};

/// The TTL of locks and claims that a check lets expire untouched.
pub const SHORT_TTL: Duration = Duration::from_millis(250);

/// The TTL of locks and claims that must still be live for the next call
/// of the same check (extend it, see it claimed): long enough that a loaded
/// machine does not let it lapse between two calls.
pub const LIVE_TTL: Duration = Duration::from_secs(1);

/// How long expiry checks wait beyond a TTL: long enough for a
/// service-backed clock and a busy machine, short enough for a test suite.
pub const EXPIRY_WAIT: Duration = Duration::from_millis(700);

/// A TTL that no check outlives.
pub const LONG_TTL: Duration = Duration::from_secs(30);

// === Helpers ===

/// A tenant id no other check, run or process uses.
pub fn unique_tenant(label: &str) -> TenantId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded randomly per process, which gives unique ids
    // across runs against a long-lived service without a clock or a
    // random-number dependency.
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    // A failure here is a bug in this helper, not in the backend under test.
    TenantId::new(format!("lk-{label}-{:016x}", h.finish())).expect("generated tenant id is valid")
}

/// `prod:deployment/{name}`.
pub fn resource(name: &str) -> ResourceRef {
    ResourceRef::new("prod", "deployment", name).expect("test resource is valid")
}

/// One (tenant, resource) under test, with assertions phrased in the
/// contract's words.
pub struct Subject<'a> {
    locks: &'a dyn ResourceLocks,
    /// The tenant (unique to this subject unless built with [`Subject::on`]).
    pub tenant: TenantId,
    /// The resource.
    pub resource: ResourceRef,
}

impl<'a> Subject<'a> {
    /// A fresh tenant (labelled for debugging) and `prod:deployment/api`.
    pub fn new(locks: &'a dyn ResourceLocks, label: &str) -> Self {
        Subject::on(locks, unique_tenant(label), resource("api"))
    }

    /// A given tenant and resource.
    pub fn on(locks: &'a dyn ResourceLocks, tenant: TenantId, resource: ResourceRef) -> Self {
        Subject {
            locks,
            tenant,
            resource,
        }
    }

    /// A request for this subject.
    pub fn request(&self, priority: LockPriority, holder: &str, ttl: Duration) -> LockRequest {
        LockRequest {
            tenant: self.tenant.clone(),
            resource: self.resource.clone(),
            priority,
            holder: holder.to_owned(),
            ttl,
        }
    }

    /// Acquires and insists on `Acquired` with a lease matching the request.
    pub async fn take(&self, priority: LockPriority, holder: &str, ttl: Duration) -> Lease {
        let req = self.request(priority, holder, ttl);
        match self.locks.acquire(&req).await {
            Ok(Acquire::Acquired(lease)) => {
                let expected = (
                    &req.tenant,
                    &req.resource,
                    req.priority,
                    req.holder.as_str(),
                );
                let got = (
                    &lease.tenant,
                    &lease.resource,
                    lease.priority,
                    lease.holder.as_str(),
                );
                assert_eq!(got, expected, "the lease does not describe the request");
                lease
            }
            other => panic!(
                "acquire {} {}: expected Acquired, got {other:?}",
                self.tenant, self.resource
            ),
        }
    }

    /// Acquires (with [`LONG_TTL`]) and insists on `Held`.
    pub async fn held(&self, priority: LockPriority, holder: &str) -> LockHolder {
        match self
            .locks
            .acquire(&self.request(priority, holder, LONG_TTL))
            .await
        {
            Ok(Acquire::Held(holder)) => holder,
            other => panic!(
                "acquire {} {}: expected Held, got {other:?}",
                self.tenant, self.resource
            ),
        }
    }

    /// The current holder as `inspect` reports it.
    pub async fn holder(&self) -> Option<LockHolder> {
        self.locks
            .inspect(&self.tenant, &self.resource)
            .await
            .expect("inspect")
    }

    /// Releases a lease that must be current.
    pub async fn release(&self, lease: &Lease) {
        self.locks
            .release(lease)
            .await
            .expect("release the current lease");
    }

    /// The pre-emption flag of a lease that must be current.
    pub async fn flagged(&self, lease: &Lease) -> bool {
        self.locks
            .preemption_requested(lease)
            .await
            .expect("preemption_requested of the current lease")
    }

    /// `release`, `extend` and `preemption_requested` all answer `NotHeld`.
    pub async fn assert_void(&self, lease: &Lease, why: &str) {
        let release = self.locks.release(lease).await;
        let extend = self.locks.extend(lease, LONG_TTL).await;
        let flagged = self.locks.preemption_requested(lease).await;
        for (op, got) in [
            ("release", release),
            ("extend", extend),
            ("preemption_requested", flagged.map(|_| ())),
        ] {
            assert!(
                matches!(got, Err(LockError::NotHeld)),
                "{op} {why}: expected NotHeld, got {got:?}"
            );
        }
    }
}

// === Checks: acquire and tokens ===

/// A free resource is `Acquired`; a second request sees the first holder.
pub async fn free_acquire_then_held(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "free-acquire");
    let first = s.take(Automatic, "run-1", LONG_TTL).await;
    let seen = s.held(Automatic, "run-2").await;
    assert_eq!(
        (seen.token, seen.holder.as_str(), seen.priority),
        (first.token, "run-1", Automatic)
    );
    assert!(!seen.preemption_requested);
    s.release(&first).await;
}

/// Tokens strictly increase over acquire/release cycles of one resource.
pub async fn tokens_increase_over_cycles(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "token-cycles");
    let mut last: Option<FencingToken> = None;
    for i in 0..10 {
        let lease = s
            .take(
                if i % 2 == 0 { Automatic } else { Decision },
                "cycler",
                LONG_TTL,
            )
            .await;
        if let Some(prev) = last {
            assert!(lease.token > prev, "token {} after {prev}", lease.token);
        }
        last = Some(lease.token);
        s.release(&lease).await;
    }
}

/// A new client of the same backend (a restart of Hale) continues above the
/// tokens the previous client saw.
pub async fn tokens_increase_across_clients<F, Fut>(first: &dyn ResourceLocks, reconnect: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Arc<dyn ResourceLocks>>,
{
    let s = Subject::new(first, "token-restart");
    let mut last = FencingToken(0);
    for _ in 0..3 {
        let lease = s.take(Automatic, "old", LONG_TTL).await;
        s.release(&lease).await;
        last = lease.token;
    }
    // A restart takes time; a millisecond also covers backends whose token
    // seed is the wall clock in microseconds.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let second = reconnect().await;
    let s = Subject::on(&*second, s.tenant, s.resource);
    let lease = s.take(Automatic, "new", LONG_TTL).await;
    assert!(
        lease.token > last,
        "token {} after restart, was {last}",
        lease.token
    );
    s.release(&lease).await;
}

/// `release`, `extend` and `preemption_requested` with a stale or forged
/// token return `NotHeld` and leave the current holder alone.
pub async fn stale_tokens_are_not_held(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "stale-token");
    let old = s.take(Automatic, "run", LONG_TTL).await;
    s.release(&old).await;
    s.assert_void(&old, "after release").await;
    let current = s.take(Automatic, "run", LONG_TTL).await;
    s.assert_void(&old, "with a stale token").await;
    let forged = Lease {
        token: FencingToken(current.token.0 + 1),
        ..current.clone()
    };
    s.assert_void(&forged, "with a future token").await;
    assert_eq!(s.holder().await.map(|h| h.token), Some(current.token));
    locks
        .extend(&current, LONG_TTL)
        .await
        .expect("extend the current lease");
    assert!(!s.flagged(&current).await);
    s.release(&current).await;
    assert_eq!(s.holder().await, None);
}

/// Zero TTLs are rejected as `Invalid`.
pub async fn zero_ttl_is_invalid(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "zero-ttl");
    let got = locks
        .acquire(&s.request(Automatic, "run", Duration::ZERO))
        .await;
    assert!(
        matches!(got, Err(LockError::Invalid(_))),
        "acquire with zero ttl: {got:?}"
    );
    let lease = s.take(Automatic, "run", LONG_TTL).await;
    let got = locks.extend(&lease, Duration::ZERO).await;
    assert!(
        matches!(got, Err(LockError::Invalid(_))),
        "extend with zero ttl: {got:?}"
    );
    s.release(&lease).await;
}

// === Checks: expiry ===

/// A lock whose TTL elapsed is free; its old token can no longer release,
/// extend or read the pre-emption flag, and the next token is greater.
pub async fn ttl_expiry_frees_the_lock(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "ttl-expiry");
    let old = s.take(Automatic, "run", SHORT_TTL).await;
    tokio::time::sleep(SHORT_TTL + EXPIRY_WAIT).await;
    assert_eq!(s.holder().await, None, "expired lock still held");
    s.assert_void(&old, "after expiry").await;
    let new = s.take(Decision, "next", LONG_TTL).await;
    assert!(
        new.token > old.token,
        "token {} after expiry of {}",
        new.token,
        old.token
    );
    s.assert_void(&old, "after expiry and a new holder").await;
    s.release(&new).await;
}

/// `extend` keeps a lock past its original TTL.
pub async fn extend_outlives_the_original_ttl(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "extend");
    let lease = s.take(Automatic, "run", LIVE_TTL).await;
    locks
        .extend(&lease, LONG_TTL)
        .await
        .expect("extend the current lease");
    tokio::time::sleep(LIVE_TTL + EXPIRY_WAIT).await;
    assert_eq!(s.held(Automatic, "other").await.token, lease.token);
    s.release(&lease).await;
}

// === Checks: priority classes ===

/// A `Decision` request on an `Automatic` holder is `Held` and sets the
/// holder's pre-emption flag, visible through `preemption_requested` and
/// `inspect`; the next holder starts without it.
pub async fn decision_requests_preemption_of_automatic(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "preempt");
    let auto = s.take(Automatic, "watcher", LONG_TTL).await;
    assert!(!s.flagged(&auto).await);
    let seen = s.held(Decision, "approval").await;
    assert_eq!(
        (seen.token, seen.holder.as_str(), seen.priority),
        (auto.token, "watcher", Automatic)
    );
    assert!(
        seen.preemption_requested,
        "the decision request was not recorded"
    );
    assert!(s.flagged(&auto).await);
    assert!(s.holder().await.is_some_and(|h| h.preemption_requested));
    // The automatic run yields at its checkpoint; the decision path takes over.
    s.release(&auto).await;
    let decision = s.take(Decision, "approval", LONG_TTL).await;
    assert!(decision.token > auto.token);
    assert!(!s.flagged(&decision).await);
    s.release(&decision).await;
}

/// An `Automatic` request never takes a held lock and never requests
/// pre-emption, whatever the holder's priority.
pub async fn automatic_never_takes_a_held_lock(locks: &dyn ResourceLocks) {
    let t = unique_tenant("auto-held");
    for (name, holder_priority) in [("by-decision", Decision), ("by-auto", Automatic)] {
        let s = Subject::on(locks, t.clone(), resource(name));
        let lease = s.take(holder_priority, "first", LONG_TTL).await;
        for _ in 0..3 {
            let seen = s.held(Automatic, "watcher").await;
            assert_eq!(seen.token, lease.token);
            assert!(!seen.preemption_requested);
        }
        assert!(!s.flagged(&lease).await);
        s.release(&lease).await;
    }
}

/// A `Decision` request on a `Decision` holder is `Held` without a
/// pre-emption request: approvals do not pre-empt each other.
pub async fn decision_does_not_preempt_decision(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "decision-decision");
    let first = s.take(Decision, "approval-1", LONG_TTL).await;
    let seen = s.held(Decision, "approval-2").await;
    assert_eq!((seen.token, seen.priority), (first.token, Decision));
    assert!(!seen.preemption_requested);
    assert!(!s.flagged(&first).await);
    s.release(&first).await;
}

// === Checks: tenancy and inspect ===

/// Two tenants locking the same resource name never contend, and one
/// tenant's lease does nothing to the other's lock.
pub async fn tenants_never_contend(locks: &dyn ResourceLocks) {
    let a = Subject::new(locks, "tenant-a");
    let b = Subject::new(locks, "tenant-b");
    assert_eq!(a.resource, b.resource);
    let la = a.take(Automatic, "a-run", LONG_TTL).await;
    let lb = b.take(Automatic, "b-run", LONG_TTL).await;
    // A lease carried over to the other tenant is not that tenant's lease
    // (unless the two counters happen to agree on the number).
    let crossed = Lease {
        tenant: b.tenant.clone(),
        ..la.clone()
    };
    if crossed.token != lb.token {
        b.assert_void(&crossed, "across tenants").await;
    }
    a.held(Decision, "a-approval").await;
    let b_seen = b.holder().await.expect("b still holds");
    assert_eq!(b_seen.token, lb.token);
    assert!(
        !b_seen.preemption_requested,
        "a's decision request reached tenant b"
    );
    a.release(&la).await;
    assert_eq!(b.holder().await.map(|h| h.token), Some(lb.token));
    b.release(&lb).await;
}

/// `inspect` reports nothing for a free resource and the holder otherwise.
pub async fn inspect_reports_the_holder(locks: &dyn ResourceLocks) {
    let s = Subject::new(locks, "inspect");
    assert_eq!(s.holder().await, None);
    let lease = s.take(Decision, "approval-7", LONG_TTL).await;
    let expected = LockHolder {
        priority: Decision,
        holder: "approval-7".into(),
        token: lease.token,
        preemption_requested: false,
    };
    assert_eq!(s.holder().await, Some(expected));
    s.release(&lease).await;
    assert_eq!(s.holder().await, None);
    locks.ping().await.expect("a working backend answers ping");
}

// === Checks: contention ===

/// 50 tasks contend for one resource: never two holders at once, and the
/// tokens, in the order the lock was held, strictly increase.
pub async fn contending_tasks_never_share(locks: Arc<dyn ResourceLocks>) {
    const TASKS: usize = 50;
    const ROUNDS: usize = 2;
    let s = Subject::new(&*locks, "contention");
    let holders = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(std::sync::Mutex::new(Vec::with_capacity(TASKS * ROUNDS)));
    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let (locks, holders, tokens) = (locks.clone(), holders.clone(), tokens.clone());
        let req = s.request(Automatic, &format!("task-{i}"), LONG_TTL);
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let lease = loop {
                    match locks.acquire(&req).await {
                        Ok(Acquire::Acquired(lease)) => break lease,
                        Ok(Acquire::Held(_)) => tokio::time::sleep(Duration::from_millis(1)).await,
                        Err(e) => panic!("acquire under contention: {e}"),
                    }
                };
                let others = holders.fetch_add(1, Ordering::SeqCst);
                assert_eq!(others, 0, "two holders at once");
                tokens.lock().expect("tokens lock").push(lease.token);
                tokio::time::sleep(Duration::from_millis(1)).await;
                holders.fetch_sub(1, Ordering::SeqCst);
                locks
                    .release(&lease)
                    .await
                    .expect("release the current lease");
            }
        }));
    }
    let all = futures::future::join_all(tasks);
    let results = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("contention finished within 60 s");
    for result in results {
        result.expect("contending task");
    }
    let tokens = tokens.lock().expect("tokens lock");
    assert_eq!(tokens.len(), TASKS * ROUNDS);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens not increasing: {tokens:?}"
    );
}

// === Checks: idempotency keys ===

async fn claim(keys: &dyn IdempotencyKeys, tenant: &TenantId, key: &str, ttl: Duration) -> bool {
    keys.claim(tenant, key, ttl).await.expect("claim")
}

/// A key is claimed once; later claims within the TTL return false; other
/// keys and other tenants are independent.
pub async fn idempotency_claims_once(keys: &dyn IdempotencyKeys) {
    let (a, b) = (unique_tenant("idem-a"), unique_tenant("idem-b"));
    assert!(claim(keys, &a, "delivery-1", LONG_TTL).await);
    assert!(!claim(keys, &a, "delivery-1", LONG_TTL).await);
    assert!(!claim(keys, &a, "delivery-1", LONG_TTL).await);
    assert!(claim(keys, &a, "delivery-2", LONG_TTL).await);
    assert!(
        claim(keys, &b, "delivery-1", LONG_TTL).await,
        "tenants share keys"
    );
    assert!(!claim(keys, &b, "delivery-1", LONG_TTL).await);
}

/// A claim expires with its TTL, and then the key can be claimed again.
pub async fn idempotency_claims_expire(keys: &dyn IdempotencyKeys) {
    let t = unique_tenant("idem-expiry");
    assert!(claim(keys, &t, "delivery", LIVE_TTL).await);
    assert!(!claim(keys, &t, "delivery", LIVE_TTL).await);
    tokio::time::sleep(LIVE_TTL + EXPIRY_WAIT).await;
    assert!(
        claim(keys, &t, "delivery", LONG_TTL).await,
        "claim did not expire"
    );
    assert!(!claim(keys, &t, "delivery", LONG_TTL).await);
    let got = keys.claim(&t, "zero", Duration::ZERO).await;
    assert!(
        matches!(got, Err(LockError::Invalid(_))),
        "claim with zero ttl: {got:?}"
    );
}

/// A released claim can be claimed again (a failed delivery's retry gets
/// through); releasing an absent key is `Ok`; release is per tenant.
pub async fn idempotency_release_lets_a_retry_through(keys: &dyn IdempotencyKeys) {
    let (a, b) = (
        unique_tenant("idem-release-a"),
        unique_tenant("idem-release-b"),
    );
    assert!(claim(keys, &a, "delivery", LONG_TTL).await);
    assert!(claim(keys, &b, "delivery", LONG_TTL).await);
    keys.release_claim(&a, "delivery")
        .await
        .expect("release a claim");
    keys.release_claim(&a, "never-claimed")
        .await
        .expect("release an absent claim");
    assert!(
        claim(keys, &a, "delivery", LONG_TTL).await,
        "release did not free the key"
    );
    assert!(!claim(keys, &a, "delivery", LONG_TTL).await);
    assert!(
        !claim(keys, &b, "delivery", LONG_TTL).await,
        "release reached another tenant"
    );
}

/// A delivery's keys claimed at once answer as one claim each would: new
/// keys `true`, keys claimed before (singly or in a batch) `false`, a key
/// repeated in the batch `true` only the first time; per tenant.
pub async fn idempotency_claims_a_batch_like_one_claim_each(keys: &dyn IdempotencyKeys) {
    let (a, b) = (unique_tenant("idem-batch-a"), unique_tenant("idem-batch-b"));
    let batch = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert!(claim(keys, &a, "d-1", LONG_TTL).await);
    let got = keys
        .claim_all(&a, &batch(&["d-1", "d-2", "d-3", "d-2"]), LONG_TTL)
        .await
        .expect("claim a batch");
    assert_eq!(got, [false, true, true, false]);
    let again = keys
        .claim_all(&a, &batch(&["d-3", "d-4"]), LONG_TTL)
        .await
        .expect("claim a batch");
    assert_eq!(again, [false, true]);
    assert!(
        !claim(keys, &a, "d-4", LONG_TTL).await,
        "a batch claim is a claim"
    );
    let other = keys
        .claim_all(&b, &batch(&["d-1", "d-2"]), LONG_TTL)
        .await
        .expect("claim a batch");
    assert_eq!(other, [true, true], "batches never cross tenants");
    assert_eq!(
        keys.claim_all(&a, &[], LONG_TTL)
            .await
            .expect("empty batch"),
        Vec::<bool>::new()
    );
}

/// Splits one backend into the two port objects the checks take.
pub fn split<T>(backend: Arc<T>) -> (Arc<dyn ResourceLocks>, Arc<dyn IdempotencyKeys>)
where
    T: ResourceLocks + IdempotencyKeys + 'static,
{
    (backend.clone(), backend)
}

/// Expands into one `#[tokio::test]` per lock contract check.
///
/// `$factory` is an async fn (path) returning `Option<Arc<T>>` where `T`
/// implements `ResourceLocks + IdempotencyKeys`; `None` skips the check (the
/// factory prints why). The calling crate needs `tokio` with the `macros`
/// and `rt-multi-thread` features.
#[macro_export]
macro_rules! lock_conformance_tests {
    ($factory:path) => {
        $crate::lock_conformance_tests!(@locks $factory;
            free_acquire_then_held,
            tokens_increase_over_cycles,
            stale_tokens_are_not_held,
            zero_ttl_is_invalid,
            ttl_expiry_frees_the_lock,
            extend_outlives_the_original_ttl,
            decision_requests_preemption_of_automatic,
            automatic_never_takes_a_held_lock,
            decision_does_not_preempt_decision,
            tenants_never_contend,
            inspect_reports_the_holder,
        );
        $crate::lock_conformance_tests!(@keys $factory;
            idempotency_claims_once,
            idempotency_claims_expire,
            idempotency_release_lets_a_retry_through,
            idempotency_claims_a_batch_like_one_claim_each,
        );

        #[::tokio::test]
        async fn tokens_increase_across_clients() {
            let Some(first) = $factory().await else { return };
            let (first, _) = $crate::conformance::locks::split(first);
            $crate::conformance::locks::tokens_increase_across_clients(&*first, || async {
                let second = $factory().await.expect("the factory answered once, so again");
                $crate::conformance::locks::split(second).0
            })
            .await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contending_tasks_never_share() {
            let Some(backend) = $factory().await else { return };
            let (locks, _) = $crate::conformance::locks::split(backend);
            $crate::conformance::locks::contending_tasks_never_share(locks).await;
        }
    };
    (@locks $factory:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $check() {
                let Some(backend) = $factory().await else { return };
                let (locks, _) = $crate::conformance::locks::split(backend);
                $crate::conformance::locks::$check(&*locks).await;
            }
        )*
    };
    (@keys $factory:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $check() {
                let Some(backend) = $factory().await else { return };
                let (_, keys) = $crate::conformance::locks::split(backend);
                $crate::conformance::locks::$check(&*keys).await;
            }
        )*
    };
}
