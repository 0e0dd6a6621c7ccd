//! The background task manager (seed 002 `BackgroundTaskManager`).
//!
//! Every periodic job in Hale registers here under a unique id: re-registering
//! an id replaces (and stops) the old task, the number of tasks is capped
//! (seed: 10), each task keeps statistics, and [`BackgroundTasks::shutdown`]
//! stops them all gracefully. Nothing else in Hale runs a periodic loop.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale_domain::Timestamp;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::ports::Clock;

/// A job's future.
pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A periodic job: called once per tick.
pub type Job = Arc<dyn Fn() -> JobFuture + Send + Sync>;

/// Registration options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskOptions {
    /// Replace an existing task with the same id (otherwise refuse).
    pub replace: bool,
    /// Run once right away instead of after the first period.
    pub run_immediately: bool,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            replace: true,
            run_immediately: false,
        }
    }
}

/// A registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The cap is reached.
    #[error("background task limit reached ({max}); refusing {id:?}")]
    LimitReached {
        /// The cap.
        max: usize,
        /// The refused id.
        id: String,
    },
    /// The id exists and `replace` was false.
    #[error("background task {0:?} already registered")]
    Duplicate(String),
    /// The period is zero.
    #[error("background task {0:?} needs a positive period")]
    ZeroPeriod(String),
    /// The manager is shut down.
    #[error("background tasks are shut down")]
    ShutDown,
}

#[derive(Debug, Default, Clone)]
struct Stats {
    executions: u64,
    failures: u64,
    last_run_at: Option<Timestamp>,
    last_error: Option<String>,
}

struct Task {
    period: Duration,
    registered: Instant,
    stats: Arc<Mutex<Stats>>,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

/// Statistics of one task (seed 002 `/status` `backgroundTasks.tasks[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStats {
    /// The id.
    pub id: String,
    /// Always `interval`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whether it is running.
    pub enabled: bool,
    /// Period in seconds.
    pub interval_seconds: u64,
    /// Completed runs.
    pub execution_count: u64,
    /// Failed runs.
    pub failure_count: u64,
    /// Last run.
    pub last_run_at: Option<Timestamp>,
    /// Last error.
    pub last_error: Option<String>,
    /// Seconds since registration.
    pub uptime: u64,
}

/// The manager.
pub struct BackgroundTasks {
    max: usize,
    clock: Arc<dyn Clock>,
    root: CancellationToken,
    tasks: Mutex<BTreeMap<String, Task>>,
}

