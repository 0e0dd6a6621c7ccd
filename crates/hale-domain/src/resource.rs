//! The things healing acts on.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A resource in a namespace: `prod:deployment/checkout`.
///
/// There is deliberately no default namespace: seed 003 sent 203 executions
/// to `default` through a silent fallback and every one failed. A resource
/// whose namespace cannot be determined is not a resource.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The namespace (Kubernetes namespace, or a host/group for commands).
    pub namespace: String,
    /// The kind, lower case: `deployment`, `statefulset`, `pod`, `node`, ...
    pub kind: String,
    /// The object's name.
    pub name: String,
}

/// A resource reference was malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource {input:?}: {why}")]
pub struct InvalidResource {
    /// The rejected input.
    pub input: String,
    /// What rule it broke.
    pub why: &'static str,
}

impl ResourceRef {
    /// Builds a resource, validating each part.
    pub fn new(
        namespace: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<Self, InvalidResource> {
        let r = ResourceRef {
            namespace: namespace.into(),
            kind: kind.into().to_ascii_lowercase(),
            name: name.into(),
        };
        let bad = |why| {
            Err(InvalidResource {
                input: format!("{}:{}/{}", r.namespace, r.kind, r.name),
                why,
            })
        };
        let part_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        if !part_ok(&r.namespace) {
            return bad("namespace must be 1-253 characters of [A-Za-z0-9-._]");
        }
        if !part_ok(&r.kind) {
            return bad("kind must be 1-253 characters of [A-Za-z0-9-._]");
        }
        if !part_ok(&r.name) {
            return bad("name must be 1-253 characters of [A-Za-z0-9-._]");
        }
        Ok(r)
    }

    /// Parses `namespace:kind/name`.
    pub fn parse(input: &str) -> Result<Self, InvalidResource> {
        let err = |why| InvalidResource {
            input: input.to_owned(),
            why,
        };
        let (ns, rest) = input
            .split_once(':')
            .ok_or_else(|| err("expected namespace:kind/name"))?;
        let (kind, name) = rest
            .split_once('/')
            .ok_or_else(|| err("expected namespace:kind/name"))?;
        ResourceRef::new(ns, kind, name)
    }

    /// The canonical key `namespace:kind/name`, used in lock keys.
    pub fn key(&self) -> String {
        format!("{}:{}/{}", self.namespace, self.kind, self.name)
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.namespace, self.kind, self.name)
    }
}

impl fmt::Debug for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceRef({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_debug_and_key_are_the_canonical_form() {
        let r = ResourceRef::new("prod", "StatefulSet", "db-0").unwrap();
        assert_eq!(r.key(), "prod:statefulset/db-0");
        assert_eq!(r.to_string(), "prod:statefulset/db-0");
        assert_eq!(format!("{r:?}"), "ResourceRef(prod:statefulset/db-0)");
        assert_eq!(ResourceRef::parse("prod:statefulset/db-0"), Ok(r));
        assert!(ResourceRef::parse("prod:deployment").is_err());
        assert!(ResourceRef::new("a", "b", "x".repeat(253)).is_ok());
        assert!(ResourceRef::new("a", "b", "x".repeat(254)).is_err());
        assert!(ResourceRef::new("a", "", "c").is_err());
        assert!(ResourceRef::new("a", "b", "").is_err());
    }

    #[test]
    fn parses_and_prints_the_canonical_form() {
        let r = ResourceRef::parse("prod:Deployment/checkout").unwrap();
        assert_eq!(r.kind, "deployment");
        assert_eq!(r.key(), "prod:deployment/checkout");
        assert!(ResourceRef::parse("checkout").is_err());
        assert!(ResourceRef::parse(":deployment/x").is_err());
        assert!(ResourceRef::parse("a:b/c d").is_err());
        assert!(ResourceRef::parse("a:b/c:d").is_err());
    }
}
