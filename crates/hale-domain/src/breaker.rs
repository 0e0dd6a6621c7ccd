//! The circuit breaker (seed 002, layers 4 and 5).
//!
//! States: CLOSED -> OPEN (after `failure_threshold` consecutive failures)
//! -> HALF_OPEN (once `open_for` has elapsed; at most `half_open_max_probes`
//! probes in flight) -> CLOSED on a successful probe or back to OPEN on a
//! failed one. PERMANENT_OPEN latches after `permanent_open_threshold`
//! consecutive failures or at once on a [`FailureClass::Fatal`] failure, and
//! only [`CircuitBreaker::manual_reset`] with a reason leaves it.
//!
//! Time is a parameter. The hot path (CLOSED, success) takes no lock, reads no
//! clock and writes no shared memory: [`CircuitBreaker::admit`] takes the clock
//! as a closure that it calls only when the breaker is not CLOSED.
//!
//! Half-open probes are explicit tickets carrying the half-open generation. A
//! probe that never reports holds its slot only until `probe_timeout`, after
//! which the next `admit` reclaims it, so a lost task cannot wedge the
//! breaker. A report from an older generation never changes the state.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::failure::{BreakerImpact, FailureClass};

pub mod shared;
use crate::ids::Actor;
use crate::time::Timestamp;

// === Configuration ===

/// Breaker thresholds; [`Default`] gives the seed 002 values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker (seed: 3).
    pub failure_threshold: u32,
    /// How long the breaker stays open before admitting a probe (seed: 60 s).
    #[serde(with = "crate::time::duration")]
    pub open_for: Duration,
    /// Probes admitted at once while half-open (seed: 1).
    pub half_open_max_probes: u32,
    /// Consecutive failures that latch PERMANENT_OPEN (seed: 10).
    pub permanent_open_threshold: u32,
    /// How long an unreported probe holds its slot (default: `open_for`).
    #[serde(with = "crate::time::duration")]
    pub probe_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(60),
            half_open_max_probes: 1,
            permanent_open_threshold: 10,
            probe_timeout: Duration::from_secs(60),
        }
    }
}

/// A breaker configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakerConfigError {
    /// `failure_threshold` must be at least 1.
    #[error("breaker failure_threshold must be at least 1")]
    ZeroFailureThreshold,
    /// `half_open_max_probes` must be at least 1.
    #[error("breaker half_open_max_probes must be at least 1")]
    ZeroProbes,
    /// The permanent threshold must not be below the opening threshold.
    #[error("breaker permanent_open_threshold ({permanent}) must be >= failure_threshold ({open})")]
    PermanentBelowOpen {
        /// The permanent threshold given.
        permanent: u32,
        /// The opening threshold given.
        open: u32,
    },
    /// Zero durations would make the breaker meaningless.
    #[error("breaker open_for and probe_timeout must be positive")]
    ZeroDuration,
}

impl BreakerConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), BreakerConfigError> {
        if self.failure_threshold == 0 {
            return Err(BreakerConfigError::ZeroFailureThreshold);
        }
        if self.half_open_max_probes == 0 {
            return Err(BreakerConfigError::ZeroProbes);
        }
        if self.permanent_open_threshold < self.failure_threshold {
            return Err(BreakerConfigError::PermanentBelowOpen {
                permanent: self.permanent_open_threshold,
                open: self.failure_threshold,
            });
        }
        if self.open_for.is_zero() || self.probe_timeout.is_zero() {
            return Err(BreakerConfigError::ZeroDuration);
        }
        Ok(())
    }
}

// === State and events ===

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are rejected until the open time elapses.
    Open,
    /// A bounded number of probes may run.
    HalfOpen,
    /// Latched: only a manual reset with a reason leaves this state.
    PermanentOpen,
}

impl BreakerState {
    const fn to_u8(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
            BreakerState::PermanentOpen => 3,
        }
    }

    /// The wire name (`CLOSED`, `OPEN`, `HALF_OPEN`, `PERMANENT_OPEN`).
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "CLOSED",
            BreakerState::Open => "OPEN",
            BreakerState::HalfOpen => "HALF_OPEN",
            BreakerState::PermanentOpen => "PERMANENT_OPEN",
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const CLOSED: u8 = BreakerState::Closed.to_u8();
const OPEN: u8 = BreakerState::Open.to_u8();
const PERMANENT_OPEN: u8 = BreakerState::PermanentOpen.to_u8();

