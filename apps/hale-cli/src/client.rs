//! A small JSON client for the server's `/v1` API (see `docs/api.md`).
//!
//! Every request carries the bearer token and, when set, `?tenant=`; every
//! error response is turned into [`CliError::Server`] with the server's
//! `{error, detail}`, so the exit code follows the HTTP status.

use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::Value;

use crate::connection::Connection;
use crate::exit::CliError;

/// Connecting may take at most this long (the whole request has the
/// connection's timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Query parameters; `None` values are left out.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(&'static str, String)>);

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Query::default()
    }

    /// Adds a parameter.
    pub fn set(mut self, key: &'static str, value: impl ToString) -> Self {
        self.0.push((key, value.to_string()));
        self
    }

    /// Adds a parameter when it has a value.
    pub fn opt<V: ToString>(self, key: &'static str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }
}

/// The API client.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    conn: Connection,
}

impl ApiClient {
    /// A client for the connection.
    pub fn new(conn: Connection) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(conn.timeout))
            .timeout(conn.timeout)
            .user_agent(concat!("hale-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Failure(format!("cannot set up the HTTP client: {e}")))?;
        Ok(ApiClient { http, conn })
    }

    /// The connection in use.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn url(&self, path: &str, query: &Query) -> Result<Url, CliError> {
        let mut url = Url::parse(&format!("{}{path}", self.conn.server)).map_err(|e| {
            CliError::Usage(format!("invalid server URL {}: {e}", self.conn.server))
        })?;
        let tenant = self.conn.tenant.as_ref().map(|t| ("tenant", t.clone()));
        let pairs: Vec<(&str, String)> = query.0.iter().cloned().chain(tenant).collect();
        if !pairs.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, &v);
            }
        }
        Ok(url)
    }

    /// `GET path?query`.
    pub async fn get(&self, path: &str, query: &Query) -> Result<Value, CliError> {
        self.send(Method::GET, path, query, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(Method::POST, path, &Query::new(), Some(body))
            .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(Method::PUT, path, &Query::new(), Some(body))
            .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let url = self.url(path, query)?;
        let mut req = self.http.request(method, url);
        if let Some(token) = &self.conn.token {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(&e))?;
        if (200..300).contains(&status) {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Failure(format!(
                    "the server answered HTTP {status} with a body that is not JSON: {e}"
                ))
            });
        }
        Err(server_error(
            status,
            &bytes,
            retry_after,
            self.conn.token.is_none(),
        ))
    }

    fn transport_error(&self, e: &reqwest::Error) -> CliError {
        let message = if e.is_timeout() {
            format!(
                "no answer within {} (raise it with --timeout)",
                hale_domain::time::duration::format(self.conn.timeout)
            )
        } else if e.is_connect() {
            format!("connection failed: {}", root_cause(e))
        } else {
            root_cause(e)
        };
        CliError::Unreachable {
            url: self.conn.server.clone(),
            message,
        }
    }
}

/// The innermost error message (reqwest's own is "error sending request").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Builds the error for a non-2xx answer from the server's `{error, detail}`
/// body, or from the raw body when it is not in that shape (a proxy's page).
pub fn server_error(
    status: u16,
    body: &[u8],
    retry_after: Option<u64>,
    no_token: bool,
) -> CliError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let error = field("error").unwrap_or_else(|| match status {
        401 => "unauthorized".into(),
        403 => "forbidden".into(),
        404 => "not_found".into(),
        409 => "conflict".into(),
        _ => format!("http_{status}"),
    });
    let mut detail = field("detail").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            "the server gave no details".to_owned()
        } else {
            text.chars().take(300).collect()
        }
    });
    if status == 401 && no_token {
        detail.push_str(" (no token configured: pass --token, set HALE_TOKEN, or add token = \"...\" to the CLI config file)");
    }
    CliError::Server {
        status,
        error,
        detail,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_uses_the_servers_words_or_falls_back() {
        let e = server_error(
            404,
            br#"{"error":"not_found","detail":"no operation op-1"}"#,
            None,
            false,
        );
        assert_eq!(e.to_string(), "not_found: no operation op-1 (HTTP 404)");
        let e = server_error(502, b"<html>bad gateway</html>", None, false);
        assert_eq!(
            e.to_string(),
            "http_502: <html>bad gateway</html> (HTTP 502)"
        );
        let e = server_error(401, b"", None, true);
        assert!(e.to_string().contains("no token configured"), "{e}");
    }

    #[test]
    fn urls_carry_the_query_and_the_tenant() {
        let c = ApiClient::new(Connection {
            server: "http://127.0.0.1:9/base".into(),
            token: None,
            tenant: Some("team a".into()),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        let url = c
            .url(
                "/v1/audit",
                &Query::new()
                    .set("limit", 5)
                    .opt("since", None::<String>)
                    .opt("channel", Some("manual")),
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/base/v1/audit?limit=5&channel=manual&tenant=team+a"
        );
    }
}
