//! The `hale-server` binary as a process: the no-config start, SIGTERM in
//! the middle of a healing operation, token hygiene in logs, the refusal
//! to expose itself without tokens, the refusal of a second process on one
//! SQLite data directory, and `hash-token`.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use hale_domain::TenantId;
use hale_domain::healing::HealingState;
use hale_engine::ports::{OperationFilter, OperationStore};
use tokio::process::Command;

use crate::proc::{BIN, Proc};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_server_starts_with_no_config_and_never_prints_a_token() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let p = Proc::spawn(
        tmp.path(),
        &[],
        &[
            ("HALE_LISTEN", "127.0.0.1:0"),
            ("HALE_DATA_DIR", data.to_str().unwrap()),
        ],
    )
    .await;
    // The token file is private and the banner points at it.
    let token_file = data.join("admin.token");
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(token.len(), 64);
    p.wait_for("curl").await;
    {
        let out = p.output();
        assert!(out.contains(&token_file.display().to_string()), "{out}");
        assert!(out.contains("curl"), "{out}");
        assert!(
            out.contains("/console"),
            "the banner names the console: {out}"
        );
    }

    // The quick start: post the example alert, see the operation.
    let http = client();
    let body = post_webhook(
        &p.url("/v1/alerts/alertmanager?tenant=default"),
        &token,
        example_alert(),
    )
    .await;
    assert_eq!(
        body["decisions"][0]["outcome"]["decision"], "operation_started",
        "{body}"
    );
    let ops_url = p.url("/v1/operations?tenant=default");
    let token2 = token.clone();
    eventually(Duration::from_secs(10), "a completed operation", || {
        let (url, token) = (ops_url.clone(), token2.clone());
        async move {
            let res = client().get(&url).bearer_auth(&token).send().await.ok()?;
            let body: serde_json::Value = res.json().await.ok()?;
            (body["items"][0]["state"] == "COMPLETED").then_some(())
        }
    })
    .await;
    // Wrong and malformed credentials, which a careless server might log.
    let wrong = "wrong-3b1f9e0c7d5a";
    for auth in [
        format!("Bearer {wrong}"),
        format!("Basic {token}"),
        format!("bearer{token}"),
    ] {
        let res = http
            .get(p.url("/v1/status"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }

    let (code, output) = p.terminate().await;
    assert_eq!(code, Some(0), "{output}");
    assert!(
        !output.contains(&token),
        "the admin token appeared in the output:\n{output}"
    );
    assert!(
        !output.contains(wrong),
        "a presented token appeared in the output:\n{output}"
    );
    assert!(output.contains("SIGTERM"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_operation_reach_a_safe_point_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Two slow command actions: SIGTERM lands in the first; the run must
    // stop at the checkpoint after it and record itself, never stay running.
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"

[executor]
kind = "command"
[[executor.commands]]
name = "slow"
program = "/bin/sleep"
args = ["2"]

[engine]
shutdown_grace = "20s"

{tenant}"#,
        data = data.display(),
        tenant = tenant_toml(
            "default",
            r#"[{ kind = "command:slow", timeout = "10s" }, { kind = "command:slow", timeout = "10s" }]"#,
            r#"{ check = "none" }"#,
        ),
    );
    let config_path = tmp.path().join("hale.toml");
    std::fs::write(&config_path, config).unwrap();
    let p = Proc::spawn(
        tmp.path(),
        &["--config", config_path.to_str().unwrap()],
        &[],
    )
    .await;

    let body = post_webhook(&p.url("/v1/alerts/alertmanager"), TOKEN, example_alert()).await;
    assert_eq!(
        body["decisions"][0]["outcome"]["decision"], "operation_started",
        "{body}"
    );
    // The first action is running now.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (code, output) = p.terminate().await;
    assert_eq!(code, Some(0), "{output}");

    let store = hale_sqlite::SqliteStore::open(data.join("hale.db"))
        .await
        .unwrap();
    let ops = store
        .list_operations(
            &TenantId::new("default").unwrap(),
            &OperationFilter::default(),
        )
        .await
        .unwrap();
    assert_eq!(ops.items.len(), 1);
    let op = &ops.items[0];
    assert!(
        matches!(
            op.state,
            HealingState::Interrupted | HealingState::Completed
        ),
        "left in {:?}:\n{output}",
        op.state
    );
    // It stopped between the actions, not after both.
    assert_eq!(op.state, HealingState::Interrupted, "{op:?}");
    assert_eq!(op.actions_run.len(), 1, "{op:?}");
    assert!(output.contains("stopped"), "{output}");
    store.close().await;
}

/// The two-process probe of issue 13: SQLite serves one process, so a
/// second `hale-server` on the same data directory must refuse to start,
/// naming the holder and the way out, rather than run on a second copy of
/// the safety state (docs/stores.md, docs/reliability.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_sqlite_data_directory_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let env = [
        ("HALE_LISTEN", "127.0.0.1:0"),
        ("HALE_DATA_DIR", data.to_str().unwrap()),
    ];
    let first = Proc::spawn(tmp.path(), &[], &env).await;
    let second = || async {
        tokio::time::timeout(
            Duration::from_secs(60),
            Command::new(BIN)
                .current_dir(tmp.path())
                .env_remove("HALE_CONFIG")
                .envs(env)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the second server neither refused nor exited within 60 s")
        .unwrap()
    };
    let out = second().await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let db = data.join("hale.db");
    for needle in [
        format!(
            "the database {} is in use by process {}",
            db.display(),
            first.pid()
        ),
        "SQLite serves one hale-server process".to_owned(),
        "run replicas on Postgres and Redis".to_owned(),
    ] {
        assert!(err.contains(&needle), "{needle:?} missing from:\n{err}");
    }
    let healthz = |p: &Proc| {
        let url = p.url("/healthz");
        async move { client().get(url).send().await.unwrap().status() }
    };
    // The first one is untouched by the attempt.
    assert_eq!(healthz(&first).await, 200);
    let (code, output) = first.terminate().await;
    assert_eq!(code, Some(0), "{output}");
    // The lock goes with the process: now a server starts there again.
    let again = Proc::spawn(tmp.path(), &[], &env).await;
    // The banner is printed just before serving starts, and with it the
    // SIGTERM handler; a request answered means both are in place.
    assert_eq!(healthz(&again).await, 200);
    let (code, output) = again.terminate().await;
    assert_eq!(code, Some(0), "{output}");
}

#[tokio::test]
async fn a_non_loopback_listen_without_tokens_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(tmp.path())
        .env_remove("HALE_CONFIG")
        .env("HALE_LISTEN", "0.0.0.0:0")
        .env("HALE_DATA_DIR", tmp.path().join("data"))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0:0"), "{err}");
    assert!(
        !tmp.path().join("data").exists(),
        "nothing is created before the check"
    );
}

