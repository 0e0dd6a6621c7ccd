//! Hale's circuit breaker against the `failsafe` crate's consecutive-failures
//! breaker, in one run:
//!
//! * `closed_success`: admit + report success on a closed breaker;
//! * `open_reject`: a call rejected by an open breaker (both read the clock);
//! * `threads/N`: closed+success per call, per thread, with N threads
//!   hammering one shared breaker (equal figures for 1 and 2 threads mean no
//!   slowdown from contention). Each thread's time is its CPU time
//!   (`CLOCK_THREAD_CPUTIME_ID`), so time spent descheduled by other
//!   processes on a busy machine does not count; contention (cache-line
//!   ping-pong, spinning on locks) does.
//!
//! Run: `cargo bench -p hale-domain --bench breaker`

// Benchmarks measure wall time, so they read the clock directly.
#![allow(clippy::disallowed_methods, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use failsafe::{CircuitBreaker as _, Config, backoff, failure_policy};
use hale_domain::breaker::{BreakerConfig, CircuitBreaker};
use hale_domain::failure::FailureClass;
use hale_domain::time::Timestamp;

fn wall_now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_unix_micros(micros)
}

fn failsafe_breaker() -> impl failsafe::CircuitBreaker + Clone + Send + Sync {
    Config::new()
        .failure_policy(failure_policy::consecutive_failures(
            3,
            backoff::constant(Duration::from_secs(60)),
        ))
        .build()
}

fn hale_breaker() -> CircuitBreaker {
    CircuitBreaker::new(BreakerConfig::default()).expect("seed defaults are valid")
}

#[inline]
fn hale_call(b: &CircuitBreaker) {
    if let Ok(p) = b.admit(wall_now) {
        black_box(b.record_success(&p, wall_now));
    }
}

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker/closed_success");
    let hale = hale_breaker();
    g.bench_function("hale", |b| b.iter(|| hale_call(black_box(&hale))));
    let fs = failsafe_breaker();
    g.bench_function("failsafe", |b| {
        b.iter(|| black_box(black_box(&fs).call(|| Ok::<(), ()>(()))))
    });
    g.finish();
}

fn open_reject(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker/open_reject");
    let hale = hale_breaker();
    for _ in 0..3 {
        let p = hale.admit(wall_now).expect("closed");
        hale.record_failure(&p, FailureClass::Transient, wall_now());
    }
    g.bench_function("hale", |b| {
        b.iter(|| black_box(hale.admit(wall_now).is_err()))
    });
    let fs = failsafe_breaker();
    for _ in 0..3 {
        let _ = fs.call(|| Err::<(), ()>(()));
    }
    assert!(!fs.is_call_permitted(), "failsafe breaker is open");
    g.bench_function("failsafe", |b| {
        b.iter(|| black_box(fs.call(|| Ok::<(), ()>(())).is_err()))
    });
    g.finish();
}

fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker/threads");
    for n in [1usize, 2] {
        let hale = hale_breaker();
        g.bench_function(format!("hale/{n}"), |b| {
            b.iter_custom(|iters| per_thread_time(n, iters, || hale_call(&hale)))
        });
        let fs = failsafe_breaker();
        g.bench_function(format!("failsafe/{n}"), |b| {
            b.iter_custom(|iters| {
                per_thread_time(n, iters, || {
                    black_box(fs.call(|| Ok::<(), ()>(())).is_ok());
                })
            })
        });
    }
    g.finish();
}

/// This thread's CPU time.
fn thread_cpu_time() -> Option<Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

/// Runs `op` `iters` times on each of `n` threads at once; returns the mean
/// on-CPU time (wall time where that is unavailable) one thread needed for
/// its `iters` calls.
fn per_thread_time(n: usize, iters: u64, op: impl Fn() + Sync) -> Duration {
    let barrier = std::sync::Barrier::new(n);
    let total: Duration = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let cpu0 = thread_cpu_time();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    match (cpu0, thread_cpu_time()) {
                        (Some(a), Some(b)) => b.saturating_sub(a),
                        _ => start.elapsed(),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .sum()
    });
    total / u32::try_from(n).unwrap_or(1)
}

criterion_group!(benches, closed_success, open_reject, threads);
criterion_main!(benches);
