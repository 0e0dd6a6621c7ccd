//! The server's configuration: one TOML file, typed, strict, with every
//! problem reported at its file, line and column.
//!
//! A library of the app layer, shared by `hale-server` (which re-exports it
//! as `hale_server::config`), the `hale` CLI and `hale-load`. It knows the
//! engine's and the command executor's config types but links no HTTP
//! server, Kubernetes or Redis client, so the CLI does not either.
//!
//! ```
//! let text = r#"
//! [[tenants]]
//! id = "shop"
//! namespaces = ["prod"]
//!
//! [[tenants.strategies]]
//! id = "restart"
//! risk = "low"
//! trigger = { alertnames = ["HighErrorRate"] }
//! target = { kind = "deployment" }
//! actions = [{ kind = "rollout_restart", timeout = "0s" }]
//! "#;
//! let errors = hale_config::parse_str(text, "hale.toml").unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "hale.toml:11:50: tenants[0].strategies[0].actions[0].timeout: must be positive"
//! );
//! ```
//!
//! The `hale` CLI uses this module too (`hale policy check`, `hale
//! replay`), so the policy it checks is exactly the one the server runs:
//! [`Config::tenant_policies`] and [`Config::engine_config`] feed
//! [`hale_engine::Engine::builder`].
//!
//! Precedence: built-in defaults < the file < environment variables
//! ([`Config::apply_env`]: `HALE_LISTEN`, `HALE_DATA_DIR`,
//! `HALE_DATABASE_URL`, `HALE_REDIS_URL`, `HALE_EXECUTOR`). The seed's
//! `FEATURE_*` variables are not read here: they are combined with
//! `[flags]` at run time by `hale_server`'s `wiring::ConfigFlagSource` (any "off"
//! wins), so they can change without a restart.

mod errors;
mod limits;
mod notifications;
mod policy;
mod role;
mod sections;
pub mod span;
mod tenants;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hale_domain::kill_switch::GlobalSwitches;
use hale_engine::{EngineConfig, TenantPolicy};
use serde::Deserialize;

pub use errors::{ConfigError, ConfigErrors};
pub use limits::LimitsSection;
pub use notifications::{ChannelConfig, ChannelKind, NotificationsSection, RouteConfig, SecretRef};
pub use policy::{AlertmanagerConfig, BudgetsConfig, LimitsConfig, WindowConfig};
pub use role::{Permission, Role};
pub use sections::{
    DEFAULT_BODY_LIMIT, DEFAULT_DATA_DIR, DEFAULT_LISTEN, EngineSection, ExecutorKind,
    ExecutorSection, FlagsSection, LocksKind, LocksSection, REDIS_COMMAND_TIMEOUT,
    REDIS_CONNECT_TIMEOUT, ServerSection, StoreKind, StoreSection, parse_bytes,
};
pub use tenants::{SwitchesConfig, TenantConfig, TokenConfig};

/// The configuration Hale runs with when given no file: loopback, SQLite in
/// `./.hale-data`, in-process locks, the dry-run executor and one tenant
/// `default` with a demo strategy. It is also shipped as
/// `apps/hale-server/examples/config/minimal.toml`.
pub const BUILTIN_CONFIG: &str = include_str!("../../hale-server/examples/config/minimal.toml");

