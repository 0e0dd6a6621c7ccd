//! The command line itself: help, completions, where the connection comes
//! from, and the exit codes when no server answers.

use assert_cmd::Command;
use predicates::prelude::*;

mod common;

/// `hale` with a clean environment and `home` as its home directory.
fn hale(home: &std::path::Path) -> Command {
    let mut cmd = common::hale();
    cmd.env("HOME", home);
    cmd
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let out = hale(home.path()).arg("--help").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for cmd in [
        "status",
        "ops",
        "incidents",
        "approvals",
        "switches",
        "dormant",
        "breakers",
        "attempts",
        "audit",
        "migrate",
        "completions",
        "policy",
        "replay",
    ] {
        assert!(text.contains(cmd), "--help lacks {cmd}:\n{text}");
    }
    assert!(text.contains("Exit codes:"), "{text}");
    assert!(text.contains("5  conflict (HTTP 409)"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    hale(home.path()).arg("frobnicate").assert().code(2);
    hale(home.path())
        .args(["approvals", "reject", "apr-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--reason"));
    hale(home.path())
        .args(["ops", "list", "--limit", "0"])
        .assert()
        .code(2);
}

#[test]
fn completions_are_generated_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        hale(home.path())
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("replay"));
    }
}

#[test]
fn without_a_server_setting_the_cli_says_where_to_put_one() {
    let home = tempfile::tempdir().unwrap();
    hale(home.path())
        .arg("status")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("HALE_SERVER"));
}

#[test]
fn an_unreachable_server_exits_1() {
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", common::closed_port());
    hale(home.path())
        .args(["--server", &url, "status"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot reach the server"));
}

#[test]
fn the_config_file_supplies_what_flags_and_env_do_not() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/hale");
    std::fs::create_dir_all(&dir).unwrap();
    let port = common::closed_port();
    std::fs::write(
        dir.join("cli.toml"),
        format!("server = \"http://127.0.0.1:{port}\"\ntoken = \"t\"\n"),
    )
    .unwrap();
    // From the file: the closed port is tried.
    hale(home.path())
        .arg("status")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("127.0.0.1:{port}")));
    // The environment wins over the file, the flag over the environment.
    hale(home.path())
        .env("HALE_SERVER", "ftp://env")
        .arg("status")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ftp://env"));
    hale(home.path())
        .env("HALE_SERVER", "ftp://env")
        .args(["--server", "ftp://flag", "status"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ftp://flag"));
    // A broken file is reported with its line.
    std::fs::write(dir.join("cli.toml"), "server = \n").unwrap();
    hale(home.path())
        .arg("status")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cli.toml").and(predicate::str::contains("line 1")));
}

#[test]
fn migrate_without_a_reachable_database_exits_1() {
    let home = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres://hale:hale@127.0.0.1:{}/hale",
        common::closed_port()
    );
    hale(home.path())
        .args(["migrate", "--database-url", &url])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("migration failed"));
    hale(home.path()).arg("migrate").assert().code(2);
}
