//! # hale-command
//!
//! Hale's local command executor, for everything that is not Kubernetes:
//! systemd units, scripts, service managers. It is safe by construction:
//!
//! * **Allow-list only.** Each command is configured as an absolute program
//!   path plus a fixed argument template; the action kind is
//!   `command:<name>`. Anything else is refused with
//!   `FailureClass::InvalidAction`.
//! * **No shell, no interpolation.** A template element is literal text or
//!   exactly one placeholder (`{namespace}`, `{kind}`, `{name}`, or a
//!   declared param), replaced by one whole argv element. Values must be
//!   1-253 characters of `[A-Za-z0-9._:/@=+-]` and must not start with `-`,
//!   so a label value like `x; rm -rf /` is refused, never run.
//! * **Nothing survives.** The program runs as the leader of its own process
//!   group. On timeout, when it exits leaving background children, and when
//!   the engine drops the future, the whole group gets SIGTERM and, after a
//!   grace period, SIGKILL.
//! * **Bounded output.** stdout and stderr are captured up to 64 KiB each
//!   (configurable); truncation is marked in the text and in a flag.
//! * **Honest classes.** Exit 0 is success; `fatal_exit_codes` are `Fatal`,
//!   `retryable_exit_codes` are `Transient`, `fenced_exit_codes` are
//!   `Fenced`, 126/127 (cannot execute / not found) are `InvalidAction`, other codes `other_exit_class` (default
//!   `Transient`), a timeout is `Timeout`.
//! * **Dry-run** returns the exact argv without running it (after checking
//!   that the program exists and is executable).
//! * Commands see an empty environment apart from `PATH` and the command's
//!   own `env`, so the server's secrets never reach them; the working
//!   directory is `/` unless configured.
//! * **Fencing.** A local program cannot be made to compare fencing
//!   tokens, so for an applied action the executor confirms the lease
//!   (`ActionRequest::lease_check`) immediately before the spawn and fails
//!   as `fenced` without running anything if it is lost; the program gets
//!   the token as `HALE_FENCING_TOKEN` (with `HALE_TENANT` and
//!   `HALE_RESOURCE`, the scope the token is ordered in) to fence the
//!   system it changes, and `fenced_exit_codes` report its own refusals as
//!   `fenced`. An applied action without a token is `invalid_action`.
//!
//! [`CommandHealthProbe`] runs a configured check command: exit 0 is healthy.
//!
//! ## Example
//!
//! ```
//! use hale_command::{CommandConfig, CommandExecutor, CommandSpec};
//!
//! let exec = CommandExecutor::new(CommandConfig::with_commands(vec![
//!     CommandSpec::new("restart-nginx", "/usr/bin/systemctl", &["restart", "{name}"]),
//! ]))
//! .unwrap();
//! assert_eq!(exec.command_names(), ["restart-nginx"]);
//!
//! // A placeholder inside an argument is a configuration error.
//! let bad = CommandSpec::new("x", "/bin/echo", &["--unit={name}"]);
//! assert!(CommandExecutor::new(CommandConfig::with_commands(vec![bad])).is_err());
//! ```

mod config;
mod executor;
mod probe;
mod process;
mod template;

pub use config::{
    CommandConfig, CommandSpec, ConfigError, DEFAULT_KILL_GRACE, DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_PATH, FENCING_TOKEN_ENV, RESERVED_ENV, RESOURCE_ENV, TENANT_ENV,
};
pub use executor::{CommandExecutor, KIND_PREFIX};
pub use probe::{CommandHealthProbe, DEFAULT_CHECK_TIMEOUT};
pub use template::{BUILTIN_PLACEHOLDERS, MAX_VALUE_LEN};
