//! What a token may do: the roles a `[[tenants.tokens]]` entry names and
//! the permissions each grants (docs/api.md "Authentication and tenancy").
//! The server checks them on every request; the CLI only reads them.

use serde::{Deserialize, Serialize};

/// What a token may do (docs/api.md "Authentication and tenancy").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Post alerts only (give this to Alertmanager).
    Ingest,
    /// Read.
    Viewer,
    /// Read, post alerts, approve and reject, tenant-level acts.
    Operator,
    /// Everything, including the global switches and global dormancy.
    Admin,
}

/// A kind of request, checked against the caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Post alerts.
    Ingest,
    /// Read anything of the tenant.
    Read,
    /// Tenant-level acts.
    Operate,
    /// Platform-level acts.
    Administer,
}

impl Role {
    /// Whether the role grants `p`.
    pub fn may(self, p: Permission) -> bool {
        match p {
            Permission::Ingest => matches!(self, Role::Ingest | Role::Operator | Role::Admin),
            Permission::Read => matches!(self, Role::Viewer | Role::Operator | Role::Admin),
            Permission::Operate => matches!(self, Role::Operator | Role::Admin),
            Permission::Administer => self == Role::Admin,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}
