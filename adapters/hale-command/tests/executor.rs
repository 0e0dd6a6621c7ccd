//! The command executor against real processes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hale_command::{CommandConfig, CommandExecutor, CommandSpec, DEFAULT_PATH};
use hale_domain::failure::FailureClass;
use hale_domain::strategy::{ActionKind, ActionSpec, OnError};
use hale_domain::{OperationId, ResourceRef, TenantId};
use hale_engine::ports::{
    ActionExecutor, ActionOutcome, ActionRequest, ExecError, ExecMode, FencingToken, LeaseCheck,
    LockError, NamespacePolicy,
};
use serde_json::{Value, json};

mod support;
use support::{pids_in, wait_until_gone};

/// The fencing token applied calls carry unless told otherwise.
const TOKEN: u64 = 42;

struct Call<'a> {
    kind: &'static str,
    resource: &'static str,
    params: BTreeMap<String, Value>,
    timeout: Duration,
    mode: ExecMode,
    namespaces: NamespacePolicy,
    token: Option<FencingToken>,
    lease: Option<&'a dyn LeaseCheck>,
}

impl<'a> Call<'a> {
    fn new(kind: &'static str) -> Self {
        Call {
            kind,
            resource: "web:unit/nginx",
            params: BTreeMap::new(),
            timeout: Duration::from_secs(20),
            mode: ExecMode::Apply,
            namespaces: NamespacePolicy::Only(vec!["web".to_owned()]),
            token: Some(FencingToken(TOKEN)),
            lease: None,
        }
    }

    fn token(mut self, token: Option<FencingToken>) -> Self {
        self.token = token;
        self
    }

    fn lease(mut self, lease: &'a dyn LeaseCheck) -> Self {
        self.lease = Some(lease);
        self
    }

    fn param(mut self, k: &str, v: Value) -> Self {
        self.params.insert(k.to_owned(), v);
        self
    }

    fn dry_run(mut self) -> Self {
        self.mode = ExecMode::DryRun;
        self
    }

    fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    async fn run(&self, exec: &CommandExecutor) -> Result<ActionOutcome, ExecError> {
        let tenant = TenantId::new("acme").unwrap();
        let op = OperationId::new("op-1");
        let resource = ResourceRef::parse(self.resource).unwrap();
        let action = ActionSpec {
            kind: ActionKind::new(self.kind).unwrap(),
            params: self.params.clone(),
            timeout: self.timeout,
            on_error: OnError::Abort,
        };
        exec.execute(ActionRequest {
            tenant: &tenant,
            operation_id: &op,
            resource: &resource,
            action: &action,
            mode: self.mode,
            fencing_token: self.token,
            lease_check: self.lease,
            namespaces: &self.namespaces,
        })
        .await
    }
}

fn executor(commands: Vec<CommandSpec>) -> CommandExecutor {
    let mut cfg = CommandConfig::with_commands(commands);
    cfg.kill_grace = Duration::from_millis(300);
    CommandExecutor::new(cfg).unwrap()
}

fn sh(name: &str, script: &str) -> CommandSpec {
    CommandSpec::new(name, "/bin/sh", &["-c", script])
}

#[tokio::test]
async fn echo_receives_each_placeholder_as_one_argument() {
    let exec = executor(vec![
        CommandSpec::new(
            "echo",
            "/bin/echo",
            &["restart", "{name}", "{namespace}", "{kind}", "{label}"],
        )
        .with_params(&["label"]),
    ]);
    assert_eq!(exec.name(), "command");
    assert!(exec.supports(&ActionKind::new("command:echo").unwrap()));
    assert!(!exec.supports(&ActionKind::new("command:other").unwrap()));
    assert!(!exec.supports(&ActionKind::new("rollout_restart").unwrap()));

    let out = Call::new("command:echo")
        .param("label", json!("blue"))
        .run(&exec)
        .await
        .unwrap();
    let resp = out.response.unwrap();
    assert_eq!(
        resp["argv"],
        json!(["/bin/echo", "restart", "nginx", "web", "unit", "blue"])
    );
    assert_eq!(resp["stdout"]["text"], "restart nginx web unit blue\n");
    assert_eq!(resp["exit_code"], 0);
}

