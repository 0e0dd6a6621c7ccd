//! The operator console through `Router::oneshot`: sign-in and sessions,
//! and every page for each kind of session.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hale_server::console::ROUTES;

use crate::console_support::*;
use crate::support::*;

#[tokio::test(start_paused = true)]
async fn every_page_and_form_needs_a_session() {
    let api = api().await;
    let mut checked = 0;
    for (method, path) in ROUTES {
        if path.starts_with("/console/login") || path.starts_with("/console/static/") {
            continue;
        }
        let uri = concrete(path);
        let reply = if *method == "GET" {
            api.page(&uri, None).await
        } else {
            api.form(&uri, None, &[("csrf", "x"), ("reason", "r")])
                .await
        };
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{method} {path}");
        assert!(
            location(&reply).starts_with("/console/login?next=%2Fconsole"),
            "{method} {path}: {}",
            location(&reply)
        );
        // A cookie that names no session is the same as none.
        let reply = api.page(&uri, Some("hale_session=forged")).await;
        assert_ne!(reply.status, StatusCode::OK, "{method} {path}");
        checked += 1;
    }
    assert!(checked >= 17, "only {checked} routes checked");
    // The return address is kept, and only a console page is accepted.
    let r = api.page("/console/approvals?status=all", None).await;
    assert_eq!(
        location(&r),
        "/console/login?next=%2Fconsole%2Fapprovals%3Fstatus%3Dall"
    );
    let r = api
        .page("/console/login?next=https%3A%2F%2Fevil.example%2F", None)
        .await;
    assert_eq!(hidden(&r.text, "next").as_deref(), Some("/console"));
}

