//! The infrastructure sections of the config file: `[server]`, `[store]`,
//! `[locks]`, `[executor]`, `[engine]` and `[flags]`.
//!
//! Every section is optional and every field has the embedded default, so
//! an empty file runs Hale on loopback with SQLite, in-process locks and the
//! dry-run executor. Unknown keys are errors (`deny_unknown_fields`): a typo
//! must not silently fall back to a default.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use hale_command::CommandSpec;
use hale_domain::kill_switch::{Feature, GlobalSwitches, Switch};
use hale_domain::time::duration;
use hale_engine::EngineConfig;
use serde::{Deserialize, Deserializer};

/// The address the server listens on without configuration.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The data directory without configuration (relative to the working dir).
pub const DEFAULT_DATA_DIR: &str = ".hale-data";
/// The request body limit without configuration (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The Redis adapter's command timeout when `[locks] command_timeout` is
/// not set (`hale_redis::DEFAULT_COMMAND_TIMEOUT`; a server test keeps the
/// two equal, so check-config judges the lease with the value that runs).
pub const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

/// The Redis adapter's connect timeout when `[locks] connect_timeout` is
/// not set (`hale_redis::DEFAULT_CONNECT_TIMEOUT`, kept equal the same way).
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

// === [server] ===

/// `[server]`: the HTTP edge.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// `host:port` to listen on (default `127.0.0.1:8080`). A non-loopback
    /// address needs `[[tokens]]`.
    pub listen: String,
    /// Where the embedded store, and the generated admin token, live.
    pub data_dir: PathBuf,
    /// Largest request body, in bytes or with a unit (`"1MiB"`, `"512KiB"`).
    #[serde(deserialize_with = "de_bytes")]
    pub body_limit: usize,
    /// Bound on one request; a slower one answers 503.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Bound on each readiness check (store ping, lock ping).
    #[serde(with = "duration")]
    pub ready_timeout: Duration,
    /// The `Retry-After` sent with 503 answers.
    #[serde(with = "duration")]
    pub retry_after: Duration,
    /// How long a graceful shutdown waits for in-flight requests.
    #[serde(with = "duration")]
    pub drain_timeout: Duration,
    /// How long an operator console session lives after sign-in (it is
    /// never extended; default 8 hours).
    #[serde(with = "duration")]
    pub session_lifetime: Duration,
    /// The URL browsers reach the server at, when a proxy in front of it
    /// terminates TLS (`https://hale.example.com`). With `https`, console
    /// cookies are marked `Secure`; so are they for a request a proxy marks
    /// with `X-Forwarded-Proto: https`.
    pub public_url: Option<String>,
    /// `/metrics` answers only a platform token (`tenant = "*"`) that may
    /// read: the gauges name every tenant's breakers.
    pub metrics_require_token: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: DEFAULT_LISTEN.to_owned(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(30),
            ready_timeout: Duration::from_secs(2),
            retry_after: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(30),
            session_lifetime: Duration::from_secs(8 * 3600),
            public_url: None,
            metrics_require_token: false,
        }
    }
}

/// Reads a byte count: an integer, or a number with `B`, `KiB`, `MiB`,
/// `GiB`, `kB`, `MB` or `GB`.
pub fn parse_bytes(input: &str) -> Result<usize, String> {
    let s = input.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().map_err(|_| {
        format!("invalid size {input:?}: expected e.g. 1048576, \"1MiB\", \"512KiB\"")
    })?;
    let mult: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "invalid size {input:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, kB, MB, GB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size {input:?}: too large"))
}

pub(super) fn de_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(n) => usize::try_from(n).map_err(serde::de::Error::custom),
        Raw::Text(t) => parse_bytes(&t).map_err(serde::de::Error::custom),
    }
}

// === [store] ===

/// Which store backend holds the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// The embedded default: one SQLite file in the data directory.
    #[default]
    Sqlite,
    /// Postgres: the production store, shared by replicas.
    Postgres,
}

