//! Request extractors that fail with [`ApiError`] (JSON `{error, detail}`)
//! instead of axum's plain-text rejections: a JSON body (415 for another
//! content type, 413 over the limit, 400 naming the field that does not
//! fit) and a query string (422 naming the parameter).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Whether the request says its body is JSON (`application/json`, with or
/// without parameters, or any `application/*+json`).
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The raw bytes of a JSON body, after the content-type and size checks.
/// An empty body passes without a content type (`curl -X POST` sends none).
#[derive(Debug, Clone)]
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("the request body is over the server's body_limit".into())
            } else {
                ApiError::MalformedJson(format!("could not read the body: {rejection}"))
            }
        })?;
        if !bytes.is_empty() && !json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as Content-Type: application/json".into(),
            ));
        }
        Ok(JsonBytes(bytes))
    }
}

/// Parses JSON naming the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        // An empty body reads as `{}`, so a request whose fields are all
        // optional needs none and a missing required field is named.
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::MalformedJson(inner.to_string())
        } else {
            ApiError::MalformedJson(format!("{path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::MalformedJson(format!("trailing characters after the JSON: {e}")))?;
    Ok(value)
}

/// A JSON body of type `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A query string of type `T` (422 naming the parameter on failure).
#[derive(Debug, Clone)]
pub struct QueryArgs<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| QueryArgs(v))
            .map_err(|e| ApiError::Invalid(format!("query string: {}", e.body_text())))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // the fields are read by serde only
    struct Reject {
        reason: String,
        nested: Option<Vec<u32>>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Reject>(br#"{"reason": "x", "nested": [1, "two"]}"#).unwrap_err();
        assert!(
            matches!(&e, ApiError::MalformedJson(d) if d.starts_with("nested[1]: ")),
            "{e:?}"
        );
        let e = parse_json::<Reject>(b"").unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        let e = parse_json::<Reject>(br#"{"reason": "x"} {}"#).unwrap_err();
        assert!(e.to_string().contains("trailing"), "{e}");
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
    }
}
