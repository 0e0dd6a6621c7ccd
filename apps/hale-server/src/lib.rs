//! # hale-server
//!
//! The standalone Hale server: Alertmanager points its webhook here, and
//! operators approve, switch, resume and read through the same HTTP API
//! (docs/api.md, served as OpenAPI at `/v1/openapi.json`).
//!
//! With no configuration it runs on loopback with SQLite in `./.hale-data`,
//! in-process locks and the dry-run executor, and generates an admin
//! token. A TOML file ([`config`]) scales it out to Postgres, Redis and
//! Kubernetes.
//!
//! The pieces, for embedders and tests:
//!
//! * [`config`]: the typed, strictly validated configuration, also used by
//!   the `hale` CLI for `hale policy check` and `hale replay`;
//! * [`wiring`]: configuration to backends ([`wiring::connect`]) and
//!   engine ([`wiring::build_engine`]);
//! * [`routes::router`]: the axum service over an [`routes::AppState`]
//!   (an engine plus a [`auth::TokenTable`]), testable with `oneshot`;
//! * [`console`]: the operator console at `/console` (server-rendered
//!   HTML over the same reads and acts as the API);
//! * [`Server`]: bind, serve, shut down gracefully.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::body::Body;
//! use axum::http::Request;
//! use hale_server::auth::{Role, TokenTable, TokenTenant};
//! use hale_server::routes::{AppState, HttpSettings, router};
//! use tower::ServiceExt;
//!
//! // The built-in policy over in-memory ports (the server would call
//! // `hale_server::wiring::connect(&config)` for real backends).
//! let config = hale_server::config::Config::builtin()?;
//! let kit = hale_testkit::Kit::new();
//! let engine = hale_server::wiring::build_engine(&config, kit.ports()).await?;
//! let mut tokens = TokenTable::new();
//! tokens.insert_token("s3cret", "ci", TokenTenant::Platform, Role::Admin);
//! let app = router(AppState::new(engine, tokens, HttpSettings::default()));
//!
//! let req = Request::get("/v1/status?tenant=default")
//!     .header("authorization", "Bearer s3cret")
//!     .body(Body::empty())?;
//! assert_eq!(app.oneshot(req).await?.status(), 200);
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```

pub mod admission;
pub mod auth;
pub mod bootstrap;
pub mod fair_share;
pub use hale_config as config;
pub mod console;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod routes;
mod server;
pub mod shutdown;
pub mod tz;
pub mod wiring;

pub use server::{Server, ServerError};