/// `[store]`.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite` (default) or `postgres`.
    pub kind: StoreKind,
    /// Postgres: the application role's URL (`HALE_DATABASE_URL`
    /// overrides it). SQLite: ignored (see `path`).
    pub url: Option<String>,
    /// SQLite: the database file (default `<data_dir>/hale.db`).
    pub path: Option<PathBuf>,
    /// Postgres: run pending migrations on start with this URL (the
    /// `hale_migrator` role's). Unset: migrations are run separately.
    pub migrate_url: Option<String>,
    /// Postgres: the schema holding Hale's tables.
    pub schema: Option<String>,
    /// Postgres: most pooled connections.
    pub max_connections: Option<u32>,
    /// Postgres: bound on connecting at start.
    #[serde(default, with = "opt_duration")]
    pub connect_timeout: Option<Duration>,
    /// Bound on getting a pooled connection.
    #[serde(default, with = "opt_duration")]
    pub acquire_timeout: Option<Duration>,
    /// Postgres: server-side bound on one statement.
    #[serde(default, with = "opt_duration")]
    pub statement_timeout: Option<Duration>,
    /// Postgres: client-side bound on one whole store call. SQLite: how
    /// long a writer waits for the write lock before answering 503.
    #[serde(default, with = "opt_duration")]
    pub operation_timeout: Option<Duration>,
}

impl fmt::Debug for StoreSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSection")
            .field("kind", &self.kind)
            .field("url", &self.url.as_deref().map(hale_redact::redact_url))
            .field("path", &self.path)
            .field(
                "migrate_url",
                &self.migrate_url.as_deref().map(hale_redact::redact_url),
            )
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

// === [locks] ===

/// Which lock backend coordinates resource locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocksKind {
    /// In-process locks: correct for one replica.
    #[default]
    Local,
    /// Redis: fenced locks shared by replicas.
    Redis,
}

/// `[locks]`.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocksSection {
    /// `local` (default) or `redis`.
    pub kind: LocksKind,
    /// Redis URL (`HALE_REDIS_URL` overrides it).
    pub url: Option<String>,
    /// Bound on one Redis command (default 250 ms).
    #[serde(default, with = "opt_duration")]
    pub command_timeout: Option<Duration>,
    /// Bound on getting a pooled connection (default 250 ms).
    #[serde(default, with = "opt_duration")]
    pub connect_timeout: Option<Duration>,
    /// Pooled connections (default 16).
    pub pool_size: Option<usize>,
    /// With a `rediss://` URL: the PEM file of the CA that signed the Redis
    /// server's certificate (default: the system's trust store).
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for LocksSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocksSection")
            .field("kind", &self.kind)
            .field("url", &self.url.as_deref().map(hale_redact::redact_url))
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

// === [executor] ===

/// Which executor carries out healing actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutorKind {
    /// Records what would be done and changes nothing (the default).
    #[default]
    DryRun,
    /// Acts on a Kubernetes API server.
    Kubernetes,
    /// Runs allow-listed local commands.
    Command,
}

impl ExecutorKind {
    /// Reads `dry-run`, `kubernetes` or `command` (as in `HALE_EXECUTOR`).
    pub fn parse(s: &str) -> Result<ExecutorKind, String> {
        match s.trim() {
            "dry-run" | "dry_run" | "dryrun" => Ok(ExecutorKind::DryRun),
            "kubernetes" | "kube" => Ok(ExecutorKind::Kubernetes),
            "command" => Ok(ExecutorKind::Command),
            other => Err(format!(
                "unknown executor {other:?}; expected dry-run, kubernetes or command"
            )),
        }
    }
}

/// `[executor]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorSection {
    /// `dry-run` (default), `kubernetes` or `command`.
    pub kind: ExecutorKind,
    /// Kubernetes: a kubeconfig file. Without it (and without `api_url` or
    /// `in_cluster`), `KUBECONFIG`, `~/.kube/config` or the pod's service
    /// account are tried.
    pub kubeconfig: Option<PathBuf>,
    /// Kubernetes: the kubeconfig context (default: its current context).
    pub context: Option<String>,
    /// Kubernetes: a plain API URL with no credentials (`kubectl proxy`).
    pub api_url: Option<String>,
    /// Kubernetes: use the pod's service account.
    pub in_cluster: bool,
    /// Kubernetes: bound on one API request (default 30 s).
    #[serde(default, with = "opt_duration")]
    pub request_timeout: Option<Duration>,
    /// Kubernetes: the patches' field manager (default `hale`).
    pub field_manager: Option<String>,
    /// Kubernetes: allow node actions for tenants with a namespace list.
    pub allow_node_actions: bool,
    /// Command: the allow-list of actions (`command:<name>`).
    pub commands: Vec<CommandSpec>,
    /// Command: health checks, by name (a strategy's `verify.check`).
    pub checks: Vec<CommandSpec>,
    /// Command: cap on the recorded stdout and, separately, stderr of one
    /// run (default 64 KiB).
    #[serde(default, deserialize_with = "de_opt_bytes")]
    pub max_output_bytes: Option<usize>,
    /// Command: regular expressions whose matches are masked in recorded
    /// argv, output and messages, on top of the built-in patterns.
    pub redact_patterns: Vec<String>,
}

