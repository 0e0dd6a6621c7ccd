//! The engine: ports plus policy, wired together.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use hale_domain::dormancy::Dormancy;
use hale_domain::kill_switch::{self, GlobalSwitches};
use hale_domain::safety::PlatformSafety;
use hale_domain::strategy::ActionKind;
use hale_domain::{TenantId, Timestamp};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{EngineConfig, TenantPolicy};
use crate::error::EngineError;
use crate::ids::{IdSource, UuidIds};
use crate::metrics::Metrics;
use crate::ports::{
    ActionExecutor, Clock, DiagnosisAdvisor, EnvFlagSource, FlagSource, HealthProbe,
    IdempotencyKeys, LogNotifier, NoSilenceSource, Notifier, ResourceLocks, RuleTableAdvisor,
    SafetyScope, SilenceSource, Stores,
};
use crate::safety_view::ScopeView;
use crate::tasks::BackgroundTasks;
use crate::tenant::{TenantRegistry, TenantRuntime};

/// Every port the engine needs.
#[derive(Clone)]
pub struct Ports {
    /// Wall time for records.
    pub clock: Arc<dyn Clock>,
    /// Durable stores.
    pub stores: Stores,
    /// Resource locks.
    pub locks: Arc<dyn ResourceLocks>,
    /// Delivery idempotency keys.
    pub idempotency: Arc<dyn IdempotencyKeys>,
    /// Executors, tried in order: the first that supports an action kind
    /// runs it.
    pub executors: Vec<Arc<dyn ActionExecutor>>,
    /// Recovery checks.
    pub probe: Arc<dyn HealthProbe>,
    /// Escalations.
    pub notifier: Arc<dyn Notifier>,
    /// The global kill-switch layer.
    pub flags: Arc<dyn FlagSource>,
    /// Id generation.
    pub ids: Arc<dyn IdSource>,
    /// Silences in the tenants' Alertmanagers (asked only for tenants that
    /// configure one).
    pub silences: Arc<dyn SilenceSource>,
    /// Diagnoses each run's alert before it heals (default: the tenant's
    /// rule table, [`RuleTableAdvisor`]; an embedder may supply its own,
    /// which falls back to the rule table when it has no advice).
    pub diagnosis: Arc<dyn DiagnosisAdvisor>,
}

impl Ports {
    /// Ports with the defaults for the optional parts: log notifier,
    /// `FEATURE_*` environment flags, random ids.
    pub fn new(
        clock: Arc<dyn Clock>,
        stores: Stores,
        locks: Arc<dyn ResourceLocks>,
        idempotency: Arc<dyn IdempotencyKeys>,
        executors: Vec<Arc<dyn ActionExecutor>>,
        probe: Arc<dyn HealthProbe>,
    ) -> Self {
        Ports {
            clock,
            stores,
            locks,
            idempotency,
            executors,
            probe,
            notifier: Arc::new(LogNotifier),
            flags: Arc::new(EnvFlagSource),
            ids: Arc::new(UuidIds),
            silences: Arc::new(NoSilenceSource),
            diagnosis: Arc::new(RuleTableAdvisor),
        }
    }

    /// The executor for an action kind.
    pub fn executor_for(&self, kind: &ActionKind) -> Option<&Arc<dyn ActionExecutor>> {
        self.executors.iter().find(|e| e.supports(kind))
    }
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field(
                "executors",
                &self
                    .executors
                    .iter()
                    .map(|e| e.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub ports: Ports,
    pub config: EngineConfig,
    pub policies: RwLock<BTreeMap<TenantId, Arc<TenantPolicy>>>,
    pub tenants: TenantRegistry,
    /// This replica's copy of the platform's safety records.
    pub platform_view: Mutex<ScopeView>,
    /// The platform's safety state, rebuilt from the copy.
    pub platform: Mutex<PlatformSafety>,
    /// The last good read of the flag source; `None` until one succeeds,
    /// which keeps automatic healing off (fail closed).
    pub flags: Mutex<Option<GlobalSwitches>>,
    pub metrics: Metrics,
    pub tasks: BackgroundTasks,
    pub runs: TaskTracker,
    /// Operations running in this process (recovery leaves them alone).
    pub running: Mutex<std::collections::HashSet<hale_domain::OperationId>>,
    pub stopping: CancellationToken,
    pub shutting_down: AtomicBool,
    /// Whether this process's last lock call found the backend unavailable
    /// (a change is a notice).
    pub lock_backend_down: AtomicBool,
}

/// The healing engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("ports", &self.inner.ports)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    ports: Ports,
    config: EngineConfig,
    policies: Vec<TenantPolicy>,
}

impl Engine {
    /// Starts building an engine over `ports`.
    pub fn builder(ports: Ports) -> EngineBuilder {
        EngineBuilder {
            ports,
            config: EngineConfig::default(),
            policies: Vec::new(),
        }
    }
}

impl EngineBuilder {
    /// Engine-wide settings.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// Adds a tenant's policy.
    pub fn tenant(mut self, policy: TenantPolicy) -> Self {
        self.policies.push(policy);
        self
    }

