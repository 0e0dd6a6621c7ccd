//! Scriptable fakes for the executor, health probe, notifier, and lock,
//! audit log and knowledge wrappers with fault injection. Engine tests and the offline replay drive
//! outcomes through these.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::failure::FailureClass;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::knowledge::KnowledgeEntry;
use hale_domain::strategy::ActionKind;
use hale_domain::{KnowledgeId, ResourceRef, TenantId};
use hale_engine::ports::{
    Acquire, ActionExecutor, ActionOutcome, ActionRequest, AuditFilter, AuditLog, Escalation,
    EscalationKind, ExecError, ExecMode, FencingToken, Health, HealthProbe, IdempotencyKeys,
    KnowledgeFilter, KnowledgeStore, Lease, LockError, LockHolder, LockRequest, Notifier,
    NotifyError, Page, ProbeError, ProbeRequest, ResourceLocks, SilenceAnswer, SilenceError,
    SilenceQuery, SilenceSource, StoreError,
};
use parking_lot::Mutex;

/// What a scripted action does.
#[derive(Debug, Clone, PartialEq)]
pub enum Scripted {
    /// Succeed at once.
    Ok,
    /// Fail with a class and message; the message is also what the target
    /// said (so a tenant's fatal patterns may match it).
    Fail(FailureClass, String),
    /// Fail with a class, the target quoting the request's namespace and
    /// name back, as an API server's refusal does (`pods "x" is forbidden`).
    /// Those are the alert's values: no fatal pattern may match them.
    FailQuotingTarget(FailureClass),
    /// Take this long (tokio time), then succeed.
    Slow(Duration),
    /// Never finish (the engine's timeout must cut it off).
    Hang,
}

/// One call an executor received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCall {
    /// Tenant.
    pub tenant: TenantId,
    /// Action kind.
    pub kind: ActionKind,
    /// Target.
    pub resource: ResourceRef,
    /// Dry run or apply.
    pub mode: ExecMode,
    /// The lock's fencing token.
    pub fencing_token: Option<FencingToken>,
}

/// An executor whose outcomes are scripted per action kind.
#[derive(Debug)]
pub struct ScriptedExecutor {
    name: String,
    scripts: Mutex<HashMap<String, VecDeque<Scripted>>>,
    default: Mutex<Scripted>,
    calls: Mutex<Vec<ExecCall>>,
    pods_per_action: std::sync::atomic::AtomicU32,
    dry_runs_first: std::sync::atomic::AtomicBool,
    dry_run_scripts: Mutex<HashMap<String, VecDeque<Scripted>>>,
}

