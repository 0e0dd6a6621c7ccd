//! The `ActionExecutor` for allow-listed local commands.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::ResourceRef;
use hale_domain::failure::FailureClass;
use hale_domain::strategy::ActionKind;
use hale_engine::ports::{
    ActionExecutor, ActionOutcome, ActionRequest, ExecError, ExecMode, NamespacePolicy,
};
use hale_redact::Redactor;
use serde_json::json;

use crate::config::{
    CommandConfig, CommandSpec, ConfigError, FENCING_TOKEN_ENV, RESOURCE_ENV, TENANT_ENV,
};
use crate::process::{self, Captured, Exit, Invocation, RunOutput};
use crate::template::ArgTemplate;

/// Action kinds this executor runs start with this prefix: `command:<name>`.
pub const KIND_PREFIX: &str = "command:";

/// One allow-listed command, checked and compiled.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) spec: CommandSpec,
    template: ArgTemplate,
}

/// The allow-list, keyed by command name.
#[derive(Debug, Clone)]
pub(crate) struct AllowList {
    commands: BTreeMap<String, Compiled>,
    pub(crate) max_output: usize,
    pub(crate) grace: Duration,
    /// Applied to everything recorded of a run.
    pub(crate) redactor: Redactor,
}

impl AllowList {
    pub(crate) fn new(config: CommandConfig) -> Result<Self, ConfigError> {
        let mut commands = BTreeMap::new();
        for spec in config.commands {
            let template = spec.compile()?;
            let name = spec.name.clone();
            if commands
                .insert(name.clone(), Compiled { spec, template })
                .is_some()
            {
                return Err(ConfigError {
                    command: name,
                    why: "configured twice".to_owned(),
                });
            }
        }
        let redactor = Redactor::new(&config.redact_patterns).map_err(|e| ConfigError {
            command: "redact_patterns".to_owned(),
            why: e.to_string(),
        })?;
        Ok(AllowList {
            commands,
            max_output: config.max_output_bytes,
            grace: config.kill_grace,
            redactor,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Compiled> {
        self.commands.get(name)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.commands.keys().map(String::as_str)
    }

    /// `argv` as it may be recorded.
    pub(crate) fn shown_argv(&self, argv: &[String]) -> Vec<String> {
        argv.iter()
            .map(|a| self.redactor.redact(a).into_owned())
            .collect()
    }

    /// A captured stream as it may be recorded.
    pub(crate) fn shown(&self, c: &Captured) -> Captured {
        Captured {
            text: self.redactor.redact(&c.text).into_owned(),
            ..c.clone()
        }
    }
}

impl Compiled {
    /// The full argv, program first.
    pub(crate) fn argv(
        &self,
        resource: &ResourceRef,
        params: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Vec<String>, String> {
        let mut argv = vec![self.spec.program.to_string_lossy().into_owned()];
        argv.extend(self.template.render(resource, params)?);
        Ok(argv)
    }

    /// Runs the rendered argv (program first), with Hale's own variables
    /// `hale_env` on top of the command's environment.
    pub(crate) async fn run(
        &self,
        list: &AllowList,
        argv: &[String],
        timeout: Duration,
        hale_env: &[(&'static str, String)],
    ) -> std::io::Result<RunOutput> {
        process::run(Invocation {
            program: &self.spec.program,
            argv: &argv[1..],
            env: &self.spec.env,
            hale_env,
            working_dir: self.spec.working_dir.as_ref(),
            timeout,
            grace: list.grace,
            max_output: list.max_output,
        })
        .await
    }

    /// The run time: the action's timeout, capped by the command's own.
    pub(crate) fn timeout(&self, requested: Duration) -> Duration {
        self.spec
            .timeout
            .map_or(requested, |cap| cap.min(requested))
    }

    /// Checks, without running it, that the program can be executed.
    pub(crate) fn check_program(&self) -> Result<(), String> {
        let meta = std::fs::metadata(&self.spec.program)
            .map_err(|e| format!("program {:?} is not usable: {e}", self.spec.program))?;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(format!(
                "program {:?} is not an executable file",
                self.spec.program
            ));
        }
        Ok(())
    }
}

/// The report of a finished run, for outcomes and errors alike: argv and
/// output already capped, here also redacted.
pub(crate) fn report(list: &AllowList, argv: &[String], out: &RunOutput) -> serde_json::Value {
    let (exit_code, signal) = match out.exit {
        Exit::Code(c) => (Some(c), None),
        Exit::Signal(s) => (None, Some(s)),
        Exit::TimedOut => (None, None),
    };
    json!({
        "argv": list.shown_argv(argv),
        "exit_code": exit_code,
        "signal": signal,
        "timed_out": out.exit == Exit::TimedOut,
        "stdout": list.shown(&out.stdout),
        "stderr": list.shown(&out.stderr),
    })
}

/// The namespace guard every executor applies.
pub(crate) fn check_namespace(
    resource: &ResourceRef,
    policy: &NamespacePolicy,
) -> Result<(), ExecError> {
    if policy.allows(&resource.namespace) {
        return Ok(());
    }
    let allowed = match policy {
        NamespacePolicy::Any => "any".to_owned(),
        NamespacePolicy::Only(list) => format!("{list:?}"),
    };
    Err(ExecError::new(
        FailureClass::InvalidAction,
        format!(
            "namespace {:?} of {resource} is not allowed for this tenant (allowed: {allowed})",
            resource.namespace
        ),
    ))
}

/// Runs allow-listed local programs (`command:<name>` action kinds).
///
/// No shell is involved: the configured program is executed directly with
/// its fixed argument template, each placeholder filled by one validated
/// argv element. See the crate docs for the guarantees.
#[derive(Debug, Clone)]
pub struct CommandExecutor {
    list: AllowList,
}

impl CommandExecutor {
    /// Checks every command and builds the executor.
    pub fn new(config: CommandConfig) -> Result<Self, ConfigError> {
        Ok(CommandExecutor {
            list: AllowList::new(config)?,
        })
    }

    /// The configured command names.
    pub fn command_names(&self) -> Vec<String> {
        self.list.names().map(str::to_owned).collect()
    }

    /// The exact argv `req` would run (program first), after every check the
    /// real run makes, without running anything.
    pub fn plan(&self, req: &ActionRequest<'_>) -> Result<Vec<String>, ExecError> {
        self.resolve(req).map(|(_, argv)| argv)
    }

    fn resolve(&self, req: &ActionRequest<'_>) -> Result<(&Compiled, Vec<String>), ExecError> {
        check_namespace(req.resource, req.namespaces)?;
        let kind = req.action.kind.as_str();
        let name = kind.strip_prefix(KIND_PREFIX).ok_or_else(|| {
            ExecError::new(
                FailureClass::InvalidAction,
                format!("action kind {kind:?} is not a command (expected {KIND_PREFIX}<name>)"),
            )
        })?;
        let cmd = self.list.get(name).ok_or_else(|| {
            ExecError::new(
                FailureClass::InvalidAction,
                format!(
                    "command {name:?} is not in the allow-list (configured: {:?})",
                    self.command_names()
                ),
            )
        })?;
        let argv = cmd
            .argv(req.resource, &req.action.params)
            .map_err(|why| ExecError::new(FailureClass::InvalidAction, format!("{kind}: {why}")))?;
        Ok((cmd, argv))
    }
}

#[async_trait]
impl ActionExecutor for CommandExecutor {
    fn name(&self) -> &str {
        "command"
    }

    fn supports(&self, kind: &ActionKind) -> bool {
        kind.as_str()
            .strip_prefix(KIND_PREFIX)
            .is_some_and(|name| self.list.get(name).is_some())
    }

    async fn execute(&self, req: ActionRequest<'_>) -> Result<ActionOutcome, ExecError> {
        let (cmd, argv) = self.resolve(&req)?;
        let timeout = cmd.timeout(req.action.timeout);
        if req.mode == ExecMode::DryRun {
            cmd.check_program()
                .map_err(|why| ExecError::new(FailureClass::InvalidAction, why))?;
            let shown = self.list.shown_argv(&argv);
            return Ok(ActionOutcome {
                message: format!("dry run: would run {shown:?} (timeout {timeout:?})"),
                response: Some(json!({
                    "dry_run": true,
                    "argv": shown,
                    "timeout_ms": u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                })),
                pods_disrupted: 0,
            });
        }

        let token = req.required_token()?;
        // A local program cannot compare tokens for us, so the lease is
        // confirmed right before the spawn (nothing but building the
        // command lies between the two) and the token is handed on for the
        // program to fence the system it changes.
        let hale_env = [
            (FENCING_TOKEN_ENV, token.to_string()),
            (TENANT_ENV, req.tenant.to_string()),
            (RESOURCE_ENV, req.resource.to_string()),
        ];
        req.confirm_lease().await?;
        let shown = self.list.shown_argv(&argv);
        tracing::info!(command = %cmd.spec.name, argv = ?shown, operation = %req.operation_id, %token, "running command");
        let out = cmd
            .run(&self.list, &argv, timeout, &hale_env)
            .await
            .map_err(|e| {
                // The program vanished or lost its execute bit after the
                // allow-list was checked: a configuration problem, not a
                // transient one.
                let class = match e.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                        FailureClass::InvalidAction
                    }
                    _ => FailureClass::Transient,
                };
                ExecError::new(class, format!("could not start {shown:?}: {e}"))
            })?;
        let response = report(&self.list, &argv, &out);
        match out.exit {
            Exit::Code(0) => Ok(ActionOutcome {
                message: format!("{} exited 0", cmd.spec.name),
                response: Some(response),
                pods_disrupted: 0,
            }),
            Exit::Code(code) => {
                let stderr = tail(&self.list.redactor.redact(&out.stderr.text));
                Err(ExecError {
                    class: cmd.spec.classify_exit(code),
                    message: format!("{} exited {code}: {stderr}", cmd.spec.name),
                    response: Some(response),
                    target_said: Some(stderr),
                })
            }
            Exit::Signal(sig) => Err(ExecError {
                class: FailureClass::Transient,
                message: format!("{} was killed by signal {sig}", cmd.spec.name),
                response: Some(response),
                target_said: None,
            }),
            Exit::TimedOut => Err(ExecError {
                class: FailureClass::Timeout,
                message: format!(
                    "{} did not finish within {timeout:?}; its process group was stopped",
                    cmd.spec.name
                ),
                response: Some(response),
                target_said: None,
            }),
        }
    }
}

/// The last line or so of an output stream, for error messages.
pub(crate) fn tail(text: &str) -> String {
    const MAX: usize = 300;
    let t = text.trim_end();
    if t.len() <= MAX {
        return t.to_owned();
    }
    let mut start = t.len() - MAX;
    while !t.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &t[start..])
}