#[tokio::test]
async fn hash_token_prints_the_sha256_of_stdin() {
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(BIN)
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello\n")
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
}

#[tokio::test]
async fn check_config_names_the_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.toml");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:8080\"\nlisen = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config", path.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("{}:3:1: ", path.display())),
        "{err}"
    );
    let good = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/config/production.toml"
    );
    let out = Command::new(BIN)
        .args(["check-config", "--skip-secrets", "--config", good])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `check-config` reads each channel's secret as a start would: a missing
/// variable or file is named (never a value), and present ones pass.
#[tokio::test]
async fn check_config_finds_a_missing_channel_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("routing-key");
    let path = tmp.path().join("hale.toml");
    let minimal = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/config/minimal.toml"
    ))
    .unwrap();
    std::fs::write(
        &path,
        format!(
            "{minimal}\n[[notifications.channels]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nsecret_env = \"HALE_TEST_CHECK_SECRET\"\n\n[[notifications.channels]]\nname = \"pager\"\nkind = \"pagerduty\"\nrouting_key_file = \"{}\"\n",
            key.display()
        ),
    )
    .unwrap();
    let check = |env: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args(["check-config", "--config", path.to_str().unwrap()])
            .env_remove("HALE_TEST_CHECK_SECRET");
        if let Some(v) = env {
            c.env("HALE_TEST_CHECK_SECRET", v);
        }
        c.output()
    };
    let out = check(None).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"ops\"") && err.contains("HALE_TEST_CHECK_SECRET"),
        "{err}"
    );
    // The webhook secret must be a whsec_ value; the file is still missing.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let out = check(Some(secret)).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"pager\"") && err.contains("routing-key"),
        "{err}"
    );
    assert!(!err.contains(secret), "{err}");
    std::fs::write(&key, "R0UT1NGKEY\n").unwrap();
    let out = check(Some(secret)).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