impl std::fmt::Debug for BackgroundTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundTasks")
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl BackgroundTasks {
    /// A manager allowing at most `max` tasks.
    pub fn new(max: usize, clock: Arc<dyn Clock>) -> Self {
        BackgroundTasks {
            max,
            clock,
            root: CancellationToken::new(),
            tasks: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Task>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a periodic job. Must be called inside a tokio runtime.
    pub fn register_interval(
        &self,
        id: &str,
        period: Duration,
        job: Job,
        opts: TaskOptions,
    ) -> Result<(), TaskError> {
        if period.is_zero() {
            return Err(TaskError::ZeroPeriod(id.to_owned()));
        }
        if self.root.is_cancelled() {
            return Err(TaskError::ShutDown);
        }
        let mut tasks = self.lock();
        if tasks.contains_key(id) {
            if !opts.replace {
                return Err(TaskError::Duplicate(id.to_owned()));
            }
            if let Some(old) = tasks.remove(id) {
                old.cancel.cancel();
            }
        } else if tasks.len() >= self.max {
            return Err(TaskError::LimitReached {
                max: self.max,
                id: id.to_owned(),
            });
        }
        let cancel = self.root.child_token();
        let stats = Arc::new(Mutex::new(Stats::default()));
        let handle = tokio::spawn(run_task(
            id.to_owned(),
            period,
            job,
            opts.run_immediately,
            cancel.clone(),
            stats.clone(),
            self.clock.clone(),
        ));
        tasks.insert(
            id.to_owned(),
            Task {
                period,
                registered: Instant::now(),
                stats,
                cancel,
                handle,
            },
        );
        Ok(())
    }

    /// Stops and removes a task. Returns whether it existed.
    pub fn unregister(&self, id: &str) -> bool {
        match self.lock().remove(id) {
            Some(t) => {
                t.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Registered task ids.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Statistics of every task.
    pub fn stats(&self) -> Vec<TaskStats> {
        let now = Instant::now();
        self.lock()
            .iter()
            .map(|(id, t)| {
                let s = t.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
                TaskStats {
                    id: id.clone(),
                    kind: "interval",
                    enabled: !t.cancel.is_cancelled() && !t.handle.is_finished(),
                    interval_seconds: t.period.as_secs(),
                    execution_count: s.executions,
                    failure_count: s.failures,
                    last_run_at: s.last_run_at,
                    last_error: s.last_error,
                    uptime: now.saturating_duration_since(t.registered).as_secs(),
                }
            })
            .collect()
    }

    /// Stops every task and waits (up to `grace`) for running jobs to end.
    pub async fn shutdown(&self, grace: Duration) {
        self.root.cancel();
        let tasks: Vec<Task> = std::mem::take(&mut *self.lock()).into_values().collect();
        let joins = futures::future::join_all(tasks.into_iter().map(|t| t.handle));
        if tokio::time::timeout(grace, joins).await.is_err() {
            tracing::warn!("background tasks did not stop within {grace:?}");
        }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        // Tasks must never outlive their manager (seed 002: orphaned
        // intervals were the original bug).
        self.root.cancel();
    }
}

async fn run_task(
    id: String,
    period: Duration,
    job: Job,
    immediately: bool,
    cancel: CancellationToken,
    stats: Arc<Mutex<Stats>>,
    clock: Arc<dyn Clock>,
) {
    let start = if immediately {
        Instant::now()
    } else {
        Instant::now() + period
    };
    let mut ticker = tokio::time::interval_at(start, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        // A job that is running when cancellation arrives finishes its
        // current run (a safe point) unless it takes longer than the
        // shutdown grace period.
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            r = job() => r,
        };
        let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
        s.executions += 1;
        s.last_run_at = Some(clock.now());
        if let Err(e) = result {
            s.failures += 1;
            tracing::warn!(task = %id, error = %e, "background task run failed");
            s.last_error = Some(e);
        }
    }
    tracing::debug!(task = %id, "background task stopped");
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::ports::SystemClock;

    fn counting_job(counter: Arc<AtomicU32>) -> Job {
        Arc::new(move || {
            let c = counter.clone();
            Box::pin(async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn runs_on_its_period_and_counts() {
        let m = BackgroundTasks::new(10, Arc::new(SystemClock));
        let n = Arc::new(AtomicU32::new(0));
        m.register_interval(
            "detect",
            Duration::from_secs(300),
            counting_job(n.clone()),
            TaskOptions::default(),
        )
        .unwrap();
        tokio::time::sleep(Duration::from_secs(299)).await;
        assert_eq!(n.load(Ordering::SeqCst), 0);
        tokio::time::sleep(Duration::from_secs(302)).await;
        assert_eq!(n.load(Ordering::SeqCst), 2);
        let stats = m.stats();
        assert_eq!(stats[0].execution_count, 2);
        assert_eq!(stats[0].uptime, 601);
    }

    #[tokio::test(start_paused = true)]
    async fn re_registering_replaces_instead_of_duplicating() {
        let m = BackgroundTasks::new(10, Arc::new(SystemClock));
        let old = Arc::new(AtomicU32::new(0));
        let new = Arc::new(AtomicU32::new(0));
        m.register_interval(
            "x",
            Duration::from_secs(10),
            counting_job(old.clone()),
            TaskOptions::default(),
        )
        .unwrap();
        m.register_interval(
            "x",
            Duration::from_secs(10),
            counting_job(new.clone()),
            TaskOptions::default(),
        )
        .unwrap();
        tokio::time::sleep(Duration::from_secs(35)).await;
        assert_eq!(old.load(Ordering::SeqCst), 0, "the replaced task stopped");
        assert_eq!(new.load(Ordering::SeqCst), 3);
        assert_eq!(m.ids(), ["x"]);
        let refused = m.register_interval(
            "x",
            Duration::from_secs(10),
            counting_job(new),
            TaskOptions {
                replace: false,
                run_immediately: false,
            },
        );
        assert_eq!(refused, Err(TaskError::Duplicate("x".into())));
    }

    #[tokio::test(start_paused = true)]
    async fn the_cap_holds_and_shutdown_stops_everything() {
        let m = BackgroundTasks::new(2, Arc::new(SystemClock));
        let n = Arc::new(AtomicU32::new(0));
        for id in ["a", "b"] {
            m.register_interval(
                id,
                Duration::from_secs(1),
                counting_job(n.clone()),
                TaskOptions::default(),
            )
            .unwrap();
        }
        assert!(matches!(
            m.register_interval(
                "c",
                Duration::from_secs(1),
                counting_job(n.clone()),
                TaskOptions::default()
            ),
            Err(TaskError::LimitReached { max: 2, .. })
        ));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        m.shutdown(Duration::from_secs(5)).await;
        let after = n.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            n.load(Ordering::SeqCst),
            after,
            "nothing runs after shutdown"
        );
        assert!(m.ids().is_empty());
        assert_eq!(
            m.register_interval(
                "d",
                Duration::from_secs(1),
                counting_job(n),
                TaskOptions::default()
            ),
            Err(TaskError::ShutDown)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_counted_not_fatal() {
        let m = BackgroundTasks::new(10, Arc::new(SystemClock));
        let job: Job = Arc::new(|| Box::pin(async { Err("boom".to_owned()) }));
        m.register_interval(
            "f",
            Duration::from_secs(1),
            job,
            TaskOptions {
                replace: true,
                run_immediately: true,
            },
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let s = &m.stats()[0];
        assert_eq!((s.execution_count, s.failure_count), (3, 3));
        assert_eq!(s.last_error.as_deref(), Some("boom"));
        assert!(s.enabled);
    }
}
