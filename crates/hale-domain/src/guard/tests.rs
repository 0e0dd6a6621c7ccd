use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::anti_pattern::MemoryCause;
use crate::dormancy::Dormancy;
use crate::gitops::{GitOpsTool, OwnershipCheck};
use crate::ids::Actor;
use crate::kill_switch::Switch;
use crate::maintenance::{MaintenanceWindow, WindowMode};
use crate::silence::OnUnreachable;

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_secs(s)
}

/// Every input of the rule as owned values, so proptest can generate them.
#[derive(Debug, Clone)]
struct World {
    out_of_scope: bool,
    global_auto_healing: Option<Switch>,
    global_execution: Option<Switch>,
    tenant: Option<Switch>,
    strategy_switch: Option<Switch>,
    kind_switch: Option<Switch>,
    executor_missing: bool,
    platform_dormant: bool,
    tenant_dormant: bool,
    backoff_until: Option<i64>,
    breaker: Option<Rejection>,
    ledger: AttemptLedger,
    max_attempts: u32,
    cooldown_s: u64,
    anti_pattern: bool,
    ineffective_chain: bool,
    budget_exhausted: bool,
    window: Option<WindowMode>,
    silence: SilenceCheck,
    /// The strategy scales too (a kind a GitOps tool reverts).
    scales: bool,
    /// The tool that owns the target, if any.
    gitops: Option<GitOpsTool>,
    /// The strategy's `allow_gitops_managed`.
    allow_gitops: bool,
    now: i64,
}

fn dormant(reason: &str) -> DormantRecord {
    let mut d = Dormancy::new(1);
    d.enter_manual(reason, &Actor::new("op"), t(5));
    d.record().cloned().unwrap()
}

impl World {
    fn calm() -> World {
        World {
            out_of_scope: false,
            global_auto_healing: None,
            global_execution: None,
            tenant: None,
            strategy_switch: None,
            kind_switch: None,
            executor_missing: false,
            platform_dormant: false,
            tenant_dormant: false,
            backoff_until: None,
            breaker: None,
            ledger: AttemptLedger::default(),
            max_attempts: 3,
            cooldown_s: 60,
            anti_pattern: false,
            ineffective_chain: false,
            budget_exhausted: false,
            window: None,
            silence: SilenceCheck::NotAsked,
            scales: false,
            gitops: None,
            allow_gitops: false,
            now: 1_000,
        }
    }

    fn verdict(&self, path: HealingPath) -> Verdict {
        self.verdict_with(path, true)
    }

    /// The verdict; with `anti_patterns_gathered` false the remembered
    /// failures are left out, as a caller that gathers them last would.
    fn verdict_with(&self, path: HealingPath, anti_patterns_gathered: bool) -> Verdict {
        self.verdict_gathered(path, anti_patterns_gathered, true, true)
    }

