//! The offline replay: recorded alerts through the same engine the server
//! runs, on in-memory ports and simulated time.
//!
//! The engine is built from the same [`TenantPolicy`]s and [`EngineConfig`]
//! the server derives from the policy file, and every delivery goes through
//! [`Engine::ingest`], as the server's intake does. What differs is the
//! world around it:
//!
//! * the ports are `hale_testkit::Kit`'s in-memory stores and locks, with
//!   sequential ids, so a replay prints the same thing every time;
//! * time is tokio's paused clock on a current-thread runtime: the replay
//!   sleeps until each delivery's recorded time and tokio jumps straight
//!   there, running every healing operation, backoff, timeout and periodic
//!   job (the detection job re-drives deferred alerts) that falls due on the
//!   way, in order;
//! * actions change nothing and succeed unless `--fail-action` says
//!   otherwise; verification succeeds unless `--unhealthy`;
//! * the global kill switches are the policy file's `[flags]`; the
//!   `FEATURE_*` environment of the machine running the replay is not read;
//! * the one executor is named like the server's (`dry-run`, `kubernetes`,
//!   `command`), so its circuit breaker is too, but it accepts every action
//!   kind.

pub mod alerts;
pub mod executor;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hale_domain::failure::FailureClass;
use hale_domain::kill_switch::GlobalSwitches;
use hale_domain::strategy::ActionKind;
use hale_domain::{TenantId, Timestamp};
use hale_engine::ports::{
    AuditFilter, AuditLog, Clock, Health, OperationFilter, OperationStore, PageRequest,
};
use hale_engine::{Engine, EngineConfig, Outcome, TenantPolicy};
use hale_testkit::kit::KIT_EPOCH_SECS;
use hale_testkit::{Kit, TokioClock};

use crate::exit::CliError;
pub use alerts::{AlertsFileError, Delivery, parse_alerts_file};
use executor::ReplayExecutor;
pub use report::{DecisionLine, DormantEntry, OperationLine, ReplayReport, Summary};

/// Everything a replay needs.
#[derive(Debug, Clone)]
pub struct ReplayInput {
    /// Engine-wide settings, as the server would use them.
    pub config: EngineConfig,
    /// The tenants' policies, as the server would use them.
    pub policies: Vec<TenantPolicy>,
    /// The configured global switches (`[flags]`); the machine's
    /// `FEATURE_*` environment is deliberately not read.
    pub flags: GlobalSwitches,
    /// The executor's name (as the server's, so breakers are named alike).
    pub executor: String,
    /// The recorded deliveries, in order.
    pub deliveries: Vec<Delivery>,
    /// The tenant of deliveries that do not name one.
    pub default_tenant: Option<String>,
    /// Action kinds whose applied runs fail, with the failure class.
    pub failing: BTreeMap<ActionKind, FailureClass>,
    /// Verification always fails.
    pub unhealthy: bool,
    /// Run the periodic jobs (detection, approval expiry, ...) as the server
    /// does.
    pub background: bool,
}

impl ReplayInput {
    /// The input of a replay of `deliveries` under a loaded policy file, as
    /// the server would run it: its engine settings (intake one delivery at
    /// a time, so the same input always decides the same), tenants, flags
    /// and executor name. `fail_actions` are `KIND[=CLASS]` specs.
    pub fn from_config(
        config: &hale_config::Config,
        deliveries: Vec<Delivery>,
        default_tenant: Option<String>,
        fail_actions: &[String],
        unhealthy: bool,
        background: bool,
    ) -> Result<ReplayInput, CliError> {
        let mut failing = BTreeMap::new();
        for spec in fail_actions {
            let (kind, class) = executor::parse_fail_action(spec).map_err(CliError::Usage)?;
            failing.insert(kind, class);
        }
        let mut engine_config = config.engine_config();
        engine_config.intake_concurrency = 1;
        Ok(ReplayInput {
            config: engine_config,
            policies: config.tenant_policies(),
            flags: config.global_flags(),
            executor: crate::policy::executor_name(config).to_owned(),
            deliveries,
            default_tenant,
            failing,
            unhealthy,
            background,
        })
    }
}

/// Called after each delivery with (done, total), for a progress bar.
pub type Progress<'a> = &'a dyn Fn(usize, usize);

