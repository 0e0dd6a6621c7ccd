//! Bearer tokens: who is calling, for which tenant, with which role.
//!
//! Tokens are configured as SHA-256 hashes and only hashes are kept in
//! memory. A presented token is hashed and compared with every configured
//! hash in constant time (`subtle`), without stopping at the first match,
//! so timing reveals neither which token matched nor how much of it did.
//! Nothing here implements `Debug` or `Display` in a way that could print a
//! token: the presented value lives only inside [`TokenTable::authenticate`].

use std::fmt;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hale_domain::{Actor, TenantId};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::routes::AppState;
use hale_config::TokenConfig;
pub use hale_config::{Permission, Role};

/// Which tenants a token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenTenant {
    /// One tenant.
    Tenant(TenantId),
    /// Any tenant, named per request with `?tenant=` (`tenant = "*"`).
    Platform,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's name: the actor in audit entries and signatures.
    pub name: String,
    /// Its tenant.
    pub tenant: TokenTenant,
    /// Its role.
    pub role: Role,
}

impl Identity {
    /// The actor recorded for this caller's acts.
    pub fn actor(&self) -> Actor {
        Actor::new(self.name.clone())
    }

    /// Fails with 403 unless the role grants `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.role.may(p) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "token {:?} has role {} which may not {}",
                self.name,
                self.role.as_str(),
                match p {
                    Permission::Ingest => "post alerts",
                    Permission::Read => "read",
                    Permission::Operate => "act on a tenant (operator role needed)",
                    Permission::Administer => "act on the whole platform (admin role needed)",
                }
            )))
        }
    }

    /// Fails with 403 unless the token is a platform token (`tenant = "*"`):
    /// acts on the whole platform are not a tenant's to make.
    pub fn require_platform(&self) -> Result<(), ApiError> {
        match &self.tenant {
            TokenTenant::Platform => Ok(()),
            TokenTenant::Tenant(own) => Err(ApiError::Forbidden(format!(
                "token {:?} belongs to tenant {own:?}; acts on the whole platform (global switches, global dormancy) need a platform token (tenant = \"*\") with the admin role",
                self.name
            ))),
        }
    }

    /// The tenant a request acts on: the token's own, or for a platform
    /// token the `?tenant=` it names (422 without one). A tenant token that
    /// names another tenant gets 403.
    pub fn tenant_for(&self, asked: Option<&str>) -> Result<TenantId, ApiError> {
        match self.scope_for(asked)? {
            Some(t) => Ok(t),
            None => Err(ApiError::Invalid(
                "a platform token must name the tenant: add ?tenant=<id>".into(),
            )),
        }
    }

    /// Like [`Identity::tenant_for`], but a platform token without
    /// `?tenant=` means "the whole platform" (`None`).
    pub fn scope_for(&self, asked: Option<&str>) -> Result<Option<TenantId>, ApiError> {
        let asked = asked.map(str::trim).filter(|s| !s.is_empty());
        match (&self.tenant, asked) {
            (TokenTenant::Tenant(own), None) => Ok(Some(own.clone())),
            (TokenTenant::Tenant(own), Some(a)) if a == own.as_str() => Ok(Some(own.clone())),
            (TokenTenant::Tenant(own), Some(a)) => Err(ApiError::Forbidden(format!(
                "token {:?} belongs to tenant {own:?} and may not act for tenant {a:?}",
                self.name
            ))),
            (TokenTenant::Platform, None) => Ok(None),
            (TokenTenant::Platform, Some(a)) => TenantId::new(a)
                .map(Some)
                .map_err(|e| ApiError::Invalid(format!("tenant: {e}"))),
        }
    }
}

/// The SHA-256 of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The SHA-256 of a token as lower-case hex (what `[[tokens]] sha256` holds).
pub fn hash_token_hex(token: &str) -> String {
    hex::encode(hash_token(token))
}

struct Entry {
    hash: [u8; 32],
    identity: Arc<Identity>,
}

/// Every configured token, by hash.
#[derive(Default)]
pub struct TokenTable {
    entries: Vec<Entry>,
}

impl fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenTable")
            .field("tokens", &self.entries.len())
            .finish()
    }
}

/// A `[[tokens]]` entry could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token {name:?}: {why}")]
pub struct TokenConfigError {
    /// The token's name.
    pub name: String,
    /// What is wrong.
    pub why: String,
}

impl TokenTable {
    /// An empty table (every request is 401).
    pub fn new() -> Self {
        TokenTable::default()
    }

