//! The server's life: check the configuration is safe to expose, prepare
//! the data directory and tokens, connect the backends, build the engine,
//! bind, serve, and shut down in order.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = hale_server::config::load_file("/etc/hale/hale.toml")?;
//! let server = hale_server::Server::bind(config).await?;
//! println!("{}", server.banner());
//! server.run_until(hale_server::shutdown::signal()).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;

use hale_engine::Engine;
use hale_engine::dry_run::DryRunExecutor;
use tokio::net::TcpListener;

use crate::auth::{Role, TokenConfigError, TokenTable, TokenTenant};
use crate::bootstrap::{self, AdminToken, BootstrapError};
use crate::config::{Config, ConfigErrors, ExecutorKind, LocksKind, StoreKind};
use crate::routes::{self, AppState, HttpSettings};
use crate::wiring::{self, Backends, WiringError};

/// The server could not start (or stopped with an error).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// A non-loopback listen address without configured tokens.
    #[error(
        "refusing to listen on {0}: it is not a loopback address and no [[tokens]] are configured. \
         Configure tokens (hale-server hash-token prints the hash) or listen on 127.0.0.1"
    )]
    Exposed(SocketAddr),
    /// The data directory or the admin token file.
    #[error("data directory: {0}")]
    Bootstrap(#[from] BootstrapError),
    /// A token entry.
    #[error("{0}")]
    Tokens(#[from] TokenConfigError),
    /// A backend.
    #[error("{0}")]
    Wiring(#[from] WiringError),
    /// The background tasks could not be registered.
    #[error("background tasks: {0}")]
    Tasks(String),
    /// The listener.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// A bound, ready server.
pub struct Server {
    config: Config,
    state: AppState,
    listener: TcpListener,
    backends: Backends,
    admin: Option<AdminToken>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen", &self.listener.local_addr().ok())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Prepares everything and binds the listener; nothing is served until
    /// [`Server::run_until`].
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        config.check_replica_safety()?;
        let addr = config.listen_addr()?;
        if !addr.ip().is_loopback() && config.tokens.is_empty() {
            return Err(ServerError::Exposed(addr));
        }
        let mut tokens = TokenTable::from_config(&config.tokens)?;
        let data_dir = &config.server.data_dir;
        if config.store.kind == StoreKind::Sqlite || config.tokens.is_empty() {
            bootstrap::prepare_data_dir(data_dir)?;
        }
        let admin = if config.tokens.is_empty() {
            let admin = bootstrap::admin_token(data_dir)?;
            tokens.insert_token(&admin.token, "admin", TokenTenant::Platform, Role::Admin);
            Some(admin)
        } else {
            None
        };
        let backends = wiring::connect(&config).await?;
        let engine = wiring::build_engine(&config, backends.ports.clone()).await?;
        // Bind before the background jobs start, so a busy port stops the
        // start before anything runs.
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Listen { addr, source })?;
        let delivery = crate::notifications::delivery_setup(&config, backends.ports.clock.clone())?;
        engine
            .start_background_tasks()
            .map_err(|e| ServerError::Tasks(e.to_string()))?;
        engine
            .start_outbox_delivery(delivery)
            .map_err(|e| ServerError::Tasks(e.to_string()))?;
        let state = AppState::new(engine, tokens, HttpSettings::from_full_config(&config));
        Ok(Server {
            config,
            state,
            listener,
            backends,
            admin,
        })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (engine, tokens).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        self.state.engine()
    }

    /// The dry-run executor's record, when it is the configured executor.
    pub fn dry_run(&self) -> Option<&DryRunExecutor> {
        self.backends.dry_run.as_ref()
    }

    /// What to print at start: where it listens, what it runs on, how to
    /// authenticate, and a curl line to try. It never contains a token.
    pub fn banner(&self) -> String {
        let addr = self
            .local_addr()
            .map_or_else(|_| self.config.server.listen.clone(), |a| a.to_string());
        let base = format!("http://{addr}");
        let store = match self.config.store.kind {
            StoreKind::Sqlite => format!("sqlite {}", self.config.sqlite_path().display()),
            StoreKind::Postgres => "postgres".to_owned(),
        };
        let locks = match self.config.locks.kind {
            LocksKind::Local => "local (single process)",
            LocksKind::Redis => "redis",
        };
        let executor = match self.config.executor.kind {
            ExecutorKind::DryRun => "dry-run (records actions, changes nothing)",
            ExecutorKind::Kubernetes => "kubernetes",
            ExecutorKind::Command => "command",
        };
        let tenant = self
            .config
            .tenants
            .first()
            .map_or("default", |t| t.id.as_str());
        let mut out = format!(
            "Hale is listening on {base}\n  store: {store} | locks: {locks} | executor: {executor}\n  tenants: {}\n",
            self.config
                .tenants
                .iter()
                .map(|t| t.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        match &self.admin {
            Some(admin) => {
                let path = admin.path.display();
                out.push_str(&format!(
                    "  admin token: {path} ({}; mode 0600; send it as Authorization: Bearer)\n\
                     \n  Send the example alert and look at the result:\n\
                     \n    TOKEN=$(cat {path})\
                     \n    curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\
                     \n      --data @apps/hale-server/examples/alerts/alertmanager-webhook.json \\\
                     \n      '{base}/v1/alerts/alertmanager?tenant={tenant}'\
                     \n    curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/v1/operations?tenant={tenant}'\n",
                    if admin.created { "created now" } else { "existing" },
                ));
            }
            None => out.push_str(&format!(
                "  {} token(s) configured; send one as Authorization: Bearer <token>\n",
                self.state.tokens().len()
            )),
        }
        out.push_str(&format!(
            "  operator console: {base}/console (sign in with a token)\n  API description: {base}/v1/openapi.json | metrics: {base}/metrics\n"
        ));
        out
    }

    /// Serves until `shutdown` resolves, then shuts down in order: stop
    /// accepting, finish in-flight requests, stop the engine (operations
    /// reach a safe point and release their locks, state is persisted),
    /// close the backends.
    pub async fn run_until<F>(self, shutdown: F) -> Result<(), ServerError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Server {
            config,
            state,
            listener,
            backends,
            admin: _,
        } = self;
        let app = routes::router(state.clone());
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, tenants = config.tenants.len(), "serving");
        }
        let served = crate::shutdown::serve_until(
            listener,
            app,
            state.clone(),
            config.server.drain_timeout,
            shutdown,
        )
        .await;
        tracing::info!("stopping the engine: running operations reach a safe point");
        state.engine().shutdown().await;
        backends.close().await;
        tracing::info!("stopped");
        served.map_err(ServerError::Serve)
    }
}
