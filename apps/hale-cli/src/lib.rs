//! # hale-cli
//!
//! The `hale` command. Three jobs:
//!
//! * **Operate a server** over its HTTP API (`docs/api.md`): `status`,
//!   `ops`, `incidents`, `approvals`, `switches`, `dormant`, `breakers`,
//!   `attempts`, `audit`. Tables for people, `-o json` for scripts, and exit codes
//!   scripts can rely on ([`exit`]).
//! * **Check a policy offline**: `hale policy check FILE` runs the server's
//!   own configuration loader and reports every problem as
//!   `FILE:LINE:COL: message`.
//! * **Test a policy offline**: `hale policy test FILE` replays the timed
//!   alerts of a test file and exits 1 when a decision differs from the
//!   expected one (`policy_test`, with the `simulate` feature).
//! * **Replay recorded alerts offline**: `hale replay --policy FILE --alerts
//!   FILE` feeds them through the same engine the server runs, on in-memory
//!   ports and simulated time, and shows what it would have decided
//!   (`replay`, built with the `simulate` feature: it needs tokio's paused
//!   clock, which release builds of the server must not carry).
//!
//! Plus `hale migrate` (the Postgres schema) and `hale completions SHELL`.
//!
//! The server connection comes from `--server/--token/--tenant`, then
//! `HALE_SERVER/HALE_TOKEN/HALE_TENANT`, then `~/.config/hale/cli.toml`
//! ([`connection`]).

pub mod cli;
pub mod client;
pub mod commands;
pub mod connection;
pub mod exit;
pub mod out;
pub mod policy;
#[cfg(feature = "simulate")]
pub mod policy_test;
#[cfg(feature = "simulate")]
pub mod replay;
pub mod table;

#[cfg(feature = "simulate")]
use std::io::IsTerminal;

use clap::CommandFactory;

use crate::cli::{Cli, Command, MigrateArgs, Output, PolicyCommand, ReplayArgs};
use crate::exit::{CliError, Exit};
#[cfg(feature = "simulate")]
use crate::replay::{ReplayInput, parse_alerts_file};

/// A command's result: what to print on stdout, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// Printed on stdout.
    pub stdout: String,
    /// The exit code.
    pub exit: Exit,
}

/// Replays with at least this many deliveries show a progress bar (when
/// stderr is a terminal).
pub const LONG_REPLAY: usize = 500;

/// Runs a parsed command line: prints its output and errors, returns the
/// exit code.
pub fn run(cli: Cli) -> Exit {
    match dispatch(cli) {
        Ok(done) => {
            out::stdout(&done.stdout);
            done.exit
        }
        Err(e) => {
            match &e {
                // Already one `FILE:LINE:COL: message` per line.
                CliError::Invalid(text) => out::stderr(text.trim_end()),
                other => out::stderr(&format!("hale: {other}")),
            }
            e.exit()
        }
    }
}

fn ok(stdout: String) -> Result<Done, CliError> {
    Ok(Done {
        stdout,
        exit: Exit::Ok,
    })
}

fn dispatch(cli: Cli) -> Result<Done, CliError> {
    let output = cli.output;
    match cli.command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hale", &mut buf);
            ok(String::from_utf8_lossy(&buf).into_owned())
        }
        Command::Policy(PolicyCommand::Check { file }) => Ok(policy::check(&file, output)),
        Command::Policy(PolicyCommand::Test { file }) => {
            policy_test_command(&file, cli.server.tenant.clone(), output)
        }
        Command::Replay(args) => ok(replay_command(&args, cli.server.tenant.clone(), output)?),
        Command::Migrate(args) => ok(migrate(&args, output)?),
        command => {
            let conn = connection::resolve(&cli.server)?;
            let client = client::ApiClient::new(conn)?;
            ok(runtime()?.block_on(commands::run(&client, output, command))?)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failure(format!("cannot start the async runtime: {e}")))
}

fn migrate(args: &MigrateArgs, output: Output) -> Result<String, CliError> {
    use hale_engine::ports::StoreError;
    let version = runtime()?
        .block_on(hale_postgres::migrate(
            &args.database_url,
            args.schema.as_deref(),
        ))
        .map_err(|e| match e {
            StoreError::Invalid(m) => CliError::Usage(format!("migration refused: {m}")),
            other => CliError::Failure(format!("migration failed: {other}")),
        })?;
    Ok(match output {
        Output::Json => out::json(&serde_json::json!({
            "schema_version": version,
            "latest_known": hale_postgres::latest_version(),
        })),
        Output::Table => format!(
            "postgres schema at version {version} (this build knows up to {})\n",
            hale_postgres::latest_version()
        ),
    })
}

/// What `hale replay` says when this `hale` was built without the
/// simulator.
pub const NO_SIMULATOR: &str = "this `hale` was built without the simulator that `hale replay` runs on \
(it needs tokio's paused clock, kept out of default builds); install it with \
`cargo install --path apps/hale-cli --features simulate` or run \
`cargo run -p hale-cli --features simulate -- replay ...`";

#[cfg(not(feature = "simulate"))]
fn policy_test_command(
    _file: &std::path::Path,
    _tenant: Option<String>,
    _output: Output,
) -> Result<Done, CliError> {
    Err(CliError::Usage(
        NO_SIMULATOR.replace("-- replay ...", "-- policy test ..."),
    ))
}

#[cfg(feature = "simulate")]
fn policy_test_command(
    file: &std::path::Path,
    tenant: Option<String>,
    output: Output,
) -> Result<Done, CliError> {
    policy_test::test(file, tenant, output)
}

#[cfg(not(feature = "simulate"))]
fn replay_command(
    _args: &ReplayArgs,
    _tenant: Option<String>,
    _output: Output,
) -> Result<String, CliError> {
    Err(CliError::Usage(NO_SIMULATOR.to_owned()))
}

#[cfg(feature = "simulate")]
fn replay_command(
    args: &ReplayArgs,
    tenant: Option<String>,
    output: Output,
) -> Result<String, CliError> {
    let config = policy::load(&args.policy)?;
    let path = args.alerts.display().to_string();
    let bytes = std::fs::read(&args.alerts)
        .map_err(|e| CliError::file(&path, format!("cannot read the alerts file: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| CliError::file(&path, format!("not UTF-8 text: {e}")))?;
    let deliveries =
        parse_alerts_file(&path, &text).map_err(|e| CliError::Invalid(e.to_string()))?;
    let input = ReplayInput::from_config(
        &config,
        deliveries,
        tenant,
        &args.fail_actions,
        args.unhealthy,
        !args.no_background,
    )?;
    let bar = (input.deliveries.len() >= LONG_REPLAY && std::io::stderr().is_terminal())
        .then(|| progress_bar(input.deliveries.len()));
    let tick = |done: usize, _total: usize| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    };
    let report = replay::replay(input, Some(&tick));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report?;
    Ok(match output {
        Output::Json => out::json(&report),
        Output::Table => report.to_text(),
    })
}

#[cfg(feature = "simulate")]
fn progress_bar(total: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("replaying {bar:40} {pos}/{len} deliveries")
    {
        bar.set_style(style);
    }
    bar
}