#[tokio::test(start_paused = true)]
async fn sign_in_keeps_the_tokens_identity_in_a_strict_http_only_cookie() {
    let api = api().await;
    let login = api.page("/console/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = login.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(login.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(login.headers[header::CACHE_CONTROL], "no-store");

    let (reply, browser) = api.try_sign_in(A_OPERATOR).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&reply), "/console");
    let set = cookie_of(&reply, "hale_session").unwrap();
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=28800",
    ] {
        assert!(set.contains(part), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain http gets no Secure flag: {set}"
    );
    // The token never comes back in any form.
    assert!(!reply.text.contains(A_OPERATOR) && !set.contains(A_OPERATOR));
    let b = browser.unwrap();
    let home = api.get_as(&b, "/console").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    assert!(home.text.contains("alice · operator"), "{}", home.text);
    assert!(home.text.contains("tenant <strong>a</strong>"));
    assert!(!home.text.contains(A_OPERATOR));

    // Behind a TLS-terminating proxy the cookie is Secure.
    let login = api.page("/console/login", None).await;
    let signin = value_of(&cookie_of(&login, "hale_signin").unwrap());
    let req = Request::post("/console/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("hale_signin={signin}"))
        .header("x-forwarded-proto", "https")
        .body(Body::from(form_body(&[
            ("csrf", &hidden(&login.text, "csrf").unwrap()),
            ("token", A_VIEWER),
        ])))
        .unwrap();
    let reply = api.send(req).await;
    assert!(
        cookie_of(&reply, "hale_session")
            .unwrap()
            .ends_with("; Secure")
    );
}

#[tokio::test(start_paused = true)]
async fn sign_in_refuses_bad_tokens_roles_without_reads_and_forged_forms() {
    let api = api().await;
    let (reply, b) = api.try_sign_in("not-a-token").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(b.is_none());
    assert!(reply.text.contains("matches no configured token"));
    assert!(
        !reply.text.contains("not-a-token"),
        "the token is not echoed"
    );
    // An ingest token may not read, so it may not sign in.
    let (reply, b) = api.try_sign_in(A_INGEST).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert!(b.is_none());
    // The sign-in form's CSRF token must match its cookie.
    let login = api.page("/console/login", None).await;
    let csrf = hidden(&login.text, "csrf").unwrap();
    for cookie in [None, Some("hale_signin=other")] {
        let r = api
            .form(
                "/console/login",
                cookie,
                &[("csrf", &csrf), ("token", A_OPERATOR)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{cookie:?}");
        assert!(cookie_of(&r, "hale_session").is_none());
    }
    assert!(api.engine.tenants().len() == 2);
}

#[tokio::test(start_paused = true)]
async fn sessions_end_at_their_lifetime_and_on_sign_out() {
    let api = api().await;
    let b = api.sign_in(A_VIEWER).await;
    assert_eq!(api.get_as(&b, "/console").await.status, StatusCode::OK);
    tokio::time::advance(Duration::from_secs(8 * 3600 - 1)).await;
    assert_eq!(api.get_as(&b, "/console").await.status, StatusCode::OK);
    tokio::time::advance(Duration::from_secs(1)).await;
    let r = api.get_as(&b, "/console").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "sessions are never extended"
    );

    let b = api.sign_in(A_VIEWER).await;
    // Signing out needs the CSRF token too.
    let r = api.form("/console/logout", Some(&b.cookie), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api.post_as(&b, "/console/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(cookie_of(&r, "hale_session").unwrap().contains("Max-Age=0"));
    assert_eq!(
        api.get_as(&b, "/console").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(start_paused = true)]
async fn every_page_renders_for_an_operator_and_a_platform_admin() {
    let api = api().await;
    let apr = approval_in(&api, A_INGEST).await;
    let op = api.fire(A_INGEST, "HighErrorRate", "checkout").await["outcome"]["operation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inc = api.get("/v1/incidents", A_VIEWER).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = api.sign_in(A_OPERATOR).await;
    let pages = [
        "/console".to_owned(),
        "/console/approvals".to_owned(),
        "/console/approvals?status=all".to_owned(),
        format!("/console/approvals/{apr}"),
        "/console/incidents?severity=P0&status=".to_owned(),
        format!("/console/incidents/{inc}"),
        "/console/operations?state=completed".to_owned(),
        format!("/console/operations/{op}"),
        "/console/audit?channel=manual&success=".to_owned(),
        "/console/audit?success=true&limit=5".to_owned(),
        "/console/controls".to_owned(),
        "/console/recovery".to_owned(),
        "/console/maintenance".to_owned(),
        "/console/knowledge?type=anti_pattern&status=".to_owned(),
    ];
    for p in &pages {
        let r = api.get_as(&alice, p).await;
        assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.text);
        assert!(r.text.starts_with("<!DOCTYPE html>"), "{p}");
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-store", "{p}");
        assert!(
            r.text.contains(&alice.csrf),
            "{p}: the sign-out form carries the token"
        );
    }
    let r = api
        .get_as(&alice, &format!("/console/approvals/{apr}"))
        .await;
    assert!(r.text.contains("0 of 2 needed"), "{}", r.text);
    assert!(r.text.contains("Approve as alice"));
    let r = api
        .get_as(&alice, &format!("/console/operations/{op}"))
        .await;
    assert!(r.text.contains("COMPLETED") && r.text.contains("rollout_restart"));
    // The overview counts each strategy's fixes by verdict.
    let r = api.get_as(&alice, "/console").await;
    assert!(r.text.contains("Effectiveness of fixes"), "{}", r.text);
    assert!(
        r.text.contains(r#"<td data-label="Strategy">restart</td><td data-label="Effective">0</td><td data-label="Ineffective">0</td><td data-label="Pending">1</td><td data-label="Effective rate">—</td>"#),
        "{}",
        r.text
    );
    // The restart's incident counts how its fixes held.
    let op_inc = api
        .get(&format!("/v1/operations/{op}"), A_VIEWER)
        .await
        .body["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .get_as(&alice, &format!("/console/incidents/{op_inc}"))
        .await;
    assert!(
        r.text.contains("0 effective, 0 ineffective, 1 pending"),
        "{}",
        r.text
    );
    // Bad filters are the API's 422, as a page.
    let r = api
        .get_as(&alice, "/console/operations?state=sleeping")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text
            .contains("state: &quot;sleeping&quot; is not a valid value"),
        "{}",
        r.text
    );
    let r = api
        .get_as(&alice, &format!("/console/operations/{op}"))
        .await;
    assert!(r.text.contains("Effectiveness"), "{}", r.text);
    let r = api.get_as(&alice, "/console/knowledge?type=runbookz").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A window the API would refuse is refused the same way.
    let r = api
        .post_as(
            &alice,
            "/console/maintenance/windows",
            &[
                ("id", "w"),
                ("mode", "block"),
                ("start", "tomorrow"),
                ("end", "2026-12-08T22:00:00Z"),
                ("reason", "r"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("start:"), "{}", r.text);
    let r = api.get_as(&alice, "/console/audit?success=maybe").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = api.get_as(&alice, "/console/operations/op-nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text.contains("no operation"));
    let r = api.get_as(&alice, "/console/nowhere").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text.starts_with("<!DOCTYPE html>"));

    // A platform admin sees the whole platform, and picks a tenant.
    let root = api.sign_in(P_ADMIN).await;
    let r = api.get_as(&root, "/console").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("Overview of the platform"));
    assert!(r.text.contains(r#"href="/console?tenant=b""#));
    let r = api.get_as(&root, "/console/approvals").await;
    assert!(r.text.contains("Choose a tenant"), "{}", r.text);
    let r = api.get_as(&root, "/console/approvals?tenant=a").await;
    assert!(r.text.contains(&apr));
    let r = api.get_as(&root, "/console/controls").await;
    assert!(r.text.contains("Enter global dormancy"));
    for p in [
        "/console/recovery?tenant=a",
        "/console/audit?tenant=b",
        "/console/controls?tenant=b",
    ] {
        assert_eq!(api.get_as(&root, p).await.status, StatusCode::OK, "{p}");
    }
    let r = api.get_as(&root, "/console/audit?tenant=nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn static_files_are_served_without_a_session() {
    let api = api().await;
    for (file, kind) in [
        ("console.css", "text/css"),
        ("console.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = api.page(&format!("/console/static/{file}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{file}");
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-cache");
    }
    let r = api.page("/console/static/../auth.rs", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
