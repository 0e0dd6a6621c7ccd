//! The allow-list: which programs may run, with which fixed arguments.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use hale_domain::failure::FailureClass;
use serde::{Deserialize, Serialize};

use crate::template::{ArgTemplate, BUILTIN_PLACEHOLDERS};

/// Default cap on captured stdout and on captured stderr, each.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// Default time between SIGTERM and SIGKILL when a process group is stopped.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// The `PATH` a command sees unless its `env` sets one. Commands run with a
/// cleared environment so the server's secrets (database URLs, tokens) never
/// leak into them.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The variable an applied command finds its lock's fencing token in.
pub const FENCING_TOKEN_ENV: &str = "HALE_FENCING_TOKEN";

/// The variable naming the tenant whose lock that is (`acme`).
pub const TENANT_ENV: &str = "HALE_TENANT";

/// The variable naming the locked resource (`namespace:kind/name`); a
/// token is ordered only against tokens of the same tenant and resource.
pub const RESOURCE_ENV: &str = "HALE_RESOURCE";

/// Variables Hale sets itself; a command's `env` cannot set them.
pub const RESERVED_ENV: [&str; 3] = [FENCING_TOKEN_ENV, TENANT_ENV, RESOURCE_ENV];

fn default_class() -> FailureClass {
    FailureClass::Transient
}

/// One allow-listed command.
///
/// ```toml
/// [[commands]]
/// name = "restart-nginx"
/// program = "/usr/bin/systemctl"
/// args = ["restart", "{name}"]
/// ```
///
/// Each element of `args` is either literal text or exactly one placeholder
/// (`{namespace}`, `{kind}`, `{name}`, or a name listed in `params`), which
/// is replaced by one whole argv element. There is no shell and no
/// interpolation inside an element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The name; the action kind is `command:<name>`. `[a-z0-9_.-]`, 1-64.
    pub name: String,
    /// Absolute path of the program.
    pub program: PathBuf,
    /// The argument template.
    #[serde(default)]
    pub args: Vec<String>,
    /// Parameter names the template may use; an action must give each one.
    #[serde(default)]
    pub params: Vec<String>,
    /// An upper bound on the run time; the action's own timeout applies
    /// when it is shorter.
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Exit codes that mean a human must act (latch the breaker).
    #[serde(default)]
    pub fatal_exit_codes: Vec<i32>,
    /// Exit codes that mean "try again later".
    #[serde(default)]
    pub retryable_exit_codes: Vec<i32>,
    /// Exit codes that mean "refused: the system already saw a newer
    /// fencing token than `HALE_FENCING_TOKEN`" (`fenced`: nothing was done,
    /// no retry, the breaker ignores it).
    #[serde(default)]
    pub fenced_exit_codes: Vec<i32>,
    /// The class of any other non-zero exit code except 126 and 127
    /// (which are always `invalid_action`: the program could not run).
    #[serde(default = "default_class")]
    pub other_exit_class: FailureClass,
    /// Environment variables the command sees (the environment is otherwise
    /// empty apart from `PATH`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => hale_domain::time::duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "hale_domain::time::duration")] Duration);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

impl CommandSpec {
    /// A command with no parameters and the default exit-code rules.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>, args: &[&str]) -> Self {
        CommandSpec {
            name: name.into(),
            program: program.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            params: Vec::new(),
            timeout: None,
            fatal_exit_codes: Vec::new(),
            retryable_exit_codes: Vec::new(),
            fenced_exit_codes: Vec::new(),
            other_exit_class: FailureClass::Transient,
            env: BTreeMap::new(),
            working_dir: None,
        }
    }

    /// Declares parameter names the template may use.
    pub fn with_params(mut self, params: &[&str]) -> Self {
        self.params = params.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Caps the run time.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The class of a non-zero exit code.
    pub fn classify_exit(&self, code: i32) -> FailureClass {
        if self.fatal_exit_codes.contains(&code) {
            FailureClass::Fatal
        } else if self.retryable_exit_codes.contains(&code) {
            FailureClass::Transient
        } else if self.fenced_exit_codes.contains(&code) {
            FailureClass::Fenced
        } else if code == 126 || code == 127 {
            // The shell convention: 126 "found but not executable", 127
            // "not found". Retrying the same argv cannot help.
            FailureClass::InvalidAction
        } else {
            self.other_exit_class
        }
    }

    /// Checks the spec and compiles its template.
    pub(crate) fn compile(&self) -> Result<ArgTemplate, ConfigError> {
        let bad = |why: String| ConfigError {
            command: self.name.clone(),
            why,
        };
        if !valid_name(&self.name, 64) {
            return Err(bad("name must be 1-64 characters of [a-z0-9_.-]".to_owned()));
        }
        if !self.program.is_absolute() {
            return Err(bad(format!(
                "program {:?} must be an absolute path (there is no PATH lookup)",
                self.program
            )));
        }
        for p in &self.params {
            if !valid_name(p, 64) {
                return Err(bad(format!(
                    "param name {p:?} must be 1-64 characters of [a-z0-9_.-]"
                )));
            }
            if BUILTIN_PLACEHOLDERS.contains(&p.as_str()) {
                return Err(bad(format!(
                    "param name {p:?} shadows a built-in placeholder"
                )));
            }
        }
        for k in self.env.keys() {
            let ok = !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !k.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(bad(format!("environment variable name {k:?} is not valid")));
            }
            if RESERVED_ENV.contains(&k.as_str()) {
                return Err(bad(format!(
                    "environment variable {k} is set by Hale for each applied action"
                )));
            }
        }
        if let Some(t) = self.timeout
            && t.is_zero()
        {
            return Err(bad("timeout must be positive".to_owned()));
        }
        ArgTemplate::compile(&self.args, &self.params).map_err(bad)
    }
}

