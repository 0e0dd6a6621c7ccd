//! Reads: status, operations and incidents, approvals, exit codes, and how a platform token names its tenant.

use super::server::*;

#[test]
fn status_renders_the_tenants_state() {
    let s = start();
    s.hale(VIEWER)
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("scope:").and(predicate::str::contains("tenant:shop")))
        .stdout(predicate::str::contains("healing enabled:"))
        .stdout(predicate::str::contains(
            "safety state:         tenant version ",
        ));
    let v = s.json(VIEWER, &["status"]);
    assert_eq!(v["selfHealing"]["isDormant"], false, "{v}");
    // A platform token without --tenant sees the global status.
    let v = s.json(ADMIN, &["status"]);
    assert_eq!(v["scope"], "global", "{v}");
}

#[test]
fn operations_and_incidents_list_and_show() {
    let s = start();
    let out = s.hale(VIEWER).args(["ops", "list"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("STATE"),
        "{text}"
    );
    assert!(text.contains("prod:deployment/checkout"), "{text}");
    assert!(text.contains("COMPLETED"), "{text}");
    let op = s.first_id(&[
        "ops",
        "list",
        "--state",
        "COMPLETED",
        "--strategy",
        "restart-on-errors",
    ]);
    s.hale(VIEWER)
        .args(["ops", "show", &op])
        .assert()
        .success()
        .stdout(predicate::str::contains("id:").and(predicate::str::contains(&op)))
        .stdout(predicate::str::contains("rollout_restart"));
    let v = s.json(
        VIEWER,
        &["ops", "list", "--resource", "prod:deployment/nothing"],
    );
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "{v}");
    s.hale(VIEWER)
        .args(["ops", "list", "--resource", "prod:deployment/nothing"])
        .assert()
        .success()
        .stdout("no results\n");

    let v = s.json(VIEWER, &["incidents", "list", "--limit", "10"]);
    assert_eq!(v["items"].as_array().unwrap().len(), 4, "{v}");
    let inc = s.first_id(&["incidents", "list", "--since", "1h"]);
    s.hale(VIEWER)
        .args(["incidents", "show", &inc])
        .assert()
        .success()
        .stdout(predicate::str::contains("decisions:"));
    // Paging: one row and a hint to the next page.
    s.hale(VIEWER)
        .args(["incidents", "list", "--limit", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(more: --offset 1)"));
}

#[test]
fn approvals_are_listed_approved_and_rejected() {
    let s = start();
    s.hale(VIEWER)
        .args(["approvals", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("scale-out-on-latency"))
        .stdout(predicate::str::contains("0/1"));
    let search = s.pending_approval("search");
    let cart = s.pending_approval("cart");
    s.hale(VIEWER)
        .args(["approvals", "show", &search])
        .assert()
        .success()
        .stdout(predicate::str::contains("prod:deployment/search"));

    let v = s.json(
        OPERATOR,
        &[
            "approvals",
            "approve",
            &search,
            "--comment",
            "latency confirmed",
        ],
    );
    assert_eq!(v["approval"]["status"], "approved", "{v}");
    assert!(v["operation_id"].is_string(), "{v}");
    let out = s
        .hale(OPERATOR)
        .args([
            "approvals",
            "reject",
            &cart,
            "--reason",
            "scaling will not help",
        ])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("rejected"), "{text}");

    // Signing twice is a conflict: exit 5 with the server's error.
    let db = s.pending_approval("db");
    let v = s.json(OPERATOR, &["approvals", "approve", &db]);
    assert_eq!(
        v["approval"]["status"], "pending",
        "one of two signatures: {v}"
    );
    s.hale(OPERATOR)
        .args(["approvals", "approve", &db])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("conflict").and(predicate::str::contains("HTTP 409")));
    s.hale(OPERATOR)
        .args(["approvals", "list", "--status", "pending"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1/2"));
    // Rejecting a decided request is a state conflict (HTTP 409): exit 5.
    s.hale(OPERATOR)
        .args(["approvals", "reject", &search, "--reason", "too late"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("not pending"));
    // A viewer may not decide: exit 4.
    s.hale(VIEWER)
        .args(["approvals", "approve", &cart])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("forbidden"));
}

#[test]
fn exit_codes_follow_the_http_status() {
    let s = start();
    s.hale(VIEWER)
        .args(["ops", "show", "op-does-not-exist"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not_found"));
    s.hale("not-a-token")
        .arg("status")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("unauthorized"));
    // An invalid filter value is refused by the server: 422 -> 2.
    s.hale(VIEWER)
        .args(["ops", "list", "--state", "SLEEPING"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid"));
    // A platform token must name the tenant for tenant reads.
    s.hale(ADMIN).args(["ops", "list"]).assert().code(2);
    // A tenant token asking for another tenant.
    s.hale(VIEWER)
        .args(["--tenant", "other", "ops", "list"])
        .assert()
        .code(4);
}

#[test]
fn a_platform_token_names_the_tenant_by_flag_env_or_config_file() {
    let s = start();
    let v = s.json(ADMIN, &["--tenant", "shop", "approvals", "list"]);
    assert_eq!(v["items"].as_array().unwrap().len(), 3, "{v}");
    let out = s
        .hale(ADMIN)
        .env("HALE_TENANT", "shop")
        .args(["approvals", "list", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Everything from the config file.
    let cfg = s._dir.path().join("cli.toml");
    std::fs::write(
        &cfg,
        format!(
            "server = \"{}\"\ntoken = \"{ADMIN}\"\ntenant = \"shop\"\n",
            s.url
        ),
    )
    .unwrap();
    let mut cmd = common::hale();
    cmd.env("HALE_CLI_CONFIG", &cfg)
        .args(["breakers", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("dry-run"));
}