    /// Validates the policies, loads the platform's safety records, reads the flag
    /// source once and recovers operations left unfinished by a crash.
    /// Background jobs start only with [`Engine::start_background_tasks`].
    pub async fn build(self) -> Result<Engine, EngineError> {
        let mut policies = BTreeMap::new();
        for p in self.policies {
            let problems = p.validate();
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return Err(EngineError::Invalid(format!(
                    "tenant {}: {}",
                    p.tenant,
                    list.join("; ")
                )));
            }
            if policies.insert(p.tenant.clone(), Arc::new(p)).is_some() {
                return Err(EngineError::Invalid("a tenant is configured twice".into()));
            }
        }
        let records = self
            .ports
            .stores
            .safety
            .safety_records(&SafetyScope::Platform, 0)
            .await?;
        let platform = PlatformSafety {
            switches: GlobalSwitches::default(),
            dormancy: Dormancy::new(self.config.global_dormancy_threshold),
        };
        let tasks =
            BackgroundTasks::new(self.config.max_background_tasks, self.ports.clock.clone());
        let engine = Engine {
            inner: Arc::new(Inner {
                ports: self.ports,
                config: self.config,
                policies: RwLock::new(policies),
                tenants: TenantRegistry::default(),
                platform_view: Mutex::new(ScopeView::default()),
                platform: Mutex::new(platform),
                flags: Mutex::new(None),
                metrics: Metrics::default(),
                tasks,
                runs: TaskTracker::new(),
                running: Mutex::new(std::collections::HashSet::new()),
                stopping: CancellationToken::new(),
                shutting_down: AtomicBool::new(false),
                lock_backend_down: AtomicBool::new(false),
            }),
        };
        let now = engine.inner.now();
        engine.inner.merge_platform(&records, now);
        engine.inner.refresh_flags().await;
        engine.recover_interrupted().await?;
        Ok(engine)
    }
}

impl Inner {
    pub(crate) fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    pub(crate) fn policy(&self, tenant: &TenantId) -> Result<Arc<TenantPolicy>, EngineError> {
        self.policies
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .cloned()
            .ok_or_else(|| EngineError::UnknownTenant(tenant.to_string()))
    }

    pub(crate) fn tenant_ids(&self) -> Vec<TenantId> {
        self.policies
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub(crate) async fn runtime(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<TenantRuntime>, EngineError> {
        let policy = self.policy(tenant)?;
        self.tenants
            .get_or_load(policy, self.ports.stores.safety.as_ref(), self.now())
            .await
    }

    /// The effective global layer ([`kill_switch::effective_global`]): the
    /// flag source's last good read and the runtime switches combined; any
    /// `off` wins, and without a good read automatic healing is off.
    pub(crate) fn global_switches(&self) -> GlobalSwitches {
        let runtime = self.platform().switches.clone();
        let flags = self.flags.lock().unwrap_or_else(|p| p.into_inner()).clone();
        kill_switch::effective_global(flags.as_ref(), &runtime)
    }

    /// The platform's safety state, behind a short-lived lock.
    pub(crate) fn platform(&self) -> std::sync::MutexGuard<'_, PlatformSafety> {
        self.platform.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This replica's copy of the platform's records.
    pub(crate) fn platform_view(&self) -> std::sync::MutexGuard<'_, ScopeView> {
        self.platform_view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The flag source's last good read (`None` until one succeeds).
    pub(crate) fn flags(&self) -> Option<GlobalSwitches> {
        self.flags.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-reads the flag source; keeps the last good value on error.
    pub(crate) async fn refresh_flags(&self) {
        match self.ports.flags.global_switches().await {
            Ok(f) => *self.flags.lock().unwrap_or_else(|p| p.into_inner()) = Some(f),
            Err(e) => {
                tracing::warn!(error = %e, "flag source read failed; keeping the last good flags")
            }
        }
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

impl Engine {
    /// The engine's counters.
    pub fn metrics(&self) -> crate::metrics::MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// Configured tenants.
    pub fn tenants(&self) -> Vec<TenantId> {
        self.inner.tenant_ids()
    }

    /// A tenant's policy.
    pub fn policy(&self, tenant: &TenantId) -> Result<Arc<TenantPolicy>, EngineError> {
        self.inner.policy(tenant)
    }

    /// The ports (stores for reads, executors, ...).
    pub fn ports(&self) -> &Ports {
        &self.inner.ports
    }

    /// Replaces (or adds) a tenant's policy at run time. The safety state
    /// (breakers, dormancy, ledgers) is in the store and carries over.
    pub async fn set_policy(&self, policy: TenantPolicy) -> Result<(), EngineError> {
        let problems = policy.validate();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(EngineError::Invalid(list.join("; ")));
        }
        let tenant = policy.tenant.clone();
        self.inner.tenants.unload(&tenant);
        self.inner
            .policies
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tenant, Arc::new(policy));
        Ok(())
    }

    /// Waits until every running healing operation has finished (replays
    /// and tests use this to make runs deterministic).
    pub async fn wait_idle(&self) {
        loop {
            if self.inner.runs.is_empty() {
                return;
            }
            self.inner.runs.close();
            self.inner.runs.wait().await;
            self.inner.runs.reopen();
        }
    }

    /// Graceful stop: refuse new work, stop background jobs, let running
    /// operations reach a safe point (they stop between actions, record
    /// themselves interrupted and release their locks).
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.shutting_down.store(true, Ordering::Release);
        inner.stopping.cancel();
        inner.tasks.shutdown(inner.config.shutdown_grace).await;
        inner.runs.close();
        if tokio::time::timeout(inner.config.shutdown_grace, inner.runs.wait())
            .await
            .is_err()
        {
            tracing::warn!("healing operations did not reach a safe point within the grace period");
        }
    }
}
