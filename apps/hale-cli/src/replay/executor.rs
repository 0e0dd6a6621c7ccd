//! The replay's executor: the testkit's [`ScriptedExecutor`] (it changes
//! nothing and succeeds, like a dry run) with the failures asked for on the
//! command line (`--fail-action KIND[=CLASS]`) layered on top.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use hale_domain::failure::FailureClass;
use hale_domain::strategy::ActionKind;
use hale_engine::ports::{ActionExecutor, ActionOutcome, ActionRequest, ExecError, ExecMode};
use hale_testkit::fakes::ScriptedExecutor;

/// Parses `KIND[=CLASS]`; the class defaults to `transient`.
pub fn parse_fail_action(spec: &str) -> Result<(ActionKind, FailureClass), String> {
    let (kind, class) = match spec.split_once('=') {
        Some((k, c)) => (k.trim(), c.trim()),
        None => (spec.trim(), "transient"),
    };
    let kind = ActionKind::new(kind).map_err(|e| format!("--fail-action {spec:?}: {e}"))?;
    let class: FailureClass = serde_json::from_value(serde_json::Value::String(
        class.replace('-', "_"),
    ))
    .map_err(|_| {
        let known: Vec<&str> = FailureClass::ALL.iter().map(|c| c.as_str()).collect();
        format!(
            "--fail-action {spec:?}: unknown failure class {class:?}; use one of {}",
            known.join(", ")
        )
    })?;
    Ok((kind, class))
}

/// Succeeds (changing nothing) except for the action kinds scripted to fail.
#[derive(Debug)]
pub struct ReplayExecutor {
    name: String,
    inner: Arc<ScriptedExecutor>,
    failing: BTreeMap<ActionKind, FailureClass>,
}

impl ReplayExecutor {
    /// An executor called `name` (which is also its circuit breaker's
    /// name) failing every applied action of the given kinds.
    pub fn new(name: &str, failing: BTreeMap<ActionKind, FailureClass>) -> Self {
        ReplayExecutor {
            name: name.to_owned(),
            inner: Arc::new(ScriptedExecutor::new(name)),
            failing,
        }
    }

    /// Applied actions so far (failed ones included).
    pub fn applied(&self) -> usize {
        self.inner.applied().len()
    }
}

#[async_trait]
impl ActionExecutor for ReplayExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, kind: &ActionKind) -> bool {
        self.inner.supports(kind)
    }

    async fn execute(&self, req: ActionRequest<'_>) -> Result<ActionOutcome, ExecError> {
        // The inner executor records the call and enforces the namespace
        // policy, as every executor must; a scripted failure replaces only
        // its success.
        let outcome = self.inner.execute(req).await?;
        match self.failing.get(&req.action.kind) {
            Some(class) if req.mode == ExecMode::Apply => Err(ExecError::new(
                *class,
                format!(
                    "replay: scripted {} failure (--fail-action)",
                    class_name(*class)
                ),
            )),
            _ => Ok(outcome),
        }
    }
}

/// The class as written on the command line (`budget_blocked`).
fn class_name(class: FailureClass) -> String {
    serde_json::to_value(class)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{class:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_action_specs_default_to_transient() {
        let (k, c) = parse_fail_action("rollout_restart").unwrap();
        assert_eq!(k.as_str(), "rollout_restart");
        assert_eq!(c, FailureClass::Transient);
        assert_eq!(
            parse_fail_action("evict_pod=budget-blocked").unwrap().1,
            FailureClass::BudgetBlocked
        );
        assert_eq!(
            parse_fail_action("command:x=fenced").unwrap().1,
            FailureClass::Fenced
        );
        let e = parse_fail_action("rollout_restart=sometimes").unwrap_err();
        assert!(e.contains("budget_blocked") && e.contains("fenced"), "{e}");
        assert!(parse_fail_action("Bad Kind").is_err());
    }
}
