//! `hale-load`: the load generator, the storm and their set-up steps.
//! `scripts/load.sh` and `scripts/storm.sh` call these subcommands in
//! order; each can be run by hand against servers you started yourself.

// This binary's output is its report: tables and verdicts on stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use hale_load::alerts::{v2_body, webhook_body};
use hale_load::api::{HaleApi, family};
use hale_load::config::{ROLE_PASSWORDS, ServerConfig, Store, with_user};
use hale_load::driver::{self, RunConfig, RunResult, Target};
use hale_load::report::{intake_header, intake_row, load_average, machine};
use hale_load::storm::Storm;
use hale_load::workload::{Mix, Workload};
use hale_load::{cpu, kube, procfs, stats};

#[derive(Debug, Parser)]
#[command(
    name = "hale-load",
    version,
    about = "Load, storm and set-up for Hale benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the hale_migrator/hale_app roles and a schema (superuser URL).
    SetupDb {
        /// A superuser URL of the database.
        #[arg(long, env = "HALE_TEST_DATABASE_URL")]
        database_url: String,
        /// The schema to create.
        #[arg(long)]
        schema: String,
    },
    /// Print the production-shaped server configuration (TOML) on stdout.
    Config(ConfigArgs),
    /// Seed deployments svc-0000.. into the fake Kubernetes API server.
    SeedKube {
        /// The fake API server's base URL.
        #[arg(long)]
        kube_url: String,
        /// How many deployments.
        #[arg(long, default_value_t = 1000)]
        deployments: u32,
    },
    /// Closed-loop intake load against Hale and, with the same alerts, a
    /// real Alertmanager; prints both side by side.
    Intake(IntakeArgs),
    /// The alert storm: posts it, waits for healing to settle, counts
    /// operations and executor actions, reports the server's peak RSS.
    Storm(StormArgs),
    /// Fairness: a quiet tenant's intake latency alone, then while another
    /// tenant floods the server; the quiet tenant must never be refused.
    Fairness(FairnessArgs),
}

/// `config --store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreArg {
    /// Postgres and Redis (needs --database-url, --schema, --redis-url).
    Postgres,
    /// The embedded default: SQLite in --data-dir, in-process locks.
    Sqlite,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// The store (and the locks that go with it).
    #[arg(long, value_enum, default_value_t = StoreArg::Postgres)]
    store: StoreArg,
    /// A superuser URL; the app and migrator URLs are derived from it.
    #[arg(long, env = "HALE_TEST_DATABASE_URL")]
    database_url: Option<String>,
    #[arg(long)]
    schema: Option<String>,
    #[arg(long, env = "HALE_TEST_REDIS_URL")]
    redis_url: Option<String>,
    #[arg(long)]
    kube_url: String,
    #[arg(long)]
    data_dir: std::path::PathBuf,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    #[arg(long, default_value = "load")]
    tenant: String,
    #[arg(long, env = "HALE_LOAD_INGEST_TOKEN")]
    ingest_token: String,
    #[arg(long, env = "HALE_LOAD_ADMIN_TOKEN")]
    admin_token: String,
    /// `[store] max_connections`.
    #[arg(long, default_value_t = 20)]
    max_connections: u32,
    /// A second tenant (same strategy, posted to with the admin token).
    #[arg(long)]
    second_tenant: Option<String>,
    /// The strategy's cooldown per target (longer than the run keeps the
    /// storm's "one operation per deployment" verdict meaningful).
    #[arg(long, default_value = "15m")]
    cooldown: String,
}

#[derive(Debug, Args)]
struct Tokens {
    /// Hale's base URL (`http://127.0.0.1:8080`).
    #[arg(long)]
    hale: String,
    /// A token with the ingest role for the tenant.
    #[arg(long, env = "HALE_LOAD_INGEST_TOKEN")]
    ingest_token: String,
    /// A platform token that may read the tenant.
    #[arg(long, env = "HALE_LOAD_ADMIN_TOKEN")]
    admin_token: String,
    /// The tenant.
    #[arg(long, default_value = "load")]
    tenant: String,
}

impl Tokens {
    /// The read API, as the platform token.
    fn api(&self, client: &reqwest::Client) -> HaleApi {
        HaleApi::new(client.clone(), &self.hale, &self.admin_token, &self.tenant)
    }

    /// The webhook intake, as the ingest token.
    fn target(&self) -> Target {
        Target {
            name: "hale".into(),
            url: format!("{}/v1/alerts/alertmanager", self.hale.trim_end_matches('/')),
            bearer: Some(self.ingest_token.clone()),
        }
    }
}

