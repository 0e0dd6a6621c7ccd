//! The console's forms through `Router::oneshot`: two signatures, CSRF and
//! role refusals, tenant isolation (a tenant's session never renders
//! another tenant's data), switches, dormancy and its recovery.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::console_support::*;
use crate::support::*;

#[tokio::test(start_paused = true)]
async fn two_identities_approve_through_the_console_and_the_second_sees_the_first() {
    let api = api().await;
    let apr = approval_in(&api, A_INGEST).await;
    let alice = api.sign_in(A_OPERATOR).await;
    let approve = format!("/console/approvals/{apr}/approve");
    let r = api
        .post_as(&alice, &approve, &[("comment", "scale is safe")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), format!("/console/approvals/{apr}"));
    let r = api.get_as(&alice, location(&r)).await;
    assert!(
        r.text.contains("Signed (1 of 2): more signatures needed."),
        "{}",
        r.text
    );
    assert!(r.text.contains("You signed this request"));
    assert!(!r.text.contains("Approve as alice"));
    // The flash is shown once.
    let again = api
        .get_as(&alice, &format!("/console/approvals/{apr}"))
        .await;
    assert!(!again.text.contains("Signed (1 of 2)"));
    // Signing twice is the API's 409.
    let r = api.post_as(&alice, &approve, &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    let anna = api.sign_in(A_OPERATOR2).await;
    let r = api
        .get_as(&anna, &format!("/console/approvals/{apr}"))
        .await;
    assert!(
        r.text.contains("<strong>alice</strong> signed at"),
        "{}",
        r.text
    );
    assert!(r.text.contains("scale is safe"));
    let r = api.post_as(&anna, &approve, &[("comment", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(
        location(&r).starts_with("/console/operations/op-"),
        "{}",
        location(&r)
    );
    api.engine.wait_idle().await;
    assert_eq!(api.kit.executor.applied_count("scale"), 1);
    let r = api.get_as(&anna, location(&r)).await;
    assert!(r.text.contains("Approved; operation op-"), "{}", r.text);

    let signed = audit_of(&api, "approval.signed").await;
    let who: Vec<&str> = signed
        .iter()
        .map(|a| a["executed_by"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["anna", "alice"]);
    // Acts through the console are audited with channel `web`.
    assert!(
        signed.iter().all(|a| a["authorization_channel"] == "web"),
        "{signed:?}"
    );

    // Rejecting needs a reason (the API's rule), then works.
    let apr2 = api.fire(A_INGEST, "Saturated", "cart").await["outcome"]["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reject = format!("/console/approvals/{apr2}/reject");
    let r = api.post_as(&alice, &reject, &[("reason", " ")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = api.post_as(&alice, &reject, &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("reason"), "{}", r.text);
    let r = api
        .post_as(&alice, &reject, &[("reason", "not during the sale")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = api.get(&format!("/v1/approvals/{apr2}"), A_VIEWER).await;
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(r.body["rejection_reason"], "not during the sale");
}

#[tokio::test(start_paused = true)]
async fn forms_without_the_sessions_csrf_token_change_nothing() {
    let api = api().await;
    let apr = approval_in(&api, A_INGEST).await;
    let alice = api.sign_in(A_OPERATOR).await;
    let other = api.sign_in(A_OPERATOR2).await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/console/approvals/{apr}/approve"), vec![]),
        (
            format!("/console/approvals/{apr}/reject"),
            vec![("reason", "no")],
        ),
        (
            "/console/switches".into(),
            vec![("layer", "tenant"), ("state", "off"), ("reason", "r")],
        ),
        ("/console/dormancy/enter".into(), vec![("reason", "r")]),
        ("/console/dormancy/resume".into(), vec![("reason", "r")]),
        (
            "/console/breakers/dry-run/reset".into(),
            vec![("reason", "r")],
        ),
        (
            "/console/attempts/reset".into(),
            vec![
                ("strategy", "restart"),
                ("resource", "prod:deployment/x"),
                ("reason", "r"),
            ],
        ),
        ("/console/logout".into(), vec![]),
    ];
    for (uri, fields) in &forms {
        for csrf in [None, Some(""), Some("0000"), Some(other.csrf.as_str())] {
            let mut all = fields.clone();
            if let Some(c) = csrf {
                all.push(("csrf", c));
            }
            let r = api.form(uri, Some(&alice.cookie), &all).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri} csrf={csrf:?}");
            assert!(r.text.contains("CSRF"), "{uri}");
        }
    }
    // Nothing happened.
    let r = api.get(&format!("/v1/approvals/{apr}"), A_VIEWER).await;
    assert_eq!(r.body["status"], "pending");
    assert!(r.body["signatures"].as_array().unwrap().is_empty());
    let r = api.get("/v1/switches", A_VIEWER).await;
    assert!(r.body["tenant"].get("tenant").is_none(), "{}", r.text);
    let r = api.get("/v1/status", A_VIEWER).await;
    assert_eq!(r.body["selfHealing"]["isDormant"], false);
    // The session still works after refused forms.
    assert_eq!(api.get_as(&alice, "/console").await.status, StatusCode::OK);
    // A form must be a form.
    let req = Request::post(format!("/console/approvals/{apr}/approve"))
        .header(header::COOKIE, &alice.cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"csrf": alice.csrf}).to_string()))
        .unwrap();
    assert_eq!(
        api.send(req).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test(start_paused = true)]
async fn viewers_see_no_action_forms_and_cannot_act() {
    let api = api().await;
    let apr = approval_in(&api, A_INGEST).await;
    let viewer = api.sign_in(A_VIEWER).await;
    for p in [
        "/console".to_owned(),
        "/console/approvals".to_owned(),
        format!("/console/approvals/{apr}"),
        "/console/controls".to_owned(),
        "/console/recovery".to_owned(),
        "/console/maintenance".to_owned(),
        "/console/knowledge".to_owned(),
    ] {
        let r = api.get_as(&viewer, &p).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
        let posts = r.text.matches(r#"method="post""#).count();
        assert_eq!(posts, 1, "{p}: only the sign-out form");
        assert!(!r.text.contains("Approve as"), "{p}");
        assert!(!r.text.contains("Switch off"), "{p}");
    }
    // Posting anyway is the API's 403.
    for (uri, fields) in [
        (format!("/console/approvals/{apr}/approve"), vec![]),
        (
            "/console/switches".to_owned(),
            vec![("layer", "tenant"), ("state", "off"), ("reason", "r")],
        ),
        ("/console/dormancy/enter".to_owned(), vec![("reason", "r")]),
        (
            format!("/console/approvals/{apr}/reject"),
            vec![("reason", "r")],
        ),
        ("/console/dormancy/resume".to_owned(), vec![("reason", "r")]),
        (
            "/console/breakers/dry-run/reset".to_owned(),
            vec![("reason", "r")],
        ),
        (
            "/console/maintenance/windows".to_owned(),
            vec![
                ("id", "w"),
                ("mode", "block"),
                ("start", "2026-12-08T20:00:00Z"),
                ("end", "2026-12-08T22:00:00Z"),
                ("reason", "r"),
            ],
        ),
        (
            "/console/maintenance/windows/w/end".to_owned(),
            vec![("reason", "r")],
        ),
        (
            "/console/knowledge/kn-1/archive".to_owned(),
            vec![("reason", "r")],
        ),
        (
            "/console/attempts/reset".to_owned(),
            vec![
                ("strategy", "restart"),
                ("resource", "prod:deployment/x"),
                ("reason", "r"),
            ],
        ),
    ] {
        let r = api.post_as(&viewer, &uri, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}: {}", r.text);
        assert!(r.text.contains("viewer"), "{}", r.text);
    }
    let r = api.get(&format!("/v1/approvals/{apr}"), A_VIEWER).await;
    assert_eq!(r.body["status"], "pending", "{}", r.text);
    // An operator may not act on the whole platform.
    let alice = api.sign_in(A_OPERATOR).await;
    let r = api
        .post_as(
            &alice,
            "/console/switches",
            &[
                ("layer", "global"),
                ("key", "auto_healing"),
                ("state", "off"),
                ("reason", "r"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api.get_as(&alice, "/console/controls").await;
    assert!(!r.text.contains("Enter global dormancy"));
    let r = api
        .post_as(
            &alice,
            "/console/dormancy/enter",
            &[("reason", "r"), ("scope", "global")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test(start_paused = true)]
async fn a_tenants_session_never_renders_another_tenants_data() {
    let api = api().await;
    let apr_a = approval_in(&api, A_INGEST).await;
    let apr_b = approval_in(&api, B_OPERATOR).await;
    let op_b = api.fire(B_OPERATOR, "HighErrorRate", "checkout").await["outcome"]["operation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inc_b = api.get("/v1/incidents", B_OPERATOR).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bob's signature puts his name in b's approval, audit log and timeline.
    let r = api
        .post(
            &format!("/v1/approvals/{apr_b}/approve"),
            B_OPERATOR,
            &json!({"comment": "bob-was-here"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let alice = api.sign_in(A_OPERATOR).await;
    // Look for b's records by what only b has: bob, and b's checkout.
    for p in [
        "/console",
        "/console/approvals?status=all",
        "/console/incidents",
        "/console/operations",
        "/console/audit",
        "/console/controls",
        "/console/recovery",
    ] {
        let r = api.get_as(&alice, p).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
        assert!(!r.text.contains("bob"), "{p} shows tenant b's actor");
        assert!(!r.text.contains("checkout"), "{p} shows b's operation");
    }
    let r = api.get_as(&alice, "/console/approvals?status=all").await;
    assert!(r.text.contains(&apr_a));
    // Naming tenant b is 403; b's ids read as 404 in a's tenant.
    for p in [
        "/console?tenant=b",
        "/console/approvals?tenant=b",
        "/console/audit?tenant=b",
        "/console/recovery?tenant=b",
    ] {
        assert_eq!(
            api.get_as(&alice, p).await.status,
            StatusCode::FORBIDDEN,
            "{p}"
        );
    }
    if apr_b != apr_a {
        let r = api
            .get_as(&alice, &format!("/console/approvals/{apr_b}"))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    let r = api
        .get_as(&alice, &format!("/console/operations/{op_b}"))
        .await;
    assert_ne!(r.status, StatusCode::OK, "a's session reads b's operation");
    let r = api
        .get_as(&alice, &format!("/console/incidents/{inc_b}"))
        .await;
    if r.status == StatusCode::OK {
        assert!(!r.text.contains("bob") && !r.text.contains("checkout"));
    }
    // Acts name their tenant the same way.
    let r = api
        .post_as(
            &alice,
            "/console/switches?tenant=b",
            &[("layer", "tenant"), ("state", "off"), ("reason", "r")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api
        .post_as(
            &alice,
            &format!("/console/approvals/{apr_b}/approve?tenant=b"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api.get(&format!("/v1/approvals/{apr_b}"), B_OPERATOR).await;
    assert_eq!(
        r.body["signatures"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    // The sanity check of the needles: b's own session does see them.
    let bob = api.sign_in(B_OPERATOR).await;
    let r = api
        .get_as(&bob, &format!("/console/approvals/{apr_b}"))
        .await;
    assert!(r.text.contains("bob-was-here"), "{}", r.text);
    let r = api.get_as(&bob, "/console/operations").await;
    assert!(r.text.contains("checkout"), "{}", r.text);
}

#[tokio::test(start_paused = true)]
async fn switches_dormancy_and_recovery_through_the_console() {
    let api = api().await;
    let alice = api.sign_in(A_OPERATOR).await;
    // The tenant off, then on.
    let r = api
        .post_as(
            &alice,
            "/console/switches",
            &[
                ("layer", "tenant"),
                ("state", "off"),
                ("reason", "maintenance window"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/console/controls");
    let r = api.get_as(&alice, "/console").await;
    assert!(
        r.text.contains("the tenant&#39;s kill switch is off")
            || r.text.contains("the tenant's kill switch is off"),
        "{}",
        r.text
    );
    let d = api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    assert_eq!(d["outcome"]["decision"], "blocked", "{d}");
    let r = api
        .post_as(
            &alice,
            "/console/switches",
            &[
                ("layer", "tenant"),
                ("state", "on"),
                ("reason", "window over"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let set = audit_of(&api, "switch.set").await;
    assert_eq!(set.len(), 2);
    assert!(set.iter().all(|a| a["executed_by"] == "alice"));
    assert_eq!(set[0]["reason"], "on: window over");
    // Strategy and action-kind layers, and a bad layer (the API's 422).
    let r = api
        .post_as(
            &alice,
            "/console/switches",
            &[
                ("layer", "strategy"),
                ("key", "scale-up"),
                ("state", "off"),
                ("reason", "r"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = api
        .post_as(
            &alice,
            "/console/switches",
            &[("layer", "planet"), ("state", "off"), ("reason", "r")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = api
        .post_as(
            &alice,
            "/console/switches",
            &[
                ("layer", "tenant"),
                ("state", "off"),
                ("reason", "r"),
                ("extra", "x"),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );

    // Dormancy: enter, walk the recovery, resume, check.
    let r = api
        .post_as(
            &alice,
            "/console/dormancy/enter",
            &[("reason", "bad deploy")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = api.get_as(&alice, "/console/recovery").await;
    assert!(r.text.contains("bad deploy"));
    assert!(r.text.contains("Not yet: still dormant"), "{}", r.text);
    assert!(r.text.contains(r#"action="/console/dormancy/resume""#));
    let r = api
        .post_as(
            &alice,
            "/console/breakers/dry-run/reset",
            &[("reason", "r")],
        )
        .await;
    assert_eq!(
        r.status.as_u16() / 100,
        4,
        "no such breaker yet: {}",
        r.text
    );
    let r = api
        .post_as(
            &alice,
            "/console/dormancy/resume",
            &[("reason", "deploy rolled back")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/console/recovery#check");
    let r = api.get_as(&alice, "/console/recovery").await;
    assert!(r.text.contains("Recovered: not dormant"), "{}", r.text);
    assert!(r.text.contains("Resumed tenant:a"), "{}", r.text);
    let r = api
        .post_as(&alice, "/console/dormancy/resume", &[("reason", "again")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let resumed = audit_of(&api, "dormancy.resumed").await;
    assert_eq!(resumed[0]["executed_by"], "alice");
    assert_eq!(resumed[0]["reason"], "deploy rolled back");

    // Attempts reset: the API's 404 when there is nothing to reset.
    let r = api
        .post_as(
            &alice,
            "/console/attempts/reset",
            &[
                ("strategy", "restart"),
                ("resource", "prod:deployment/none"),
                ("reason", "r"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // A platform admin acts globally, and returns where the form said.
    let root = api.sign_in(P_ADMIN).await;
    let r = api
        .post_as(
            &root,
            "/console/switches",
            &[
                ("layer", "global"),
                ("key", "auto_healing"),
                ("state", "off"),
                ("reason", "incident"),
                ("back", "/console?tenant=a"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/console?tenant=a");
    let r = api.get_as(&root, "/console?tenant=a").await;
    assert!(
        r.text.contains("the global auto_healing switch is off"),
        "{}",
        r.text
    );
    // A `back` that leaves the console is ignored.
    let r = api
        .post_as(
            &root,
            "/console/switches",
            &[
                ("layer", "global"),
                ("key", "auto_healing"),
                ("state", "unset"),
                ("reason", "over"),
                ("back", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/console/controls");
}

#[tokio::test(start_paused = true)]
async fn windows_and_knowledge_through_the_console_are_the_apis_acts() {
    let api = api().await;
    let alice = api.sign_in(A_OPERATOR).await;
    // A window opened from the console stops the next automatic run.
    let r = api
        .post_as(
            &alice,
            "/console/maintenance/windows",
            &[
                ("id", "db-upgrade"),
                ("mode", "block"),
                ("start", "2000-01-01T00:00:00Z"),
                ("end", "2999-01-01T00:00:00Z"),
                ("namespaces", "prod"),
                ("strategies", ""),
                ("reason", "database upgrade"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/console/maintenance");
    let d = api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    assert_eq!(d["outcome"]["guard"], "maintenance_window", "{d}");
    let listed = api.get("/v1/maintenance-windows", A_VIEWER).await;
    assert_eq!(listed.body["items"][0]["scope"]["namespaces"][0], "prod");
    let opened = audit_of(&api, "maintenance_window.opened").await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["authorization_channel"], "web", "{}", opened[0]);
    // Ended from the console, with who and why.
    let r = api
        .post_as(
            &alice,
            "/console/maintenance/windows/db-upgrade/end",
            &[("reason", "upgrade finished")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = api.get_as(&alice, "/console/maintenance").await;
    assert!(r.text.contains("Window db-upgrade ended"), "{}", r.text);
    assert!(r.text.contains("upgrade finished"), "{}", r.text);
    // Ending it twice is the API's conflict.
    let r = api
        .post_as(
            &alice,
            "/console/maintenance/windows/db-upgrade/end",
            &[("reason", "again")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // An entry archived from the console.
    let entry = api
        .post(
            "/v1/knowledge",
            A_OPERATOR,
            &serde_json::json!({"title": "Restart checkout", "content": "kubectl rollout restart"}),
        )
        .await;
    let id = entry.body["id"].as_str().unwrap().to_owned();
    let r = api.get_as(&alice, "/console/knowledge").await;
    assert!(r.text.contains("Restart checkout"), "{}", r.text);
    assert!(r.text.contains(&format!("Archive {id}")), "{}", r.text);
    let r = api
        .post_as(
            &alice,
            &format!("/console/knowledge/{id}/archive"),
            &[("reason", "superseded by the new runbook")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let e = api.get(&format!("/v1/knowledge/{id}"), A_VIEWER).await;
    assert_eq!(e.body["status"], "archived", "{}", e.text);
    let archived = audit_of(&api, "knowledge.archived").await;
    assert_eq!(archived[0]["authorization_channel"], "web");
}
