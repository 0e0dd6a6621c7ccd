//! Graceful shutdown: wait for SIGTERM or SIGINT, stop accepting
//! connections, let in-flight requests finish (bounded by the drain
//! timeout), then stop the engine (operations reach a safe point, record
//! themselves interrupted and release their locks; state is persisted) and
//! close the backends.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::routes::AppState;

/// Resolves at the first SIGTERM or SIGINT. If the handlers cannot be
/// installed, it never resolves (and logs why): the process then stops the
/// hard way, which crash recovery handles.
pub async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (term, int) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot install signal handlers; graceful shutdown is unavailable");
            std::future::pending::<()>().await;
        }
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens after it sent.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains:
/// no new connections, in-flight requests finish within `drain`. Returns
/// when the listener is closed; the caller then stops the engine.
pub async fn serve_until<F>(
    listener: TcpListener,
    app: Router,
    state: AppState,
    drain: Duration,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let graceful = {
        let rx = rx.clone();
        async move {
            stopped(rx).await;
            state.start_draining();
            tracing::info!(
                "shutting down: accepting no new connections, finishing in-flight requests"
            );
        }
    };
    let deadline = async move {
        stopped(rx).await;
        tokio::time::sleep(drain).await;
    };
    let serve = axum::serve(listener, app).with_graceful_shutdown(graceful);
    tokio::select! {
        res = serve.into_future() => res,
        () = deadline => {
            tracing::warn!(
                drain = %hale_domain::time::duration::format(drain),
                "in-flight requests did not finish within the drain timeout; stopping anyway"
            );
            Ok(())
        }
    }
}