#[tokio::test]
async fn a_literal_argument_with_shell_syntax_reaches_the_program_unchanged() {
    // `printf '%s|'` shows argument boundaries: a shell would split and run.
    let exec = executor(vec![CommandSpec::new(
        "printf",
        "/usr/bin/printf",
        &["%s|", "a b", "$(id)", "{name}"],
    )]);
    let out = Call::new("command:printf").run(&exec).await.unwrap();
    assert_eq!(out.response.unwrap()["stdout"]["text"], "a b|$(id)|nginx|");
}

#[tokio::test]
async fn injection_attempts_in_values_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let exec = executor(vec![
        sh("touch", "touch \"$1\"; echo \"$0\"")
            .with_params(&["label"])
            .tap_args(&["{label}", marker.to_str().unwrap()]),
    ]);
    for evil in [
        "x; rm -rf /",
        "$(touch /tmp/pwned)",
        "a b",
        "--help",
        "x\ny",
        "`id`",
    ] {
        let err = Call::new("command:touch")
            .param("label", json!(evil))
            .run(&exec)
            .await
            .unwrap_err();
        assert_eq!(err.class, FailureClass::InvalidAction, "{evil:?}: {err}");
        assert!(err.message.contains("not allowed") || err.message.contains("option"));
    }
    assert!(!marker.exists(), "a refused action ran");
    // The same command with a clean value runs.
    Call::new("command:touch")
        .param("label", json!("x"))
        .run(&exec)
        .await
        .unwrap();
    assert!(marker.exists());
}

#[tokio::test]
async fn dry_run_returns_the_exact_argv_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let marker_s = marker.to_str().unwrap().to_owned();
    let exec = executor(vec![
        CommandSpec::new("touch", "/usr/bin/touch", &["{path}"]).with_params(&["path"]),
    ]);
    let out = Call::new("command:touch")
        .param("path", json!(marker_s))
        .dry_run()
        .run(&exec)
        .await
        .unwrap();
    let resp = out.response.unwrap();
    assert_eq!(resp["argv"], json!(["/usr/bin/touch", marker_s]));
    assert_eq!(resp["dry_run"], true);
    assert!(out.message.contains("/usr/bin/touch"), "{}", out.message);
    assert!(!marker.exists(), "dry run ran the command");

    // A missing program is caught by the dry run.
    let exec = executor(vec![CommandSpec::new("ghost", "/nonexistent/bin/x", &[])]);
    let err = Call::new("command:ghost")
        .dry_run()
        .run(&exec)
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
}

#[tokio::test]
async fn timeout_kills_the_child_and_its_grandchild() {
    // `$$` is the shell, `$!` the background sleep (a grandchild of Hale).
    let exec = executor(vec![sh("hang", "sleep 30 & echo $$ $!; wait")]);
    let err = Call::new("command:hang")
        .timeout(Duration::from_millis(1500))
        .run(&exec)
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Timeout, "{err}");
    let resp = err.response.unwrap();
    assert_eq!(resp["timed_out"], true);
    let pids = pids_in(resp["stdout"]["text"].as_str().unwrap());
    assert_eq!(pids.len(), 2, "{resp}");
    for pid in pids {
        assert!(
            wait_until_gone(pid).await,
            "process {pid} survived the timeout"
        );
    }
}