#[derive(Debug, Args)]
struct IntakeArgs {
    #[command(flatten)]
    hale: Tokens,
    /// The reference Alertmanager's base URL (skipped when absent).
    #[arg(long)]
    alertmanager: Option<String>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Measured seconds per target.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Unmeasured seconds before each.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Alerts per request.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Distinct services with a standing alert.
    #[arg(long, default_value_t = 1000)]
    services: u32,
    /// Seeds the sequence.
    #[arg(long, default_value_t = 9)]
    seed: u64,
    /// The mix as repeat,refire,new,resolved percentages.
    #[arg(long, default_value = "60,15,10,15")]
    mix: String,
    /// A process whose CPU time (with its children's) is reported per
    /// alert for each target's measured window, as NAME=PID (repeatable:
    /// `--cpu hale-server=PID --cpu postgres=POSTMASTER_PID`).
    #[arg(long, value_parser = cpu::Group::parse)]
    cpu: Vec<cpu::Group>,
    /// Hale's name in the table (say which shape was measured).
    #[arg(long, default_value = "hale (Postgres + Redis + Kubernetes)")]
    label: String,
}

#[derive(Debug, Args)]
struct FairnessArgs {
    #[command(flatten)]
    hale: Tokens,
    /// The quiet tenant (posted to with the admin token and `?tenant=`).
    #[arg(long, default_value = "quiet")]
    quiet_tenant: String,
    /// The flooding tenant's concurrent connections (full speed).
    #[arg(long, default_value_t = 128)]
    flood_connections: usize,
    /// The quiet tenant's concurrent connections.
    #[arg(long, default_value_t = 2)]
    quiet_connections: usize,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Unmeasured seconds before each phase.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Alerts per request.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Distinct services with a standing alert.
    #[arg(long, default_value_t = 1000)]
    services: u32,
}

#[derive(Debug, Args)]
struct StormArgs {
    #[command(flatten)]
    hale: Tokens,
    /// The fake API server (for its counters).
    #[arg(long)]
    kube_url: String,
    /// hale-server's pid, for its peak RSS.
    #[arg(long)]
    pid: Option<u32>,
    /// A process whose CPU time (with its children's) while the storm is
    /// posted is reported per alert, as NAME=PID (repeatable).
    #[arg(long, value_parser = cpu::Group::parse)]
    cpu: Vec<cpu::Group>,
    #[arg(long, default_value_t = 100_000)]
    alerts: u64,
    #[arg(long, default_value_t = 1000)]
    resources: u32,
    /// Distinct alerts per deployment (a `pod` label); 0: one, no `pod`.
    #[arg(long, default_value_t = 0)]
    pods_per_resource: u32,
    /// Bytes of extra annotations on every alert.
    #[arg(long, default_value_t = 0)]
    annotation_bytes: usize,
    /// The peak RSS goal, in MiB (checked when `--pid` is given).
    #[arg(long, default_value_t = 100.0)]
    rss_limit_mib: f64,
    #[arg(long, default_value_t = 10)]
    epochs: u64,
    #[arg(long, default_value_t = 10)]
    resolved_pct: u8,
    #[arg(long, default_value_t = 100)]
    batch: usize,
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Seconds to wait for running operations to finish after the storm.
    #[arg(long, default_value_t = 180)]
    settle: u64,
    #[arg(long, default_value_t = 3)]
    seed: u64,
}

