//! The production-shaped `hale-server` configuration the load runs, storms
//! and chaos tests use: Postgres (application role, migrated on start by
//! the migrator role), Redis locks, the Kubernetes executor against the
//! fake API server, one tenant with the seed's LOW-risk restart strategy
//! for `HighErrorRate`, and two tokens given by their hashes. With
//! [`Store::Sqlite`], the store and locks are the embedded default's (one
//! SQLite file in the data directory, in-process locks) and everything
//! else stays the same.

use std::fmt::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::alerts::NAMESPACE;

/// The strategy every generated configuration carries.
pub const STRATEGY_ID: &str = "restart-on-high-error-rate";

/// The token identity allowed to post alerts.
pub const INGEST_TOKEN_NAME: &str = "load-ingest";

/// The platform admin identity (reads, switches).
pub const ADMIN_TOKEN_NAME: &str = "load-admin";

/// Where the server keeps its records (and, with it, which locks it uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Store {
    /// Postgres as the `hale_app` role, Redis locks: the production shape.
    #[default]
    Postgres,
    /// The embedded default: `<data_dir>/hale.db`, in-process locks (the
    /// Postgres and Redis fields are not written).
    Sqlite,
}

/// What [`ServerConfig::render`] fills in.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// `[store] kind`, and `[locks] kind` with it.
    pub store: Store,
    /// `[server] listen`.
    pub listen: String,
    /// `[server] data_dir`.
    pub data_dir: PathBuf,
    /// `[store] url`: the `hale_app` role's URL.
    pub app_url: String,
    /// `[store] migrate_url`: the `hale_migrator` role's URL.
    pub migrator_url: String,
    /// `[store] schema`.
    pub schema: String,
    /// `[store] max_connections`.
    pub max_connections: u32,
    /// `[store] acquire_timeout` (a stopped Postgres answers 503 after it).
    pub store_acquire_timeout: String,
    /// `[locks] url`.
    pub redis_url: String,
    /// `[locks] command_timeout` and `connect_timeout`.
    pub redis_timeout: String,
    /// `[locks] pool_size`.
    pub redis_pool_size: usize,
    /// `[executor] api_url`: the fake Kubernetes API server.
    pub kube_url: String,
    /// `[server] retry_after`.
    pub retry_after: String,
    /// `[engine] automatic_lock_ttl`.
    pub automatic_lock_ttl: String,
    /// `[engine] detection_interval`.
    pub detection_interval: String,
    /// The one tenant's id (it also prefixes the Redis keys).
    pub tenant: String,
    /// The strategy's cooldown per target.
    pub cooldown: String,
    /// The ingest token's plain text (only its hash is written).
    pub ingest_token: String,
    /// The admin token's plain text (only its hash is written).
    pub admin_token: String,
    /// TOML appended after the tenant's strategy (more
    /// `[[tenants.strategies]]`, for tests that need them); empty by default.
    pub extra_toml: String,
    /// Keys added to the `[engine]` section (such as
    /// `ledger_prune_interval = "250ms"`); empty by default.
    pub engine_extra: String,
    /// TOML added to the tenant's `[[tenants]]` table before its strategy
    /// (keys such as `dormancy_threshold = 3`, then tables such as
    /// `[tenants.breaker]`); empty by default.
    pub tenant_extra: String,
    /// A second tenant with the same namespace and strategy and no token of
    /// its own (the admin token posts for it with `?tenant=`): the quiet
    /// neighbour of the fairness benchmark. None by default.
    pub second_tenant: Option<String>,
}

impl ServerConfig {
    /// Defaults for everything but the backends' addresses.
    pub fn new(
        app_url: impl Into<String>,
        migrator_url: impl Into<String>,
        schema: impl Into<String>,
        redis_url: impl Into<String>,
        kube_url: impl Into<String>,
    ) -> Self {
        ServerConfig {
            store: Store::Postgres,
            listen: "127.0.0.1:0".into(),
            data_dir: PathBuf::from("/tmp/hale-load-data"),
            app_url: app_url.into(),
            migrator_url: migrator_url.into(),
            schema: schema.into(),
            max_connections: 20,
            store_acquire_timeout: "2s".into(),
            redis_url: redis_url.into(),
            redis_timeout: "250ms".into(),
            redis_pool_size: 16,
            kube_url: kube_url.into(),
            retry_after: "1s".into(),
            automatic_lock_ttl: "5m".into(),
            detection_interval: "5m".into(),
            tenant: "load".into(),
            cooldown: "15m".into(),
            ingest_token: "load-ingest-token-0123456789abcdef".into(),
            admin_token: "load-admin-token-0123456789abcdef".into(),
            extra_toml: String::new(),
            engine_extra: String::new(),
            tenant_extra: String::new(),
            second_tenant: None,
        }
    }