    /// The verdict; with `silences_asked` false the silence check is left
    /// as not asked, as a caller that asks only when the earlier stages
    /// allow would; likewise the target's GitOps owner with `gitops_asked`.
    fn verdict_gathered(
        &self,
        path: HealingPath,
        anti_patterns_gathered: bool,
        silences_asked: bool,
        gitops_asked: bool,
    ) -> Verdict {
        let ownership = match (gitops_asked, self.gitops) {
            (false, _) => OwnershipCheck::NotAsked,
            (true, None) => OwnershipCheck::Unowned,
            (true, Some(tool)) => OwnershipCheck::Owned(crate::gitops::GitOpsOwner {
                tool,
                evidence: "argocd.argoproj.io/instance=shop".into(),
            }),
        };
        let not_asked = SilenceCheck::NotAsked;
        let silence = if silences_asked {
            &self.silence
        } else {
            &not_asked
        };
        let strategy = StrategyId::new("restart");
        let kind = ActionKind::new("rollout_restart").unwrap();
        let scale = ActionKind::new("scale").unwrap();
        let namespace = if self.out_of_scope {
            "unauthorized"
        } else {
            "prod"
        };
        let resource = ResourceRef::new(namespace, "deployment", "web").unwrap();
        let namespaces = NamespacePolicy::Only(vec!["prod".to_owned()]);
        let mut global = GlobalSwitches::default();
        if let Some(s) = self.global_auto_healing {
            global.features.insert(Feature::AutoHealing, s);
        }
        if let Some(s) = self.global_execution {
            global.features.insert(Feature::Execution, s);
        }
        let mut tenant = TenantSwitches {
            tenant: self.tenant,
            ..TenantSwitches::default()
        };
        if let Some(s) = self.strategy_switch {
            tenant.strategies.insert(strategy.clone(), s);
        }
        if let Some(s) = self.kind_switch {
            tenant.action_kinds.insert(kind.clone(), s);
        }
        let platform = dormant("platform paused");
        let tenant_d = dormant("tenant paused");
        let executor = (!self.executor_missing).then_some("kubernetes");
        let mut executors = vec![ExecutorFor {
            kind: &kind,
            executor,
        }];
        if self.scales {
            executors.push(ExecutorFor {
                kind: &scale,
                executor,
            });
        }
        let breakers: Vec<BreakerAdmission<'_>> = if self.executor_missing {
            Vec::new()
        } else {
            vec![BreakerAdmission {
                breaker: "kubernetes",
                admission: self.breaker.clone().map_or(Ok(()), Err),
            }]
        };
        let symptoms = SymptomsHash::from_hex("00112233445566ff");
        let mut remembered = Vec::new();
        if self.anti_pattern {
            remembered.push(RememberedFailure {
                symptoms_hash: symptoms.clone(),
                strategy_id: strategy.clone(),
                knowledge_id: KnowledgeId::new("kn-1"),
                recorded_at: t(0),
                cause: MemoryCause::VerificationFailed,
            });
        }
        if self.ineffective_chain {
            remembered.push(RememberedFailure {
                symptoms_hash: SymptomsHash::of_target(&resource),
                strategy_id: strategy.clone(),
                knowledge_id: KnowledgeId::new("kn-2"),
                recorded_at: t(0),
                cause: MemoryCause::IneffectiveChain,
            });
        }
        let anti_patterns: &[RememberedFailure] = if anti_patterns_gathered {
            &remembered
        } else {
            &[]
        };
        let budgets = RemediationBudgets {
            tenant: Some(crate::remediation::BudgetLimits {
                max_in_flight: Some(1),
                max_started: None,
                max_pods_disrupted: None,
                window: Duration::from_secs(3_600),
            }),
            ..RemediationBudgets::default()
        };
        let mut usage = RemediationUsage::default();
        if self.budget_exhausted {
            let op = crate::ids::OperationId::new("op-other");
            usage
                .start(&budgets, false, &op, "prod", t(self.now))
                .unwrap();
        }
        let windows: Vec<MaintenanceWindow> = self
            .window
            .map(|mode| MaintenanceWindow {
                id: "patching".into(),
                mode,
                scope: crate::maintenance::WindowScope::default(),
                schedule: crate::maintenance::Schedule::OneOff {
                    start: t(self.now - 10),
                    end: t(self.now + 10),
                },
                reason: "kernel updates".into(),
                created_by: None,
                created_at: None,
                ended: None,
            })
            .into_iter()
            .collect();
        evaluate(&GuardInput {
            path,
            target: TargetScope {
                resource: &resource,
                namespaces: &namespaces,
            },
            now: t(self.now),
            scope: ScopeState {
                global: &global,
                tenant: &tenant,
                platform_dormant: self.platform_dormant.then_some(&platform),
                tenant_dormant: self.tenant_dormant.then_some(&tenant_d),
            },
            strategy: &strategy,
            executors: &executors,
            next_healing_at: self.backoff_until.map(t),
            breakers: &breakers,
            budget: AttemptBudget {
                ledger: &self.ledger,
                max_attempts: self.max_attempts,
                cooldown: Duration::from_secs(self.cooldown_s),
            },
            remediation: RemediationCheck {
                budgets: &budgets,
                usage: &usage,
            },
            windows: Windows {
                configured: &windows,
                ad_hoc: &[],
            },
            silence,
            gitops: crate::gitops::GitOpsGate {
                allowed: self.allow_gitops,
                ownership: &ownership,
            },
            symptoms: &symptoms,
            anti_patterns,
        })
    }
}