/// The wall clock, for alert timestamps that a real Alertmanager accepts
/// as current. A load tool has no Clock port to ask.
#[allow(clippy::disallowed_methods)]
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn parse_mix(s: &str) -> anyhow::Result<Mix> {
    let parts: Vec<u8> = s
        .split(',')
        .map(|p| p.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--mix {s:?}: expected four percentages"))?;
    let [repeat, refire, new, resolved] = parts[..] else {
        bail!("--mix {s:?}: expected four percentages (repeat,refire,new,resolved)");
    };
    let mix = Mix {
        repeat,
        refire,
        new,
        resolved,
    };
    mix.validate().map_err(anyhow::Error::msg)?;
    Ok(mix)
}

async fn setup_db(database_url: &str, schema: &str) -> anyhow::Result<()> {
    hale_load::config::setup_schema(database_url, schema)
        .await
        .map_err(anyhow::Error::msg)
        .context("role setup")?;
    println!("schema {schema} ready (roles hale_migrator, hale_app)");
    Ok(())
}

fn config(a: &ConfigArgs) -> anyhow::Result<String> {
    let mut c = match a.store {
        StoreArg::Postgres => {
            let (Some(db), Some(schema), Some(redis)) = (&a.database_url, &a.schema, &a.redis_url)
            else {
                bail!("--store postgres needs --database-url, --schema and --redis-url");
            };
            ServerConfig::new(
                with_user(db, "hale_app", ROLE_PASSWORDS.1),
                with_user(db, "hale_migrator", ROLE_PASSWORDS.0),
                schema,
                redis,
                &a.kube_url,
            )
        }
        StoreArg::Sqlite => {
            let mut c = ServerConfig::new("", "", "", "", &a.kube_url);
            c.store = Store::Sqlite;
            c
        }
    };
    c.listen.clone_from(&a.listen);
    c.data_dir.clone_from(&a.data_dir);
    c.tenant.clone_from(&a.tenant);
    c.ingest_token.clone_from(&a.ingest_token);
    c.admin_token.clone_from(&a.admin_token);
    c.max_connections = a.max_connections;
    c.second_tenant.clone_from(&a.second_tenant);
    c.cooldown.clone_from(&a.cooldown);
    Ok(c.render())
}

async fn decisions(api: &HaleApi) -> std::collections::BTreeMap<String, f64> {
    match api.metrics().await {
        Ok(m) => family(&m, "hale_decisions_total"),
        Err(e) => {
            eprintln!("warning: cannot read metrics: {e}");
            Default::default()
        }
    }
}

fn print_decision_delta(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
) {
    let parts: Vec<String> = after
        .iter()
        .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .map(|(k, d)| {
            let name = k
                .strip_prefix("decision=\"")
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(k);
            format!("{name} {d:.0}")
        })
        .collect();
    println!(
        "hale decisions during the run (warm-up included): {}",
        parts.join(", ")
    );
}

async fn intake(a: IntakeArgs) -> anyhow::Result<()> {
    let mix = parse_mix(&a.mix)?;
    let workload = Workload {
        seed: a.seed,
        services: a.services,
        batch: a.batch,
        mix,
        base: unix_now(),
        epoch_alerts: 5000,
    };
    let run = RunConfig {
        connections: a.connections,
        duration: Duration::from_secs(a.duration),
        warmup: Duration::from_secs(a.warmup),
    };
    let client = driver::client(a.connections);
    println!(
        "intake: {} connections, {} s measured after {} s warm-up, {} alerts per request, mix repeat/refire/new/resolved {}/{}/{}/{} %, {} services",
        a.connections,
        a.duration,
        a.warmup,
        a.batch,
        mix.repeat,
        mix.refire,
        mix.new,
        mix.resolved,
        a.services
    );
    println!("machine: {}", machine());

    let api = a.hale.api(&client);
    let before = decisions(&api).await;
    let hale_target = a.hale.target();
    let (hale, hale_cpu) = measured(
        &a.cpu,
        run,
        driver::run(&client, &hale_target, run, webhook_bodies(workload)),
    )
    .await;
    let after = decisions(&api).await;
    println!("load average after hale: {}", load_average());

    let am = match &a.alertmanager {
        Some(url) => {
            let target = Target {
                name: "alertmanager".into(),
                url: format!("{}/api/v2/alerts", url.trim_end_matches('/')),
                bearer: None,
            };
            let r = measured(
                &a.cpu,
                run,
                driver::run(
                    &client,
                    &target,
                    run,
                    Arc::new(move |i| {
                        let alerts = workload.batch(i);
                        (v2_body(&alerts), alerts.len())
                    }),
                ),
            )
            .await;
            println!("load average after alertmanager: {}", load_average());
            Some(r)
        }
        None => None,
    };

    println!();
    println!("{}", intake_header());
    println!("{}", intake_row(&a.label, &hale));
    if let Some((am, _)) = &am {
        println!("{}", intake_row("alertmanager (/api/v2/alerts)", am));
    }
    println!();
    if !a.cpu.is_empty() {
        println!(
            "{}",
            cpu::report("during hale's measured run", hale.alerts_ok, &hale_cpu)
        );
        if let Some((am, am_cpu)) = &am {
            println!(
                "{}",
                cpu::report("during alertmanager's measured run", am.alerts_ok, am_cpu)
            );
        }
    }
    print_statuses("hale", &hale);
    if let Some((am, _)) = &am {
        print_statuses("alertmanager", am);
    }
    print_decision_delta(&before, &after);
    let req = hale.per_request.summary();
    let goal_rate = hale.alerts_per_sec() >= 5000.0;
    let goal_p99 = req.p99 < Duration::from_millis(20);
    let goal_am = am
        .as_ref()
        .is_none_or(|(am, _)| hale.alerts_per_sec() >= am.alerts_per_sec());
    println!(
        "goal >= 5000 alerts/s: {} | p99 < 20 ms: {} | >= Alertmanager's rate: {}",
        verdict(goal_rate),
        verdict(goal_p99),
        if am.is_some() {
            verdict(goal_am)
        } else {
            "n/a"
        }
    );
    if hale.failures() > 0 {
        bail!("hale answered {} requests with an error", hale.failures());
    }
    Ok(())
}

/// Runs `run` (a [`driver::run`] with `config`), reading the CPU time of
/// `groups` over its measured window: from the end of the warm-up to the
/// run's return (which waits for the requests still in flight at the end,
/// a few milliseconds at most).
async fn measured(
    groups: &[cpu::Group],
    config: RunConfig,
    run: impl std::future::Future<Output = RunResult>,
) -> (RunResult, Vec<cpu::Used>) {
    let groups = groups.to_vec();
    let watch = tokio::spawn(async move {
        tokio::time::sleep(config.warmup).await;
        cpu::Watch::start(&groups)
    });
    let result = run.await;
    let used = match watch.await {
        Ok(w) => w.stop(),
        Err(_) => Vec::new(),
    };
    (result, used)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn print_statuses(name: &str, r: &RunResult) {
    let s: Vec<String> = r
        .statuses
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    println!(
        "{name}: {} requests measured ({}), {} transport errors, {} batches drawn in total",
        r.requests,
        s.join(", "),
        r.transport_errors,
        r.batches_sent
    );
}

async fn storm(a: StormArgs) -> anyhow::Result<()> {
    let storm = Storm {
        seed: a.seed,
        alerts: a.alerts,
        resources: a.resources,
        pods_per_resource: a.pods_per_resource,
        annotation_bytes: a.annotation_bytes,
        epochs: a.epochs,
        resolved_pct: a.resolved_pct,
        batch: a.batch,
        base: unix_now(),
    };
    let client = driver::client(a.connections);
    let api = a.hale.api(&client);
    println!(
        "storm: {} alerts over {} resources ({} fingerprints, {} bytes of extra annotations each), {} epochs, {} % resolutions, {} alerts per request, {} connections",
        a.alerts,
        a.resources,
        storm.fingerprints(),
        a.annotation_bytes,
        a.epochs,
        a.resolved_pct,
        a.batch,
        a.connections
    );
    println!("machine: {}", machine());
    let target = a.hale.target();
    let sampler = a.pid.map(procfs::Sampler::start);
    let watch = cpu::Watch::start(&a.cpu);
    let posted = hale_load::storm::post(&client, &target, storm, a.connections).await;
    let storm_cpu = watch.stop();
    let lat = posted.per_request.summary();
    println!(
        "posted {} alerts in {:.1} s ({:.0} alerts/s); request p50 {} ms, p99 {} ms, max {} ms; retried {:?}; lost batches {}",
        posted.alerts_ok,
        posted.elapsed.as_secs_f64(),
        posted.alerts_ok as f64 / posted.elapsed.as_secs_f64().max(1e-9),
        stats::ms(lat.p50),
        stats::ms(lat.p99),
        stats::ms(lat.max),
        posted.retried,
        posted.lost_batches
    );
    println!("decisions: {:?}", posted.decisions);
    if !a.cpu.is_empty() {
        println!(
            "{}",
            cpu::report("while the storm was posted", posted.alerts_ok, &storm_cpu)
        );
    }
    println!("load average after the storm: {}", load_average());

    // Let running operations finish, so the counts are final.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.settle);
    let ops = loop {
        let ops = api.tally("/v1/operations", "", "state").await?;
        let running = ops.total - ops.get("COMPLETED") - ops.get("FAILED") - ops.get("INTERRUPTED");
        if running == 0 || tokio::time::Instant::now() >= deadline {
            break ops;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let rows = kube::requests(&client, &a.kube_url).await?;
    let patches = kube::applied(&rows, "PATCH");
    println!(
        "healing operations: {} ({:?}); limit {}",
        ops.total, ops.by, a.resources
    );
    println!(
        "executor (fake API server): {} restarts applied on {} deployments, at most {} per deployment",
        patches.total, patches.paths, patches.max_per_path
    );
    let mut ok = ops.total <= u64::from(a.resources) && patches.max_per_path <= 1;
    if let Some(pid) = a.pid {
        let mem = procfs::memory(pid).with_context(|| format!("reading /proc/{pid}/status"))?;
        let goal = mem.peak_mib() < a.rss_limit_mib;
        println!(
            "hale-server peak RSS (VmHWM): {:.1} MiB, now {:.1} MiB; goal < {} MiB: {}",
            mem.peak_mib(),
            mem.current_mib(),
            a.rss_limit_mib,
            verdict(goal)
        );
        ok &= goal;
    }
    if let Some(s) = sampler {
        let timeline = s.stop().await;
        println!(
            "{}",
            timeline.report(Duration::from_secs(60), Duration::from_secs(30))
        );
    }
    if posted.lost_batches > 0 {
        ok = false;
    }
    println!("storm verdict: {}", if ok { "PASS" } else { "FAIL" });
    if !ok {
        bail!("the storm's limits were not kept");
    }
    Ok(())
}

/// The workload's batches as Alertmanager webhook bodies.
fn webhook_bodies(w: Workload) -> driver::BodyFn {
    Arc::new(move |i| {
        let alerts = w.batch(i);
        (
            webhook_body(&alerts, "http://alertmanager-load:9093"),
            alerts.len(),
        )
    })
}

async fn fairness(a: FairnessArgs) -> anyhow::Result<()> {
    let mix = parse_mix("60,15,10,15")?;
    let workload = |seed: u64| {
        webhook_bodies(Workload {
            seed,
            services: a.services,
            batch: a.batch,
            mix,
            base: unix_now(),
            epoch_alerts: 5000,
        })
    };
    let phase = |connections: usize| RunConfig {
        connections,
        duration: Duration::from_secs(a.duration),
        warmup: Duration::from_secs(a.warmup),
    };
    let client = driver::client(a.flood_connections + a.quiet_connections);
    let flood = a.hale.target();
    let quiet = Target {
        name: a.quiet_tenant.clone(),
        url: format!(
            "{}/v1/alerts/alertmanager?tenant={}",
            a.hale.hale.trim_end_matches('/'),
            a.quiet_tenant
        ),
        bearer: Some(a.hale.admin_token.clone()),
    };
    println!(
        "fairness: tenant {} floods with {} connections, tenant {} posts on {}; {} s measured after {} s warm-up per phase, {} alerts per request",
        a.hale.tenant,
        a.flood_connections,
        a.quiet_tenant,
        a.quiet_connections,
        a.duration,
        a.warmup,
        a.batch
    );
    println!("machine: {}", machine());
    let alone = driver::run(&client, &quiet, phase(a.quiet_connections), workload(11)).await;
    println!("load average after the quiet phase: {}", load_average());
    let (flooding, beside) = tokio::join!(
        driver::run(&client, &flood, phase(a.flood_connections), workload(12)),
        driver::run(&client, &quiet, phase(a.quiet_connections), workload(13)),
    );
    println!("load average after the flood: {}", load_average());
    let (q0, q1, f) = (
        alone.per_request.summary(),
        beside.per_request.summary(),
        flooding.per_request.summary(),
    );
    println!(
        "{}: alone {:.0} alerts/s, request p50 {} ms, p99 {} ms; beside the flood {:.0} alerts/s, p50 {} ms, p99 {} ms; answers {:?}",
        a.quiet_tenant,
        alone.alerts_per_sec(),
        stats::ms(q0.p50),
        stats::ms(q0.p99),
        beside.alerts_per_sec(),
        stats::ms(q1.p50),
        stats::ms(q1.p99),
        beside.statuses
    );
    println!(
        "{} (flood): {:.0} alerts/s, request p50 {} ms, p99 {} ms; answers {:?}; transport errors {}",
        a.hale.tenant,
        flooding.alerts_per_sec(),
        stats::ms(f.p50),
        stats::ms(f.p99),
        flooding.statuses,
        flooding.transport_errors
    );
    let ratio = q1.p99.as_secs_f64() / q0.p99.as_secs_f64().max(1e-9);
    let refused = beside.failures() + alone.failures();
    println!(
        "quiet tenant's p99 beside the flood / alone: {ratio:.2} (goal <= 2: {}); quiet requests refused or failed: {refused} (goal 0: {})",
        verdict(ratio <= 2.0),
        verdict(refused == 0)
    );
    if refused > 0 {
        bail!("the quiet tenant was refused {refused} times");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::SetupDb {
            database_url,
            schema,
        } => setup_db(&database_url, &schema).await,
        Command::Config(a) => {
            print!("{}", config(&a)?);
            Ok(())
        }
        Command::SeedKube {
            kube_url,
            deployments,
        } => {
            kube::seed_deployments(&driver::client(1), &kube_url, deployments).await?;
            println!("seeded {deployments} deployments");
            Ok(())
        }
        Command::Intake(a) => intake(a).await,
        Command::Storm(a) => storm(a).await,
        Command::Fairness(a) => fairness(a).await,
    }
}
