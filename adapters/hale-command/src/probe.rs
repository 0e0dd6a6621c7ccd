//! A `HealthProbe` that runs an allow-listed check command.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::failure::FailureClass;
use hale_engine::ports::{Health, HealthProbe, ProbeError, ProbeRequest};

use crate::config::{CommandConfig, ConfigError};
use crate::executor::{AllowList, check_namespace, tail};
use crate::process::Exit;

/// How long a check may run when its spec sets no timeout.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks health by running a configured command: exit 0 is healthy, any
/// other exit is unhealthy.
///
/// The probe request's `check` names the command (so a strategy's
/// `verify.check = "nginx-active"` runs the check named `nginx-active`;
/// name one `auto` to serve strategies that keep the default). Checks take
/// the same placeholders as actions except declared params, since a probe
/// request carries none.
#[derive(Debug, Clone)]
pub struct CommandHealthProbe {
    list: AllowList,
}

impl CommandHealthProbe {
    /// Checks every command and builds the probe.
    pub fn new(config: CommandConfig) -> Result<Self, ConfigError> {
        if let Some(spec) = config.commands.iter().find(|c| !c.params.is_empty()) {
            return Err(ConfigError {
                command: spec.name.clone(),
                why: "a check cannot declare params (probe requests carry none)".to_owned(),
            });
        }
        Ok(CommandHealthProbe {
            list: AllowList::new(config)?,
        })
    }
}

#[async_trait]
impl HealthProbe for CommandHealthProbe {
    async fn check(&self, req: ProbeRequest<'_>) -> Result<Health, ProbeError> {
        let invalid = |message: String| ProbeError {
            class: FailureClass::InvalidAction,
            message,
        };
        check_namespace(req.resource, req.namespaces).map_err(|e| invalid(e.message))?;
        let cmd = self.list.get(req.check).ok_or_else(|| {
            invalid(format!(
                "no check command named {:?} (configured: {:?})",
                req.check,
                self.list.names().collect::<Vec<_>>()
            ))
        })?;
        let argv = cmd
            .argv(req.resource, &BTreeMap::new())
            .map_err(|why| invalid(format!("check {:?}: {why}", req.check)))?;
        let timeout = cmd.timeout(DEFAULT_CHECK_TIMEOUT);
        let out = cmd
            .run(&self.list, &argv, timeout, &[])
            .await
            .map_err(|e| {
                invalid(format!(
                    "could not start {:?}: {e}",
                    self.list.shown_argv(&argv)
                ))
            })?;
        match out.exit {
            Exit::Code(0) => Ok(Health::Healthy),
            Exit::Code(code) if code == 126 || code == 127 => Err(invalid(format!(
                "check {:?} could not run (exit {code})",
                self.list.shown_argv(&argv)
            ))),
            Exit::Code(code) => Ok(Health::Unhealthy(format!(
                "check {} exited {code}: {}",
                cmd.spec.name,
                tail(
                    &self
                        .list
                        .redactor
                        .redact(if out.stdout.text.trim().is_empty() {
                            &out.stderr.text
                        } else {
                            &out.stdout.text
                        })
                )
            ))),
            Exit::Signal(sig) => Ok(Health::Unhealthy(format!(
                "check {} was killed by signal {sig}",
                cmd.spec.name
            ))),
            Exit::TimedOut => Err(ProbeError {
                class: FailureClass::Timeout,
                message: format!("check {} did not finish within {timeout:?}", cmd.spec.name),
            }),
        }
    }
}