fn switch() -> impl Strategy<Value = Option<Switch>> {
    prop_oneof![Just(None), Just(Some(Switch::On)), Just(Some(Switch::Off))]
}

fn rejection() -> impl Strategy<Value = Option<Rejection>> {
    prop_oneof![
        3 => Just(None),
        1 => (900i64..1100).prop_map(|s| Some(Rejection::Open { retry_at: t(s) })),
        1 => Just(Some(Rejection::ProbesExhausted { max_probes: 1 })),
        1 => Just(Some(Rejection::PermanentOpen { reason: "fatal".into(), since: t(1) })),
    ]
}

fn ledger() -> impl Strategy<Value = AttemptLedger> {
    (0u32..5, proptest::option::of(900i64..1000)).prop_map(|(failures, last)| AttemptLedger {
        consecutive_failures: failures,
        total_attempts: failures + 1,
        last_started_at: last.map(t),
    })
}

fn silence() -> impl Strategy<Value = SilenceCheck> {
    prop_oneof![
        4 => Just(SilenceCheck::NotAsked),
        2 => Just(SilenceCheck::NotSilenced),
        1 => Just(SilenceCheck::Silenced { silences: vec!["s-1".into()] }),
        1 => prop_oneof![Just(OnUnreachable::Block), Just(OnUnreachable::Allow)]
            .prop_map(|on_unreachable| SilenceCheck::Unavailable { error: "refused".into(), on_unreachable }),
    ]
}

prop_compose! {
    fn world()(
        global_auto_healing in switch(), global_execution in switch(), tenant in switch(), strategy_switch in switch(),
        kind_switch in switch(), executor_missing in proptest::bool::weighted(0.1),
        platform_dormant in proptest::bool::weighted(0.2), tenant_dormant in proptest::bool::weighted(0.2),
        backoff_until in proptest::option::of(900i64..1100), breaker in rejection(),
        ledger in ledger(), max_attempts in 1u32..5, cooldown_s in 0u64..200,
        anti_pattern in proptest::bool::weighted(0.2), out_of_scope in proptest::bool::weighted(0.1),
        ineffective_chain in proptest::bool::weighted(0.2),
        budget_exhausted in proptest::bool::weighted(0.2),
        window in proptest::option::weighted(0.2, prop_oneof![Just(WindowMode::Block), Just(WindowMode::ApprovalOnly)]),
        silence in silence(),
        scales in proptest::bool::weighted(0.5),
        gitops in proptest::option::weighted(0.3, prop_oneof![Just(GitOpsTool::ArgoCd), Just(GitOpsTool::Flux)]),
        allow_gitops in proptest::bool::weighted(0.3),
    ) -> World {
        World {
            out_of_scope, global_auto_healing, global_execution, tenant, strategy_switch, kind_switch, executor_missing,
            platform_dormant, tenant_dormant, backoff_until, breaker, ledger, max_attempts,
            cooldown_s, anti_pattern, ineffective_chain, budget_exhausted, window, silence,
            scales, gitops, allow_gitops,
            now: 1_000,
        }
    }
}

fn guard_of(v: &Verdict) -> Option<Guard> {
    v.block().map(Block::guard)
}

const PATHS: [HealingPath; 3] = [
    HealingPath::Automatic,
    HealingPath::Proposal,
    HealingPath::Approved,
];

