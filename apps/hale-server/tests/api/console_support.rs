//! A browser for the console's router tests: signs in the way a browser
//! does (sign-in page, double-submit cookie, session cookie) and sends
//! pages and forms with the session's cookie and CSRF token.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;

use crate::support::*;

/// A browser: the session cookie and the CSRF token its forms carry.
pub(crate) struct Browser {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

/// A concrete URI for a console route template.
pub(crate) fn concrete(path: &str) -> String {
    path.replace("{id}", "x-1")
        .replace("{name}", "dry-run")
        .replace("{file}", "console.css")
}

pub(crate) fn cookie_of(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub(crate) fn value_of(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap()
}

pub(crate) fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<none>")
}

/// The value of the first hidden `name` field in a page.
pub(crate) fn hidden(html: &str, name: &str) -> Option<String> {
    let needle = format!(r#"name="{name}" value=""#);
    let at = html.find(&needle)? + needle.len();
    Some(html[at..].split('"').next()?.to_owned())
}

pub(crate) fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", hale_server_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// application/x-www-form-urlencoded, the way a browser writes it.
pub(crate) fn hale_server_encode(v: &str) -> String {
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
    pub(crate) async fn page(&self, uri: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::builder().method(Method::GET).uri(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub(crate) async fn form(
        &self,
        uri: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Reply {
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
    pub(crate) async fn sign_in(&self, token: &str) -> Browser {
        let (reply, browser) = self.try_sign_in(token).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        browser.unwrap()
    }

    pub(crate) async fn try_sign_in(&self, token: &str) -> (Reply, Option<Browser>) {
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

    pub(crate) async fn get_as(&self, b: &Browser, uri: &str) -> Reply {
        self.page(uri, Some(&b.cookie)).await
    }

    pub(crate) async fn post_as(&self, b: &Browser, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf", b.csrf.as_str())];
        all.extend_from_slice(fields);
        self.form(uri, Some(&b.cookie), &all).await
    }
}

pub(crate) async fn audit_of(api: &Api, kind: &str) -> Vec<Value> {
    let r = api
        .get(&format!("/v1/audit?operation_type={kind}"), A_VIEWER)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

/// Fires the HIGH-risk alert in tenant a (and optionally b); the approval ids.
pub(crate) async fn approval_in(api: &Api, token: &str) -> String {
    let d = api.fire(token, "Saturated", "search").await;
    d["outcome"]["approval_id"].as_str().unwrap().to_owned()
}