impl ScriptedExecutor {
    /// Runs every kind; succeeds unless scripted otherwise.
    pub fn new(name: impl Into<String>) -> Self {
        ScriptedExecutor {
            name: name.into(),
            scripts: Mutex::new(HashMap::new()),
            default: Mutex::new(Scripted::Ok),
            calls: Mutex::new(Vec::new()),
            pods_per_action: std::sync::atomic::AtomicU32::new(0),
            dry_runs_first: std::sync::atomic::AtomicBool::new(false),
            dry_run_scripts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the engine dry-runs every automatic action first (as the
    /// Kubernetes executor does; default false). Dry runs succeed unless
    /// scripted with [`ScriptedExecutor::push_dry_run`].
    pub fn set_dry_runs_before_apply(&self, on: bool) {
        self.dry_runs_first
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Queues an outcome for the next dry run of `kind`: a
    /// [`Scripted::Fail`] refuses it, any other outcome lets it pass.
    pub fn push_dry_run(&self, kind: &str, outcome: Scripted) {
        self.dry_run_scripts
            .lock()
            .entry(kind.to_owned())
            .or_default()
            .push_back(outcome);
    }

    /// Every successful applied action reports disrupting this many pods
    /// (default 0).
    pub fn set_pods_per_action(&self, pods: u32) {
        self.pods_per_action
            .store(pods, std::sync::atomic::Ordering::SeqCst);
    }

    /// Queues an outcome for the next applied call of `kind`.
    pub fn push(&self, kind: &str, outcome: Scripted) {
        self.scripts
            .lock()
            .entry(kind.to_owned())
            .or_default()
            .push_back(outcome);
    }

    /// The outcome when nothing is queued.
    pub fn set_default(&self, outcome: Scripted) {
        *self.default.lock() = outcome;
    }

    /// Every call, in order.
    pub fn calls(&self) -> Vec<ExecCall> {
        self.calls.lock().clone()
    }

    /// Applied (non-dry-run) calls, in order.
    pub fn applied(&self) -> Vec<ExecCall> {
        self.calls
            .lock()
            .iter()
            .filter(|c| c.mode == ExecMode::Apply)
            .cloned()
            .collect()
    }

    /// Applied calls of one kind.
    pub fn applied_count(&self, kind: &str) -> usize {
        self.calls
            .lock()
            .iter()
            .filter(|c| c.mode == ExecMode::Apply && c.kind.as_str() == kind)
            .count()
    }
}

#[async_trait]
impl ActionExecutor for ScriptedExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, _kind: &ActionKind) -> bool {
        true
    }

    fn dry_runs_before_apply(&self) -> bool {
        self.dry_runs_first
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn execute(&self, req: ActionRequest<'_>) -> Result<ActionOutcome, ExecError> {
        self.calls.lock().push(ExecCall {
            tenant: req.tenant.clone(),
            kind: req.action.kind.clone(),
            resource: req.resource.clone(),
            mode: req.mode,
            fencing_token: req.fencing_token,
        });
        if !req.namespaces.allows(&req.resource.namespace) {
            return Err(ExecError::new(
                FailureClass::InvalidAction,
                format!("namespace {} is not allowed", req.resource.namespace),
            ));
        }
        if req.mode == ExecMode::DryRun {
            let scripted = self
                .dry_run_scripts
                .lock()
                .get_mut(req.action.kind.as_str())
                .and_then(VecDeque::pop_front);
            if let Some(Scripted::Fail(class, msg)) = scripted {
                return Err(ExecError::new(class, msg.clone()).with_target_said(msg));
            }
            return Ok(ActionOutcome {
                message: format!("dry run: would {} {}", req.action.kind, req.resource),
                response: None,
                pods_disrupted: 0,
            });
        }
        let next = {
            let mut scripts = self.scripts.lock();
            scripts
                .get_mut(req.action.kind.as_str())
                .and_then(VecDeque::pop_front)
                .unwrap_or_else(|| self.default.lock().clone())
        };
        match next {
            Scripted::Ok => {}
            Scripted::Fail(class, msg) => {
                return Err(ExecError::new(class, msg.clone()).with_target_said(msg));
            }
            Scripted::FailQuotingTarget(class) => {
                let said = format!(
                    "{} {:?} in namespace {:?} could not be changed",
                    req.resource.kind, req.resource.name, req.resource.namespace
                );
                return Err(ExecError::new(class, said.clone()).with_target_said(said));
            }
            Scripted::Slow(d) => tokio::time::sleep(d).await,
            Scripted::Hang => std::future::pending::<()>().await,
        }
        Ok(ActionOutcome {
            message: format!("{} {}", req.action.kind, req.resource),
            response: Some(
                serde_json::json!({"kind": req.action.kind.as_str(), "target": req.resource.key()}),
            ),
            pods_disrupted: self
                .pods_per_action
                .load(std::sync::atomic::Ordering::SeqCst),
        })
    }
}

/// A health probe answering from a script (default: healthy).
#[derive(Debug)]
pub struct ScriptedProbe {
    script: Mutex<VecDeque<Result<Health, ProbeError>>>,
    default: Mutex<Health>,
    checks: Mutex<usize>,
}

impl Default for ScriptedProbe {
    fn default() -> Self {
        ScriptedProbe {
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(Health::Healthy),
            checks: Mutex::new(0),
        }
    }
}

impl ScriptedProbe {
    /// Healthy unless scripted otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues one answer.
    pub fn push(&self, answer: Result<Health, ProbeError>) {
        self.script.lock().push_back(answer);
    }

    /// The answer when nothing is queued.
    pub fn set_default(&self, health: Health) {
        *self.default.lock() = health;
    }

    /// Checks made so far.
    pub fn checks(&self) -> usize {
        *self.checks.lock()
    }
}

#[async_trait]
impl HealthProbe for ScriptedProbe {
    async fn check(&self, _req: ProbeRequest<'_>) -> Result<Health, ProbeError> {
        *self.checks.lock() += 1;
        let next = self.script.lock().pop_front();
        next.unwrap_or_else(|| Ok(self.default.lock().clone()))
    }
}

/// A notifier that keeps every escalation.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    sent: Mutex<Vec<Escalation>>,
}

impl RecordingNotifier {
    /// Everything escalated so far.
    pub fn sent(&self) -> Vec<Escalation> {
        self.sent.lock().clone()
    }

    /// Escalations of one kind.
    pub fn count(&self, kind: EscalationKind) -> usize {
        self.sent.lock().iter().filter(|e| e.kind == kind).count()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn escalate(&self, e: &Escalation) -> Result<(), NotifyError> {
        self.sent.lock().push(e.clone());
        Ok(())
    }
}

/// Wraps a lock backend so tests can make it unavailable (like a frozen
/// Redis) and back.
pub struct FaultyLocks {
    inner: Arc<dyn ResourceLocks>,
    idem: Arc<dyn IdempotencyKeys>,
    down: Mutex<bool>,
}

impl std::fmt::Debug for FaultyLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyLocks")
            .field("down", &*self.down.lock())
            .finish_non_exhaustive()
    }
}

impl FaultyLocks {
    /// Wraps a backend.
    pub fn new(inner: Arc<dyn ResourceLocks>, idem: Arc<dyn IdempotencyKeys>) -> Self {
        FaultyLocks {
            inner,
            idem,
            down: Mutex::new(false),
        }
    }

    /// Makes every call fail with `Unavailable` (or stops doing so).
    pub fn set_unavailable(&self, down: bool) {
        *self.down.lock() = down;
    }

