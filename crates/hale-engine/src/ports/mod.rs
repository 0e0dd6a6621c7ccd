//! The ports: every way the engine reaches the outside world.
//!
//! Each port is an object-safe `#[async_trait]` trait so it can be held as
//! `Arc<dyn Port>` and wired at run time. Each documents its error contract;
//! adapters map their driver errors into these errors at the seam, so no
//! driver type crosses a port. `hale-testkit` has an in-memory
//! implementation of every port and a conformance suite per store and lock
//! port that every adapter must pass unchanged.

pub mod channel;
pub mod clock;
pub mod diagnosis;
pub mod executor;
pub mod flags;
pub mod intake;
pub mod locks;
pub mod notifier;
pub mod outbox;
pub mod safety;
pub mod silences;
pub mod store;

pub use channel::{ChannelError, NotificationChannel};
pub use clock::{Clock, SystemClock};
pub use diagnosis::{
    ADVISOR_TIMEOUT, AdvisorError, DiagnosisAdvisor, DiagnosisRequest, RuleTableAdvisor,
};
pub use executor::{
    ActionExecutor, ActionOutcome, ActionRequest, ExecError, ExecMode, Health, HealthProbe,
    LeaseCheck, NamespacePolicy, OwnerRequest, ProbeError, ProbeRequest,
};
pub use flags::{EnvFlagSource, FlagError, FlagSource, StaticFlagSource};
pub use intake::{Converged, IncidentWrite, IntakeStore, IntakeWrite};
pub use locks::{
    Acquire, FencingToken, IdempotencyKeys, Lease, LockError, LockHolder, LockRequest,
    ResourceLocks,
};
pub use notifier::{Escalation, EscalationKind, LogNotifier, Notifier, NotifyError};
pub use outbox::{
    AttemptOutcome, DeliveryClaim, DeliveryFilter, NoticeDelivery, NotificationOutbox,
    OutboxBacklog, RedriveFilter,
};
pub use safety::{
    AuditedSafetyUpdate, Ledgers, SafetyChange, SafetyRecord, SafetyRecords, SafetyScope,
    SafetyStore, SafetyTrail, SafetyUpdate, SafetyUpdated, SafetyView,
};
pub use silences::{NoSilenceSource, SilenceAnswer, SilenceError, SilenceQuery, SilenceSource};
pub use store::*;
