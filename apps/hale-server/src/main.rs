//! `hale-server`: run the server, or hash a token for the config file.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hale_server::config::{self, Config};
use hale_server::{Server, shutdown};

/// The Hale server: Alertmanager intake, approvals, kill switches, status
/// and metrics over the healing engine.
#[derive(Debug, Parser)]
#[command(name = "hale-server", version)]
struct Cli {
    /// The TOML configuration file. Without one, Hale runs the built-in
    /// defaults (loopback, SQLite in ./.hale-data, dry-run executor).
    #[arg(long, short = 'c', env = "HALE_CONFIG", global = true)]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Read a token from stdin and print its SHA-256 for [[tokens]] sha256.
    HashToken,
    /// Check the configuration and exit (0 when valid). Also reads every
    /// notification channel's secret from its environment variable or file,
    /// as the server does at start.
    CheckConfig {
        /// Do not read the channels' secrets (to lint a configuration where
        /// they are not mounted, e.g. in a CI pipeline).
        #[arg(long)]
        skip_secrets: bool,
    },
}

fn load(path: Option<&PathBuf>) -> Result<Config, config::ConfigErrors> {
    let mut config = match path {
        Some(p) => config::load_file(p)?,
        None => Config::builtin()?,
    };
    config.apply_env(std::env::vars())?;
    Ok(config)
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("HALE_LOG_FORMAT").is_ok_and(|v| v == "json");
    // Colours only on a terminal; log files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

// The binary talks to its operator on stdout/stderr: the banner, the hash,
// and configuration errors before logging is set up.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::HashToken) => {
            let mut token = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut token) {
                eprintln!("hale-server hash-token: cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
            let token = token.trim();
            if token.is_empty() {
                eprintln!(
                    "hale-server hash-token: no token on stdin (try: printf %s \"$TOKEN\" | hale-server hash-token)"
                );
                return ExitCode::FAILURE;
            }
            println!("{}", hale_server::auth::hash_token_hex(token));
            ExitCode::SUCCESS
        }
        Some(Command::CheckConfig { skip_secrets }) => match load(cli.config.as_ref()) {
            Ok(c) => {
                if !skip_secrets && let Err(e) = hale_server::notifications::check_secrets(&c) {
                    eprintln!("{}: {e} (or pass --skip-secrets)", c.origin);
                    return ExitCode::FAILURE;
                }
                println!(
                    "{}: ok ({} tenant(s), {} token(s))",
                    c.origin,
                    c.tenants.len(),
                    c.tokens.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        None | Some(Command::Serve) => {
            let config = match load(cli.config.as_ref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            init_tracing();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("hale-server: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async move {
                let server = match Server::bind(config).await {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("hale-server: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                println!("{}", server.banner());
                match server.run_until(shutdown::signal()).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("hale-server: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
    }
}
