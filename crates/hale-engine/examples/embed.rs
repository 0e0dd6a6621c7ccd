//! Embedding Hale in a tokio service.
//!
//! The service owns an `Engine` built over in-memory ports (hale-testkit's
//! stores and locks, the dry-run executor), feeds it alerts from a channel
//! the way an HTTP handler or a queue consumer would, and prints what the
//! engine decided and its status.
//!
//! Run: `cargo run -p hale-engine --example embed`

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use hale_domain::TenantId;
use hale_domain::alert::Alert;
use hale_engine::dry_run::{DryRunExecutor, DryRunProbe};
use hale_engine::{Engine, TenantPolicy};
use hale_testkit::Kit;
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("warn").init();

    // Ports: in-memory stores and locks; the dry-run executor records what
    // it would do instead of touching a cluster.
    let kit = Kit::new();
    let mut ports = kit.ports();
    let executor = Arc::new(DryRunExecutor::new(kit.clock.clone()));
    ports.executors = vec![executor.clone()];
    ports.probe = Arc::new(DryRunProbe);

    // One tenant, one LOW-risk strategy that the failure watcher may run.
    let tenant = TenantId::new("shop")?;
    let restart = serde_json::from_value(serde_json::json!({
        "id": "restart-on-errors",
        "name": "Restart a deployment whose error rate is high",
        "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"], "severities": ["critical"]},
        "target": {"kind": "deployment", "name_labels": ["deployment", "service"]},
        "actions": [{"kind": "rollout_restart", "timeout": "30s"}],
        "verify": {"check": "rollout_complete", "timeout": "2m"},
        "cooldown": "10m",
        "max_attempts": 3
    }))?;
    let engine = Engine::builder(ports)
        .tenant(TenantPolicy::new(tenant.clone(), vec![restart]))
        .build()
        .await?;
    engine.start_background_tasks()?;

    // The service's intake: a channel of alert batches.
    let (tx, mut rx) = mpsc::channel::<Vec<Alert>>(16);
    let consumer = {
        let engine = engine.clone();
        let tenant = tenant.clone();
        tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                match engine.ingest(&tenant, batch).await {
                    Ok(report) => {
                        for d in report.decisions {
                            println!(
                                "{:<16} {:<20} {}",
                                d.alertname,
                                d.outcome.label(),
                                d.outcome.reason().unwrap_or("")
                            );
                        }
                    }
                    // A real service answers 503 here so the sender retries.
                    Err(e) => println!("intake failed: {e}"),
                }
            }
        })
    };

    let checkout = Alert::firing([
        ("alertname", "HighErrorRate"),
        ("namespace", "prod"),
        ("service", "checkout"),
        ("severity", "critical"),
    ]);
    let unknown = Alert::firing([
        ("alertname", "DiskFull"),
        ("namespace", "prod"),
        ("service", "db"),
    ]);
    // The same alert twice (as two Alertmanager HA peers send it) and one
    // that no strategy handles.
    tx.send(vec![checkout.clone(), checkout]).await?;
    tx.send(vec![unknown]).await?;
    drop(tx);
    consumer.await?;
    engine.wait_idle().await;

    println!("\nwhat the dry-run executor would have done:");
    for r in executor.records() {
        println!("  {} {} ({:?})", r.kind, r.resource, r.mode);
    }
    let status = engine.status(&tenant).await?;
    println!(
        "\nstatus:\n{}",
        serde_json::to_string_pretty(&status.self_healing)?
    );
    engine.shutdown().await;
    Ok(())
}