#[tokio::test]
async fn dropping_the_future_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let exec = executor(vec![
        sh("hang", "sleep 30 & echo $$ $! > \"$0\"; wait")
            .tap_args(&["{pidfile}"])
            .with_params(&["pidfile"]),
    ]);
    let call = Call::new("command:hang").param("pidfile", json!(pidfile.to_str().unwrap()));
    let pids = tokio::select! {
        r = call.run(&exec) => panic!("the command finished: {r:?}"),
        pids = async {
            loop {
                let pids = pids_in(&std::fs::read_to_string(&pidfile).unwrap_or_default());
                if pids.len() == 2 {
                    break pids;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        } => pids,
    };
    // The execute future is dropped by now.
    for pid in pids {
        assert!(
            wait_until_gone(pid).await,
            "process {pid} survived the drop"
        );
    }
}

#[tokio::test]
async fn background_leftovers_are_stopped_when_the_leader_exits() {
    let exec = executor(vec![sh("bg", "sleep 30 & echo $!")]);
    let out = Call::new("command:bg").run(&exec).await.unwrap();
    let pids = pids_in(out.response.unwrap()["stdout"]["text"].as_str().unwrap());
    assert_eq!(pids.len(), 1);
    assert!(wait_until_gone(pids[0]).await, "background sleep survived");
}

#[tokio::test]
async fn huge_output_is_truncated_and_marked() {
    let exec = executor(vec![sh(
        "flood",
        "head -c 1000000 /dev/zero | tr '\\0' a; head -c 200000 /dev/zero | tr '\\0' b >&2",
    )]);
    let out = Call::new("command:flood").run(&exec).await.unwrap();
    let resp = out.response.unwrap();
    let stdout = &resp["stdout"];
    assert_eq!(stdout["truncated"], true);
    assert_eq!(stdout["total_bytes"], 1_000_000);
    let text = stdout["text"].as_str().unwrap();
    assert!(text.starts_with(&"a".repeat(65_536)));
    assert!(
        text.ends_with("[... truncated: 65536 of 1000000 bytes shown]"),
        "{}",
        &text[65_000..]
    );
    assert!(text.len() < 65_536 + 100);
    assert_eq!(resp["stderr"]["truncated"], true);
    assert_eq!(resp["stderr"]["total_bytes"], 200_000);
}

#[tokio::test]
async fn exit_codes_are_classified() {
    let mut fatal = sh("exit", "exit \"$0\"")
        .tap_args(&["{code}"])
        .with_params(&["code"]);
    fatal.fatal_exit_codes = vec![3];
    fatal.retryable_exit_codes = vec![75];
    let exec = executor(vec![fatal]);
    for (code, class) in [
        (3, FailureClass::Fatal),
        (75, FailureClass::Transient),
        (1, FailureClass::Transient),
        (126, FailureClass::InvalidAction),
        (127, FailureClass::InvalidAction),
    ] {
        let err = Call::new("command:exit")
            .param("code", json!(code))
            .run(&exec)
            .await
            .unwrap_err();
        assert_eq!(err.class, class, "exit {code}: {err}");
        assert_eq!(err.response.unwrap()["exit_code"], code);
    }
}

#[tokio::test]
async fn a_signal_from_elsewhere_is_transient() {
    let exec = executor(vec![sh("selfkill", "kill -9 $$")]);
    let err = Call::new("command:selfkill").run(&exec).await.unwrap_err();
    assert_eq!(err.class, FailureClass::Transient);
    assert_eq!(err.response.unwrap()["signal"], 9);
}

#[tokio::test]
async fn the_environment_is_cleared() {
    let mut spec = CommandSpec::new("env", "/usr/bin/env", &[]);
    spec.env.insert("GREETING".to_owned(), "hi".to_owned());
    let exec = executor(vec![spec]);
    let out = Call::new("command:env").run(&exec).await.unwrap();
    let text = out.response.unwrap()["stdout"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut lines: Vec<_> = text.lines().collect();
    lines.sort_unstable();
    // The command's own variables, PATH, and what Hale sets for an applied
    // action: its lock's fencing token and the scope that token is in.
    assert_eq!(
        lines,
        [
            "GREETING=hi".to_owned(),
            // The report passes through redaction, which masks anything
            // named `*TOKEN=`; the value itself is checked by
            // `a_program_that_saw_a_newer_token_reports_fenced`.
            "HALE_FENCING_TOKEN=***".to_owned(),
            "HALE_RESOURCE=web:unit/nginx".to_owned(),
            "HALE_TENANT=acme".to_owned(),
            format!("PATH={DEFAULT_PATH}")
        ]
    );
}

#[tokio::test]
async fn unknown_commands_wrong_kinds_and_foreign_namespaces_are_invalid() {
    let exec = executor(vec![CommandSpec::new("echo", "/bin/echo", &["{name}"])]);
    let err = Call::new("command:nope").run(&exec).await.unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
    assert!(err.message.contains("allow-list"), "{err}");

    let err = Call::new("rollout_restart").run(&exec).await.unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);

    let err = Call::new("command:echo")
        .param("extra", json!("x"))
        .run(&exec)
        .await
        .unwrap_err();
    assert!(err.message.contains("unknown param"), "{err}");

    let mut call = Call::new("command:echo");
    call.resource = "default:unit/nginx";
    let err = call.run(&exec).await.unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
    assert!(err.message.contains("\"default\""), "{err}");
    assert!(err.message.contains("[\"web\"]"), "{err}");
}

#[tokio::test]
async fn a_program_removed_after_configuration_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(vec![CommandSpec::new(
        "gone",
        dir.path().join("missing").to_str().unwrap(),
        &[],
    )]);
    let err = Call::new("command:gone").run(&exec).await.unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction, "{err}");
    assert!(err.message.contains("could not start"), "{err}");
}