/// The name errors in [`BUILTIN_CONFIG`] are reported under.
pub const BUILTIN_ORIGIN: &str = "<built-in defaults>";

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    #[serde(default)]
    pub server: ServerSection,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreSection,
    /// `[locks]`.
    #[serde(default)]
    pub locks: LocksSection,
    /// `[executor]`.
    #[serde(default)]
    pub executor: ExecutorSection,
    /// `[engine]`.
    #[serde(default)]
    pub engine: EngineSection,
    /// `[flags]`.
    #[serde(default)]
    pub flags: FlagsSection,
    /// `[limits]`: caps on what one alert may carry.
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[notifications]`: channels and routes.
    #[serde(default)]
    pub notifications: NotificationsSection,
    /// `[[tokens]]`.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// `[[tenants]]` (at least one).
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// Where the configuration came from (for messages).
    #[serde(skip)]
    pub origin: String,
}

/// Parses and validates a configuration. `origin` names the text in errors
/// (usually the file's path).
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
    let mut config: Config = toml::from_str(text).map_err(|e| {
        ConfigErrors::one(ConfigError::at_span(
            origin,
            text,
            e.span(),
            None,
            e.message().trim_end().to_owned(),
        ))
    })?;
    config.origin = origin.to_owned();
    let problems = validate::validate(&config, text, origin);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(problems))
    }
}

/// Reads, parses and validates a configuration file.
pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::one(ConfigError {
            origin: origin.clone(),
            at: None,
            path: None,
            message: format!("cannot read the configuration file: {e}"),
        })
    })?;
    parse_str(&text, &origin)
}

impl Config {
    /// The built-in configuration ([`BUILTIN_CONFIG`]).
    pub fn builtin() -> Result<Config, ConfigErrors> {
        parse_str(BUILTIN_CONFIG, BUILTIN_ORIGIN)
    }

    /// Every tenant's engine policy, in file order.
    pub fn tenant_policies(&self) -> Vec<TenantPolicy> {
        self.tenants.iter().map(TenantConfig::to_policy).collect()
    }

    /// The engine-wide settings.
    pub fn engine_config(&self) -> EngineConfig {
        self.engine.to_engine_config()
    }

    /// The `[flags]` as the global switch layer (before `FEATURE_*`).
    pub fn global_flags(&self) -> GlobalSwitches {
        self.flags.to_switches()
    }

    /// The listen address.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigErrors> {
        self.server.listen.parse().map_err(|e| {
            ConfigErrors::one(ConfigError {
                origin: self.origin.clone(),
                at: None,
                path: Some("server.listen".into()),
                message: format!("{:?} is not host:port: {e}", self.server.listen),
            })
        })
    }

    /// The SQLite database file: `[store] path`, else `<data_dir>/hale.db`.
    pub fn sqlite_path(&self) -> PathBuf {
        self.store
            .path
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("hale.db"))
    }

    /// Applies the environment overrides from `(name, value)` pairs:
    /// `HALE_LISTEN`, `HALE_DATA_DIR`, `HALE_DATABASE_URL` (selects
    /// Postgres), `HALE_REDIS_URL` (selects Redis locks) and `HALE_EXECUTOR`
    /// (`dry-run`, `kubernetes`, `command`). Empty values are ignored.
    pub fn apply_env<I, K, V>(&mut self, vars: I) -> Result<(), ConfigErrors>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut problems = Vec::new();
        for (k, v) in vars {
            let (k, v) = (k.as_ref(), v.as_ref().trim());
            if v.is_empty() {
                continue;
            }
            let env_error = |message: String| ConfigError {
                origin: format!("env {k}"),
                at: None,
                path: None,
                message,
            };
            match k {
                "HALE_LISTEN" => match v.parse::<SocketAddr>() {
                    Ok(_) => v.clone_into(&mut self.server.listen),
                    Err(e) => problems.push(env_error(format!("{v:?} is not host:port: {e}"))),
                },
                "HALE_DATA_DIR" => self.server.data_dir = PathBuf::from(v),
                "HALE_DATABASE_URL" => {
                    self.store.kind = StoreKind::Postgres;
                    self.store.url = Some(v.to_owned());
                }
                "HALE_REDIS_URL" => {
                    self.locks.kind = LocksKind::Redis;
                    self.locks.url = Some(v.to_owned());
                }
                "HALE_EXECUTOR" => match ExecutorKind::parse(v) {
                    Ok(kind) => self.executor.kind = kind,
                    Err(e) => problems.push(env_error(e)),
                },
                _ => {}
            }
        }
        if problems.is_empty() {
            self.check_replica_safety()
        } else {
            Err(ConfigErrors(problems))
        }
    }

    /// Refuses settings that are only safe for one replica when the store
    /// can be shared by several (Postgres with in-process locks). The file
    /// is checked when it is parsed; this covers what the environment
    /// changed afterwards (`HALE_DATABASE_URL`) and configurations built in
    /// code, and the server calls it before it connects anything.
    pub fn check_replica_safety(&self) -> Result<(), ConfigErrors> {
        match validate::shared_store_with_local_locks(self) {
            None => Ok(()),
            Some(why) => Err(ConfigErrors::one(ConfigError {
                origin: self.origin.clone(),
                at: None,
                path: Some("locks.kind".into()),
                message: format!("{why} (after the environment overrides)"),
            })),
        }
    }
}

#[cfg(test)]
mod tests;
