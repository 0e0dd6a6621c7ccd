//! The policy records of the shared safety state (issue 16): remediation
//! budget usage and maintenance windows opened through the API. They are
//! ordinary safety records, so these checks add what is new about them: the
//! store keeps every field of both kinds, keeps them per tenant, and a
//! budget slot taken in an update is taken atomically (no two concurrent
//! starts both take the last slot).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hale_domain::maintenance::{Day, MaintenanceWindow, Schedule, WindowMode, WindowScope};
use hale_domain::remediation::{BudgetLimits, RemediationBudgets, RemediationUsage};
use hale_domain::safety::{SafetyKey, SafetyValue};
use hale_domain::{Actor, OperationId, StrategyId};
use hale_engine::ports::{Ledgers, SafetyRecords, SafetyScope, StoreAdapter};

use super::support::{UNICODE, at_micros, join_all, ok, same};
use crate::fixtures::unique_tenant;

fn usage_of(records: Option<&SafetyRecords>) -> RemediationUsage {
    records
        .and_then(|t| t.records.iter().find(|r| r.key == SafetyKey::Remediation))
        .and_then(|r| match &r.value {
            SafetyValue::Remediation(u) => Some(u.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn window() -> MaintenanceWindow {
    MaintenanceWindow {
        id: "kernel-2026-12".into(),
        mode: WindowMode::ApprovalOnly,
        scope: WindowScope {
            namespaces: vec!["prod".into()],
            strategies: vec![StrategyId::new("restart")],
        },
        schedule: Schedule::Weekly {
            days: vec![Day::Sat, Day::Sun],
            start: "22:30".parse().unwrap_or_else(|e| panic!("{e}")),
            duration: Duration::from_secs(5_400),
            time_zone: "Europe/Berlin".parse().unwrap_or_else(|e| panic!("{e}")),
        },
        reason: UNICODE.to_owned(),
        created_by: Some(Actor::new("ops@example.com")),
        created_at: Some(at_micros(3)),
        ended: None,
    }
}

/// Usage and window records come back with every field (microseconds,
/// Unicode, time zones), and only to their tenant.
pub async fn policy_records_round_trip_per_tenant<S: StoreAdapter>(store: Arc<S>) {
    let (mine, other) = (unique_tenant(), unique_tenant());
    let mut usage = RemediationUsage::default();
    let budgets = RemediationBudgets::default();
    let started = usage.start(
        &budgets,
        false,
        &OperationId::new("op-1"),
        "prod",
        at_micros(5),
    );
    ok(
        started.map_err(|e| hale_engine::ports::StoreError::Invalid(e.to_string())),
        "start",
    );
    usage.add_pods(&OperationId::new("op-1"), 3);
    let mut ended = window();
    ended.id = "ended".into();
    ended
        .end(&Actor::new("bob"), "done", at_micros(9))
        .unwrap_or_else(|e| panic!("{e}"));
    let writes = vec![
        (
            SafetyKey::Remediation,
            SafetyValue::Remediation(usage.clone()),
        ),
        (
            SafetyKey::Windows,
            SafetyValue::Windows(vec![window(), ended.clone()]),
        ),
    ];
    let scope = SafetyScope::Tenant(mine.clone());
    ok(
        store
            .update_safety(&scope, Ledgers::None, &mut |_| writes.clone())
            .await,
        "update_safety writes policy records",
    );
    let read = ok(store.safety_records(&scope, 0).await, "safety_records");
    let got: BTreeMap<SafetyKey, SafetyValue> = read.values().collect();
    same(
        &got.get(&SafetyKey::Remediation),
        &Some(&SafetyValue::Remediation(usage)),
        "the remediation usage record keeps every field",
    );
    same(
        &got.get(&SafetyKey::Windows),
        &Some(&SafetyValue::Windows(vec![window(), ended])),
        "the windows record keeps every field",
    );
    let theirs = ok(
        store.safety_records(&SafetyScope::Tenant(other), 0).await,
        "safety_records of another tenant",
    );
    same(
        &theirs.records.len(),
        &0,
        "another tenant sees none of the tenant's policy records",
    );
}

/// Concurrent starts against an in-flight cap: exactly the cap's number of
/// them take a slot, whatever the interleaving (the check and the take are
/// one serialized update).
pub async fn concurrent_budget_starts_never_exceed_the_cap<S: StoreAdapter>(store: Arc<S>) {
    const TASKS: usize = 24;
    const CAP: u32 = 5;
    let scope = SafetyScope::Tenant(unique_tenant());
    let budgets = Arc::new(RemediationBudgets {
        tenant: Some(BudgetLimits {
            max_in_flight: Some(CAP),
            max_started: None,
            max_pods_disrupted: None,
            window: Duration::from_secs(3_600),
        }),
        ..RemediationBudgets::default()
    });
    let tasks = (0..TASKS).map(|n| {
        let (store, scope, budgets) = (store.clone(), scope.clone(), budgets.clone());
        tokio::spawn(async move {
            let op = OperationId::new(format!("op-{n}"));
            let mut taken = false;
            store
                .update_safety(&scope, Ledgers::None, &mut |view| {
                    let mut usage = usage_of(view.tenant);
                    taken = usage
                        .start(&budgets, true, &op, "prod", at_micros(1))
                        .is_ok();
                    match taken {
                        true => vec![(SafetyKey::Remediation, SafetyValue::Remediation(usage))],
                        false => Vec::new(),
                    }
                })
                .await
                .map(|_| taken)
        })
    });
    let mut winners = 0;
    for r in join_all(tasks.collect()).await {
        if ok(r, "concurrent budget start") {
            winners += 1;
        }
    }
    same(
        &winners,
        &CAP,
        "exactly the cap's number of starts take a slot",
    );
    let read = ok(store.safety_records(&scope, 0).await, "safety_records");
    same(
        &usage_of(Some(&read)).runs.len(),
        &(CAP as usize),
        "the stored usage holds exactly the slots taken",
    );
}