/// Why a state change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cause")]
pub enum TransitionCause {
    /// Consecutive failures reached the opening threshold.
    FailureThreshold {
        /// Consecutive failures at the time.
        consecutive_failures: u32,
    },
    /// The open time elapsed and a probe was admitted.
    OpenTimeElapsed,
    /// A half-open probe succeeded.
    ProbeSucceeded,
    /// A half-open probe failed.
    ProbeFailed,
    /// Consecutive failures reached the permanent threshold.
    PermanentThreshold {
        /// Consecutive failures at the time.
        consecutive_failures: u32,
    },
    /// A fatal failure class latched the breaker.
    FatalFailure,
    /// An operator reset the breaker.
    ManualReset,
    /// The breaker's shared record latched (the cluster's failures or a
    /// fatal failure on another replica).
    SharedLatch,
}

/// A typed state-change event. The breaker returns these; the engine
/// publishes, audits and counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// When it happened.
    pub at: Timestamp,
    /// Why.
    pub cause: TransitionCause,
}

/// A probe slot handed out while half-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeTicket {
    generation: u64,
    id: u64,
    /// After this instant an unreported probe's slot may be reclaimed.
    pub expires_at: Timestamp,
}

/// Permission to make one call. Report its outcome with
/// [`CircuitBreaker::record_success`], [`CircuitBreaker::record_failure`] or
/// [`CircuitBreaker::abandon`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "report the call's outcome to the breaker"]
pub struct Permit {
    probe: Option<ProbeTicket>,
    /// The state change that admitting this call caused (OPEN -> HALF_OPEN).
    pub transition: Option<Transition>,
}

impl Permit {
    /// The probe ticket, when the call was admitted as a half-open probe.
    pub fn probe(&self) -> Option<ProbeTicket> {
        self.probe
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rejected")]
pub enum Rejection {
    /// Open; a probe is admitted at `retry_at`.
    #[error("circuit breaker open until {retry_at}")]
    Open {
        /// When the open time elapses.
        retry_at: Timestamp,
    },
    /// Half-open and every probe slot is taken.
    #[error("circuit breaker half-open; all {max_probes} probe slot(s) in use")]
    ProbesExhausted {
        /// The configured probe limit.
        max_probes: u32,
    },
    /// Latched; needs a manual reset.
    #[error("circuit breaker PERMANENT_OPEN since {since}: {reason}")]
    PermanentOpen {
        /// Why it latched.
        reason: String,
        /// Since when.
        since: Timestamp,
    },
}

/// A manual reset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResetError {
    /// A reset must say why.
    #[error("a breaker reset needs a non-empty reason")]
    ReasonRequired,
}

/// Why the breaker is latched open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermanentOpenRecord {
    /// Human-readable reason (the fatal error, or the failure count).
    pub reason: String,
    /// When it latched.
    pub since: Timestamp,
}

/// The last manual reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRecord {
    /// Who reset it.
    pub actor: Actor,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// Everything needed to restore a breaker after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerSnapshot {
    /// State at snapshot time. A half-open breaker restores half-open with no
    /// probes in flight.
    pub state: BreakerState,
    /// Consecutive failures since the last success.
    pub consecutive_failures: u32,
    /// When the breaker last opened.
    pub opened_at: Option<Timestamp>,
    /// Set while PERMANENT_OPEN.
    pub permanent: Option<PermanentOpenRecord>,
    /// When the last failure was recorded.
    pub last_failure_at: Option<Timestamp>,
    /// The last failure's class.
    pub last_failure_class: Option<FailureClass>,
    /// The last manual reset.
    pub last_reset: Option<ResetRecord>,
    /// The half-open generation (keeps stale tickets stale across restores).
    pub generation: u64,
}

impl BreakerSnapshot {
    /// A closed breaker with no history.
    pub fn closed() -> Self {
        BreakerSnapshot {
            state: BreakerState::Closed,
            consecutive_failures: 0,
            opened_at: None,
            permanent: None,
            last_failure_at: None,
            last_failure_class: None,
            last_reset: None,
            generation: 0,
        }
    }
}

// === impl CircuitBreaker ===

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<Timestamp>,
    generation: u64,
    next_probe_id: u64,
    probes: Vec<ProbeTicket>,
    permanent: Option<PermanentOpenRecord>,
    last_failure_at: Option<Timestamp>,
    last_failure_class: Option<FailureClass>,
    last_reset: Option<ResetRecord>,
}

