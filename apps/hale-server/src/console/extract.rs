//! What a console request carries: the session cookie, a query string, and
//! for every form the CSRF token and the fields of the act.
//!
//! A form's fields (after `csrf` and `back`) deserialize into the same
//! struct the JSON API takes for that act, so a field the API would refuse
//! is refused here too, with the same message.

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::page::{ConsoleError, Frame, Section, is_console_path, ok};
use super::session::{SESSION_COOKIE, SignedIn};
use crate::routes::AppState;

/// The value of cookie `name` in a request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The session of a request, or `None`. `take_flash` hands over the
/// message left by the last act (pages do; forms do not).
fn session_of(parts: &Parts, state: &AppState, take_flash: bool) -> Option<SignedIn> {
    let value = cookie(&parts.headers, SESSION_COOKIE)?;
    let now = state.engine().ports().clock.now();
    state.sessions().get(value, now, take_flash)
}

/// Where a request came from, to return there after signing in.
fn here(parts: &Parts) -> String {
    let path = parts
        .uri
        .path_and_query()
        .map_or("/console", |p| p.as_str());
    if is_console_path(path) {
        path.to_owned()
    } else {
        "/console".to_owned()
    }
}

/// A signed-in page request; without a live session the browser is sent to
/// the sign-in page and back.
#[derive(Debug, Clone)]
pub(crate) struct Session(pub(crate) SignedIn);

impl FromRequestParts<AppState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        session_of(parts, state, true)
            .map(Session)
            .ok_or_else(|| ConsoleError::SignIn { next: here(parts) })
    }
}

/// `?tenant=` of a page, read leniently (the page's own query type
/// validates the whole query string).
fn tenant_param(parts: &Parts) -> Option<String> {
    Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .ok()
        .and_then(|Query(pairs)| pairs.into_iter().find(|(k, _)| k == "tenant"))
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
}

/// A signed-in page: its [`Frame`] (session, the tenant it shows, its
/// section of the console, found from the path).
pub(crate) struct Page(pub(crate) Frame);

impl FromRequestParts<AppState> for Page {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let Session(session) = Session::from_request_parts(parts, state).await?;
        let asked = tenant_param(parts);
        let section = Section::of(parts.uri.path());
        Ok(Page(Frame::new(state, session, asked.as_deref(), section)?))
    }
}

/// A page about one tenant. A platform session that named none is
/// answered with the tenant picker instead.
pub(crate) struct TenantPage(pub(crate) Frame);

impl FromRequestParts<AppState> for TenantPage {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let Page(frame) = Page::from_request_parts(parts, state).await?;
        if frame.tenant.is_none() {
            return Err(ConsoleError::Answer(Box::new(ok(frame.choose_tenant()))));
        }
        Ok(TenantPage(frame))
    }
}

/// A query string of type `T` (422 page naming the parameter).
#[derive(Debug, Clone)]
pub(crate) struct PageQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for PageQuery<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ConsoleError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| PageQuery(v))
            .map_err(|e| {
                ConsoleError::page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("query string: {}", e.body_text()),
                )
            })
    }
}

/// The tenant an act's URL names (`?tenant=`, platform sessions only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActTenant {
    tenant: Option<String>,
}

/// A posted form of a signed-in session whose CSRF token matched.
#[derive(Debug)]
pub(crate) struct Posted<T> {
    /// The session.
    pub(crate) session: SignedIn,
    /// `?tenant=` of the form's action.
    pub(crate) tenant: Option<String>,
    /// The console page to return to, if the form named one.
    pub(crate) back: Option<String>,
    /// The act's fields.
    pub(crate) body: T,
}

impl<T> Posted<T> {
    /// The tenant, as the acts take it.
    pub(crate) fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Where to go after the act: the form's `back`, or `default`.
    pub(crate) fn back_or(&self, default: String) -> String {
        self.back.clone().unwrap_or(default)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (parts, body) = req.into_parts();
        let session = session_of(&parts, state, false).ok_or_else(|| ConsoleError::SignIn {
            next: "/console".to_owned(),
        })?;
        let ActTenant { tenant } = Query::<ActTenant>::try_from_uri(&parts.uri)
            .map(|Query(q)| q)
            .map_err(|e| {
                ConsoleError::page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("query string: {}", e.body_text()),
                )
            })?;
        let req = Request::from_parts(parts, body);
        let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(|r| ConsoleError::page(r.status(), r.body_text()))?;
        let mut csrf = None;
        let mut back = None;
        let mut fields = serde_json::Map::new();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => csrf = Some(v),
                "back" => back = Some(v),
                _ => {
                    if fields
                        .insert(k.clone(), serde_json::Value::String(v))
                        .is_some()
                    {
                        return Err(ConsoleError::page(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            format!("{k}: given more than once"),
                        ));
                    }
                }
            }
        }
        if !csrf.is_some_and(|c| session.csrf_matches(&c)) {
            tracing::warn!(actor = %session.identity.name, "console form refused: CSRF token missing or wrong");
            return Err(ConsoleError::page(
                StatusCode::FORBIDDEN,
                "this form did not come from your console session (its CSRF token is missing or \
                 out of date); reload the page and try again",
            ));
        }
        let back = back.filter(|b| is_console_path(b));
        let body =
            serde_path_to_error::deserialize(serde_json::Value::Object(fields)).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let detail = if path == "." {
                    inner.to_string()
                } else {
                    format!("{path}: {inner}")
                };
                ConsoleError::page(StatusCode::UNPROCESSABLE_ENTITY, detail)
            })?;
        Ok(Posted {
            session,
            tenant: tenant.filter(|t| !t.trim().is_empty()),
            back,
            body,
        })
    }
}