    /// The table for configured tokens.
    pub fn from_config(tokens: &[TokenConfig]) -> Result<Self, TokenConfigError> {
        let mut table = TokenTable::new();
        for t in tokens {
            let bad = |why: String| TokenConfigError {
                name: t.name.clone(),
                why,
            };
            let bytes = hex::decode(&t.sha256).map_err(|e| bad(format!("sha256: {e}")))?;
            let hash: [u8; 32] = bytes
                .try_into()
                .map_err(|_| bad("sha256 must be 32 bytes (64 hex characters)".into()))?;
            let tenant = if t.tenant == "*" {
                TokenTenant::Platform
            } else {
                TokenTenant::Tenant(
                    TenantId::new(t.tenant.clone()).map_err(|e| bad(e.to_string()))?,
                )
            };
            table.insert_hash(hash, &t.name, tenant, t.role);
        }
        Ok(table)
    }

    /// Adds a token by its hash.
    pub fn insert_hash(&mut self, hash: [u8; 32], name: &str, tenant: TokenTenant, role: Role) {
        self.entries.push(Entry {
            hash,
            identity: Arc::new(Identity {
                name: name.to_owned(),
                tenant,
                role,
            }),
        });
    }

    /// Adds a token given in plain text; only its hash is kept.
    pub fn insert_token(&mut self, token: &str, name: &str, tenant: TokenTenant, role: Role) {
        self.insert_hash(hash_token(token), name, tenant, role);
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The identity of a presented token. Every entry is compared, in
    /// constant time, whatever matches.
    pub fn authenticate(&self, presented: &str) -> Option<Arc<Identity>> {
        let hash = hash_token(presented);
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(&hash)) {
                found = Some(e.identity.clone());
            }
        }
        found
    }
}

/// The authenticated caller of a `/v1` request (401 without a valid token).
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Identity>);

impl std::ops::Deref for Caller {
    type Target = Identity;
    fn deref(&self) -> &Identity {
        &self.0
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate_headers(&parts.headers, state.tokens()).map(Caller)
    }
}

/// The identity of the bearer token in `headers` (401 without a valid one).
pub fn authenticate_headers(
    headers: &http::HeaderMap,
    tokens: &TokenTable,
) -> Result<Arc<Identity>, ApiError> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("no Authorization: Bearer <token> header".into()))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => {
            return Err(ApiError::Unauthorized(
                "the Authorization header must be \"Bearer <token>\"".into(),
            ));
        }
    };
    tokens
        .authenticate(token)
        .ok_or_else(|| ApiError::Unauthorized("the token matches no configured token".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TokenTable {
        let mut t = TokenTable::new();
        t.insert_token(
            "s3cret-a",
            "alice",
            TokenTenant::Tenant(TenantId::new("a").unwrap()),
            Role::Operator,
        );
        t.insert_token("s3cret-p", "platform", TokenTenant::Platform, Role::Admin);
        t
    }

    #[test]
    fn tokens_authenticate_by_hash_only() {
        let t = table();
        assert_eq!(t.authenticate("s3cret-a").unwrap().name, "alice");
        assert_eq!(t.authenticate("s3cret-p").unwrap().role, Role::Admin);
        assert!(t.authenticate("s3cret-").is_none());
        assert!(t.authenticate("").is_none());
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn the_hash_matches_sha256sum() {
        // printf 'hello' | sha256sum
        assert_eq!(
            hash_token_hex("hello"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[test]
    fn roles_grant_what_the_api_doc_says() {
        use Permission::*;
        assert!(Role::Ingest.may(Ingest) && !Role::Ingest.may(Read));
        assert!(Role::Viewer.may(Read) && !Role::Viewer.may(Ingest) && !Role::Viewer.may(Operate));
        assert!(
            Role::Operator.may(Operate)
                && Role::Operator.may(Ingest)
                && !Role::Operator.may(Administer)
        );
        assert!(
            [Ingest, Read, Operate, Administer]
                .iter()
                .all(|p| Role::Admin.may(*p))
        );
    }

    #[test]
    fn a_tenant_token_cannot_name_another_tenant() {
        let alice = table().authenticate("s3cret-a").unwrap();
        assert_eq!(alice.tenant_for(None).unwrap().as_str(), "a");
        assert_eq!(alice.tenant_for(Some("a")).unwrap().as_str(), "a");
        assert!(matches!(
            alice.tenant_for(Some("b")),
            Err(ApiError::Forbidden(_))
        ));
        let platform = table().authenticate("s3cret-p").unwrap();
        assert!(matches!(
            platform.tenant_for(None),
            Err(ApiError::Invalid(_))
        ));
        assert_eq!(platform.scope_for(None).unwrap(), None);
        assert_eq!(platform.tenant_for(Some("b")).unwrap().as_str(), "b");
    }
}
