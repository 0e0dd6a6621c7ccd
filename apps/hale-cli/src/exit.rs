//! The exit codes scripts can rely on, and the CLI's one error type.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success (for `policy check`: the file is valid) |
//! | 1 | failure on the other side: the server answered 5xx or 503, could not be reached or timed out; the database refused a migration |
//! | 2 | usage or bad input: unknown flag, unreadable or invalid file, invalid policy, a request the server refused as malformed or invalid (400, 413, 415, 422) |
//! | 3 | not found (404) |
//! | 4 | authentication or authorization (401, 403) |
//! | 5 | conflict (409): already decided, concurrent change |

use std::process::ExitCode;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Ok,
    /// 1: the server (or database) failed, or could not be reached.
    Failure,
    /// 2: usage error or bad input.
    Usage,
    /// 3: no such object.
    NotFound,
    /// 4: the token is missing, unknown, or may not do this.
    Auth,
    /// 5: the object changed or was already decided.
    Conflict,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::NotFound => 3,
            Exit::Auth => 4,
            Exit::Conflict => 5,
        }
    }

    /// The exit code for an HTTP error status.
    pub fn for_status(status: u16) -> Exit {
        match status {
            401 | 403 => Exit::Auth,
            404 => Exit::NotFound,
            409 => Exit::Conflict,
            400..=499 => Exit::Usage,
            _ => Exit::Failure,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// The text `hale --help` shows about exit codes.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (policy check: the file is valid)
  1  server error (5xx), server unreachable or timed out, database failure
  2  usage error or bad input (invalid file or policy; HTTP 400, 413, 415, 422)
  3  not found (HTTP 404)
  4  not authorized (HTTP 401, 403)
  5  conflict (HTTP 409)";

/// Everything that can go wrong, each with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or the CLI's own configuration is wrong.
    #[error("{0}")]
    Usage(String),
    /// An input file is missing or invalid.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong (with a line and column where known).
        message: String,
    },
    /// Problems were already reported one per line; this is the summary.
    #[error("{0}")]
    Invalid(String),
    /// The server answered with an error.
    #[error("{error}: {detail} (HTTP {status}){}", retry_hint(*.retry_after))]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's error code (`not_found`, `conflict`, ...).
        error: String,
        /// The server's sentence about it.
        detail: String,
        /// Seconds from `Retry-After`, on 503.
        retry_after: Option<u64>,
    },
    /// The server could not be reached or did not answer in time.
    #[error("cannot reach the server at {url}: {message}")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// Why.
        message: String,
    },
    /// Anything else that failed at run time (database, engine).
    #[error("{0}")]
    Failure(String),
}

fn retry_hint(after: Option<u64>) -> String {
    after.map_or_else(String::new, |s| format!("; retry after {s}s"))
}

impl CliError {
    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) | CliError::File { .. } | CliError::Invalid(_) => Exit::Usage,
            CliError::Server { status, .. } => Exit::for_status(*status),
            CliError::Unreachable { .. } | CliError::Failure(_) => Exit::Failure,
        }
    }

    /// A bad input file.
    pub fn file(path: impl std::fmt::Display, message: impl Into<String>) -> CliError {
        CliError::File {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_the_documented_codes() {
        let cases = [
            (400, 2),
            (401, 4),
            (403, 4),
            (404, 3),
            (409, 5),
            (413, 2),
            (415, 2),
            (422, 2),
            (500, 1),
            (503, 1),
        ];
        for (status, code) in cases {
            assert_eq!(Exit::for_status(status).code(), code, "HTTP {status}");
        }
    }

    #[test]
    fn server_errors_show_code_detail_and_retry_hint() {
        let e = CliError::Server {
            status: 503,
            error: "unavailable".into(),
            detail: "store down".into(),
            retry_after: Some(5),
        };
        assert_eq!(
            e.to_string(),
            "unavailable: store down (HTTP 503); retry after 5s"
        );
        assert_eq!(e.exit(), Exit::Failure);
    }
}
