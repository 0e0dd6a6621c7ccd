//! Where a tenant may act: its namespaces.
//!
//! A target's kind comes from the tenant's own strategy (`target.kind`), so
//! the only part of a target an alert chooses is its namespace (and name).
//! The guard rule refuses a target outside the tenant's namespaces before
//! anything runs (`out_of_scope`, [`crate::guard`]), and every executor
//! refuses it again at the point of action.

use serde::{Deserialize, Serialize};

/// Which namespaces a tenant may act in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamespacePolicy {
    /// Any namespace (only when configured explicitly with `["*"]`).
    Any,
    /// Only these.
    Only(Vec<String>),
}

impl NamespacePolicy {
    /// Whether `namespace` is allowed.
    pub fn allows(&self, namespace: &str) -> bool {
        match self {
            NamespacePolicy::Any => true,
            NamespacePolicy::Only(list) => list.iter().any(|n| n == namespace),
        }
    }

    /// From a configured list: `["*"]` means any.
    pub fn from_list(list: &[String]) -> NamespacePolicy {
        if list.iter().any(|n| n == "*") {
            NamespacePolicy::Any
        } else {
            NamespacePolicy::Only(list.to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_namespaces_are_allowed() {
        let p = NamespacePolicy::from_list(&["prod".to_owned(), "web".to_owned()]);
        assert!(p.allows("prod"));
        assert!(p.allows("web"));
        assert!(!p.allows("unauthorized"));
        assert!(!p.allows("Prod"));
        assert!(!p.allows(""));
    }

    #[test]
    fn a_star_anywhere_in_the_list_allows_any() {
        let p = NamespacePolicy::from_list(&["prod".to_owned(), "*".to_owned()]);
        assert_eq!(p, NamespacePolicy::Any);
        assert!(p.allows("anything"));
        assert_eq!(
            NamespacePolicy::from_list(&[]),
            NamespacePolicy::Only(Vec::new())
        );
        assert!(!NamespacePolicy::from_list(&[]).allows("prod"));
    }
}