/// The reference: which stages apply to a path, in order.
fn expected_guard(w: &World, path: HealingPath) -> Option<Guard> {
    let auto = path == HealingPath::Automatic;
    let off = Some(Switch::Off);
    let executes = path != HealingPath::Proposal;
    let switched_off = w.tenant == off
        || w.strategy_switch == off
        || w.kind_switch == off
        || (auto && w.global_auto_healing == off)
        || (executes && w.global_execution == off);
    let budget_blocks = !matches!(
        w.ledger
            .check(w.max_attempts, Duration::from_secs(w.cooldown_s), t(w.now)),
        BudgetVerdict::Allowed { .. }
    );
    let stages = [
        (w.out_of_scope, Guard::OutOfScope),
        (switched_off, Guard::KillSwitch),
        (w.executor_missing, Guard::NoExecutor),
        (
            auto && (w.platform_dormant || w.tenant_dormant),
            Guard::Dormant,
        ),
        (auto && w.window.is_some(), Guard::MaintenanceWindow),
        (
            auto && w.backoff_until.is_some_and(|u| w.now < u),
            Guard::Backoff,
        ),
        (
            !w.executor_missing && w.breaker.is_some(),
            Guard::CircuitOpen,
        ),
        (
            path != HealingPath::Approved && budget_blocks,
            match w.ledger.consecutive_failures >= w.max_attempts {
                true => Guard::MaxAttempts,
                false => Guard::Cooldown,
            },
        ),
        (auto && w.budget_exhausted, Guard::BudgetExhausted),
        (
            w.scales && w.gitops.is_some() && !w.allow_gitops,
            Guard::GitopsManaged,
        ),
        (
            auto && matches!(w.silence, SilenceCheck::Silenced { .. }),
            Guard::Silenced,
        ),
        (
            auto && matches!(
                w.silence,
                SilenceCheck::Unavailable {
                    on_unreachable: OnUnreachable::Block,
                    ..
                }
            ),
            Guard::SilenceCheckUnavailable,
        ),
        (auto && w.ineffective_chain, Guard::IneffectiveChain),
        (auto && w.anti_pattern, Guard::AntiPattern),
    ];
    stages.into_iter().find(|(hit, _)| *hit).map(|(_, g)| g)
}