/// The tenant of every delivery, checked against the policy before anything
/// runs.
fn tenants_of(input: &ReplayInput) -> Result<Vec<TenantId>, CliError> {
    let configured: BTreeSet<&TenantId> = input.policies.iter().map(|p| &p.tenant).collect();
    let default = match &input.default_tenant {
        Some(t) => Some(t.clone()),
        None if configured.len() == 1 => configured.iter().next().map(|t| t.to_string()),
        None => None,
    };
    let mut out = Vec::with_capacity(input.deliveries.len());
    for d in &input.deliveries {
        let name = d.tenant.clone().or_else(|| default.clone()).ok_or_else(|| {
            CliError::Usage(format!(
                "{}: no tenant: the policy has {} tenants ({}); pass --tenant or add \"tenant\" to the line",
                d.source,
                configured.len(),
                configured.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let id = TenantId::new(name.clone())
            .map_err(|e| CliError::Usage(format!("{}: {e}", d.source)))?;
        if !configured.contains(&id) {
            return Err(CliError::Usage(format!(
                "{}: tenant {id} is not in the policy (it has: {})",
                d.source,
                configured
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        out.push(id);
    }
    Ok(out)
}

/// Where the simulated clock starts: the first recorded arrival, else the
/// first alert's start, else the testkit's fixed epoch.
fn start_time(deliveries: &[Delivery]) -> Timestamp {
    deliveries
        .iter()
        .find_map(|d| d.at)
        .or_else(|| {
            deliveries
                .iter()
                .flat_map(|d| &d.alerts)
                .find_map(|a| a.starts_at)
        })
        .unwrap_or(Timestamp::from_unix_secs(KIT_EPOCH_SECS))
}

/// Runs the replay to the end and reports what the engine decided.
pub fn replay(
    input: ReplayInput,
    progress: Option<Progress<'_>>,
) -> Result<ReplayReport, CliError> {
    let tenants = tenants_of(&input)?;
    // Paused time on one thread: the run is a deterministic simulation and
    // takes as long as the computation, not as long as the recording.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| CliError::Failure(format!("cannot start the replay runtime: {e}")))?;
    rt.block_on(simulate(input, tenants, progress))
}

async fn simulate(
    input: ReplayInput,
    tenants: Vec<TenantId>,
    progress: Option<Progress<'_>>,
) -> Result<ReplayReport, CliError> {
    let start = start_time(&input.deliveries);
    let mut kit = Kit::new();
    kit.clock = Arc::new(TokioClock::new(start));
    kit.flags = input.flags.clone();
    if input.unhealthy {
        kit.probe.set_default(Health::Unhealthy(
            "replay: the target never recovers (--unhealthy)".into(),
        ));
    }
    let executor = Arc::new(ReplayExecutor::new(&input.executor, input.failing.clone()));
    let mut ports = kit.ports();
    ports.executors = vec![executor.clone()];
    let mut builder = Engine::builder(ports).config(input.config.clone());
    for p in &input.policies {
        builder = builder.tenant(p.clone());
    }
    let engine = builder
        .build()
        .await
        .map_err(|e| CliError::Invalid(format!("the policy cannot run: {e}")))?;
    if input.background {
        engine
            .start_background_tasks()
            .map_err(|e| CliError::Failure(format!("cannot start the periodic jobs: {e}")))?;
    }
    let origin = tokio::time::Instant::now();
    let total = input.deliveries.len();
    let mut decisions = Vec::new();
    let mut late = 0usize;
    for (i, (d, tenant)) in input.deliveries.iter().zip(&tenants).enumerate() {
        if let Some(at) = d.at {
            if at < kit.clock.now() {
                late += 1;
            }
            tokio::time::sleep_until(origin + at.saturating_duration_since(start)).await;
        }
        let at = kit.clock.now();
        let report = engine
            .ingest(tenant, d.alerts.clone())
            .await
            .map_err(|e| CliError::Failure(format!("{}: the engine failed: {e}", d.source)))?;
        for decision in report.decisions {
            decisions.push(DecisionLine {
                delivery: i + 1,
                source: d.source.clone(),
                at,
                tenant: tenant.clone(),
                decision,
            });
        }
        if let Some(p) = progress {
            p(i + 1, total);
        }
    }
    // Let every operation started on the way finish (in simulated time).
    engine.wait_idle().await;
    let end = kit.clock.now();
    let used: BTreeSet<TenantId> = tenants.iter().cloned().collect();
    let operations = operations(&kit, &used).await?;
    let dormant = dormant_entries(&kit, &used).await?;
    engine.shutdown().await;
    let on_delivery: BTreeSet<&str> = decisions
        .iter()
        .filter_map(|d| match &d.decision.outcome {
            Outcome::OperationStarted { operation_id, .. } => Some(operation_id.as_str()),
            _ => None,
        })
        .collect();
    let by_detection = operations
        .iter()
        .filter(|o| !on_delivery.contains(o.id.as_str()))
        .count();
    let summary = Summary::build(
        &report::SummaryInput {
            tenants: used.into_iter().collect(),
            from: start,
            to: end,
            deliveries: total,
            late_deliveries: late,
            applied_actions: executor.applied(),
            failing: input
                .failing
                .iter()
                .map(|(k, c)| (k.to_string(), *c))
                .collect(),
            unhealthy: input.unhealthy,
            operations_by_detection: by_detection,
        },
        &decisions,
        &operations,
        dormant,
    );
    Ok(ReplayReport {
        decisions,
        operations,
        summary,
    })
}

/// Every operation of the replay, oldest first.
async fn operations(
    kit: &Kit,
    tenants: &BTreeSet<TenantId>,
) -> Result<Vec<OperationLine>, CliError> {
    let mut out = Vec::new();
    for t in tenants {
        let mut offset = 0;
        loop {
            let page = kit
                .store
                .list_operations(
                    t,
                    &OperationFilter {
                        page: PageRequest::new(PageRequest::MAX_LIMIT, offset),
                        ..OperationFilter::default()
                    },
                )
                .await
                .map_err(|e| CliError::Failure(format!("reading the replay's operations: {e}")))?;
            out.extend(page.items.into_iter().map(OperationLine::from));
            match page.next_offset {
                Some(next) => offset = next,
                None => break,
            }
        }
    }
    out.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    Ok(out)
}

/// The engine's `dormancy.entered` audit entries, oldest first.
async fn dormant_entries(
    kit: &Kit,
    tenants: &BTreeSet<TenantId>,
) -> Result<Vec<DormantEntry>, CliError> {
    let mut out = Vec::new();
    for t in tenants {
        let page = kit
            .store
            .list_audit(
                t,
                &AuditFilter {
                    operation_type: Some("dormancy.entered".into()),
                    page: PageRequest::new(PageRequest::MAX_LIMIT, 0),
                    ..AuditFilter::default()
                },
            )
            .await
            .map_err(|e| CliError::Failure(format!("reading the replay's audit log: {e}")))?;
        out.extend(page.items.into_iter().map(|a| DormantEntry {
            at: a.created_at,
            tenant: a.tenant,
            reason: a.reason.unwrap_or_default(),
        }));
    }
    out.sort_by(|a, b| (a.at, &a.tenant).cmp(&(b.at, &b.tenant)));
    Ok(out)
}