/// A circuit breaker. Share it by reference or `Arc`; every method takes
/// `&self`.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    /// Mirrors `inner.state` for the lock-free fast paths.
    state: AtomicU8,
    /// True while `inner.consecutive_failures > 0`; lets a closed success
    /// skip the lock when there is nothing to reset.
    has_failures: AtomicBool,
    /// While OPEN: the instant (unix micros) the open time elapses.
    open_until: AtomicI64,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker. The configuration must be valid.
    pub fn new(config: BreakerConfig) -> Result<Self, BreakerConfigError> {
        Self::restore(config, BreakerSnapshot::closed())
    }

    /// Restores a breaker from a snapshot taken by [`CircuitBreaker::snapshot`].
    pub fn restore(
        config: BreakerConfig,
        snap: BreakerSnapshot,
    ) -> Result<Self, BreakerConfigError> {
        config.validate()?;
        Ok(Self::from_parts(config, snap))
    }

    /// Builds from a configuration known to be valid.
    fn from_parts(config: BreakerConfig, snap: BreakerSnapshot) -> Self {
        // A snapshot that claims OPEN without an opening time (hand-edited
        // or corrupt) restores as half-open so that it probes at once rather
        // than staying shut forever.
        let state = match (snap.state, snap.opened_at) {
            (BreakerState::Open, None) => BreakerState::HalfOpen,
            (s, _) => s,
        };
        let permanent = match state {
            BreakerState::PermanentOpen => Some(snap.permanent.unwrap_or(PermanentOpenRecord {
                reason: "restored from snapshot".to_owned(),
                since: snap.last_failure_at.unwrap_or(Timestamp::UNIX_EPOCH),
            })),
            _ => None,
        };
        let open_until = match (state, snap.opened_at) {
            (BreakerState::Open, Some(at)) => (at + config.open_for).unix_micros(),
            _ => i64::MIN,
        };
        CircuitBreaker {
            state: AtomicU8::new(state.to_u8()),
            has_failures: AtomicBool::new(snap.consecutive_failures > 0),
            open_until: AtomicI64::new(open_until),
            inner: Mutex::new(Inner {
                state,
                consecutive_failures: snap.consecutive_failures,
                opened_at: snap.opened_at,
                generation: snap.generation,
                next_probe_id: 0,
                probes: Vec::new(),
                permanent,
                last_failure_at: snap.last_failure_at,
                last_failure_class: snap.last_failure_class,
                last_reset: snap.last_reset,
            }),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The current state (a lock-free read).
    pub fn state(&self) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            PERMANENT_OPEN => BreakerState::PermanentOpen,
            _ => BreakerState::HalfOpen,
        }
    }

    /// Asks to make one call. `now` is called only when the breaker is not
    /// CLOSED, so the closed path reads no clock.
    #[inline]
    pub fn admit(&self, now: impl FnOnce() -> Timestamp) -> Result<Permit, Rejection> {
        match self.state.load(Ordering::Acquire) {
            CLOSED => Ok(Permit {
                probe: None,
                transition: None,
            }),
            s => self.admit_slow(s, now()),
        }
    }

    #[cold]
    fn admit_slow(&self, seen: u8, now: Timestamp) -> Result<Permit, Rejection> {
        // Reject without the lock while the open time has clearly not
        // elapsed: a storm of rejected calls must not contend on the mutex.
        if seen == OPEN && now.unix_micros() < self.open_until.load(Ordering::Acquire) {
            return Err(Rejection::Open {
                retry_at: Timestamp::from_unix_micros(self.open_until.load(Ordering::Acquire)),
            });
        }
        let mut inner = self.lock();
        let mut transition = None;
        match inner.state {
            BreakerState::Closed => {
                return Ok(Permit {
                    probe: None,
                    transition: None,
                });
            }
            BreakerState::PermanentOpen => {
                let rec = inner.permanent.clone().unwrap_or(PermanentOpenRecord {
                    reason: "latched".to_owned(),
                    since: now,
                });
                return Err(Rejection::PermanentOpen {
                    reason: rec.reason,
                    since: rec.since,
                });
            }
            BreakerState::Open => {
                let retry_at = inner.opened_at.unwrap_or(now) + self.config.open_for;
                if now < retry_at {
                    return Err(Rejection::Open { retry_at });
                }
                transition = Some(self.set_state(
                    &mut inner,
                    BreakerState::HalfOpen,
                    now,
                    TransitionCause::OpenTimeElapsed,
                ));
                inner.generation += 1;
                inner.probes.clear();
            }
            BreakerState::HalfOpen => {}
        }
        // Half-open: reclaim probes that never reported, then hand out a slot.
        inner.probes.retain(|p| p.expires_at > now);
        if inner.probes.len() >= self.config.half_open_max_probes as usize {
            return Err(Rejection::ProbesExhausted {
                max_probes: self.config.half_open_max_probes,
            });
        }
        inner.next_probe_id += 1;
        let ticket = ProbeTicket {
            generation: inner.generation,
            id: inner.next_probe_id,
            expires_at: now + self.config.probe_timeout,
        };
        inner.probes.push(ticket);
        Ok(Permit {
            probe: Some(ticket),
            transition,
        })
    }

    /// Whether [`CircuitBreaker::admit`] would admit a call at `now`, without
    /// taking a probe slot or changing state (for guard checks and status).
    pub fn would_admit(&self, now: Timestamp) -> Result<(), Rejection> {
        if self.state.load(Ordering::Acquire) == CLOSED {
            return Ok(());
        }
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => Ok(()),
            BreakerState::PermanentOpen => {
                let rec = inner.permanent.clone().unwrap_or(PermanentOpenRecord {
                    reason: "latched".to_owned(),
                    since: now,
                });
                Err(Rejection::PermanentOpen {
                    reason: rec.reason,
                    since: rec.since,
                })
            }
            BreakerState::Open => {
                let retry_at = inner.opened_at.unwrap_or(now) + self.config.open_for;
                if now < retry_at {
                    Err(Rejection::Open { retry_at })
                } else {
                    Ok(())
                }
            }
            BreakerState::HalfOpen => {
                inner.probes.retain(|p| p.expires_at > now);
                if inner.probes.len() >= self.config.half_open_max_probes as usize {
                    Err(Rejection::ProbesExhausted {
                        max_probes: self.config.half_open_max_probes,
                    })
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Reports a successful call. Lock-free and clock-free when the breaker is
    /// CLOSED with no failures to forget.
    #[inline]
    pub fn record_success(
        &self,
        permit: &Permit,
        now: impl FnOnce() -> Timestamp,
    ) -> Option<Transition> {
        if permit.probe.is_none()
            && self.state.load(Ordering::Acquire) == CLOSED
            && !self.has_failures.load(Ordering::Relaxed)
        {
            return None;
        }
        self.record_success_slow(permit, now())
    }

    #[cold]
    fn record_success_slow(&self, permit: &Permit, now: Timestamp) -> Option<Transition> {
        let mut inner = self.lock();
        match (inner.state, permit.probe) {
            (BreakerState::Closed, _) => {
                inner.consecutive_failures = 0;
                self.has_failures.store(false, Ordering::Relaxed);
                None
            }
            (BreakerState::HalfOpen, Some(ticket)) if Self::holds_slot(&inner, ticket) => {
                inner.consecutive_failures = 0;
                self.has_failures.store(false, Ordering::Relaxed);
                inner.probes.clear();
                inner.generation += 1;
                Some(self.set_state(
                    &mut inner,
                    BreakerState::Closed,
                    now,
                    TransitionCause::ProbeSucceeded,
                ))
            }
            // A success reported after the breaker moved on (a call admitted
            // while closed that finished after it opened, or a stale probe)
            // says nothing about the present; ignore it.
            _ => None,
        }
    }

    /// Reports a failed call of the given class.
    pub fn record_failure(
        &self,
        permit: &Permit,
        class: FailureClass,
        now: Timestamp,
    ) -> Option<Transition> {
        let mut inner = self.lock();
        let current_probe = match (inner.state, permit.probe) {
            (BreakerState::HalfOpen, Some(t)) if Self::holds_slot(&inner, t) => Some(t),
            _ => None,
        };
        if let Some(t) = current_probe {
            inner.probes.retain(|p| p.id != t.id);
        }
        let impact = class.breaker_impact();
        if impact == BreakerImpact::Ignore {
            return None;
        }
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        inner.last_failure_at = Some(now);
        inner.last_failure_class = Some(class);
        self.has_failures.store(true, Ordering::Relaxed);
        if inner.state == BreakerState::PermanentOpen {
            return None;
        }
        let failures = inner.consecutive_failures;
        if impact == BreakerImpact::Latch {
            inner.permanent = Some(PermanentOpenRecord {
                reason: format!("fatal failure class: {class}"),
                since: now,
            });
            return Some(self.set_state(
                &mut inner,
                BreakerState::PermanentOpen,
                now,
                TransitionCause::FatalFailure,
            ));
        }
        if failures >= self.config.permanent_open_threshold {
            inner.permanent = Some(PermanentOpenRecord {
                reason: format!("{failures} consecutive failures"),
                since: now,
            });
            return Some(self.set_state(
                &mut inner,
                BreakerState::PermanentOpen,
                now,
                TransitionCause::PermanentThreshold {
                    consecutive_failures: failures,
                },
            ));
        }
        match inner.state {
            BreakerState::Closed if failures >= self.config.failure_threshold => {
                inner.opened_at = Some(now);
                Some(self.set_state(
                    &mut inner,
                    BreakerState::Open,
                    now,
                    TransitionCause::FailureThreshold {
                        consecutive_failures: failures,
                    },
                ))
            }
            BreakerState::HalfOpen if current_probe.is_some() => {
                inner.opened_at = Some(now);
                inner.probes.clear();
                inner.generation += 1;
                Some(self.set_state(
                    &mut inner,
                    BreakerState::Open,
                    now,
                    TransitionCause::ProbeFailed,
                ))
            }
            _ => None,
        }
    }

    /// Gives a probe slot back without an outcome (the call was cancelled
    /// before it reached the protected system).
    pub fn abandon(&self, permit: &Permit) {
        if let Some(t) = permit.probe {
            let mut inner = self.lock();
            inner
                .probes
                .retain(|p| !(p.generation == t.generation && p.id == t.id));
        }
    }

    /// The only way out of PERMANENT_OPEN (and a way out of OPEN and
    /// HALF_OPEN): back to CLOSED with the failure count cleared. Returns the
    /// transition, or `None` when the breaker was already closed.
    pub fn manual_reset(
        &self,
        reason: &str,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Option<Transition>, ResetError> {
        if reason.trim().is_empty() {
            return Err(ResetError::ReasonRequired);
        }
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        self.has_failures.store(false, Ordering::Relaxed);
        inner.last_reset = Some(ResetRecord {
            actor: actor.clone(),
            reason: reason.trim().to_owned(),
            at: now,
        });
        if inner.state == BreakerState::Closed {
            return Ok(None);
        }
        inner.permanent = None;
        inner.opened_at = None;
        inner.probes.clear();
        inner.generation += 1;
        Ok(Some(self.set_state(
            &mut inner,
            BreakerState::Closed,
            now,
            TransitionCause::ManualReset,
        )))
    }

    /// Latches PERMANENT_OPEN because the breaker's shared record latched
    /// (on this replica or another). Returns the transition, or `None` when
    /// it was already latched.
    pub fn latch(&self, record: PermanentOpenRecord, now: Timestamp) -> Option<Transition> {
        let mut inner = self.lock();
        if inner.state == BreakerState::PermanentOpen {
            return None;
        }
        inner.permanent = Some(record);
        inner.probes.clear();
        inner.generation += 1;
        Some(self.set_state(
            &mut inner,
            BreakerState::PermanentOpen,
            now,
            TransitionCause::SharedLatch,
        ))
    }

    /// A serializable copy of the state.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let inner = self.lock();
        BreakerSnapshot {
            state: inner.state,
            consecutive_failures: inner.consecutive_failures,
            opened_at: inner.opened_at,
            permanent: inner.permanent.clone(),
            last_failure_at: inner.last_failure_at,
            last_failure_class: inner.last_failure_class,
            last_reset: inner.last_reset.clone(),
            generation: inner.generation,
        }
    }

    /// Probes currently holding a slot (for status pages).
    pub fn probes_in_flight(&self) -> usize {
        self.lock().probes.len()
    }

    fn holds_slot(inner: &Inner, t: ProbeTicket) -> bool {
        inner
            .probes
            .iter()
            .any(|p| p.generation == t.generation && p.id == t.id)
    }

    fn set_state(
        &self,
        inner: &mut Inner,
        to: BreakerState,
        at: Timestamp,
        cause: TransitionCause,
    ) -> Transition {
        let from = inner.state;
        inner.state = to;
        let open_until = match (to, inner.opened_at) {
            (BreakerState::Open, Some(opened)) => (opened + self.config.open_for).unix_micros(),
            _ => i64::MIN,
        };
        self.open_until.store(open_until, Ordering::Release);
        self.state.store(to.to_u8(), Ordering::Release);
        Transition {
            from,
            to,
            at,
            cause,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The mutex guards plain data; a panic while holding it cannot leave
        // it half-updated in a way later calls would misread, so recover the
        // guard instead of propagating the poison.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for CircuitBreaker {
    /// A closed breaker with the seed defaults (valid by construction; a
    /// test pins that).
    fn default() -> Self {
        Self::from_parts(BreakerConfig::default(), BreakerSnapshot::closed())
    }
}

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
