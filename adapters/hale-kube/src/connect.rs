//! Building a kube client from a kubeconfig, the pod's service account, the
//! environment, or a plain URL.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

/// Where the Kubernetes API is and how to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeConnection {
    /// `KUBECONFIG` or `~/.kube/config`, else the in-cluster service
    /// account (kube-rs `Config::infer`).
    Infer,
    /// A kubeconfig file, with an optional context (default: its current
    /// context).
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// The context to use.
        context: Option<String>,
    },
    /// The pod's service account (`KUBERNETES_SERVICE_HOST` and the mounted
    /// token).
    InCluster,
    /// A plain URL with no credentials, e.g. `http://127.0.0.1:8001` for
    /// `kubectl proxy` or the in-repo fake API server.
    Url(String),
}

/// A client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The in-cluster configuration is missing (not running in a pod?).
    #[error("in-cluster configuration: {0}")]
    InCluster(String),
    /// No configuration was found anywhere.
    #[error("no Kubernetes configuration found: {0}")]
    Infer(String),
    /// The URL is not valid.
    #[error("invalid API server URL {url:?}: {why}")]
    Url {
        /// The rejected URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The client could not be built from the configuration (TLS, auth).
    #[error("building the Kubernetes client: {0}")]
    Client(String),
}

/// Builds a client for `conn`.
///
/// kube-rs's built-in retry of 429/503/504 responses is turned off: retries
/// are the engine's decision (breaker, backoff and dormancy must see each
/// failure), and an eviction's 429 means a PodDisruptionBudget refused,
/// which must surface at once as `budget_blocked`.
pub async fn connect(conn: &KubeConnection) -> Result<kube::Client, ConnectError> {
    let mut config = match conn {
        KubeConnection::Infer => kube::Config::infer()
            .await
            .map_err(|e| ConnectError::Infer(e.to_string()))?,
        KubeConnection::Kubeconfig { path, context } => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| ConnectError::Kubeconfig(format!("{}: {e}", path.display())))?;
            let options = KubeConfigOptions {
                context: context.clone(),
                ..KubeConfigOptions::default()
            };
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| ConnectError::Kubeconfig(format!("{}: {e}", path.display())))?
        }
        KubeConnection::InCluster => {
            kube::Config::incluster().map_err(|e| ConnectError::InCluster(e.to_string()))?
        }
        KubeConnection::Url(url) => {
            let uri: http::Uri =
                url.parse()
                    .map_err(|e: http::uri::InvalidUri| ConnectError::Url {
                        url: url.clone(),
                        why: e.to_string(),
                    })?;
            if uri.scheme().is_none() || uri.host().is_none() {
                return Err(ConnectError::Url {
                    url: url.clone(),
                    why: "expected http://host:port or https://host:port".to_owned(),
                });
            }
            kube::Config::new(uri)
        }
    };
    config.default_retry = false;
    kube::Client::try_from(config).map_err(|e| ConnectError::Client(e.to_string()))
}

/// The kubeconfig path named by `HALE_TEST_KUBECONFIG`-style variables:
/// `Some` only when the variable is set and not empty.
pub fn path_from_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