fn de_opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "de_bytes")] usize);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

impl ExecutorSection {
    /// The command executor's settings for `commands` (the actions or the
    /// checks), with this section's output cap and redaction patterns.
    pub fn command_config(&self, commands: &[CommandSpec]) -> hale_command::CommandConfig {
        let mut c = hale_command::CommandConfig::with_commands(commands.to_vec());
        if let Some(n) = self.max_output_bytes {
            c.max_output_bytes = n;
        }
        c.redact_patterns.clone_from(&self.redact_patterns);
        c
    }
}

// === [engine] ===

/// `[engine]`: the engine's knobs, with humane durations. Unset knobs keep
/// the seed defaults of [`EngineConfig::default`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSection {
    /// How long a delivery's idempotency key lives.
    #[serde(with = "duration")]
    pub idempotency_ttl: Duration,
    /// Lock TTL of automatic runs.
    #[serde(with = "duration")]
    pub automatic_lock_ttl: Duration,
    /// How long an approved execution waits for an automatic run to yield.
    #[serde(with = "duration")]
    pub preemption_wait: Duration,
    /// Idle tenants are evicted from memory after this.
    #[serde(with = "duration")]
    pub tenant_idle_eviction: Duration,
    /// How often the `FEATURE_*` flags are re-read.
    #[serde(with = "duration")]
    pub flag_refresh_interval: Duration,
    /// How often this replica checks the store for safety-state changes made
    /// by others (default 250ms): a switch set on any replica is in force
    /// here within this plus a round trip.
    #[serde(with = "duration")]
    pub safety_sync_interval: Duration,
    /// Auto-detection job interval (seed 002: 5 min).
    #[serde(with = "duration")]
    pub detection_interval: Duration,
    /// Preventive job interval (seed 002: 10 min).
    #[serde(with = "duration")]
    pub preventive_interval: Duration,
    /// Approval expiry sweep interval.
    #[serde(with = "duration")]
    pub approval_sweep_interval: Duration,
    /// How often spent attempt ledgers are pruned (default 10 min).
    #[serde(with = "duration")]
    pub ledger_prune_interval: Duration,
    /// How often the lock backend is probed (default 10s): its loss and
    /// return are announced even while no alert asks for a lock.
    #[serde(with = "duration")]
    pub lock_probe_interval: Duration,
    /// Most background tasks (default 12: Hale's own jobs and notification
    /// delivery need 11; seed 002 had 10).
    pub max_background_tasks: usize,
    /// Global dormancy threshold (seed 002: 10).
    pub global_dormancy_threshold: u32,
    /// Deferred alerts remembered per tenant.
    pub max_deferred_per_tenant: usize,
    /// Their bytes per tenant (default 32 MiB; `"64MiB"` style).
    #[serde(deserialize_with = "de_bytes")]
    pub max_deferred_bytes_per_tenant: usize,
    /// How long shutdown waits for operations to reach a safe point.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// Alerts of one delivery with different fingerprints processed at once.
    pub intake_concurrency: usize,
}

impl Default for EngineSection {
    fn default() -> Self {
        let d = EngineConfig::default();
        EngineSection {
            idempotency_ttl: d.idempotency_ttl,
            automatic_lock_ttl: d.automatic_lock_ttl,
            preemption_wait: d.preemption_wait,
            tenant_idle_eviction: d.tenant_idle_eviction,
            flag_refresh_interval: d.flag_refresh_interval,
            safety_sync_interval: d.safety_sync_interval,
            detection_interval: d.detection_interval,
            preventive_interval: d.preventive_interval,
            approval_sweep_interval: d.approval_sweep_interval,
            ledger_prune_interval: d.ledger_prune_interval,
            lock_probe_interval: d.lock_probe_interval,
            max_background_tasks: d.max_background_tasks,
            global_dormancy_threshold: d.global_dormancy_threshold,
            max_deferred_per_tenant: d.max_deferred_per_tenant,
            max_deferred_bytes_per_tenant: d.max_deferred_bytes_per_tenant,
            shutdown_grace: d.shutdown_grace,
            intake_concurrency: d.intake_concurrency,
        }
    }
}

