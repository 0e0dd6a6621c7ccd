//! From a [`Config`] to running ports and an [`Engine`]: the store
//! (SQLite or Postgres), the locks (in-process or Redis), the executor and
//! probe (dry run, Kubernetes, local commands) and the flag source.
//!
//! The CLI's offline replay builds its engine from the same
//! [`Config::tenant_policies`] and [`Config::engine_config`] over in-memory
//! ports; the server calls [`connect`] and then [`build_engine`].

use std::sync::Arc;

use async_trait::async_trait;
use hale_command::{CommandExecutor, CommandHealthProbe};
use hale_domain::failure::FailureClass;
use hale_domain::kill_switch::{Feature, GlobalSwitches, Switch};
use hale_engine::dry_run::{DryRunExecutor, DryRunProbe};
use hale_engine::local_locks::LocalLocks;
use hale_engine::ports::{
    ActionExecutor, Clock, EnvFlagSource, FlagError, FlagSource, Health, HealthProbe,
    IdempotencyKeys, ProbeError, ProbeRequest, ResourceLocks, Stores,
};
use hale_engine::{Engine, EngineError, Ports, SystemClock};
use hale_kube::{KubeConnection, KubeExecutor, KubeExecutorConfig, KubeHealthProbe};
use hale_postgres::{PgStore, PgStoreConfig};
use hale_redis::{RedisLocks, RedisLocksConfig};
use hale_sqlite::{SqliteStore, SqliteStoreConfig};

use crate::config::{Config, ExecutorKind, ExecutorSection, LocksKind, StoreKind};

/// A backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// The store could not be opened or connected.
    #[error("store: {0}")]
    Store(String),
    /// The lock backend could not be set up.
    #[error("locks: {0}")]
    Locks(String),
    /// The executor could not be set up.
    #[error("executor: {0}")]
    Executor(String),
    /// The Alertmanager client for silences could not be built.
    #[error("silences: {0}")]
    Silences(String),
    /// The engine refused the policy or could not load its state.
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    /// A notification channel could not be set up (its secret is missing).
    #[error("notifications: {0}")]
    Notifications(String),
}

/// The global flag layer: `[flags]` from the file combined with the seed's
/// `FEATURE_*` environment variables ([`GlobalSwitches::combine`]), re-read
/// at every refresh. Any "off" wins, whichever side says it.
pub struct ConfigFlagSource {
    configured: GlobalSwitches,
    env: Arc<dyn FlagSource>,
}

impl ConfigFlagSource {
    /// `[flags]` over the process environment.
    pub fn new(configured: GlobalSwitches) -> Self {
        ConfigFlagSource::with_source(configured, Arc::new(EnvFlagSource))
    }

    /// `[flags]` over another source (tests).
    pub fn with_source(configured: GlobalSwitches, env: Arc<dyn FlagSource>) -> Self {
        ConfigFlagSource { configured, env }
    }
}

#[async_trait]
impl FlagSource for ConfigFlagSource {
    async fn global_switches(&self) -> Result<GlobalSwitches, FlagError> {
        let env = self.env.global_switches().await?;
        Ok(GlobalSwitches::combine([&self.configured, &env]))
    }
}

/// A health probe for command executors with no `[[executor.checks]]`: it
/// cannot tell, so it says so, and a strategy must use `verify.check =
/// "none"` or a configured check.
struct NoChecks;

#[async_trait]
impl HealthProbe for NoChecks {
    async fn check(&self, req: ProbeRequest<'_>) -> Result<Health, ProbeError> {
        Err(ProbeError {
            class: FailureClass::InvalidAction,
            message: format!(
                "no [[executor.checks]] are configured, so check {:?} cannot run; add one or set verify.check = \"none\"",
                req.check
            ),
        })
    }
}

