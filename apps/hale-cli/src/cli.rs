//! The command line, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Operate a Hale server, check a policy file, and replay recorded alerts
/// through the engine offline.
#[derive(Debug, Parser)]
#[command(name = "hale", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Where the server is and who we are.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output format: aligned tables for people, JSON for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned tables and plain text.
    #[value(alias = "text")]
    Table,
    /// JSON on stdout.
    Json,
}

/// How to reach a server. Flags win over environment variables, which win
/// over the config file (`~/.config/hale/cli.toml`).
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "HALE_SERVER", global = true)]
    pub server: Option<String>,
    /// The API token.
    #[arg(long, env = "HALE_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The tenant to act on (needed with a platform token). For `replay`:
    /// the tenant the alerts belong to (default: the policy's only tenant;
    /// a "tenant" field on an alert line overrides it).
    #[arg(long, env = "HALE_TENANT", global = true)]
    pub tenant: Option<String>,
    /// The CLI config file [default: $XDG_CONFIG_HOME/hale/cli.toml or
    /// ~/.config/hale/cli.toml].
    #[arg(long = "cli-config", env = "HALE_CLI_CONFIG", global = true)]
    pub cli_config: Option<PathBuf>,
    /// How long one request may take, e.g. 30s.
    #[arg(long, global = true, value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

/// Reads `30s`, `500ms`, `2m` (the same spellings as the policy files).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    hale_domain::time::duration::parse(s)
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The server's self-healing status (the tenant's, or global for a
    /// platform token without --tenant).
    Status,
    /// Healing operations.
    #[command(subcommand)]
    Ops(OpsCommand),
    /// Incidents.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// Knowledge entries: list, read, write a runbook, archive (archiving an
    /// anti-pattern lifts its block).
    #[command(subcommand)]
    Knowledge(KnowledgeCommand),
    /// Approval requests: list, inspect, approve, reject.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Kill switches.
    #[command(subcommand)]
    Switches(SwitchesCommand),
    /// Dormancy (healing asleep after repeated failures).
    #[command(subcommand)]
    Dormant(DormantCommand),
    /// Circuit breakers.
    #[command(subcommand)]
    Breakers(BreakersCommand),
    /// A strategy's failed-attempt budget on one resource.
    #[command(subcommand)]
    Attempts(AttemptsCommand),
    /// Maintenance windows: list, open, end.
    #[command(subcommand)]
    Windows(WindowsCommand),
    /// The audit log, newest first.
    Audit(AuditArgs),
    /// Notification deliveries (notice, channel, attempts, last error,
    /// delivered at), newest first; a platform token without --tenant shows
    /// the platform-wide notices. `hale notifications redrive` sends a
    /// channel's given-up deliveries again.
    Notifications(NotificationsArgs),
    /// Apply the Postgres schema migrations.
    Migrate(MigrateArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Check a policy (server config) file offline.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Replay recorded alerts through the engine offline, with in-memory
    /// stores and simulated time, and show what it would have decided.
    Replay(ReplayArgs),
}

/// Paging for list commands.
#[derive(Debug, Clone, Args)]
pub struct Paging {
    /// Rows wanted (1..1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Rows to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
}

/// A time range filter.
#[derive(Debug, Clone, Args)]
pub struct TimeRange {
    /// Only from this time: RFC 3339, or an age such as 1h or 30m.
    #[arg(long)]
    pub since: Option<String>,
    /// Only before this time: RFC 3339, or an age such as 10m.
    #[arg(long)]
    pub until: Option<String>,
}

/// `hale ops ...`
#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// List operations, newest first.
    List {
        /// Only this state (DIAGNOSING, HEALING, VERIFYING, COMPLETED,
        /// FAILED, INTERRUPTED, ...).
        #[arg(long)]
        state: Option<String>,
        /// Only this strategy id.
        #[arg(long)]
        strategy: Option<String>,
        /// Only this resource, as ns:kind/name.
        #[arg(long)]
        resource: Option<String>,
        /// Time range.
        #[command(flatten)]
        range: TimeRange,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one operation with its actions.
    Show {
        /// The operation id.
        id: String,
    },
}

/// `hale incidents ...`
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, newest first.
    List {
        /// Only this status (investigating, escalated, resolved, closed).
        #[arg(long)]
        status: Option<String>,
        /// Only this severity (p0..p3).
        #[arg(long)]
        severity: Option<String>,
        /// Time range.
        #[command(flatten)]
        range: TimeRange,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one incident with its decision chain.
    Show {
        /// The incident id.
        id: String,
    },
    /// Close an incident (audited; its next alert opens a new one).
    Close {
        /// The incident id.
        id: String,
        /// Why (required, audited).
        #[arg(long)]
        reason: String,
    },
}

