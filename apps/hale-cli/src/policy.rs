//! `hale policy check`: the server's own configuration loader, run offline.
//!
//! The file is read by [`hale_config::load_file`], the function the
//! server starts with, so a file this command accepts is a file the server
//! accepts, and `hale replay` runs exactly the policies the server would.

use std::path::Path;

use hale_config::{Config, ConfigErrors, ExecutorKind, load_file};
use serde::Serialize;

use crate::Done;
use crate::cli::Output;
use crate::exit::{CliError, Exit};

/// One problem, for `-o json`.
#[derive(Debug, Serialize)]
struct Problem {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    path: Option<String>,
    message: String,
}

/// The `-o json` answer.
#[derive(Debug, Serialize)]
struct CheckReport {
    file: String,
    valid: bool,
    problems: Vec<Problem>,
    tenants: Vec<String>,
    strategies: usize,
}

/// The name of the executor the server would run with; it is also the name
/// of the circuit breaker that guards it.
pub fn executor_name(config: &Config) -> &'static str {
    match config.executor.kind {
        ExecutorKind::DryRun => "dry-run",
        ExecutorKind::Kubernetes => "kubernetes",
        ExecutorKind::Command => "command",
    }
}

/// Loads a policy (server config) file, or reports its problems, one
/// `FILE:LINE:COL: message` per line, as [`CliError::Invalid`].
pub fn load(file: &Path) -> Result<Config, CliError> {
    load_file(file).map_err(|errors| CliError::Invalid(invalid_text(file, &errors)))
}

fn invalid_text(file: &Path, errors: &ConfigErrors) -> String {
    let mut out = errors.to_string();
    out.push('\n');
    // A file that could not be read has nothing to count.
    if errors.iter().all(|e| e.at.is_none()) {
        return out;
    }
    out.push_str(&format!(
        "{}: invalid: {} problem{}\n",
        file.display(),
        errors.0.len(),
        if errors.0.len() == 1 { "" } else { "s" }
    ));
    out
}

fn summary(file: &Path, config: &Config) -> String {
    let tenants: Vec<String> = config.tenants.iter().map(|t| t.id.to_string()).collect();
    let strategies: usize = config.tenants.iter().map(|t| t.strategies.len()).sum();
    format!(
        "{}: ok: {} tenant{} ({}), {} strateg{}, executor {}\n",
        file.display(),
        tenants.len(),
        if tenants.len() == 1 { "" } else { "s" },
        tenants.join(", "),
        strategies,
        if strategies == 1 { "y" } else { "ies" },
        executor_name(config),
    )
}

/// Checks a file: exit 0 and a one-line summary when valid, exit 2 and one
/// line per problem (then a summary line) when not.
pub fn check(file: &Path, output: Output) -> Done {
    let result = load_file(file);
    let exit = if result.is_ok() {
        Exit::Ok
    } else {
        Exit::Usage
    };
    let stdout = match (output, &result) {
        (Output::Table, Ok(config)) => summary(file, config),
        (Output::Table, Err(errors)) => invalid_text(file, errors),
        (Output::Json, _) => {
            let report = match &result {
                Ok(config) => CheckReport {
                    file: file.display().to_string(),
                    valid: true,
                    problems: Vec::new(),
                    tenants: config.tenants.iter().map(|t| t.id.to_string()).collect(),
                    strategies: config.tenants.iter().map(|t| t.strategies.len()).sum(),
                },
                Err(errors) => CheckReport {
                    file: file.display().to_string(),
                    valid: false,
                    problems: errors
                        .iter()
                        .map(|e| Problem {
                            file: e.origin.clone(),
                            line: e.at.map(|a| a.line),
                            column: e.at.map(|a| a.column),
                            path: e.path.clone(),
                            message: e.message.clone(),
                        })
                        .collect(),
                    tenants: Vec::new(),
                    strategies: 0,
                },
            };
            crate::out::json(&report)
        }
    };
    Done { stdout, exit }
}
