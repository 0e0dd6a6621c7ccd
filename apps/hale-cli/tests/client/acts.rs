//! Acts: switches, dormancy, breakers, knowledge entries, incidents and maintenance windows, with who and why in the audit log.

use super::server::*;

#[test]
fn switches_dormancy_breakers_and_the_audit_trail() {
    let s = start();
    s.hale(OPERATOR)
        .args([
            "switches",
            "set",
            "strategy:restart-on-errors",
            "off",
            "--reason",
            "investigating",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("strategy").and(predicate::str::contains("restart-on-errors")),
        );
    let v = s.json(OPERATOR, &["switches", "get"]);
    assert_eq!(v["tenant"]["strategies"]["restart-on-errors"], "off", "{v}");
    s.hale(OPERATOR)
        .args([
            "switches",
            "set",
            "strategy:restart-on-errors",
            "unset",
            "--reason",
            "done",
        ])
        .assert()
        .success();
    // The global layer is for admins.
    s.hale(OPERATOR)
        .args([
            "switches",
            "set",
            "global:auto_healing",
            "off",
            "--reason",
            "freeze",
        ])
        .assert()
        .code(4);
    s.hale(ADMIN)
        .args([
            "switches",
            "set",
            "global:auto_healing",
            "off",
            "--reason",
            "freeze",
        ])
        .assert()
        .success();
    let v = s.json(ADMIN, &["switches", "get"]);
    assert_eq!(
        v["global_runtime"]["features"]["auto_healing"], "off",
        "{v}"
    );
    // A reason is required before anything is sent.
    s.hale(OPERATOR)
        .args(["dormant", "enter", "--reason", "  "])
        .assert()
        .code(2);

    s.hale(OPERATOR)
        .args(["dormant", "enter", "--reason", "maintenance window"])
        .assert()
        .success();
    assert_eq!(
        s.json(VIEWER, &["status"])["selfHealing"]["isDormant"],
        true
    );
    s.hale(OPERATOR)
        .args(["dormant", "resume", "--reason", "maintenance over"])
        .assert()
        .success()
        .stdout(predicate::str::contains("resumed"));
    assert_eq!(
        s.json(VIEWER, &["status"])["selfHealing"]["isDormant"],
        false
    );

    let v = s.json(VIEWER, &["breakers", "list"]);
    let name = v["items"][0]["name"].as_str().unwrap().to_owned();
    s.hale(OPERATOR)
        .args([
            "breakers",
            "reset",
            &name,
            "--reason",
            "checked the executor",
        ])
        .assert()
        .success();

    // The attempt budget of the completed restart can be reset; an unknown
    // pair is not found.
    s.hale(OPERATOR)
        .args([
            "attempts",
            "reset",
            "--strategy",
            "restart-on-errors",
            "--resource",
            "prod:deployment/checkout",
            "--reason",
            "fixed the config map",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("may run again"));
    s.hale(OPERATOR)
        .args([
            "attempts",
            "reset",
            "--strategy",
            "restart-on-errors",
            "--resource",
            "prod:deployment/nothing",
            "--reason",
            "x",
        ])
        .assert()
        .code(3);

    // Every act above is in the audit log, on the manual channel.
    let v = s.json(VIEWER, &["audit", "--channel", "manual", "--limit", "100"]);
    let types: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation_type"].as_str().unwrap())
        .collect();
    assert!(types.len() >= 5, "{types:?}");
    let v = s.json(
        VIEWER,
        &[
            "audit",
            "--operation-type",
            "dormancy.resumed",
            "--source",
            "api",
            "--since",
            "1h",
        ],
    );
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    let out = s
        .hale(VIEWER)
        .args(["audit", "--operation-type", "dormancy.resumed"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("maintenance over") && text.contains("alice"),
        "{text}"
    );
}

#[test]
fn knowledge_entries_are_written_read_and_archived_and_incidents_closed() {
    let s = start();
    let inc = s.first_id(&["incidents", "list"]);
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("runbook.md");
    std::fs::write(&body, "1. Check the payment gateway.\n").unwrap();
    // A viewer may not write; an operator may, with the body from a file.
    s.hale(VIEWER)
        .args([
            "knowledge",
            "create",
            "--title",
            "Checkout 5xx",
            "--content",
            "x",
        ])
        .assert()
        .code(4);
    let v = s.json(
        OPERATOR,
        &[
            "knowledge",
            "create",
            "--title",
            "Checkout 5xx",
            "--content",
            &format!("@{}", body.display()),
            "--tag",
            "checkout",
            "--incident",
            &inc,
        ],
    );
    assert_eq!(v["entry_type"], "runbook", "{v}");
    assert_eq!(v["created_by"], "alice", "{v}");
    let id = v["id"].as_str().unwrap().to_owned();

    s.hale(VIEWER)
        .args(["knowledge", "list", "--type", "runbook"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&id).and(predicate::str::contains("Checkout 5xx")));
    s.hale(VIEWER)
        .args(["knowledge", "show", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("payment gateway"))
        .stdout(predicate::str::contains("views:"));
    let v = s.json(VIEWER, &["knowledge", "show", &id]);
    assert_eq!(v["view_count"], 2, "{v}");

    s.hale(OPERATOR)
        .args(["knowledge", "archive", &id, "--reason", " "])
        .assert()
        .code(2);
    let v = s.json(
        OPERATOR,
        &["knowledge", "archive", &id, "--reason", "superseded"],
    );
    assert_eq!(v["status"], "archived", "{v}");

    s.hale(OPERATOR)
        .args(["incidents", "close", &inc, "--reason", "handled by hand"])
        .assert()
        .success()
        .stdout(predicate::str::contains("closed"));
    let v = s.json(VIEWER, &["audit", "--operation-type", "incident.closed"]);
    assert_eq!(v["items"][0]["reason"], "handled by hand", "{v}");
    assert_eq!(v["items"][0]["executed_by"], "alice", "{v}");
}

#[test]
fn maintenance_windows_are_opened_listed_and_ended_with_who_and_why() {
    let s = start();
    // The server judges "active" by its wall clock, so the window is
    // placed around the wall clock's now.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let rfc = |secs: u64| hale_domain::time::Timestamp::from_unix_secs(secs as i64).to_string();
    let (from, until) = (rfc(now - 60), rfc(now + 3_600));
    let open = |token: &str, extra: &[&str]| {
        let mut cmd = s.hale(token);
        cmd.args(["windows", "open"]).args(extra);
        cmd
    };
    // A viewer may not open one; a window needs one schedule and a reason.
    open(
        VIEWER,
        &["drill", "--from", &from, "--until", &until, "--reason", "x"],
    )
    .assert()
    .code(4);
    open(
        OPERATOR,
        &["drill", "--from", &from, "--days", "sat", "--reason", "x"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("--from and --until"));
    open(
        OPERATOR,
        &["drill", "--from", &from, "--until", &until, "--reason", " "],
    )
    .assert()
    .code(2);

    open(
        OPERATOR,
        &[
            "drill",
            "--mode",
            "approval_only",
            "--from",
            &from,
            "--until",
            &until,
            "--namespace",
            "prod",
            "--reason",
            "database failover drill",
        ],
    )
    .assert()
    .success()
    .stdout("window drill (approval_only) opened\n");
    open(
        OPERATOR,
        &[
            "patching",
            "--days",
            "sat,sun",
            "--start",
            "22:00",
            "--duration",
            "4h",
            "--time-zone",
            "Europe/Berlin",
            "--reason",
            "OS patching",
        ],
    )
    .assert()
    .success();

    // The table: the drill is active now, the weekly one shows its schedule.
    let row = |out: &str, id: &str| {
        out.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no {id} in\n{out}"))
            .to_owned()
    };
    let out = s.hale(VIEWER).args(["windows", "list"]).output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    let drill = row(&out, "drill");
    assert!(
        drill.contains("approval_only") && drill.contains("until "),
        "{out}"
    );
    assert!(
        row(&out, "patching").contains("sat,sun 22:00 for 4h (Europe/Berlin)"),
        "{out}"
    );

    s.hale(OPERATOR)
        .args(["windows", "end", "drill", "--reason", " "])
        .assert()
        .code(2);
    s.hale(OPERATOR)
        .args([
            "windows",
            "end",
            "drill",
            "--reason",
            "drill finished early",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("window drill ended at")
                .and(predicate::str::contains("by alice")),
        );
    let out = s.hale(VIEWER).args(["windows", "list"]).output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(row(&out, "drill").contains("ended"), "{out}");

    // Who and why, in the audit log.
    let v = s.json(
        VIEWER,
        &["audit", "--operation-type", "maintenance_window.opened"],
    );
    let opened: Vec<(&str, &str)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["executed_by"].as_str().unwrap(),
                a["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(opened.len(), 2, "{v}");
    assert!(
        opened
            .iter()
            .any(|(by, why)| *by == "alice" && why.contains("database failover drill")),
        "{v}"
    );
    let v = s.json(
        VIEWER,
        &["audit", "--operation-type", "maintenance_window.ended"],
    );
    assert_eq!(v["items"][0]["executed_by"], "alice", "{v}");
    assert!(
        v["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("drill finished early"),
        "{v}"
    );
}