/// `hale knowledge ...`
#[derive(Debug, Subcommand)]
pub enum KnowledgeCommand {
    /// List knowledge entries, newest first.
    List {
        /// Only this type (incident_case, runbook, best_practice,
        /// postmortem, anti_pattern).
        #[arg(long = "type")]
        entry_type: Option<String>,
        /// Only this status (draft, review, approved, archived).
        #[arg(long)]
        status: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one entry with its body (counts as a view).
    Show {
        /// The entry id.
        id: String,
    },
    /// Write a runbook entry.
    Create {
        /// The title.
        #[arg(long)]
        title: String,
        /// The body; `@FILE` reads it from a file, `-` from stdin.
        #[arg(long)]
        content: String,
        /// The category (default runbook).
        #[arg(long)]
        category: Option<String>,
        /// A tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The incident it was written for.
        #[arg(long)]
        incident: Option<String>,
    },
    /// Archive an entry: an archived anti-pattern no longer blocks its
    /// strategy (audited with who and why).
    Archive {
        /// The entry id.
        id: String,
        /// What was fixed, or why the entry no longer holds (required).
        #[arg(long)]
        reason: String,
    },
}

/// `hale approvals ...`
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// List approval requests, newest first.
    List {
        /// Only this status (pending, approved, rejected, expired).
        #[arg(long)]
        status: Option<String>,
        /// Only this resource, as ns:kind/name.
        #[arg(long)]
        resource: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one approval request.
    Show {
        /// The approval id.
        id: String,
    },
    /// Sign an approval request (runs it once enough signatures are in).
    Approve {
        /// The approval id.
        id: String,
        /// A comment for the record.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject an approval request.
    Reject {
        /// The approval id.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
}

/// `hale switches ...`
#[derive(Debug, Subcommand)]
pub enum SwitchesCommand {
    /// Show every switch layer.
    Get,
    /// Set or unset a switch.
    Set {
        /// Which switch: `global:<feature>` (auto_healing, auto_detection,
        /// preventive_healing, process_monitoring), `tenant`,
        /// `strategy:<id>` or `action_kind:<kind>`.
        target: String,
        /// The new state.
        #[arg(value_enum)]
        state: SwitchState,
        /// Why (required, audited).
        #[arg(long)]
        reason: String,
    },
}

/// A switch's new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SwitchState {
    /// Allowed.
    On,
    /// Stopped.
    Off,
    /// Removed from this layer (a broader layer decides).
    Unset,
}

/// `hale dormant ...`
#[derive(Debug, Subcommand)]
pub enum DormantCommand {
    /// Wake healing up after the cause is fixed.
    Resume {
        /// What was fixed (required, audited).
        #[arg(long)]
        reason: String,
        /// Resume the whole engine instead of the tenant (admin).
        #[arg(long)]
        global: bool,
    },
    /// Put healing to sleep by hand.
    Enter {
        /// Why (required, audited).
        #[arg(long)]
        reason: String,
        /// The whole engine instead of the tenant (admin).
        #[arg(long)]
        global: bool,
    },
}

/// `hale breakers ...`
#[derive(Debug, Subcommand)]
pub enum BreakersCommand {
    /// List the tenant's circuit breakers.
    List,
    /// Close a breaker by hand (the only way out of PERMANENT_OPEN).
    Reset {
        /// The breaker's name (its executor's).
        name: String,
        /// What was fixed (required, audited).
        #[arg(long)]
        reason: String,
    },
}

/// `hale windows ...`
#[derive(Debug, Subcommand)]
pub enum WindowsCommand {
    /// List the tenant's maintenance windows (configured and opened here).
    List,
    /// Open a maintenance window (one-off with --from/--until, or weekly
    /// with --days/--start/--duration/--time-zone).
    Open(Box<OpenWindowArgs>),
    /// End a window opened through the API.
    End {
        /// The window's id.
        id: String,
        /// Why (required, audited).
        #[arg(long)]
        reason: String,
    },
}

/// `hale windows open` arguments.
#[derive(Debug, Args)]
pub struct OpenWindowArgs {
    /// The window's id (letters, digits, '-', '_').
    pub id: String,
    /// block (nothing acts on its own) or approval_only (automatic runs
    /// become approval requests).
    #[arg(long, default_value = "block")]
    pub mode: String,
    /// One-off: the start (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// One-off: the end (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Weekly: the days, e.g. sat,sun.
    #[arg(long, value_delimiter = ',')]
    pub days: Vec<String>,
    /// Weekly: the local start time, HH:MM.
    #[arg(long)]
    pub start: Option<String>,
    /// Weekly: how long, e.g. 4h.
    #[arg(long)]
    pub duration: Option<String>,
    /// Weekly: the IANA time zone, e.g. Europe/Berlin.
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Only these namespaces (repeat or comma-separate; default: all).
    #[arg(long, value_delimiter = ',')]
    pub namespace: Vec<String>,
    /// Only these strategies (repeat or comma-separate; default: all).
    #[arg(long, value_delimiter = ',')]
    pub strategy: Vec<String>,
    /// Why (required, audited).
    #[arg(long)]
    pub reason: String,
}

/// `hale attempts ...`
#[derive(Debug, Subcommand)]
pub enum AttemptsCommand {
    /// Forget the failed attempts of a strategy on a resource, so a
    /// `max_attempts` block lifts (after the cause is fixed).
    Reset {
        /// The strategy id.
        #[arg(long)]
        strategy: String,
        /// The resource, as ns:kind/name.
        #[arg(long)]
        resource: String,
        /// What was fixed (required, audited).
        #[arg(long)]
        reason: String,
    },
}

/// `hale audit` filters.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this operation type, e.g. healing.blocked, dormancy.entered.
    #[arg(long)]
    pub operation_type: Option<String>,
    /// Only entries about this healing operation.
    #[arg(long)]
    pub operation: Option<String>,
    /// Only entries about this approval.
    #[arg(long)]
    pub approval: Option<String>,
    /// Only entries about this incident.
    #[arg(long)]
    pub incident: Option<String>,
    /// Only this source system (failure_watcher, decision_manager, api).
    #[arg(long)]
    pub source: Option<String>,
    /// Only this authorization channel (auto_repair, decision_manager,
    /// manual, web: the operator console).
    #[arg(long)]
    pub channel: Option<String>,
    /// Only successes (true) or failures (false).
    #[arg(long)]
    pub success: Option<bool>,
    /// Time range.
    #[command(flatten)]
    pub range: TimeRange,
    /// Paging.
    #[command(flatten)]
    pub paging: Paging,
}

/// `hale notifications` filters.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct NotificationsArgs {
    /// An act on the deliveries instead of the list.
    #[command(subcommand)]
    pub command: Option<NotificationsCommand>,
    /// Only this channel.
    #[arg(long)]
    pub channel: Option<String>,
    /// Only this notice kind, e.g. approval_requested, healing_escalated.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only deliveries still pending (true) or finished (false).
    #[arg(long)]
    pub pending: Option<bool>,
    /// Paging.
    #[command(flatten)]
    pub paging: Paging,
}

