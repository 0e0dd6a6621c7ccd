//! Standard Webhooks signatures: `v1,` followed by the base64 HMAC-SHA256
//! of `{webhook-id}.{webhook-timestamp}.{body}`, keyed by the bytes the
//! `whsec_` secret's base64 encodes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2_hmac::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a Standard Webhooks secret.
const PREFIX: &str = "whsec_";

/// A secret that is not a Standard Webhooks signing key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not base64 after the optional `whsec_` prefix (the value is not
    /// repeated).
    #[error("the webhook secret is not base64 after its whsec_ prefix")]
    NotBase64,
    /// Too short to be a key (fewer than 24 bytes, as the specification
    /// asks).
    #[error("the webhook secret decodes to {0} bytes; at least 24 are needed")]
    TooShort(usize),
}

/// A signing key.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix is optional, as in the reference
    /// libraries).
    pub fn parse(secret: &str) -> Result<WebhookSecret, SignatureError> {
        let b64 = secret.trim().strip_prefix(PREFIX).unwrap_or(secret.trim());
        let key = STANDARD
            .decode(b64)
            .map_err(|_| SignatureError::NotBase64)?;
        if key.len() < 24 {
            return Err(SignatureError::TooShort(key.len()));
        }
        Ok(WebhookSecret { key })
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// The `webhook-signature` header value for one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    /// Whether a `webhook-signature` header (space-separated `v1,<sig>`
    /// entries) holds a valid signature of the message; compares in
    /// constant time. Receivers also check the timestamp's age.
    pub fn verify(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let want = self.mac(id, timestamp, body);
        header
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|sig| STANDARD.decode(sig).ok())
            .any(|sig| sig.ct_eq(&want).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    /// The example the Standard Webhooks specification and its reference
    /// libraries publish.
    #[test]
    fn signs_the_specifications_published_example() {
        let s = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(
            s.sign(ID, TS, BODY),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let bare = WebhookSecret::parse(SECRET.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(bare.sign(ID, TS, BODY), s.sign(ID, TS, BODY));
    }

    #[test]
    fn verifies_any_listed_signature_and_nothing_tampered() {
        let s = WebhookSecret::parse(SECRET).unwrap();
        let good = s.sign(ID, TS, BODY);
        assert!(s.verify(ID, TS, BODY, &good));
        assert!(s.verify(ID, TS, BODY, &format!("v1,bm9wZQ== {good}")));
        assert!(!s.verify(ID, TS + 1, BODY, &good));
        assert!(!s.verify("msg_other", TS, BODY, &good));
        assert!(!s.verify(ID, TS, br#"{"test": 1}"#, &good));
        assert!(!s.verify(ID, TS, BODY, "v2,abc"));
    }

    #[test]
    fn malformed_secrets_are_refused_without_echoing_them() {
        assert_eq!(
            WebhookSecret::parse("whsec_!!!").err(),
            Some(SignatureError::NotBase64)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ=").err(),
            Some(SignatureError::TooShort(5))
        );
        let s = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(format!("{s:?}"), "WebhookSecret(***)");
    }
}
