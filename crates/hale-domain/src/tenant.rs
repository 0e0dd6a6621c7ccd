//! Tenancy: every piece of mutable state is keyed by a tenant (seed 001
//! calls it a project).
//!
//! The type system keeps platform-wide and tenant-scoped state apart: a rule
//! that applies to one tenant takes a [`TenantId`]; a rule that may apply to
//! the whole engine takes a [`Scope`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// A tenant (project) identifier.
///
/// 1 to 63 characters from `[a-z0-9_-]`, starting with a letter or digit. The
/// restriction keeps it safe inside Redis keys (`hale:{tenant}:...`), SQL
/// settings and URLs without escaping.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

/// A tenant id was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant id {input:?}: {why}")]
pub struct InvalidTenantId {
    /// The rejected input.
    pub input: String,
    /// What rule it broke.
    pub why: &'static str,
}

impl TenantId {
    /// Validates and wraps a tenant id.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidTenantId> {
        let id = id.into();
        let why = if id.is_empty() {
            Some("must not be empty")
        } else if id.len() > 63 {
            Some("must be at most 63 characters")
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            Some("may contain only a-z, 0-9, '-' and '_'")
        } else if !id.as_bytes()[0].is_ascii_alphanumeric() {
            Some("must start with a letter or digit")
        } else {
            None
        };
        match why {
            Some(why) => Err(InvalidTenantId { input: id, why }),
            None => Ok(TenantId(id)),
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

impl FromStr for TenantId {
    type Err = InvalidTenantId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantId::new(s)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TenantId::new(s).map_err(serde::de::Error::custom)
    }
}

/// Where a rule applies: the whole engine or one tenant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scope", content = "tenant")]
pub enum Scope {
    /// Platform-wide.
    Global,
    /// One tenant.
    Tenant(TenantId),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Global => f.write_str("global"),
            Scope::Tenant(t) => write!(f, "tenant:{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids_and_rejects_unsafe_ones() {
        assert!(TenantId::new("team-a").is_ok());
        assert!(TenantId::new("a_1").is_ok());
        for bad in ["", "Team", "a:b", "-a", "a b", "ü", &"x".repeat(64)] {
            assert!(TenantId::new(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn the_id_reads_back_the_same_every_way() {
        let t = TenantId::new("team-a").unwrap();
        assert_eq!(t.as_str(), "team-a");
        assert_eq!(t.as_ref(), "team-a");
        assert_eq!(t.to_string(), "team-a");
        assert_eq!(format!("{t:?}"), "TenantId(team-a)");
        assert_eq!("team-a".parse::<TenantId>(), Ok(t.clone()));
        assert!("Team".parse::<TenantId>().is_err());
        assert_eq!(serde_json::from_str::<TenantId>("\"team-a\"").unwrap(), t);
        assert!(TenantId::new("x".repeat(63)).is_ok());
        assert_eq!(Scope::Global.to_string(), "global");
        assert_eq!(Scope::Tenant(t).to_string(), "tenant:team-a");
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<TenantId>("\"ok\"").is_ok());
        let err = serde_json::from_str::<TenantId>("\"NOT:OK\"").unwrap_err();
        assert!(err.to_string().contains("invalid tenant id"));
    }
}