// === Fencing ===

/// A lease check with a fixed answer that records, at each call, whether
/// the program had already run (its marker file existed).
struct RecordingLease {
    answer: Result<(), LockError>,
    marker: std::path::PathBuf,
    calls: AtomicUsize,
    ran_before_check: AtomicBool,
}

impl RecordingLease {
    fn new(answer: Result<(), LockError>, marker: &std::path::Path) -> Self {
        RecordingLease {
            answer,
            marker: marker.to_owned(),
            calls: AtomicUsize::new(0),
            ran_before_check: AtomicBool::new(false),
        }
    }
}

#[async_trait::async_trait]
impl LeaseCheck for RecordingLease {
    async fn confirm(&self) -> Result<(), LockError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.marker.exists() {
            self.ran_before_check.store(true, Ordering::SeqCst);
        }
        self.answer.clone()
    }
}

fn toucher() -> CommandSpec {
    CommandSpec::new("touch", "/usr/bin/touch", &["{path}"]).with_params(&["path"])
}

#[tokio::test]
async fn the_lease_is_confirmed_right_before_the_spawn_and_a_lost_one_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let exec = executor(vec![toucher()]);
    let call = || Call::new("command:touch").param("path", json!(marker.to_str().unwrap()));

    for lost in [
        LockError::NotHeld,
        LockError::Unavailable("redis: timed out after 250ms".to_owned()),
    ] {
        let lease = RecordingLease::new(Err(lost.clone()), &marker);
        let err = call().lease(&lease).run(&exec).await.unwrap_err();
        assert_eq!(err.class, FailureClass::Fenced, "{lost}: {err}");
        assert!(err.message.contains("nothing was done"), "{err}");
        assert_eq!(lease.calls.load(Ordering::SeqCst), 1);
        assert!(
            !marker.exists(),
            "{lost}: the command ran without its lease"
        );
    }

    let lease = RecordingLease::new(Ok(()), &marker);
    call().lease(&lease).run(&exec).await.unwrap();
    assert_eq!(lease.calls.load(Ordering::SeqCst), 1);
    assert!(!lease.ran_before_check.load(Ordering::SeqCst));
    assert!(marker.exists(), "a confirmed lease runs the command");
}

#[tokio::test]
async fn a_dry_run_needs_no_token_and_no_lease_and_an_applied_action_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let exec = executor(vec![toucher()]);
    let lease = RecordingLease::new(Err(LockError::NotHeld), &marker);
    let call = || Call::new("command:touch").param("path", json!(marker.to_str().unwrap()));

    call()
        .dry_run()
        .token(None)
        .lease(&lease)
        .run(&exec)
        .await
        .unwrap();
    assert_eq!(lease.calls.load(Ordering::SeqCst), 0);

    let err = call().token(None).run(&exec).await.unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction, "{err}");
    assert!(err.message.contains("fencing token"), "{err}");
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_program_that_saw_a_newer_token_reports_fenced() {
    // What docs/executors.md suggests a program do: compare the token with
    // the highest one its system has recorded and refuse a lower one.
    let dir = tempfile::tempdir().unwrap();
    let highest = dir.path().join("highest");
    std::fs::write(&highest, "50").unwrap();
    let mut spec = sh(
        "guarded",
        "[ \"$HALE_FENCING_TOKEN\" -ge \"$(cat \"$0\")\" ] || exit 3; echo \"$HALE_FENCING_TOKEN\" > \"$0\"",
    )
    .tap_args(&["{state}"])
    .with_params(&["state"]);
    spec.fenced_exit_codes = vec![3];
    let exec = executor(vec![spec]);
    let call = |token| {
        Call::new("command:guarded")
            .param("state", json!(highest.to_str().unwrap()))
            .token(Some(FencingToken(token)))
    };
    let err = call(42).run(&exec).await.unwrap_err();
    assert_eq!(err.class, FailureClass::Fenced, "{err}");
    assert_eq!(std::fs::read_to_string(&highest).unwrap().trim(), "50");
    call(60).run(&exec).await.unwrap();
    assert_eq!(std::fs::read_to_string(&highest).unwrap().trim(), "60");
}