/// `hale notifications ...`
#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// Send a channel's given-up deliveries again (attempts from zero, due
    /// now), after the channel's outage outlasted the retries. A platform
    /// token without --tenant redrives the platform-wide notices (admin).
    Redrive {
        /// The channel.
        #[arg(long)]
        channel: String,
        /// Why (required, audited).
        #[arg(long)]
        reason: String,
        /// Only this notice.
        #[arg(long)]
        notice: Option<String>,
        /// Only this notice kind, e.g. approval_requested.
        #[arg(long)]
        kind: Option<String>,
    },
}

/// `hale migrate`
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database URL of the migration role (it owns the schema).
    #[arg(long, env = "HALE_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// The schema to migrate (default: the role's search path).
    #[arg(long)]
    pub schema: Option<String>,
}

/// `hale policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a server config / policy file; every problem is reported as
    /// FILE:LINE:COL: message.
    Check {
        /// The file.
        file: PathBuf,
    },
    /// Replay the timed alerts of a test file through the engine (as
    /// `hale replay`) and compare each decision with the expected one;
    /// prints every mismatch and exits 1 if there is any.
    Test {
        /// The test file (TOML: `policy`, then `[[alert]]` items with
        /// `at`, `name`, `labels` and `expect = { decision, guard, reason,
        /// strategy }`).
        file: PathBuf,
    },
}

/// `hale replay`
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The policy (server config) file, as the server would load it.
    #[arg(long)]
    pub policy: PathBuf,
    /// Recorded alerts: Alertmanager webhook bodies (one JSON document, a
    /// JSON array, or JSON lines) or JSON lines of generic alerts; an "at"
    /// or "receivedAt" field on a line says when it arrived.
    #[arg(long)]
    pub alerts: PathBuf,
    /// Make every applied action of KIND fail, with a failure class
    /// (transient, timeout, conflict, budget_blocked, target_gone,
    /// invalid_action, fatal, fenced; default transient). Repeatable.
    #[arg(long = "fail-action", value_name = "KIND[=CLASS]")]
    pub fail_actions: Vec<String>,
    /// Make every verification fail (the target never recovers).
    #[arg(long)]
    pub unhealthy: bool,
    /// Do not run the background jobs (detection re-drives, approval
    /// expiry) between deliveries.
    #[arg(long)]
    pub no_background: bool,
}
