//! The one HTTP client every channel uses (reqwest over rustls), and the
//! answer check that keeps URLs out of errors.

use std::time::Duration;

use hale_engine::ports::ChannelError;

/// A client with a bounded timeout and Hale's user agent.
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("hale/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Sends a request; `Ok` on a 2xx answer. Errors carry the status and at
/// most 200 bytes of the answer, never the URL (it can hold a token).
pub(crate) async fn send(req: reqwest::RequestBuilder) -> Result<(), ChannelError> {
    let resp = req
        .send()
        .await
        .map_err(|e| ChannelError(format!("request failed: {}", e.without_url())))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    let mut end = body.len().min(200);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    Err(ChannelError(format!(
        "the receiver answered {status}: {}",
        &body[..end]
    )))
}