proptest! {
    /// The rule checks exactly the stages of the module's table for each
    /// path, in the table's order: the first stage that blocks is reported.
    #[test]
    fn prop_guard_matches_the_table_for_every_path(w in world()) {
        for path in PATHS {
            prop_assert_eq!(guard_of(&w.verdict(path)), expected_guard(&w, path), "{:?}", path);
        }
    }

    /// An approved run is never stopped by dormancy (platform or tenant),
    /// backoff, the attempt budget or the anti-pattern memory, but always by
    /// the tenant, strategy and action-kind switches that apply to it.
    #[test]
    fn prop_approved_run_never_stopped_by_dormancy_but_always_by_its_switches(w in world()) {
        let mut calm = w.clone();
        calm.platform_dormant = false;
        calm.tenant_dormant = false;
        calm.backoff_until = None;
        calm.ledger = AttemptLedger::default();
        calm.anti_pattern = false;
        calm.ineffective_chain = false;
        calm.budget_exhausted = false;
        calm.window = None;
        calm.silence = SilenceCheck::Silenced { silences: vec!["s".into()] };
        prop_assert_eq!(w.verdict(HealingPath::Approved), calm.verdict(HealingPath::Approved));
        let off = Some(Switch::Off);
        let any_switch_off = w.tenant == off || w.strategy_switch == off || w.kind_switch == off
            || w.global_execution == off;
        prop_assert_eq!(
            guard_of(&w.verdict(HealingPath::Approved)) == Some(Guard::KillSwitch),
            any_switch_off && !w.out_of_scope
        );
    }

    /// A target outside the tenant's namespaces is refused on every path,
    /// whatever else holds, and nothing else is reported for it.
    #[test]
    fn prop_out_of_scope_is_refused_on_every_path_first(w in world()) {
        let outside = World { out_of_scope: true, ..w };
        for path in PATHS {
            prop_assert_eq!(guard_of(&outside.verdict(path)), Some(Guard::OutOfScope));
        }
    }

    /// The automatic path is stopped by every fail-safe on its own: turning
    /// any single stage on, in an otherwise calm world, blocks it.
    #[test]
    fn prop_every_failsafe_alone_stops_automatic_healing(stage in 0usize..19) {
        let mut w = World::calm();
        let expected = match stage {
            0 => { w.global_auto_healing = Some(Switch::Off); Guard::KillSwitch }
            1 => { w.tenant = Some(Switch::Off); Guard::KillSwitch }
            2 => { w.executor_missing = true; Guard::NoExecutor }
            3 => { w.platform_dormant = true; Guard::Dormant }
            4 => { w.tenant_dormant = true; Guard::Dormant }
            5 => { w.backoff_until = Some(w.now + 1); Guard::Backoff }
            6 => { w.breaker = Some(Rejection::PermanentOpen { reason: "x".into(), since: t(0) }); Guard::CircuitOpen }
            7 => { w.ledger.last_started_at = Some(t(w.now - 1)); Guard::Cooldown }
            8 => { w.ledger.consecutive_failures = w.max_attempts; Guard::MaxAttempts }
            9 => { w.global_execution = Some(Switch::Off); Guard::KillSwitch }
            10 => { w.out_of_scope = true; Guard::OutOfScope }
            16 => { w.ineffective_chain = true; Guard::IneffectiveChain }
            17 => { w.scales = true; w.gitops = Some(GitOpsTool::Flux); Guard::GitopsManaged }
            11 => { w.budget_exhausted = true; Guard::BudgetExhausted }
            12 => { w.window = Some(WindowMode::Block); Guard::MaintenanceWindow }
            13 => { w.window = Some(WindowMode::ApprovalOnly); Guard::MaintenanceWindow }
            14 => { w.silence = SilenceCheck::Silenced { silences: vec!["s".into()] }; Guard::Silenced }
            15 => {
                w.silence = SilenceCheck::Unavailable { error: "x".into(), on_unreachable: OnUnreachable::Block };
                Guard::SilenceCheckUnavailable
            }
            _ => { w.anti_pattern = true; Guard::AntiPattern }
        };
        prop_assert_eq!(World::calm().verdict(HealingPath::Automatic), Verdict::Allow);
        prop_assert_eq!(guard_of(&w.verdict(HealingPath::Automatic)), Some(expected));
    }

    /// A proposal only asks a human: dormancy, backoff, the global
    /// `auto_healing` and `execution` switches and the anti-pattern memory
    /// never stop it.
    #[test]
    fn prop_proposal_not_stopped_by_automation_failsafes(w in world()) {
        let mut calm = w.clone();
        calm.platform_dormant = false;
        calm.tenant_dormant = false;
        calm.backoff_until = None;
        calm.global_auto_healing = Some(Switch::Off);
        calm.global_execution = Some(Switch::Off);
        calm.anti_pattern = false;
        calm.ineffective_chain = false;
        calm.budget_exhausted = false;
        calm.window = None;
        calm.silence = SilenceCheck::Silenced { silences: vec!["s".into()] };
        prop_assert_eq!(w.verdict(HealingPath::Proposal), calm.verdict(HealingPath::Proposal));
    }

    /// The freeze (global `execution` off) stops every path that executes,
    /// automatic and approved alike, and never a proposal.
    #[test]
    fn prop_freeze_stops_every_execution_and_no_question(w in world()) {
        // (An out-of-scope target is refused before any switch is read.)
        let frozen = World { global_execution: Some(Switch::Off), out_of_scope: false, ..w.clone() };
        for path in [HealingPath::Automatic, HealingPath::Approved] {
            prop_assert_eq!(guard_of(&frozen.verdict(path)), Some(Guard::KillSwitch));
        }
        let unfrozen = World { global_execution: None, ..frozen.clone() };
        prop_assert_eq!(frozen.verdict(HealingPath::Proposal), unfrozen.verdict(HealingPath::Proposal));
    }

    /// A maintenance window stops only the automatic path; the block asks
    /// for a human exactly when the deciding window is `approval_only`.
    #[test]
    fn prop_windows_stop_only_automation_and_approval_only_asks_a_human(w in world()) {
        let open = World { window: None, ..w.clone() };
        for path in [HealingPath::Proposal, HealingPath::Approved] {
            prop_assert_eq!(w.verdict(path), open.verdict(path));
        }
        let v = w.verdict(HealingPath::Automatic);
        if let Some(b) = v.block() {
            prop_assert_eq!(b.asks_for_approval(),
                b.guard() == Guard::MaintenanceWindow && w.window == Some(WindowMode::ApprovalOnly));
        }
    }

    /// The silence stage comes after every stage but the anti-patterns:
    /// leaving it unasked changes the verdict only where the earlier stages
    /// allow, so the engine asks the Alertmanager only then.
    #[test]
    fn prop_silences_only_matter_when_every_earlier_stage_allows(w in world()) {
        for path in PATHS {
            let full = w.verdict_gathered(path, false, true, true);
            let partial = w.verdict_gathered(path, false, false, true);
            if partial.is_allowed() {
                prop_assert!(full.is_allowed() || matches!(guard_of(&full),
                    Some(Guard::Silenced | Guard::SilenceCheckUnavailable)));
            } else {
                prop_assert_eq!(full, partial);
            }
        }
    }

    /// The GitOps stage comes after every stage but the silences and the
    /// remembered failures: leaving the target's owner unasked changes the
    /// verdict only where the earlier stages allow, so the engine asks the
    /// executor only then, on every path.
    #[test]
    fn prop_gitops_only_matters_when_every_earlier_stage_allows(w in world()) {
        for path in PATHS {
            let full = w.verdict_gathered(path, false, false, true);
            let partial = w.verdict_gathered(path, false, false, false);
            if partial.is_allowed() {
                prop_assert!(full.is_allowed() || guard_of(&full) == Some(Guard::GitopsManaged));
            } else {
                prop_assert_eq!(full, partial);
            }
        }
    }

    /// The anti-pattern stage is last: leaving the remembered failures out
    /// changes the verdict only where it would otherwise allow, so the engine
    /// may gather them only then.
    #[test]
    fn prop_anti_patterns_only_matter_when_everything_else_allows(w in world()) {
        for path in PATHS {
            let full = w.verdict_with(path, true);
            let partial = w.verdict_with(path, false);
            if partial.is_allowed() {
                prop_assert!(
                    full.is_allowed()
                        || matches!(guard_of(&full), Some(Guard::AntiPattern | Guard::IneffectiveChain))
                );
            } else {
                prop_assert_eq!(full, partial);
            }
        }
    }

    /// The status page's answer agrees with the full rule: when the scope is
    /// switched off or dormant, no strategy may heal on that path.
    #[test]
    fn prop_scope_verdict_blocks_imply_every_strategy_blocked(w in world()) {
        let strategy_free = World {
            strategy_switch: None, kind_switch: None, executor_missing: false, out_of_scope: false,
            ..w.clone()
        };
        for path in PATHS {
            let mut global = GlobalSwitches::default();
            if let Some(s) = w.global_auto_healing {
                global.features.insert(Feature::AutoHealing, s);
            }
            if let Some(s) = w.global_execution {
                global.features.insert(Feature::Execution, s);
            }
            let tenant = TenantSwitches { tenant: w.tenant, ..TenantSwitches::default() };
            let (p, d) = (dormant("p"), dormant("t"));
            let scope = scope_verdict(path, &ScopeState {
                global: &global,
                tenant: &tenant,
                platform_dormant: w.platform_dormant.then_some(&p),
                tenant_dormant: w.tenant_dormant.then_some(&d),
            });
            if let Some(b) = scope.block() {
                prop_assert_eq!(guard_of(&strategy_free.verdict(path)), Some(b.guard()));
            }
        }
    }
}

