//! The operator console through `Router::oneshot`: sign-in and sessions,
//! every page and form, CSRF and role refusals, and tenant isolation (a
//! tenant's session never renders another tenant's data).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use hale_server::console::ROUTES;
use serde_json::{Value, json};

use crate::support::*;

/// A browser: the session cookie and the CSRF token its forms carry.
struct Browser {
    cookie: String,
    csrf: String,
}

/// A concrete URI for a console route template.
fn concrete(path: &str) -> String {
    path.replace("{id}", "x-1")
        .replace("{name}", "dry-run")
        .replace("{file}", "console.css")
}

fn cookie_of(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn value_of(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap()
}

fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<none>")
}

/// The value of the first hidden `name` field in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let needle = format!(r#"name="{name}" value=""#);
    let at = html.find(&needle)? + needle.len();
    Some(html[at..].split('"').next()?.to_owned())
}

fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", hale_server_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// application/x-www-form-urlencoded, the way a browser writes it.
fn hale_server_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Api {
    async fn page(&self, uri: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::builder().method(Method::GET).uri(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn form(&self, uri: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Reply {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(form_body(fields))).unwrap())
            .await
    }

    /// Signs in with `token` the way a browser does.
    async fn sign_in(&self, token: &str) -> Browser {
        let (reply, browser) = self.try_sign_in(token).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        browser.unwrap()
    }

    async fn try_sign_in(&self, token: &str) -> (Reply, Option<Browser>) {
        let login = self.page("/console/login", None).await;
        assert_eq!(login.status, StatusCode::OK);
        let signin = value_of(&cookie_of(&login, "hale_signin").unwrap());
        let csrf = hidden(&login.text, "csrf").unwrap();
        let reply = self
            .form(
                "/console/login",
                Some(&format!("hale_signin={signin}")),
                &[("csrf", &csrf), ("token", token), ("next", "/console")],
            )
            .await;
        let Some(session) = cookie_of(&reply, "hale_session") else {
            return (reply, None);
        };
        let cookie = format!("hale_session={}", value_of(&session));
        let home = self.page("/console", Some(&cookie)).await;
        let csrf = hidden(&home.text, "csrf").unwrap();
        (reply, Some(Browser { cookie, csrf }))
    }

    async fn get_as(&self, b: &Browser, uri: &str) -> Reply {
        self.page(uri, Some(&b.cookie)).await
    }

    async fn post_as(&self, b: &Browser, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf", b.csrf.as_str())];
        all.extend_from_slice(fields);
        self.form(uri, Some(&b.cookie), &all).await
    }
}

async fn audit_of(api: &Api, kind: &str) -> Vec<Value> {
    let r = api
        .get(&format!("/v1/audit?operation_type={kind}"), A_VIEWER)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

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

/// Fires the HIGH-risk alert in tenant a (and optionally b); the approval ids.
async fn approval_in(api: &Api, token: &str) -> String {
    let d = api.fire(token, "Saturated", "search").await;
    d["outcome"]["approval_id"].as_str().unwrap().to_owned()
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
    // The engine records every human act as channel `manual` until it takes
    // the act's origin (acts::ActBy::origin); then this is `web`.
    assert!(
        signed
            .iter()
            .all(|a| a["authorization_channel"] == "manual")
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
