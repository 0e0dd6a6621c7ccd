//! Maintenance windows through the control API: list, open and end. A
//! window opened through the API is a shared safety record, in force on
//! every replica within the sync interval; opening and ending are audited
//! with who and why. Configured windows are listed beside them and end
//! only by changing the configuration. The rule "is a window active" is
//! [`hale_domain::maintenance`]'s; the guard asks it on the automatic path.

use hale_domain::maintenance::{MaintenanceWindow, Occurrence, Schedule, WindowMode, WindowScope};
use hale_domain::record::audit::AuditKind;
use hale_domain::safety::WindowError;
use hale_domain::{Origin, Scope, TenantId};
use serde::{Deserialize, Serialize};

use crate::control::need_reason;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ports::Ledgers;
use crate::safety_trail::Act;

/// Where a window comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowSource {
    /// The configuration file.
    Config,
    /// The control API (or the CLI).
    Api,
}

/// A window as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowView {
    /// The window.
    #[serde(flatten)]
    pub window: MaintenanceWindow,
    /// Where it comes from.
    pub source: WindowSource,
    /// Whether it is active now.
    pub active: bool,
    /// The current occurrence, when active.
    pub current: Option<Occurrence>,
}

/// A window to open through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    /// Its id (letters, digits, `-`, `_`; at most 64).
    pub id: String,
    /// What the automatic path does during it.
    pub mode: WindowMode,
    /// What it covers (empty: the whole tenant).
    #[serde(default)]
    pub scope: WindowScope,
    /// When it is open.
    pub schedule: Schedule,
    /// Why (required; audited).
    pub reason: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn window_error(e: WindowError) -> EngineError {
    match e {
        WindowError::NotFound(_) => EngineError::NotFound(e.to_string()),
        WindowError::Exists(_) | WindowError::TooMany | WindowError::End(_) => {
            EngineError::Conflict(e.to_string())
        }
        WindowError::Invalid(_) => EngineError::Invalid(e.to_string()),
    }
}

impl Engine {
    /// A tenant's maintenance windows: configured ones first, then those
    /// opened through the API (ended and past ones stay listed for a week).
    pub async fn maintenance_windows(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<WindowView>, EngineError> {
        let inner = &self.inner;
        let rt = inner.runtime(tenant).await?;
        let now = inner.now();
        let view = |w: &MaintenanceWindow, source| {
            let current = w.occurrence_at(now);
            WindowView {
                window: w.clone(),
                source,
                active: current.is_some(),
                current,
            }
        };
        let configured = rt
            .policy
            .windows
            .iter()
            .map(|w| view(w, WindowSource::Config));
        let ad_hoc: Vec<WindowView> = rt
            .safety()
            .windows
            .iter()
            .map(|w| view(w, WindowSource::Api))
            .collect();
        Ok(configured.chain(ad_hoc).collect())
    }

    /// Opens a window through the API (audited with who and why).
    pub async fn open_window(
        &self,
        tenant: &TenantId,
        new: NewWindow,
        by: impl Into<Origin>,
    ) -> Result<MaintenanceWindow, EngineError> {
        let by = by.into();
        need_reason(&new.reason)?;
        if !valid_id(&new.id) {
            return Err(EngineError::Invalid(format!(
                "window id {:?}: use 1 to 64 letters, digits, '-' or '_'",
                new.id
            )));
        }
        let inner = &self.inner;
        let rt = inner.runtime(tenant).await?;
        if rt.policy.windows.iter().any(|w| w.id == new.id) {
            return Err(EngineError::Conflict(format!(
                "a configured window has id {}",
                new.id
            )));
        }
        let now = inner.now();
        let window = MaintenanceWindow {
            id: new.id,
            mode: new.mode,
            scope: new.scope,
            schedule: new.schedule,
            reason: new.reason.trim().to_owned(),
            created_by: Some(by.actor.clone()),
            created_at: Some(now),
            ended: None,
        };
        let opened = window.clone();
        let schedule = serde_json::to_string(&window.schedule).unwrap_or_default();
        let act = Act {
            scope: &Scope::Tenant(tenant.clone()),
            kind: AuditKind::WindowOpened,
            target: format!("maintenance_window:{}", window.id),
            by: &by,
            reason: format!("{} {schedule}: {}", window.mode, window.reason),
            at: now,
        };
        inner
            .record_tenant_safety(
                &rt,
                Ledgers::None,
                |_, s| s.open_window(opened.clone(), now),
                |r| inner.act_trail(&act, r.is_ok()),
            )
            .await?
            .map_err(window_error)?;
        Ok(window)
    }

    /// Ends a window opened through the API (audited with who and why).
    pub async fn end_window(
        &self,
        tenant: &TenantId,
        id: &str,
        reason: &str,
        by: impl Into<Origin>,
    ) -> Result<MaintenanceWindow, EngineError> {
        let by = by.into();
        need_reason(reason)?;
        let inner = &self.inner;
        let rt = inner.runtime(tenant).await?;
        if rt.policy.windows.iter().any(|w| w.id == id) {
            return Err(EngineError::Conflict(format!(
                "window {id} is configured; it ends by changing the configuration"
            )));
        }
        let now = inner.now();
        let actor = &by.actor;
        let act = Act {
            scope: &Scope::Tenant(tenant.clone()),
            kind: AuditKind::WindowEnded,
            target: format!("maintenance_window:{id}"),
            by: &by,
            reason: reason.trim().to_owned(),
            at: now,
        };
        let ended = inner
            .record_tenant_safety(
                &rt,
                Ledgers::None,
                |_, s| s.end_window(id, actor, reason.trim(), now),
                |r| inner.act_trail(&act, r.is_ok()),
            )
            .await?
            .map_err(window_error)?;
        Ok(ended)
    }
}