/// The connected backends: ports for the engine, plus handles the server
/// needs at shutdown and the dry-run executor's record (for inspection).
pub struct Backends {
    /// The ports, wired.
    pub ports: Ports,
    /// The dry-run executor, when it is the configured one.
    pub dry_run: Option<DryRunExecutor>,
    store: OpenStore,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

impl Backends {
    /// Closes pooled connections and checkpoints (after the engine shut
    /// down), so everything written is flushed.
    pub async fn close(&self) {
        match &self.store {
            OpenStore::Sqlite(s) => s.close().await,
            OpenStore::Postgres(p) => p.close().await,
        }
    }
}

/// The store adapter behind the ports, kept for closing it.
enum OpenStore {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

async fn open_store(config: &Config) -> Result<(Stores, OpenStore), WiringError> {
    let s = &config.store;
    match s.kind {
        StoreKind::Sqlite => {
            let mut sc = SqliteStoreConfig::new(config.sqlite_path());
            if let Some(d) = s.acquire_timeout {
                sc.acquire_timeout = d;
            }
            if let Some(d) = s.operation_timeout {
                sc.busy_timeout = d;
            }
            let store = Arc::new(
                SqliteStore::open_with(&sc)
                    .await
                    .map_err(|e| WiringError::Store(format!("{}: {e}", sc.path.display())))?,
            );
            Ok((
                Stores::from_adapter(store.clone()),
                OpenStore::Sqlite(store),
            ))
        }
        StoreKind::Postgres => {
            let url = s.url.clone().ok_or_else(|| {
                WiringError::Store(
                    "[store] kind = \"postgres\" needs url (or HALE_DATABASE_URL)".into(),
                )
            })?;
            let mut pg = PgStoreConfig::new(url);
            pg.schema.clone_from(&s.schema);
            pg.migrate_url.clone_from(&s.migrate_url);
            if let Some(n) = s.max_connections {
                pg.max_connections = n;
            }
            if let Some(d) = s.connect_timeout {
                pg.connect_timeout = d;
            }
            if let Some(d) = s.acquire_timeout {
                pg.acquire_timeout = d;
            }
            if let Some(d) = s.statement_timeout {
                pg.statement_timeout = d;
            }
            if let Some(d) = s.operation_timeout {
                pg.operation_timeout = d;
            }
            let store = Arc::new(
                PgStore::connect(&pg)
                    .await
                    .map_err(|e| WiringError::Store(e.to_string()))?,
            );
            Ok((
                Stores::from_adapter(store.clone()),
                OpenStore::Postgres(store),
            ))
        }
    }
}

type LockPair = (Arc<dyn ResourceLocks>, Arc<dyn IdempotencyKeys>);

fn open_locks(config: &Config, clock: &dyn Clock) -> Result<LockPair, WiringError> {
    let l = &config.locks;
    match l.kind {
        LocksKind::Local => {
            let locks = Arc::new(LocalLocks::new(clock));
            Ok((locks.clone(), locks))
        }
        LocksKind::Redis => {
            let url = l.url.clone().ok_or_else(|| {
                WiringError::Locks("[locks] kind = \"redis\" needs url (or HALE_REDIS_URL)".into())
            })?;
            let mut rc = RedisLocksConfig::new(url);
            if let Some(d) = l.command_timeout {
                rc = rc.with_command_timeout(d);
            }
            if let Some(d) = l.connect_timeout {
                rc = rc.with_connect_timeout(d);
            }
            if let Some(n) = l.pool_size {
                rc = rc.with_pool_size(n);
            }
            if let Some(ca) = &l.ca_file {
                rc = rc.with_ca_file(ca);
            }
            let locks =
                Arc::new(RedisLocks::new(rc).map_err(|e| WiringError::Locks(e.to_string()))?);
            Ok((locks.clone(), locks))
        }
    }
}

/// How to reach the Kubernetes API, from `[executor]`.
pub fn kube_connection(x: &ExecutorSection) -> Result<KubeConnection, WiringError> {
    if let Some(url) = &x.api_url {
        return Ok(KubeConnection::Url(url.clone()));
    }
    if let Some(path) = &x.kubeconfig {
        return Ok(KubeConnection::Kubeconfig {
            path: path.clone(),
            context: x.context.clone(),
        });
    }
    if x.context.is_some() {
        return Err(WiringError::Executor(
            "[executor] context needs kubeconfig (the file the context is in)".into(),
        ));
    }
    Ok(if x.in_cluster {
        KubeConnection::InCluster
    } else {
        KubeConnection::Infer
    })
}

type ExecutorPair = (
    Arc<dyn ActionExecutor>,
    Arc<dyn HealthProbe>,
    Option<DryRunExecutor>,
);

async fn open_executor(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<ExecutorPair, WiringError> {
    let x = &config.executor;
    match x.kind {
        ExecutorKind::DryRun => {
            let exec = DryRunExecutor::new(clock);
            Ok((Arc::new(exec.clone()), Arc::new(DryRunProbe), Some(exec)))
        }
        ExecutorKind::Kubernetes => {
            let conn = kube_connection(x)?;
            let mut kc = KubeExecutorConfig::default();
            if let Some(fm) = &x.field_manager {
                kc.field_manager.clone_from(fm);
            }
            if let Some(d) = x.request_timeout {
                kc.request_timeout = d;
            }
            kc.allow_node_actions = x.allow_node_actions;
            let client = hale_kube::connect(&conn)
                .await
                .map_err(|e| WiringError::Executor(e.to_string()))?;
            let exec = KubeExecutor::new(client.clone(), kc.clone()).with_clock(clock);
            Ok((
                Arc::new(exec),
                Arc::new(KubeHealthProbe::new(client, kc)),
                None,
            ))
        }
        ExecutorKind::Command => {
            let exec = CommandExecutor::new(x.command_config(&x.commands))
                .map_err(|e| WiringError::Executor(e.to_string()))?;
            let probe: Arc<dyn HealthProbe> = if x.checks.is_empty() {
                Arc::new(NoChecks)
            } else {
                Arc::new(
                    CommandHealthProbe::new(x.command_config(&x.checks))
                        .map_err(|e| WiringError::Executor(e.to_string()))?,
                )
            };
            Ok((Arc::new(exec), probe, None))
        }
    }
}

/// One line per flag that is set (in `[flags]` or its `FEATURE_*`
/// environment variable, read through `env`) but gates nothing in Hale
/// ([`Feature::gates_anything`]): accepted, so seed 002's environments keep
/// starting, and said once at start so nobody believes it does something.
pub fn ignored_flag_notices(
    configured: &GlobalSwitches,
    env: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    Feature::ALL
        .into_iter()
        .filter(|f| !f.gates_anything())
        .filter_map(|f| {
            let from_env = env(f.env_var()).filter(|v| !v.trim().is_empty());
            let from_file = configured.features.get(&f);
            let how = match (from_env, from_file) {
                (Some(v), _) => format!("{}={v:?}", f.env_var()),
                (None, Some(s)) => format!("[flags] {} = {:?}", f.as_str(), *s == Switch::On),
                (None, None) => return None,
            };
            Some(format!(
                "{how} is accepted and ignored: Hale has no process monitor, so {} gates nothing (docs/policy.md)",
                f.as_str()
            ))
        })
        .collect()
}

/// Connects every backend the configuration names.
pub async fn connect(config: &Config) -> Result<Backends, WiringError> {
    for notice in ignored_flag_notices(&config.global_flags(), |k| std::env::var(k).ok()) {
        tracing::info!("{notice}");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (stores, store) = open_store(config).await?;
    let (locks, idempotency) = open_locks(config, clock.as_ref())?;
    let (executor, probe, dry_run) = open_executor(config, clock.clone()).await?;
    let mut ports = Ports::new(clock, stores, locks, idempotency, vec![executor], probe);
    ports.flags = Arc::new(ConfigFlagSource::new(config.global_flags()));
    // Silences are asked of the tenants that name an Alertmanager; without
    // one the engine never asks, so no client is built.
    if config.tenants.iter().any(|t| t.alertmanager.is_some()) {
        let silences = hale_alertmanager::AlertmanagerSilences::new(
            hale_alertmanager::AlertmanagerSettings::default(),
        )
        .map_err(|e| WiringError::Silences(e.to_string()))?;
        ports.silences = Arc::new(silences);
    }
    Ok(Backends {
        ports,
        dry_run,
        store,
    })
}

/// The engine for `config` over `ports`: its tenants' policies and engine
/// settings. Background jobs are not started (the server starts them; an
/// offline replay does not want them).
pub async fn build_engine(config: &Config, ports: Ports) -> Result<Engine, WiringError> {
    let mut engine_config = config.engine_config();
    // The lock backend's notices name the replica that saw the change.
    if let Ok(host) = std::env::var("HOSTNAME") {
        engine_config.replica = format!("{host} (process {})", std::process::id());
    }
    let mut builder = Engine::builder(ports).config(engine_config);
    for policy in config.tenant_policies() {
        builder = builder.tenant(policy);
    }
    Ok(builder.build().await?)
}

#[cfg(test)]
mod tests {
    use hale_engine::ports::StaticFlagSource;

    use super::*;

    fn switches(pairs: &[(Feature, Switch)]) -> GlobalSwitches {
        GlobalSwitches {
            features: pairs.iter().copied().collect(),
        }
    }

    /// check-config judges a lease against the Redis adapter's default
    /// timeouts through hale-config's copies (the config crate links no
    /// Redis client): the copies must be the values that run.
    #[test]
    fn config_knows_the_redis_adapters_default_timeouts() {
        assert_eq!(
            crate::config::REDIS_COMMAND_TIMEOUT,
            hale_redis::DEFAULT_COMMAND_TIMEOUT
        );
        assert_eq!(
            crate::config::REDIS_CONNECT_TIMEOUT,
            hale_redis::DEFAULT_CONNECT_TIMEOUT
        );
    }

    #[tokio::test]
    async fn any_off_wins_whichever_side_says_it() {
        let config = switches(&[
            (Feature::AutoHealing, Switch::On),
            (Feature::AutoDetection, Switch::Off),
        ]);
        let env = switches(&[
            (Feature::AutoHealing, Switch::Off),
            (Feature::PreventiveHealing, Switch::On),
        ]);
        let source = ConfigFlagSource::with_source(config, Arc::new(StaticFlagSource(env)));
        let out = source.global_switches().await.unwrap();
        assert_eq!(out.features.get(&Feature::AutoHealing), Some(&Switch::Off));
        assert_eq!(
            out.features.get(&Feature::AutoDetection),
            Some(&Switch::Off)
        );
        assert_eq!(
            out.features.get(&Feature::PreventiveHealing),
            Some(&Switch::On)
        );
        assert_eq!(out.features.get(&Feature::ProcessMonitoring), None);
    }

    #[test]
    fn process_monitoring_is_accepted_ignored_and_announced_when_set() {
        let none = GlobalSwitches::default();
        assert_eq!(ignored_flag_notices(&none, |_| None), Vec::<String>::new());
        let env = |k: &str| (k == "FEATURE_PROCESS_MONITORING_ENABLED").then(|| "true".to_owned());
        let notices = ignored_flag_notices(&none, env);
        assert_eq!(notices.len(), 1);
        assert!(
            notices[0]
                .starts_with("FEATURE_PROCESS_MONITORING_ENABLED=\"true\" is accepted and ignored"),
            "{notices:?}"
        );
        let file = switches(&[(Feature::ProcessMonitoring, Switch::Off)]);
        let notices = ignored_flag_notices(&file, |_| None);
        assert_eq!(notices.len(), 1);
        assert!(
            notices[0].starts_with("[flags] process_monitoring = false"),
            "{notices:?}"
        );
        // The flags that gate something are never announced as ignored.
        let others = switches(&[
            (Feature::AutoHealing, Switch::Off),
            (Feature::Execution, Switch::On),
        ]);
        assert!(ignored_flag_notices(&others, |k| Some(format!("{k}-set"))).len() == 1);
        for f in Feature::ALL {
            assert_eq!(f.gates_anything(), f != Feature::ProcessMonitoring, "{f}");
        }
        // Set off, it still stops nothing: the guard never reads it.
        assert!(
            !hale_domain::guard::global_features(hale_domain::guard::HealingPath::Automatic)
                .contains(&Feature::ProcessMonitoring)
        );
    }

    #[test]
    fn kube_connections_follow_the_section() {
        let mut x = ExecutorSection::default();
        assert_eq!(kube_connection(&x).unwrap(), KubeConnection::Infer);
        x.in_cluster = true;
        assert_eq!(kube_connection(&x).unwrap(), KubeConnection::InCluster);
        x.in_cluster = false;
        x.context = Some("prod".into());
        assert!(kube_connection(&x).is_err());
        x.kubeconfig = Some("/etc/hale/kubeconfig".into());
        assert!(
            matches!(kube_connection(&x).unwrap(), KubeConnection::Kubeconfig { context: Some(c), .. } if c == "prod")
        );
        x.api_url = Some("http://127.0.0.1:8001".into());
        assert_eq!(
            kube_connection(&x).unwrap(),
            KubeConnection::Url("http://127.0.0.1:8001".into())
        );
    }
}