impl EngineSection {
    /// The engine configuration.
    pub fn to_engine_config(&self) -> EngineConfig {
        EngineConfig {
            idempotency_ttl: self.idempotency_ttl,
            automatic_lock_ttl: self.automatic_lock_ttl,
            preemption_wait: self.preemption_wait,
            tenant_idle_eviction: self.tenant_idle_eviction,
            flag_refresh_interval: self.flag_refresh_interval,
            safety_sync_interval: self.safety_sync_interval,
            detection_interval: self.detection_interval,
            preventive_interval: self.preventive_interval,
            approval_sweep_interval: self.approval_sweep_interval,
            ledger_prune_interval: self.ledger_prune_interval,
            lock_probe_interval: self.lock_probe_interval,
            replica: EngineConfig::default().replica,
            max_background_tasks: self.max_background_tasks,
            global_dormancy_threshold: self.global_dormancy_threshold,
            max_deferred_per_tenant: self.max_deferred_per_tenant,
            max_deferred_bytes_per_tenant: self.max_deferred_bytes_per_tenant,
            shutdown_grace: self.shutdown_grace,
            intake_concurrency: self.intake_concurrency,
        }
    }
}

// === [flags] ===

/// `[flags]`: seed 002's feature flags as booleans. The `FEATURE_*`
/// environment variables still apply on top: any "off" wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlagsSection {
    /// `FEATURE_AUTO_HEALING_ENABLED`.
    pub auto_healing: Option<bool>,
    /// `FEATURE_AUTO_DETECTION_MONITORING`.
    pub auto_detection: Option<bool>,
    /// `FEATURE_PREVENTIVE_HEALING_ENABLED`.
    pub preventive_healing: Option<bool>,
    /// `FEATURE_PROCESS_MONITORING_ENABLED`.
    pub process_monitoring: Option<bool>,
    /// `FEATURE_EXECUTION_ENABLED`: `false` is the freeze, every execution
    /// (automatic, approved, manual) stops, checked before every action.
    pub execution: Option<bool>,
}

impl FlagsSection {
    /// The flags that are set, as the global switch layer.
    pub fn to_switches(self) -> GlobalSwitches {
        let mut out = GlobalSwitches::default();
        for (feature, value) in [
            (Feature::AutoHealing, self.auto_healing),
            (Feature::AutoDetection, self.auto_detection),
            (Feature::PreventiveHealing, self.preventive_healing),
            (Feature::ProcessMonitoring, self.process_monitoring),
            (Feature::Execution, self.execution),
        ] {
            if let Some(on) = value {
                out.features
                    .insert(feature, if on { Switch::On } else { Switch::Off });
            }
        }
        out
    }
}

// === helpers ===

/// An optional humane duration.
pub(crate) mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "hale_domain::time::duration")] Duration);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_units() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert_eq!(parse_bytes("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("2MB"), Ok(2_000_000));
        assert!(
            parse_bytes("1 parsec")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_bytes("MiB").is_err());
    }

    #[test]
    fn flags_set_only_what_is_configured() {
        let f = FlagsSection {
            auto_healing: Some(false),
            preventive_healing: Some(true),
            ..FlagsSection::default()
        };
        let s = f.to_switches();
        assert!(!s.is_on(Feature::AutoHealing));
        assert_eq!(
            s.features.get(&Feature::PreventiveHealing),
            Some(&Switch::On)
        );
        assert!(!s.features.contains_key(&Feature::AutoDetection));
    }

    #[test]
    fn executor_kinds_parse_like_the_env_var() {
        assert_eq!(ExecutorKind::parse("dry-run"), Ok(ExecutorKind::DryRun));
        assert_eq!(
            ExecutorKind::parse("kubernetes"),
            Ok(ExecutorKind::Kubernetes)
        );
        assert!(ExecutorKind::parse("ssh").unwrap_err().contains("ssh"));
    }

    #[test]
    fn the_engine_section_defaults_to_the_seed_values() {
        assert_eq!(
            EngineSection::default().to_engine_config(),
            EngineConfig::default()
        );
    }
}