#[test]
fn blocks_name_their_guard_retry_and_detail() {
    let until = t(1_060);
    let cases = [
        (
            Block::OutOfScope {
                namespace: "unauthorized".into(),
            },
            Guard::OutOfScope,
            Retry::Never,
            "namespace \"unauthorized\" is outside the tenant's namespaces; nothing was run",
        ),
        (
            Block::CoolingDown { until },
            Guard::Cooldown,
            Retry::At(until),
            "cooling down until 1970-01-01T00:17:40.000000Z",
        ),
        (
            Block::BackingOff { until },
            Guard::Backoff,
            Retry::At(until),
            "backing off until 1970-01-01T00:17:40.000000Z",
        ),
        (
            Block::BreakerRejects {
                breaker: "kubernetes".into(),
                rejection: Rejection::Open { retry_at: until },
            },
            Guard::CircuitOpen,
            Retry::At(until),
            "breaker kubernetes: circuit breaker open until 1970-01-01T00:17:40.000000Z",
        ),
        (
            Block::BreakerRejects {
                breaker: "kubernetes".into(),
                rejection: Rejection::ProbesExhausted { max_probes: 1 },
            },
            Guard::CircuitOpen,
            Retry::Soon,
            "breaker kubernetes: circuit breaker half-open; all 1 probe slot(s) in use",
        ),
        (
            Block::BreakerRejects {
                breaker: "kubernetes".into(),
                rejection: Rejection::PermanentOpen {
                    reason: "fatal failure class: fatal".into(),
                    since: t(0),
                },
            },
            Guard::CircuitOpen,
            Retry::Never,
            "breaker kubernetes: circuit breaker PERMANENT_OPEN since 1970-01-01T00:00:00.000000Z: fatal failure class: fatal",
        ),
        (
            Block::MaxAttemptsReached {
                failures: 3,
                max: 3,
            },
            Guard::MaxAttempts,
            Retry::Never,
            "3 consecutive failed attempts (max 3); fix the cause, then reset",
        ),
        (
            Block::SwitchedOff {
                by: SwitchLayer::Global(Feature::AutoHealing),
            },
            Guard::KillSwitch,
            Retry::Never,
            "switched off at global:auto_healing",
        ),
        (
            Block::NoExecutor {
                kind: ActionKind::new("evict_pod").unwrap(),
            },
            Guard::NoExecutor,
            Retry::Never,
            "no configured executor runs ActionKind(evict_pod)",
        ),
        (
            Block::PlatformDormant {
                reason: "maintenance".into(),
            },
            Guard::Dormant,
            Retry::Never,
            "engine dormant: maintenance",
        ),
        (
            Block::TenantDormant {
                since: t(0),
                reason: "too many failures".into(),
            },
            Guard::Dormant,
            Retry::Never,
            "tenant dormant since 1970-01-01T00:00:00.000000Z: too many failures",
        ),
        (
            Block::KnownFailure {
                strategy: StrategyId::new("restart"),
                symptoms: SymptomsHash::from_hex("00112233445566ff"),
                knowledge_id: KnowledgeId::new("kn-7"),
            },
            Guard::AntiPattern,
            Retry::Never,
            "strategy restart already failed for these symptoms (00112233445566ff); see knowledge entry kn-7",
        ),
        (
            Block::IneffectiveChain {
                strategy: StrategyId::new("restart"),
                knowledge_id: KnowledgeId::new("kn-8"),
            },
            Guard::IneffectiveChain,
            Retry::Never,
            "strategy restart was ineffective on this target too often; see knowledge entry kn-8 (archive it to allow the strategy again)",
        ),
        (
            Block::GitOpsManaged {
                kind: ActionKind::new("scale").unwrap(),
                owner: crate::gitops::GitOpsOwner {
                    tool: GitOpsTool::Flux,
                    evidence: "kustomize.toolkit.fluxcd.io/name=apps".into(),
                },
            },
            Guard::GitopsManaged,
            Retry::Never,
            "the target is managed by flux (kustomize.toolkit.fluxcd.io/name=apps), which would revert scale; not acting (set allow_gitops_managed = true on the strategy if the tool ignores this change)",
        ),
        (
            Block::DryRunFailed {
                kind: ActionKind::new("scale").unwrap(),
                message: "admission webhook denied the request".into(),
            },
            Guard::DryRunFailed,
            Retry::Soon,
            "the server-side dry run of scale failed, so it was not applied: admission webhook denied the request",
        ),
    ];
    for (block, guard, retry, text) in cases {
        assert_eq!(block.guard(), guard, "{block:?}");
        assert_eq!(block.retry(), retry, "{block:?}");
        assert_eq!(block.retry().is_retryable(), retry != Retry::Never);
        assert_eq!(block.to_string(), text);
    }
    assert_eq!(
        serde_json::to_value(Guard::CircuitOpen).unwrap(),
        "circuit_open"
    );
    assert_eq!(Guard::OutOfScope.as_str(), "out_of_scope");
    assert_eq!(
        Block::of_budget(BudgetVerdict::Allowed { attempt_number: 1 }, 3),
        None
    );
}

#[test]
fn a_verdict_says_whether_it_allows_and_which_block() {
    assert!(Verdict::Allow.is_allowed());
    assert_eq!(Verdict::Allow.block(), None);
    let block = Block::BackingOff { until: t(5) };
    let blocked = Verdict::Block(block.clone());
    assert!(!blocked.is_allowed());
    assert_eq!(blocked.block(), Some(&block));
    let calm = World::calm();
    for path in PATHS {
        assert!(calm.verdict(path).is_allowed(), "{path:?}");
    }
}
