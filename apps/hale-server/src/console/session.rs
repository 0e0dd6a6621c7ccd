//! Console sessions: who signed in, with which token's role and tenant,
//! until when, and the CSRF token their forms carry.
//!
//! A session is created by signing in with an API token and lives for a
//! fixed time (`[server] session_lifetime`, 8 hours by default) from then;
//! it is never extended, so a stolen cookie stops working at that time at
//! the latest. The cookie holds 256 random bits; the table keeps only their
//! SHA-256, so a memory dump shows no usable cookie. The table is in memory
//! and bounded: signing in when it is full first drops expired sessions,
//! then the one closest to expiry. Sessions are per process: behind several
//! replicas, route a browser to one replica (sticky sessions) or sign in
//! again after a switch. A restart signs everyone out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale_domain::Timestamp;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::Identity;
use crate::bootstrap::generate_token;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "hale_session";
/// The double-submit cookie of the sign-in form (there is no session yet
/// to hold its CSRF token).
pub(crate) const SIGNIN_COOKIE: &str = "hale_signin";
/// How long the sign-in form's CSRF cookie lives.
pub(crate) const SIGNIN_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// At most this many live sessions are kept.
pub const MAX_SESSIONS: usize = 10_000;

/// A one-shot message shown on the next page after an act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flash {
    /// Whether it reports a success (`true`) or something to look at.
    pub(crate) ok: bool,
    /// The sentence.
    pub(crate) text: String,
}

struct Entry {
    identity: Arc<Identity>,
    csrf: String,
    expires_at: Timestamp,
    flash: Option<Flash>,
}

/// A signed-in session, as a request sees it.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    key: [u8; 32],
    /// The token's identity: its name, role and tenant.
    pub(crate) identity: Arc<Identity>,
    /// The token every form of this session carries.
    pub(crate) csrf: String,
    /// When the session ends.
    pub(crate) expires_at: Timestamp,
    /// The message left by the previous act, if this request took it.
    pub(crate) flash: Option<Flash>,
}

impl SignedIn {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub(crate) fn csrf_matches(&self, presented: &str) -> bool {
        same_secret(&self.csrf, presented)
    }
}

/// Compares two secrets in constant time (for equal lengths).
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn key_of(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

/// Every live session.
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Entry>>,
    lifetime: Duration,
    capacity: usize,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("live", &self.len())
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl Sessions {
    /// A table whose sessions live `lifetime`, holding at most `capacity`.
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            lifetime,
            capacity: capacity.max(1),
        }
    }

    /// How long a session lives.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// How many sessions are held (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session for `identity`; answers the cookie value (a fresh
    /// random id, so a session id planted before sign-in is worthless).
    pub(crate) fn open(&self, identity: Arc<Identity>, now: Timestamp) -> String {
        let cookie = generate_token();
        let entry = Entry {
            identity,
            csrf: generate_token(),
            expires_at: now.saturating_add(self.lifetime),
            flash: None,
        };
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.retain(|_, e| e.expires_at > now);
        }
        if map.len() >= self.capacity
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.expires_at)
                .map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(key_of(&cookie), entry);
        cookie
    }

    /// The live session of a cookie value; an expired one is removed.
    /// With `take_flash`, the pending message is handed over and cleared.
    pub(crate) fn get(&self, cookie: &str, now: Timestamp, take_flash: bool) -> Option<SignedIn> {
        let key = key_of(cookie);
        let mut map = self.lock();
        let entry = map.get_mut(&key)?;
        if entry.expires_at <= now {
            map.remove(&key);
            return None;
        }
        let flash = if take_flash { entry.flash.take() } else { None };
        Some(SignedIn {
            key,
            identity: entry.identity.clone(),
            csrf: entry.csrf.clone(),
            expires_at: entry.expires_at,
            flash,
        })
    }

    /// Leaves a message for the session's next page.
    pub(crate) fn flash(&self, session: &SignedIn, flash: Flash) {
        if let Some(e) = self.lock().get_mut(&session.key) {
            e.flash = Some(flash);
        }
    }

    /// Ends a session.
    pub(crate) fn close(&self, session: &SignedIn) {
        self.lock().remove(&session.key);
    }
}

#[cfg(test)]
mod tests {
    use hale_domain::TenantId;

    use super::*;
    use crate::auth::{Role, TokenTenant};

    fn ann() -> Arc<Identity> {
        Arc::new(Identity {
            name: "ann".into(),
            tenant: TokenTenant::Tenant(TenantId::new("a").unwrap()),
            role: Role::Operator,
        })
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-23T00:00:00Z")
            .unwrap()
            .saturating_add(Duration::from_secs(secs))
    }

    #[test]
    fn a_session_ends_at_its_lifetime_and_is_never_extended() {
        let s = Sessions::new(Duration::from_secs(60), 10);
        let cookie = s.open(ann(), at(0));
        assert_eq!(cookie.len(), 64);
        let live = s.get(&cookie, at(59), true).unwrap();
        assert_eq!(live.identity.name, "ann");
        assert_eq!(live.expires_at, at(60));
        assert!(s.get(&cookie, at(60), true).is_none());
        // The expired session is gone, not only refused.
        assert!(s.is_empty());
        assert!(s.get("not-a-cookie", at(0), true).is_none());
    }

    #[test]
    fn the_csrf_token_is_per_session_and_compared_whole() {
        let s = Sessions::new(Duration::from_secs(60), 10);
        let a = s.get(&s.open(ann(), at(0)), at(1), false).unwrap();
        let b = s.get(&s.open(ann(), at(0)), at(1), false).unwrap();
        assert_ne!(a.csrf, b.csrf);
        assert!(a.csrf_matches(&a.csrf.clone()));
        assert!(!a.csrf_matches(&b.csrf));
        assert!(!a.csrf_matches(&a.csrf[..10]));
        assert!(!a.csrf_matches(""));
    }

    #[test]
    fn a_flash_is_shown_once() {
        let s = Sessions::new(Duration::from_secs(60), 10);
        let cookie = s.open(ann(), at(0));
        let live = s.get(&cookie, at(1), false).unwrap();
        s.flash(
            &live,
            Flash {
                ok: true,
                text: "done".into(),
            },
        );
        // A POST does not take it; the next page does, once.
        assert!(s.get(&cookie, at(2), false).unwrap().flash.is_none());
        assert_eq!(
            s.get(&cookie, at(2), true).unwrap().flash.unwrap().text,
            "done"
        );
        assert!(s.get(&cookie, at(3), true).unwrap().flash.is_none());
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_session_closest_to_expiry() {
        let s = Sessions::new(Duration::from_secs(60), 2);
        let first = s.open(ann(), at(0));
        let second = s.open(ann(), at(10));
        let third = s.open(ann(), at(20));
        assert_eq!(s.len(), 2);
        assert!(s.get(&first, at(21), false).is_none());
        assert!(s.get(&second, at(21), false).is_some());
        assert!(s.get(&third, at(21), false).is_some());
        let live = s.get(&third, at(21), false).unwrap();
        s.close(&live);
        assert!(s.get(&third, at(21), false).is_none());
        assert!(!format!("{s:?}").contains(&second));
    }
}
