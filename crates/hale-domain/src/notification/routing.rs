//! Where a notice goes: per tenant, which kinds at which minimum severity
//! go to which channel; platform-wide routes for platform events.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Notice, NoticeKind};
use crate::risk::Severity;
use crate::tenant::TenantId;

/// One route: notices of `tenant` (or the platform's, when `None`) of one
/// of `kinds` (every kind when empty) at `min_severity` or worse go to
/// `channel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Whose notices; `None` for platform-wide events.
    pub tenant: Option<TenantId>,
    /// Which kinds; empty means every kind.
    pub kinds: Vec<NoticeKind>,
    /// The least urgent severity that still goes (P3 lets everything go).
    pub min_severity: Severity,
    /// The channel's name.
    pub channel: String,
}

impl Route {
    /// Whether this route takes `notice`.
    pub fn takes(&self, notice: &Notice) -> bool {
        self.tenant == notice.tenant
            && (self.kinds.is_empty() || self.kinds.contains(&notice.kind))
            && notice.severity <= self.min_severity
    }
}

/// Every route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routes {
    /// The routes, in configuration order.
    pub routes: Vec<Route>,
}

impl Routes {
    /// The channels `notice` goes to, each once, sorted by name.
    pub fn channels_for(&self, notice: &Notice) -> Vec<String> {
        self.routes
            .iter()
            .filter(|r| r.takes(notice))
            .map(|r| r.channel.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}
