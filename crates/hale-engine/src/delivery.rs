//! Delivering the notification outbox (issue 17): route each new notice to
//! its channels, then attempt every due delivery, retrying failures with
//! exponential backoff, at least once per notice and channel.
//!
//! One pass per tick of the `notification-delivery` background task, for
//! the platform and every configured tenant:
//!
//! 1. **Route.** Notices not routed yet get one delivery per channel that
//!    [`Routes::channels_for`] names ([`NotificationOutbox::route_notice`],
//!    idempotent, so two replicas routing the same notice make one delivery
//!    per channel). Reminders for approvals about to expire are appended
//!    first (their ids are stable, so each is appended once).
//! 2. **Claim and send.** Due deliveries are claimed with a lease
//!    ([`NotificationOutbox::claim_deliveries`]: disjoint between replicas),
//!    sent concurrently, each bounded by the attempt timeout, and the
//!    outcome recorded under the claim. A failure is retried at
//!    [`DeliveryPolicy::retry_at`]; a process that dies mid-attempt leaves
//!    the claim to expire, and another pass sends the notice again (at
//!    least once; receivers drop repeats by the notice id).
//!
//! Nothing here runs on the healing path: notices are written with their
//! records, and a channel that never answers only grows the backlog that
//! `/metrics` and `GET /v1/notifications` show.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hale_domain::TenantId;
use hale_domain::approval::ApprovalStatus;
use hale_domain::notification::routing::Routes;
use hale_domain::notification::{DeliveryPolicy, Notice};

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::metrics::family;
use crate::ports::{
    AttemptOutcome, DeliveryClaim, NoticeDelivery, NotificationChannel, NotificationOutbox,
};
use crate::tasks::{TaskError, TaskOptions};

/// The delivery task's id.
pub const TASK_ID: &str = "notification-delivery";

/// How notices are delivered: the channels, the routes, and the timing.
#[derive(Clone)]
pub struct DeliverySetup {
    /// The channels by name.
    pub channels: Vec<Arc<dyn NotificationChannel>>,
    /// Which notices go to which channel.
    pub routes: Routes,
    /// Retries and giving up.
    pub policy: DeliveryPolicy,
    /// How often a pass runs.
    pub interval: Duration,
    /// How long a claim keeps other replicas off a delivery; longer than
    /// `attempt_timeout`.
    pub lease: Duration,
    /// The longest one attempt may take.
    pub attempt_timeout: Duration,
    /// Deliveries claimed per scope and pass.
    pub batch: u32,
    /// A pending approval gets a reminder this long before it expires.
    pub expiry_warning: Duration,
    /// This process's name in claims (unique per replica).
    pub claimer: String,
}

impl DeliverySetup {
    /// A setup with the defaults: every 5 s, 60 s leases, 10 s attempts,
    /// reminders 15 min before expiry, seed 002's backoff.
    pub fn new(
        channels: Vec<Arc<dyn NotificationChannel>>,
        routes: Routes,
        claimer: impl Into<String>,
    ) -> DeliverySetup {
        DeliverySetup {
            channels,
            routes,
            policy: DeliveryPolicy::default(),
            interval: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(10),
            batch: 50,
            expiry_warning: Duration::from_secs(15 * 60),
            claimer: claimer.into(),
        }
    }
}

impl std::fmt::Debug for DeliverySetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliverySetup")
            .field(
                "channels",
                &self.channels.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .field("routes", &self.routes)
            .field("interval", &self.interval)
            .field("claimer", &self.claimer)
            .finish_non_exhaustive()
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryPass {
    /// Notices routed.
    pub routed: u32,
    /// Deliveries that got through.
    pub sent: u32,
    /// Attempts that failed.
    pub failed: u32,
}

/// The outbox's delivery loop for one engine.
#[derive(Clone)]
pub struct OutboxDelivery {
    inner: Arc<Inner>,
    setup: Arc<DeliverySetup>,
    channels: Arc<BTreeMap<String, Arc<dyn NotificationChannel>>>,
}

impl std::fmt::Debug for OutboxDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxDelivery")
            .field("setup", &self.setup)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// The delivery loop for `setup`, not started (tests drive
    /// [`OutboxDelivery::run_once`]).
    pub fn outbox_delivery(&self, setup: DeliverySetup) -> OutboxDelivery {
        let channels = setup
            .channels
            .iter()
            .map(|c| (c.name().to_owned(), c.clone()))
            .collect();
        OutboxDelivery {
            inner: self.inner.clone(),
            setup: Arc::new(setup),
            channels: Arc::new(channels),
        }
    }

    /// Registers the delivery loop as the `notification-delivery`
    /// background task.
    pub fn start_outbox_delivery(&self, setup: DeliverySetup) -> Result<OutboxDelivery, TaskError> {
        let delivery = self.outbox_delivery(setup);
        let d = delivery.clone();
        self.inner.tasks.register_interval(
            TASK_ID,
            delivery.setup.interval,
            Arc::new(move || {
                let d = d.clone();
                Box::pin(async move { d.run_once().await.map(drop).map_err(|e| e.to_string()) })
            }),
            TaskOptions {
                replace: true,
                run_immediately: true,
            },
        )?;
        Ok(delivery)
    }
}