    /// The TOML text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let _ = write!(
            out,
            r#"# Generated by hale-load: {shape}.
[server]
listen = "{listen}"
data_dir = "{data_dir}"
retry_after = "{retry_after}"
request_timeout = "30s"
drain_timeout = "5s"

{store}
[executor]
kind = "kubernetes"
api_url = "{kube_url}"
request_timeout = "10s"

[engine]
automatic_lock_ttl = "{lock_ttl}"
detection_interval = "{detection}"
shutdown_grace = "5s"
{engine_extra}

[flags]
auto_healing = true

[[tokens]]
name = "{INGEST_TOKEN_NAME}"
tenant = "{tenant}"
role = "ingest"
sha256 = "{ingest_sha}"

[[tokens]]
name = "{ADMIN_TOKEN_NAME}"
tenant = "*"
role = "admin"
sha256 = "{admin_sha}"

[[tenants]]
id = "{tenant}"
namespaces = ["{NAMESPACE}"]
{tenant_extra}
{strategy}"#,
            shape = match self.store {
                Store::Postgres => "the production shape (Postgres, Redis, Kubernetes)",
                Store::Sqlite => "the embedded store (SQLite, local locks) with Kubernetes",
            },
            store = self.store_and_locks(),
            listen = self.listen,
            data_dir = self.data_dir.display(),
            retry_after = self.retry_after,
            kube_url = self.kube_url,
            lock_ttl = self.automatic_lock_ttl,
            detection = self.detection_interval,
            tenant = self.tenant,
            ingest_sha = sha256_hex(&self.ingest_token),
            admin_sha = sha256_hex(&self.admin_token),
            strategy = self.strategy(),
            tenant_extra = self.tenant_extra,
            engine_extra = self.engine_extra,
        );
        out.push_str(&self.extra_toml);
        if let Some(second) = &self.second_tenant {
            let _ = write!(
                out,
                "\n[[tenants]]\nid = \"{second}\"\nnamespaces = [\"{NAMESPACE}\"]\n\n{}",
                self.strategy()
            );
        }
        out
    }

    /// The `[store]` and `[locks]` sections.
    fn store_and_locks(&self) -> String {
        match self.store {
            Store::Sqlite => "[store]\nkind = \"sqlite\"\n\n[locks]\nkind = \"local\"\n".to_owned(),
            Store::Postgres => format!(
                r#"[store]
kind = "postgres"
url = "{app_url}"
migrate_url = "{migrator_url}"
schema = "{schema}"
max_connections = {max_connections}
connect_timeout = "5s"
acquire_timeout = "{acquire}"
statement_timeout = "5s"
operation_timeout = "10s"

[locks]
kind = "redis"
url = "{redis_url}"
command_timeout = "{redis_timeout}"
connect_timeout = "{redis_timeout}"
pool_size = {pool}
"#,
                app_url = self.app_url,
                migrator_url = self.migrator_url,
                schema = self.schema,
                max_connections = self.max_connections,
                acquire = self.store_acquire_timeout,
                redis_url = self.redis_url,
                redis_timeout = self.redis_timeout,
                pool = self.redis_pool_size,
            ),
        }
    }

    /// The restart strategy every generated tenant carries.
    fn strategy(&self) -> String {
        format!(
            r#"[[tenants.strategies]]
id = "{STRATEGY_ID}"
name = "Restart a deployment whose error rate is high"
risk = "low"
trigger = {{ alertnames = ["HighErrorRate"] }}
target = {{ kind = "deployment", name_labels = ["deployment", "service"] }}
actions = [{{ kind = "rollout_restart", timeout = "30s" }}]
verify = {{ check = "rollout_complete", timeout = "30s", interval = "500ms" }}
max_attempts = 3
cooldown = "{cooldown}"
"#,
            cooldown = self.cooldown
        )
    }
}

/// The passwords [`setup_schema`] gives the two roles (throwaway test and
/// benchmark databases only).
pub const ROLE_PASSWORDS: (&str, &str) = ("hale_migrator", "hale_app");