    fn check(&self) -> Result<(), LockError> {
        if *self.down.lock() {
            Err(LockError::Unavailable(
                "injected fault: lock backend down".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ResourceLocks for FaultyLocks {
    async fn acquire(&self, req: &LockRequest) -> Result<Acquire, LockError> {
        self.check()?;
        self.inner.acquire(req).await
    }

    async fn extend(&self, lease: &Lease, ttl: Duration) -> Result<(), LockError> {
        self.check()?;
        self.inner.extend(lease, ttl).await
    }

    async fn release(&self, lease: &Lease) -> Result<(), LockError> {
        self.check()?;
        self.inner.release(lease).await
    }

    async fn inspect(
        &self,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<LockHolder>, LockError> {
        self.check()?;
        self.inner.inspect(tenant, resource).await
    }

    async fn preemption_requested(&self, lease: &Lease) -> Result<bool, LockError> {
        self.check()?;
        self.inner.preemption_requested(lease).await
    }

    async fn ping(&self) -> Result<(), LockError> {
        self.check()?;
        self.inner.ping().await
    }
}

#[async_trait]
impl IdempotencyKeys for FaultyLocks {
    async fn claim(&self, tenant: &TenantId, key: &str, ttl: Duration) -> Result<bool, LockError> {
        self.check()?;
        self.idem.claim(tenant, key, ttl).await
    }

    async fn release_claim(&self, tenant: &TenantId, key: &str) -> Result<(), LockError> {
        self.check()?;
        self.idem.release_claim(tenant, key).await
    }
}

/// A silence source answering from a script: silenced label sets, or
/// unreachable. Counts the questions.
#[derive(Debug, Default)]
pub struct ScriptedSilences {
    silenced: Mutex<Vec<(std::collections::BTreeMap<String, String>, String)>>,
    unreachable: std::sync::atomic::AtomicBool,
    asked: std::sync::atomic::AtomicUsize,
}

impl ScriptedSilences {
    /// Silences every alert whose labels include all of `matchers`, as
    /// silence `id`.
    pub fn silence(&self, matchers: &[(&str, &str)], id: &str) {
        let m = matchers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.silenced.lock().push((m, id.to_owned()));
    }

    /// Makes every question fail (or answer again).
    pub fn set_unreachable(&self, unreachable: bool) {
        self.unreachable
            .store(unreachable, std::sync::atomic::Ordering::SeqCst);
    }

    /// Questions asked so far.
    pub fn asked(&self) -> usize {
        self.asked.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl SilenceSource for ScriptedSilences {
    async fn silenced(&self, q: &SilenceQuery<'_>) -> Result<SilenceAnswer, SilenceError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.unreachable.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SilenceError(format!(
                "{} refused the connection",
                q.alertmanager
            )));
        }
        let ids: Vec<String> = self
            .silenced
            .lock()
            .iter()
            .filter(|(m, _)| m.iter().all(|(k, v)| q.labels.get(k) == Some(v)))
            .map(|(_, id)| id.clone())
            .collect();
        Ok(match ids.is_empty() {
            true => SilenceAnswer::NotSilenced,
            false => SilenceAnswer::Silenced(ids),
        })
    }
}

/// An audit log whose separate appends all fail (`Unavailable`), as a
/// crash right after the write that caused an entry would leave it; reads
/// and the entries other writes carry go to the real store. A record whose
/// audit entries travel in its own transaction loses nothing to it.
pub struct AuditAppendsFail(pub Arc<dyn AuditLog>);

#[async_trait]
impl AuditLog for AuditAppendsFail {
    async fn append_audit(&self, _: &AuditEntry) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "injected fault: the audit append is lost".into(),
        ))
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.0.list_audit(tenant, filter).await
    }
}

/// A knowledge store whose creates all fail (`Unavailable`); every other
/// call goes to the real store.
pub struct KnowledgeCreatesFail(pub Arc<dyn KnowledgeStore>);

#[async_trait]
impl KnowledgeStore for KnowledgeCreatesFail {
    async fn create_knowledge_audited(
        &self,
        _: &KnowledgeEntry,
        _: &[AuditEntry],
    ) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "injected fault: the knowledge write is lost".into(),
        ))
    }

    async fn get_knowledge(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<Option<KnowledgeEntry>, StoreError> {
        self.0.get_knowledge(tenant, id).await
    }

    async fn list_knowledge(
        &self,
        tenant: &TenantId,
        filter: &KnowledgeFilter,
    ) -> Result<Page<KnowledgeEntry>, StoreError> {
        self.0.list_knowledge(tenant, filter).await
    }

    async fn update_knowledge(&self, entry: &KnowledgeEntry) -> Result<(), StoreError> {
        self.0.update_knowledge(entry).await
    }

    async fn active_anti_patterns(
        &self,
        tenant: &TenantId,
        symptoms: &SymptomsHash,
    ) -> Result<Vec<KnowledgeEntry>, StoreError> {
        self.0.active_anti_patterns(tenant, symptoms).await
    }

    async fn record_knowledge_view(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<(), StoreError> {
        self.0.record_knowledge_view(tenant, id).await
    }
}