impl OutboxDelivery {
    fn outbox(&self) -> &Arc<dyn NotificationOutbox> {
        &self.inner.ports.stores.outbox
    }

    /// One pass over the platform and every tenant. A scope whose store
    /// call fails is skipped and the error returned after the others ran.
    pub async fn run_once(&self) -> Result<DeliveryPass, EngineError> {
        let mut pass = DeliveryPass::default();
        let mut first_error = None;
        let mut scopes: Vec<Option<TenantId>> = vec![None];
        scopes.extend(self.inner.tenant_ids().into_iter().map(Some));
        let mut pending = 0u64;
        let mut oldest = None;
        for scope in &scopes {
            if let Err(e) = self.scope_pass(scope.as_ref(), &mut pass).await {
                tracing::warn!(scope = ?scope, error = %e, "notification delivery pass failed");
                first_error.get_or_insert(e);
            }
            if let Ok(b) = self.outbox().outbox_backlog(scope.as_ref()).await {
                pending += b.pending;
                oldest = match (oldest, b.oldest) {
                    (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                    (a, b) => a.or(b),
                };
            }
        }
        let now = self.inner.now();
        let age = oldest.map_or(Duration::ZERO, |o| now.saturating_duration_since(o));
        self.inner.metrics.outbox_backlog(pending, age);
        match first_error {
            Some(e) => Err(e),
            None => Ok(pass),
        }
    }

    async fn scope_pass(
        &self,
        scope: Option<&TenantId>,
        pass: &mut DeliveryPass,
    ) -> Result<(), EngineError> {
        if let Some(tenant) = scope {
            self.remind_expiring(tenant).await?;
        }
        let now = self.inner.now();
        for notice in self.outbox().unrouted_notices(scope, 500).await? {
            let channels: Vec<String> = self
                .setup
                .routes
                .channels_for(&notice)
                .into_iter()
                .filter(|c| self.channels.contains_key(c))
                .collect();
            self.outbox()
                .route_notice(scope, &notice.id, &channels, now)
                .await?;
            pass.routed += 1;
        }
        let lease = self.setup.lease.max(self.setup.attempt_timeout * 2);
        let claim = DeliveryClaim {
            by: self.setup.claimer.clone(),
            now,
            until: now + lease,
            limit: self.setup.batch.max(1),
        };
        let due = self.outbox().claim_deliveries(scope, &claim).await?;
        let attempts = due.into_iter().map(|d| self.attempt(scope, d));
        for result in futures::future::join_all(attempts).await {
            match result? {
                true => pass.sent += 1,
                false => pass.failed += 1,
            }
        }
        Ok(())
    }

    /// Appends a reminder for each pending approval of `tenant` that
    /// expires within the warning time (stable ids: once each).
    async fn remind_expiring(&self, tenant: &TenantId) -> Result<(), EngineError> {
        let now = self.inner.now();
        let horizon = now + self.setup.expiry_warning;
        let soon = self
            .inner
            .ports
            .stores
            .approvals
            .approvals_due_for_expiry(tenant, horizon, 100)
            .await?;
        let reminders: Vec<Notice> = soon
            .iter()
            .filter(|a| a.status == ApprovalStatus::Pending && a.expires_at > now)
            .filter_map(|a| Notice::approval_expiring_soon(a, now))
            .collect();
        if !reminders.is_empty() {
            self.outbox().enqueue_notices(&reminders).await?;
        }
        Ok(())
    }

    /// Sends one claimed delivery and records the outcome; `Ok(true)` when
    /// the channel took it.
    async fn attempt(
        &self,
        scope: Option<&TenantId>,
        d: NoticeDelivery,
    ) -> Result<bool, EngineError> {
        let result = match self.channels.get(&d.channel) {
            None => Err(format!("channel {:?} is not configured", d.channel)),
            Some(channel) => {
                match tokio::time::timeout(self.setup.attempt_timeout, channel.send(&d.notice))
                    .await
                {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {:?}", self.setup.attempt_timeout)),
                }
            }
        };
        let at = self.inner.now();
        let ok = result.is_ok();
        let outcome = match result {
            Ok(()) => AttemptOutcome::Delivered { at },
            Err(error) => {
                let retry_at = self.setup.policy.retry_at(d.attempts.saturating_add(1), at);
                tracing::warn!(
                    channel = %d.channel,
                    notice = %d.notice.id,
                    attempt = d.attempts + 1,
                    retry_at = ?retry_at,
                    "notification not delivered: {error}"
                );
                if retry_at.is_none() {
                    self.inner
                        .metrics
                        .inc(family::NOTIFICATIONS_GIVEN_UP, &d.channel);
                }
                AttemptOutcome::Failed {
                    at,
                    error,
                    retry_at,
                }
            }
        };
        let family = if ok {
            family::NOTIFICATIONS_SENT
        } else {
            family::NOTIFICATIONS_FAILED
        };
        self.inner.metrics.inc(family, &d.channel);
        let applied = self
            .outbox()
            .record_attempt(
                scope,
                &d.notice.id,
                &d.channel,
                &self.setup.claimer,
                &outcome,
            )
            .await?;
        if !applied {
            tracing::warn!(notice = %d.notice.id, channel = %d.channel, "a notification claim expired before its attempt was recorded; it will be sent again");
        }
        Ok(ok)
    }
}