/// The executor's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// The allow-list.
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
    /// Cap on captured stdout and, separately, stderr (default 64 KiB).
    #[serde(default = "default_max_output")]
    pub max_output_bytes: usize,
    /// Time between SIGTERM and SIGKILL when a process group is stopped
    /// (default 5 s).
    #[serde(default = "default_grace", with = "hale_domain::time::duration")]
    pub kill_grace: Duration,
    /// Regular expressions whose matches are replaced by `***` in what is
    /// recorded of a run (argv, stdout, stderr, messages), after the
    /// built-in patterns of [`hale_redact::BUILTIN_PATTERNS`].
    #[serde(default)]
    pub redact_patterns: Vec<String>,
}

fn default_max_output() -> usize {
    DEFAULT_MAX_OUTPUT_BYTES
}

fn default_grace() -> Duration {
    DEFAULT_KILL_GRACE
}

impl Default for CommandConfig {
    fn default() -> Self {
        CommandConfig {
            commands: Vec::new(),
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            kill_grace: DEFAULT_KILL_GRACE,
            redact_patterns: Vec::new(),
        }
    }
}

impl CommandConfig {
    /// A configuration with these commands and the defaults.
    pub fn with_commands(commands: Vec<CommandSpec>) -> Self {
        CommandConfig {
            commands,
            ..CommandConfig::default()
        }
    }
}

/// A command in the allow-list is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("command {command:?}: {why}")]
pub struct ConfigError {
    /// The command's name as configured.
    pub command: String,
    /// What rule it broke.
    pub why: String,
}

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_toml_shape() {
        // The example in docs/executors.md.
        let cfg: CommandConfig = toml::from_str(
            r#"
            kill_grace = "5s"
            max_output_bytes = 65536

            [[commands]]
            name = "restart-nginx"
            program = "/usr/bin/systemctl"
            args = ["restart", "{name}"]
            timeout = "20s"
            fatal_exit_codes = [4]
            retryable_exit_codes = [75]
            fenced_exit_codes = [3]
            other_exit_class = "transient"
            env = { LANG = "C.UTF-8" }
            working_dir = "/"

            [[commands]]
            name = "drain-queue"
            program = "/usr/local/bin/queuectl"
            args = ["drain", "--queue", "{queue}", "--host", "{namespace}"]
            params = ["queue"]
            "#,
        )
        .unwrap();
        assert_eq!(cfg.kill_grace, Duration::from_secs(5));
        assert_eq!(cfg.max_output_bytes, DEFAULT_MAX_OUTPUT_BYTES);
        let spec = &cfg.commands[0];
        assert!(spec.compile().is_ok());
        assert_eq!(spec.timeout, Some(Duration::from_secs(20)));
        assert_eq!(spec.classify_exit(4), FailureClass::Fatal);
        assert_eq!(spec.classify_exit(75), FailureClass::Transient);
        assert_eq!(spec.classify_exit(3), FailureClass::Fenced);
        assert_eq!(spec.classify_exit(1), FailureClass::Transient);
        assert_eq!(spec.classify_exit(127), FailureClass::InvalidAction);
        assert!(cfg.commands[1].compile().is_ok());
    }

    #[test]
    fn exit_code_lists_take_precedence() {
        let mut spec = CommandSpec::new("x", "/bin/true", &[]);
        spec.retryable_exit_codes = vec![126];
        spec.other_exit_class = FailureClass::Fatal;
        assert_eq!(spec.classify_exit(126), FailureClass::Transient);
        assert_eq!(spec.classify_exit(127), FailureClass::InvalidAction);
        assert_eq!(spec.classify_exit(3), FailureClass::Fatal);
    }

    #[test]
    fn rejects_relative_programs_bad_names_and_shadowing_params() {
        let e = CommandSpec::new("x", "systemctl", &[])
            .compile()
            .unwrap_err();
        assert!(e.why.contains("absolute"), "{e}");
        let e = CommandSpec::new("Bad Name", "/bin/true", &[])
            .compile()
            .unwrap_err();
        assert!(e.why.contains("name"), "{e}");
        let e = CommandSpec::new("x", "/bin/true", &[])
            .with_params(&["name"])
            .compile()
            .unwrap_err();
        assert!(e.why.contains("shadows"), "{e}");
        let mut spec = CommandSpec::new("x", "/bin/true", &[]);
        spec.env.insert("1BAD".to_owned(), "v".to_owned());
        assert!(spec.compile().is_err());
        let mut spec = CommandSpec::new("x", "/bin/true", &[]);
        spec.env
            .insert(FENCING_TOKEN_ENV.to_owned(), "1".to_owned());
        let e = spec.compile().unwrap_err();
        assert!(e.why.contains("set by Hale"), "{e}");
    }
}