#[tokio::test]
async fn a_dropped_action_future_leaves_no_process_to_act_later() {
    // The child would write its marker a second after starting; the engine
    // drops the action's future (its timeout, or a lost lease) first.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("late-write");
    let started = dir.path().join("started");
    let exec = executor(vec![
        sh(
            "late",
            "(sleep 1; touch \"$0\") & echo $$ $! > \"$1\"; wait",
        )
        .tap_args(&["{marker}", "{started}"])
        .with_params(&["marker", "started"]),
    ]);
    let call = Call::new("command:late")
        .param("marker", json!(marker.to_str().unwrap()))
        .param("started", json!(started.to_str().unwrap()));
    let mut run = Box::pin(call.run(&exec));
    // Poll the action until the child has started, then drop it.
    let pids = loop {
        tokio::select! {
            r = &mut run => panic!("the command finished: {r:?}"),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let pids = pids_in(&std::fs::read_to_string(&started).unwrap_or_default());
        if pids.len() == 2 {
            break pids;
        }
    };
    drop(run);
    for pid in pids {
        assert!(
            wait_until_gone(pid).await,
            "process {pid} survived the drop"
        );
    }
    // Past the moment the child would have written.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!marker.exists(), "a dropped action still wrote");
}

/// Builder sugar for tests: replaces the template's extra arguments.
trait TapArgs {
    fn tap_args(self, extra: &[&str]) -> Self;
}

impl TapArgs for CommandSpec {
    fn tap_args(mut self, extra: &[&str]) -> Self {
        self.args.extend(extra.iter().map(|s| (*s).to_owned()));
        self
    }
}

#[tokio::test]
async fn secrets_in_output_are_redacted_and_output_is_capped_before_it_is_recorded() {
    let mut cfg = CommandConfig::with_commands(vec![
        sh(
            "leaky",
            "echo 'connecting to postgres://app:hunter2@db/x'; echo DB_PASSWORD=hunter2; \
             echo 'session sess-abc123' >&2; exit 3",
        ),
        sh("chatty", "head -c 100000 /dev/zero | tr '\\0' 'x'"),
    ]);
    cfg.redact_patterns = vec!["sess-[a-z0-9]+".to_owned()];
    cfg.max_output_bytes = 1024;
    let exec = CommandExecutor::new(cfg).unwrap();

    let err = Call::new("command:leaky").run(&exec).await.unwrap_err();
    let recorded = format!("{} {}", err.message, err.response.clone().unwrap());
    assert!(!recorded.contains("hunter2"), "{recorded}");
    assert!(!recorded.contains("sess-abc123"), "{recorded}");
    assert!(recorded.contains("DB_PASSWORD=***"), "{recorded}");
    assert!(recorded.contains("postgres://app:***@db/x"), "{recorded}");

    let out = Call::new("command:chatty").run(&exec).await.unwrap();
    let stdout = &out.response.unwrap()["stdout"];
    assert_eq!(stdout["truncated"], true);
    assert_eq!(stdout["total_bytes"], 100_000);
    assert!(stdout["text"].as_str().unwrap().len() < 1200);

    let bad = CommandConfig {
        redact_patterns: vec!["(unclosed".to_owned()],
        ..CommandConfig::default()
    };
    let e = CommandExecutor::new(bad).unwrap_err();
    assert!(e.to_string().contains("(unclosed"), "{e}");
}
