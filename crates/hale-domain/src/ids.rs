//! Identifiers of domain entities and of the people or systems that act.
//!
//! Each id is its own type so an approval id can never be passed where an
//! operation id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id. Ids are opaque; any non-empty string is accepted.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
    };
}

string_id!(
    /// A healing strategy's id, unique within a tenant's policy.
    StrategyId
);
string_id!(
    /// A healing operation's id.
    OperationId
);
string_id!(
    /// An approval request's id.
    ApprovalId
);
string_id!(
    /// An incident's id (`INC-<yyyymmdd>-<six characters>` in seed 003).
    IncidentId
);
string_id!(
    /// A knowledge entry's id.
    KnowledgeId
);
string_id!(
    /// Who or what acted: an authenticated user name, a token's identity, or
    /// a system component such as `hale:failure_watcher`.
    Actor
);

impl Actor {
    /// The engine acting on its own (automatic path).
    pub fn system() -> Actor {
        Actor::new("hale:system")
    }
}
