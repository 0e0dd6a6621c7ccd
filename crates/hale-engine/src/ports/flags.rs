//! Where the global kill-switch layer comes from.

use async_trait::async_trait;
use hale_domain::kill_switch::{FlagParseError, GlobalSwitches};

/// The flag source could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// A value is not a boolean.
    #[error(transparent)]
    Parse(#[from] FlagParseError),
    /// The source is unreachable.
    #[error("flag source unavailable: {0}")]
    Unavailable(String),
}

/// Supplies the global kill-switch layer (seed 002 `FEATURE_*` flags).
///
/// Contract: returns the switches currently set at the source. On error the
/// engine keeps the last good value; if it never had one, it treats
/// automatic healing as OFF (fail closed).
#[async_trait]
pub trait FlagSource: Send + Sync {
    /// Reads the switches.
    async fn global_switches(&self) -> Result<GlobalSwitches, FlagError>;
}

/// Reads `FEATURE_*` from the process environment at each call.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvFlagSource;

#[async_trait]
impl FlagSource for EnvFlagSource {
    async fn global_switches(&self) -> Result<GlobalSwitches, FlagError> {
        Ok(GlobalSwitches::from_env(std::env::vars())?)
    }
}

/// A fixed set of switches.
#[derive(Debug, Clone, Default)]
pub struct StaticFlagSource(pub GlobalSwitches);

#[async_trait]
impl FlagSource for StaticFlagSource {
    async fn global_switches(&self) -> Result<GlobalSwitches, FlagError> {
        Ok(self.0.clone())
    }
}
