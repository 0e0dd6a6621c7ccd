//! Notifications: the deliveries listed with their failures, and given-up ones sent again.

use super::server::*;

#[test]
fn notifications_show_each_delivery_and_why_it_failed() {
    let s = start();
    let mut items = Vec::new();
    for _ in 0..100 {
        let v = s.json(VIEWER, &["notifications", "--kind", "approval_requested"]);
        items = v["items"].as_array().cloned().unwrap_or_default();
        if items.len() == 3 && items.iter().all(|d| d["attempts"].as_u64() >= Some(1)) {
            break;
        }
        // A real server on its own runtime: its delivery task runs on
        // wall time, so this test waits on wall time too.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(items.len(), 3, "three approval requests: {items:#?}");
    for d in &items {
        assert_eq!(d["channel"], "ops-webhook");
        assert!(d["delivered_at"].is_null());
        assert!(
            d["last_error"]
                .as_str()
                .unwrap()
                .starts_with("request failed"),
            "{d}"
        );
    }
    s.hale(VIEWER)
        .args(["notifications", "--pending", "true"])
        .assert()
        .success()
        .stdout(predicate::str::contains("approval_requested"))
        .stdout(predicate::str::contains("ops-webhook"))
        .stdout(predicate::str::contains("LAST ERROR"));
}

/// Deliveries given up after their one attempt are sent again by
/// `hale notifications redrive`, with a reason in the audit log; a viewer
/// may not.

#[test]
fn notifications_redrive_sends_given_up_deliveries_again() {
    let s = start_with("max_attempts = 1");
    let given_up = |s: &TestServer| {
        let v = s.json(VIEWER, &["notifications", "--pending", "false"]);
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["given_up_at"].is_string())
            .count()
    };
    for _ in 0..100 {
        if given_up(&s) >= 3 {
            break;
        }
        // The server's delivery task runs on wall time.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let n = given_up(&s);
    assert!(n >= 3, "the approval requests are given up: {n}");
    let redrive = [
        "notifications",
        "redrive",
        "--channel",
        "ops-webhook",
        "--reason",
        "the receiver is back",
    ];
    s.hale(VIEWER).args(redrive).assert().code(4);
    s.hale(OPERATOR)
        .args([
            "notifications",
            "redrive",
            "--channel",
            "ops-webhook",
            "--reason",
            " ",
        ])
        .assert()
        .code(2);
    let v = s.json(OPERATOR, &redrive);
    assert_eq!(v["channel"], "ops-webhook", "{v}");
    assert_eq!(v["tenant"], "shop", "{v}");
    assert!(v["redriven"].as_u64().unwrap() >= 3, "{v}");
    s.hale(OPERATOR)
        .args(redrive)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "given-up deliveries of ops-webhook sent again (tenant shop)",
        ));
    let v = s.json(
        VIEWER,
        &["audit", "--operation-type", "notifications.redriven"],
    );
    let items = v["items"].as_array().unwrap();
    assert!(items.len() >= 2, "{v}");
    assert_eq!(items[0]["executed_by"], "alice");
    assert_eq!(items[0]["authorization_channel"], "manual");
    assert!(
        items[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("the receiver is back ("),
        "{v}"
    );
}
