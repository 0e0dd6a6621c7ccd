//! A complete set of in-memory ports in one value, for tests, examples and
//! the offline replay.

use std::sync::Arc;

use hale_domain::Timestamp;
use hale_domain::kill_switch::GlobalSwitches;
use hale_engine::Ports;
use hale_engine::ids::SequentialIds;
use hale_engine::local_locks::LocalLocks;
use hale_engine::ports::{StaticFlagSource, Stores};

use crate::clock::TokioClock;
use crate::fakes::{
    FaultyLocks, RecordingNotifier, ScriptedExecutor, ScriptedProbe, ScriptedSilences,
};
use crate::memory::MemoryStore;

/// The default start of a kit's clock: 2026-11-25T00:00:00Z.
pub const KIT_EPOCH_SECS: i64 = 1_795_564_800;

/// In-memory ports with handles to script and inspect them.
///
/// The clock follows tokio time from [`KIT_EPOCH_SECS`], so on a paused
/// runtime `tokio::time::advance` moves wall time too. Ids are sequential.
#[derive(Debug, Clone)]
pub struct Kit {
    /// The clock.
    pub clock: Arc<TokioClock>,
    /// Every store.
    pub store: Arc<MemoryStore>,
    /// The lock backend (LocalLocks behind a fault switch).
    pub locks: Arc<FaultyLocks>,
    /// The executor (runs every kind).
    pub executor: Arc<ScriptedExecutor>,
    /// The health probe.
    pub probe: Arc<ScriptedProbe>,
    /// The notifier.
    pub notifier: Arc<RecordingNotifier>,
    /// The global flags.
    pub flags: GlobalSwitches,
    /// The tenants' Alertmanagers' silences.
    pub silences: Arc<ScriptedSilences>,
}

impl Default for Kit {
    fn default() -> Self {
        Kit::new()
    }
}

impl Kit {
    /// A fresh kit. Call inside a tokio runtime.
    pub fn new() -> Kit {
        let clock = Arc::new(TokioClock::new(Timestamp::from_unix_secs(KIT_EPOCH_SECS)));
        let local = Arc::new(LocalLocks::new(clock.as_ref()));
        Kit {
            store: Arc::new(MemoryStore::new()),
            locks: Arc::new(FaultyLocks::new(local.clone(), local)),
            executor: Arc::new(ScriptedExecutor::new("scripted")),
            probe: Arc::new(ScriptedProbe::new()),
            notifier: Arc::new(RecordingNotifier::default()),
            flags: GlobalSwitches::default(),
            silences: Arc::new(ScriptedSilences::default()),
            clock,
        }
    }

    /// The ports, wired.
    pub fn ports(&self) -> Ports {
        let mut ports = Ports::new(
            self.clock.clone(),
            Stores::from_adapter(self.store.clone()),
            self.locks.clone(),
            self.locks.clone(),
            vec![self.executor.clone()],
            self.probe.clone(),
        );
        ports.notifier = self.notifier.clone();
        ports.flags = Arc::new(StaticFlagSource(self.flags.clone()));
        ports.ids = Arc::new(SequentialIds::new());
        ports.silences = self.silences.clone();
        ports
    }
}