/// Creates the `hale_migrator` and `hale_app` roles (idempotent, with
/// [`ROLE_PASSWORDS`]) and `schema`, through a superuser URL. The server
/// migrates the schema when it starts.
pub async fn setup_schema(admin_url: &str, schema: &str) -> Result<(), String> {
    hale_postgres::setup_roles(
        admin_url,
        &hale_postgres::RoleSetup {
            schema: Some(schema.to_owned()),
            migrator_password: Some(ROLE_PASSWORDS.0.into()),
            app_password: Some(ROLE_PASSWORDS.1.into()),
        },
    )
    .await
    .map_err(|e| e.to_string())
}

/// Lower-case hex SHA-256, as `hale-server hash-token` prints it.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `url` with its user and password replaced (`postgres://u:p@host/db`).
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_accepts_the_generated_configuration() {
        let c = ServerConfig::new(
            "postgres://hale_app:x@127.0.0.1:5432/hale",
            "postgres://hale_migrator:x@127.0.0.1:5432/hale",
            "hale_load",
            "redis://127.0.0.1:6379",
            "http://127.0.0.1:8001",
        );
        let parsed = hale_config::parse_str(&c.render(), "generated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{}", c.render()));
        assert_eq!(parsed.tenants.len(), 1);
        assert_eq!(parsed.tokens.len(), 2);
        assert_eq!(parsed.tenants[0].strategies[0].id.as_str(), STRATEGY_ID);
    }

    #[test]
    fn the_server_accepts_the_embedded_store_and_it_names_no_backend() {
        let mut c = ServerConfig::new("pg-app", "pg-mig", "s", "redis://r", "http://k");
        c.store = Store::Sqlite;
        let text = c.render();
        let parsed = hale_config::parse_str(&text, "generated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(parsed.store.kind, hale_config::StoreKind::Sqlite);
        assert_eq!(parsed.locks.kind, hale_config::LocksKind::Local);
        assert!(
            !text.contains("pg-app") && !text.contains("redis://"),
            "{text}"
        );
        assert_eq!(parsed.tenants[0].strategies[0].id.as_str(), STRATEGY_ID);
    }

    #[test]
    fn tenant_extra_lands_in_the_tenant_table() {
        let mut c = ServerConfig::new("pg-app", "pg-mig", "s", "redis://r", "http://k");
        c.tenant_extra =
            "dormancy_threshold = 3\n[tenants.breaker]\nfailure_threshold = 5\n".into();
        let parsed = hale_config::parse_str(&c.render(), "generated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{}", c.render()));
        assert_eq!(parsed.tenants[0].dormancy_threshold, 3);
        assert_eq!(parsed.tenants[0].breaker.failure_threshold, 5);
        assert_eq!(parsed.tenants[0].strategies.len(), 1);
    }

    #[test]
    fn a_second_tenant_gets_the_same_strategy_and_no_token() {
        let mut c = ServerConfig::new("pg-app", "pg-mig", "s", "redis://r", "http://k");
        c.second_tenant = Some("quiet".into());
        let parsed = hale_config::parse_str(&c.render(), "generated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{}", c.render()));
        assert_eq!(parsed.tenants.len(), 2);
        assert_eq!(parsed.tenants[1].id.as_str(), "quiet");
        assert_eq!(parsed.tenants[1].strategies[0].id.as_str(), STRATEGY_ID);
        assert_eq!(parsed.tokens.len(), 2);
    }

    #[test]
    fn urls_get_the_role_swapped_in() {
        assert_eq!(
            with_user("postgres://postgres@127.0.0.1:5432/hale", "hale_app", "pw"),
            "postgres://hale_app:pw@127.0.0.1:5432/hale"
        );
        assert_eq!(
            with_user("postgres://127.0.0.1/x", "a", "b"),
            "postgres://a:b@127.0.0.1/x"
        );
    }

    #[test]
    fn the_rendered_text_carries_hashes_never_tokens() {
        let c = ServerConfig::new("pg-app", "pg-mig", "s", "redis://r", "http://k");
        let text = c.render();
        assert!(!text.contains(&c.ingest_token));
        assert!(!text.contains(&c.admin_token));
        assert!(text.contains(&sha256_hex(&c.ingest_token)));
        assert_eq!(
            sha256_hex("hello"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }
}
