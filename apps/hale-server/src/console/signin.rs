//! Signing in with an API token and signing out.
//!
//! The sign-in form posts the token once; the server checks it against the
//! token table (hashed, constant time), keeps the token's identity in a new
//! session and hands the browser only a random session id in an HttpOnly,
//! SameSite=Strict cookie. The token itself is never stored, logged or sent
//! back. The form's CSRF token is a double-submit cookie, since there is no
//! session yet to keep it in.

use axum::Form;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::extract::{PageQuery, Posted, cookie};
use super::page::{ConsoleError, is_console_path, see_other, shell};
use super::session::{SESSION_COOKIE, SIGNIN_COOKIE, SIGNIN_LIFETIME, same_secret};
use crate::auth::Permission;
use crate::bootstrap::generate_token;
use crate::routes::AppState;

/// Whether cookies must be `Secure`: the public URL is `https`, or a proxy
/// says the browser's request came over TLS.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings().secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
fn set_cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

fn with_cookies(mut res: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// `?next=` of the sign-in page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

fn next_or_home(next: Option<&str>) -> &str {
    next.filter(|n| is_console_path(n)).unwrap_or("/console")
}

fn signin_page(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    shell(
        "Sign in",
        None,
        html! {
            main #main .narrow tabindex="-1" {
                h1 { "Hale operator console" }
                @if let Some(e) = error {
                    p .flash.bad role="alert" { (e) }
                }
                form .stack method="post" action="/console/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label for="token" { "API token" }
                    input #token type="password" name="token" autocomplete="current-password"
                        required autofocus spellcheck="false";
                    p .hint {
                        "Any token from the server's " code { "[[tokens]]" }
                        " (or " code { ".hale-data/admin.token" } "). The session keeps its role and tenant."
                    }
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// `GET /console/login`.
pub(crate) async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageQuery(q): PageQuery<NextQuery>,
) -> Response {
    let csrf = generate_token();
    let page = signin_page(&csrf, next_or_home(q.next.as_deref()), None);
    with_cookies(
        Html(page.into_string()).into_response(),
        &[set_cookie(
            SIGNIN_COOKIE,
            &csrf,
            "/console/login",
            SIGNIN_LIFETIME.as_secs(),
            secure(&state, &headers),
        )],
    )
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignInForm {
    csrf: String,
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// The sign-in form with its double-submit cookie.
pub(crate) struct SignIn {
    headers: HeaderMap,
    form: SignInForm,
}

impl FromRequest<AppState> for SignIn {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let headers = req.headers().clone();
        let Form(form) = Form::<SignInForm>::from_request(req, state)
            .await
            .map_err(|r| ConsoleError::page(r.status(), r.body_text()))?;
        Ok(SignIn { headers, form })
    }
}

/// `POST /console/login`.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    SignIn { headers, form }: SignIn,
) -> Response {
    let secure = secure(&state, &headers);
    let next = next_or_home(form.next.as_deref()).to_owned();
    let expected = cookie(&headers, SIGNIN_COOKIE).unwrap_or_default();
    if !same_secret(expected, &form.csrf) {
        return ConsoleError::page(
            StatusCode::FORBIDDEN,
            "the sign-in form expired or did not come from this server; open the sign-in page again",
        )
        .into_response();
    }
    let refuse = |status: StatusCode, why: &str| {
        let csrf = generate_token();
        let page = signin_page(&csrf, &next, Some(why));
        with_cookies(
            (status, Html(page.into_string())).into_response(),
            &[set_cookie(
                SIGNIN_COOKIE,
                &csrf,
                "/console/login",
                SIGNIN_LIFETIME.as_secs(),
                secure,
            )],
        )
    };
    let Some(identity) = state.tokens().authenticate(form.token.trim()) else {
        tracing::warn!("console sign-in refused: the token matches no configured token");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "That token matches no configured token.",
        );
    };
    if let Err(e) = identity.require(Permission::Read) {
        tracing::warn!(actor = %identity.name, "console sign-in refused: {e}");
        return refuse(StatusCode::FORBIDDEN, &e.to_string());
    }
    let now = state.engine().ports().clock.now();
    let lifetime = state.sessions().lifetime().as_secs();
    tracing::info!(actor = %identity.name, role = identity.role.as_str(), "console sign-in");
    let session = state.sessions().open(identity, now);
    with_cookies(
        see_other(&next),
        &[
            set_cookie(SESSION_COOKIE, &session, "/console", lifetime, secure),
            set_cookie(SIGNIN_COOKIE, "", "/console/login", 0, secure),
        ],
    )
}

/// The sign-out form has only its CSRF token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Nothing {}

/// `POST /console/logout`.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<Nothing>,
) -> Response {
    state.sessions().close(&posted.session);
    tracing::info!(actor = %posted.session.identity.name, "console sign-out");
    with_cookies(
        see_other("/console/login"),
        &[set_cookie(
            SESSION_COOKIE,
            "",
            "/console",
            0,
            secure(&state, &headers),
        )],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_same_site_strict_and_secure_over_tls() {
        let c = set_cookie("hale_session", "abc", "/console", 60, false);
        assert_eq!(
            c,
            "hale_session=abc; Path=/console; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        assert!(set_cookie("hale_session", "abc", "/console", 60, true).ends_with("; Secure"));
    }

    #[test]
    fn sign_in_returns_only_to_console_pages() {
        assert_eq!(
            next_or_home(Some("/console/approvals")),
            "/console/approvals"
        );
        assert_eq!(next_or_home(Some("https://evil.example/")), "/console");
        assert_eq!(next_or_home(None), "/console");
    }

    #[test]
    fn the_sign_in_page_carries_its_csrf_token_and_no_token_value() {
        let html = signin_page("c5rf", "/console", None).into_string();
        assert!(html.contains(r#"name="csrf" value="c5rf""#));
        assert!(html.contains(r#"type="password" name="token""#));
    }
}
