//! The shared safety state ([`hale_engine::ports::safety`]) and readiness.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hale_domain::Actor;
use hale_domain::breaker::shared::SharedBreaker;
use hale_domain::budget::AttemptLedger;
use hale_domain::dormancy::Dormancy;
use hale_domain::kill_switch::{Feature, GlobalSwitches, Switch, TenantSwitches};
use hale_domain::safety::{BackoffRecord, LedgerKey, SafetyKey, SafetyValue};
use hale_engine::ports::{Ledgers, SafetyRecords, SafetyScope, StoreAdapter};

use super::support::{UNICODE, at, at_micros, holds, join_all, ok, same};
use crate::fixtures::{self, unique_tenant};

fn ledger_key(n: usize) -> LedgerKey {
    LedgerKey::new(
        &hale_domain::StrategyId::new("restart"),
        &fixtures::resource("prod", &format!("app-{n}")),
    )
}

/// One of every record a tenant has, with values that trip encodings
/// (microseconds, Unicode).
fn tenant_records() -> Vec<(SafetyKey, SafetyValue)> {
    let mut switches = TenantSwitches {
        tenant: Some(Switch::On),
        ..TenantSwitches::default()
    };
    switches
        .strategies
        .insert(hale_domain::StrategyId::new("scale-up"), Switch::Off);
    let mut dormancy = Dormancy::new(3);
    dormancy.enter_manual(UNICODE, &Actor::new("ops@example.com"), at_micros(7));
    let mut breaker = SharedBreaker::default();
    breaker.on_outcome(
        Err(hale_domain::failure::FailureClass::Fatal),
        10,
        at_micros(9),
    );
    vec![
        (SafetyKey::Switches, SafetyValue::TenantSwitches(switches)),
        (SafetyKey::Dormancy, SafetyValue::Dormancy(dormancy)),
        (
            SafetyKey::Backoff,
            SafetyValue::Backoff(BackoffRecord {
                failures: 4,
                next_healing_at: Some(at_micros(11)),
            }),
        ),
        (
            SafetyKey::Ledger(ledger_key(1)),
            SafetyValue::Ledger(AttemptLedger {
                consecutive_failures: 2,
                total_attempts: 5,
                last_started_at: Some(at_micros(13)),
            }),
        ),
        (
            SafetyKey::Breaker("kubernetes".into()),
            SafetyValue::Breaker(breaker),
        ),
    ]
}

fn as_map(r: &SafetyRecords) -> BTreeMap<SafetyKey, (u64, SafetyValue)> {
    r.records
        .iter()
        .map(|x| (x.key.clone(), (x.version, x.value.clone())))
        .collect()
}

/// Records round trip with their versions: an update's writes carry the
/// scope's new epoch, read back equal (microseconds, Unicode), and
/// `safety_records(since)` returns exactly what was written after `since`.
pub async fn safety_records_round_trip_with_versions<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let scope = SafetyScope::Tenant(t.clone());
    let empty = ok(store.safety_records(&scope, 0).await, "safety_records");
    same(&empty.epoch, &0, "a scope never written has epoch 0");
    holds(
        empty.records.is_empty(),
        "a scope never written has no records",
    );
    let records = tenant_records();
    let mut first = records.clone();
    let done = ok(
        store
            .update_safety(&scope, Ledgers::All, &mut move |_| {
                std::mem::take(&mut first)
            })
            .await,
        "update_safety",
    );
    same(
        &done.epoch,
        &1,
        "the first writing update makes the epoch 1",
    );
    holds(
        done.written.iter().all(|r| r.version == 1),
        "every record an update writes carries the scope's new epoch",
    );
    let read = ok(store.safety_records(&scope, 0).await, "safety_records");
    same(&read.epoch, &1, "safety_records reports the scope's epoch");
    let expected: BTreeMap<SafetyKey, (u64, SafetyValue)> =
        records.into_iter().map(|(k, v)| (k, (1, v))).collect();
    same(
        &as_map(&read),
        &expected,
        "every record reads back equal with its version",
    );
    let second = ok(
        store
            .update_safety(&scope, Ledgers::None, &mut |view| {
                holds(
                    view.tenant.is_some_and(|t| t.epoch == 1),
                    "an update sees the scope's current epoch",
                );
                vec![(
                    SafetyKey::Backoff,
                    SafetyValue::Backoff(BackoffRecord::default()),
                )]
            })
            .await,
        "update_safety",
    );
    same(
        &second.epoch,
        &2,
        "each writing update adds one to the epoch",
    );
    let changed = ok(store.safety_records(&scope, 1).await, "safety_records");
    same(
        &changed
            .records
            .iter()
            .map(|r| (r.key.clone(), r.version))
            .collect::<Vec<_>>(),
        &vec![(SafetyKey::Backoff, 2)],
        "safety_records(since) returns only the records written after `since`",
    );
    let none = ok(
        store
            .update_safety(&scope, Ledgers::None, &mut |_| Vec::new())
            .await,
        "update_safety",
    );
    same(
        &none.epoch,
        &2,
        "an update that writes nothing leaves the epoch alone",
    );
    let epochs = ok(store.safety_epochs().await, "safety_epochs");
    holds(
        epochs.contains(&(scope.clone(), 2)),
        "safety_epochs lists every written scope with its epoch",
    );
}

/// An update loads every record of the tenant but the ledgers it did not
/// ask for.
pub async fn safety_update_loads_only_the_ledgers_asked_for<S: StoreAdapter>(store: Arc<S>) {
    let scope = SafetyScope::Tenant(unique_tenant());
    let writes: Vec<(SafetyKey, SafetyValue)> = (0..3)
        .map(|n| {
            (
                SafetyKey::Ledger(ledger_key(n)),
                SafetyValue::Ledger(AttemptLedger::default()),
            )
        })
        .chain([(
            SafetyKey::Dormancy,
            SafetyValue::Dormancy(Dormancy::default()),
        )])
        .collect();
    let mut first = writes.clone();
    ok(
        store
            .update_safety(&scope, Ledgers::None, &mut move |_| {
                std::mem::take(&mut first)
            })
            .await,
        "update_safety",
    );
    let seen = |ledgers: Ledgers<'_>| {
        let store = store.clone();
        let scope = scope.clone();
        let ledgers = match ledgers {
            Ledgers::None => None,
            Ledgers::Only(k) => Some(Some(k.to_vec())),
            Ledgers::All => Some(None),
        };
        async move {
            let mut keys = Vec::new();
            let sel = match &ledgers {
                None => Ledgers::None,
                Some(Some(k)) => Ledgers::Only(k),
                Some(None) => Ledgers::All,
            };
            ok(
                store
                    .update_safety(&scope, sel, &mut |view| {
                        keys = view
                            .tenant
                            .map(|t| t.records.iter().map(|r| r.key.clone()).collect())
                            .unwrap_or_default();
                        Vec::new()
                    })
                    .await,
                "update_safety",
            );
            keys
        }
    };
    same(
        &seen(Ledgers::None).await,
        &vec![SafetyKey::Dormancy],
        "Ledgers::None loads no ledger",
    );
    let one = [ledger_key(1)];
    let got = seen(Ledgers::Only(&one)).await;
    holds(
        got.contains(&SafetyKey::Ledger(ledger_key(1)))
            && !got.contains(&SafetyKey::Ledger(ledger_key(0)))
            && got.contains(&SafetyKey::Dormancy),
        "Ledgers::Only loads those ledgers and every other record",
    );
    same(
        &seen(Ledgers::All).await.len(),
        &4,
        "Ledgers::All loads every record",
    );
}

/// A tenant's records are invisible to every other tenant, and an update of
/// one tenant never sees or writes another's.
pub async fn safety_tenant_isolation<S: StoreAdapter>(store: Arc<S>) {
    let (a, b) = (
        SafetyScope::Tenant(unique_tenant()),
        SafetyScope::Tenant(unique_tenant()),
    );
    let mut writes = tenant_records();
    ok(
        store
            .update_safety(&a, Ledgers::All, &mut move |_| std::mem::take(&mut writes))
            .await,
        "update_safety",
    );
    let theirs = ok(store.safety_records(&b, 0).await, "safety_records");
    holds(
        theirs.records.is_empty(),
        "tenant B never reads tenant A's records",
    );
    ok(
        store
            .update_safety(&b, Ledgers::All, &mut |view| {
                holds(
                    view.tenant.is_some_and(|t| t.records.is_empty()),
                    "an update of tenant B never sees tenant A's records",
                );
                vec![(SafetyKey::Dormancy, SafetyValue::Dormancy(Dormancy::new(1)))]
            })
            .await,
        "update_safety",
    );
    let mine = ok(store.safety_records(&a, 0).await, "safety_records");
    same(
        &mine.epoch,
        &1,
        "tenant B's update leaves tenant A's epoch alone",
    );
    same(
        &mine.records.len(),
        &tenant_records().len(),
        "tenant B's update leaves tenant A's records alone",
    );
}

fn ledger_write(n: usize, attempts: u32) -> (SafetyKey, SafetyValue) {
    (
        SafetyKey::Ledger(ledger_key(n)),
        SafetyValue::Ledger(AttemptLedger {
            total_attempts: attempts,
            ..AttemptLedger::default()
        }),
    )
}

async fn write<S: StoreAdapter>(
    store: &S,
    scope: &SafetyScope,
    writes: Vec<(SafetyKey, SafetyValue)>,
) -> u64 {
    let mut writes = Some(writes);
    ok(
        store
            .update_safety(scope, Ledgers::All, &mut move |_| {
                writes.take().unwrap_or_default()
            })
            .await,
        "update_safety",
    )
    .epoch
}

/// Pruning deletes a ledger only while its version is the one given: a
/// ledger rewritten since survives, an absent one is no error, a second
/// prune deletes nothing; the epoch does not move, and a later write of a
/// pruned key is seen by `safety_records(since)` as any write is.
pub async fn safety_prune_deletes_only_ledgers_at_the_given_version<S: StoreAdapter>(
    store: Arc<S>,
) {
    let t = unique_tenant();
    let scope = SafetyScope::Tenant(t.clone());
    let mut first: Vec<_> = (0..3).map(|n| ledger_write(n, 1)).collect();
    first.push((SafetyKey::Dormancy, SafetyValue::Dormancy(Dormancy::new(3))));
    write(store.as_ref(), &scope, first).await;
    let epoch = write(store.as_ref(), &scope, vec![ledger_write(2, 2)]).await;
    same(&epoch, &2, "two writing updates");
    let spent = [
        (ledger_key(0), 1),
        (ledger_key(1), 1),
        (ledger_key(2), 1),
        (ledger_key(9), 1),
    ];
    let mut deleted = ok(store.prune_ledgers(&t, &spent).await, "prune_ledgers");
    deleted.sort();
    same(
        &deleted,
        &vec![ledger_key(0), ledger_key(1)],
        "prune deletes the ledgers still at the given version and reports them",
    );
    let read = ok(store.safety_records(&scope, 0).await, "safety_records");
    same(&read.epoch, &2, "a prune leaves the epoch alone");
    same(
        &read
            .records
            .iter()
            .map(|r| (r.key.clone(), r.version))
            .collect::<BTreeMap<_, _>>(),
        &BTreeMap::from([
            (SafetyKey::Dormancy, 1),
            (SafetyKey::Ledger(ledger_key(2)), 2),
        ]),
        "a ledger rewritten since the version given survives, and so does every other record",
    );
    same(
        &ok(store.prune_ledgers(&t, &spent).await, "prune_ledgers"),
        &Vec::new(),
        "pruning again deletes nothing",
    );
    let epoch = write(store.as_ref(), &scope, vec![ledger_write(0, 7)]).await;
    let since = ok(store.safety_records(&scope, 2).await, "safety_records");
    same(
        &since
            .records
            .iter()
            .map(|r| (r.key.clone(), r.version))
            .collect::<Vec<_>>(),
        &vec![(SafetyKey::Ledger(ledger_key(0)), epoch)],
        "a pruned key written again is a change like any other",
    );
}

/// Pruning names ledgers of one tenant: another tenant's ledger under the
/// same key and version survives, and so does a record of another kind
/// whose name is the one given.
pub async fn safety_prune_touches_only_the_tenants_ledgers<S: StoreAdapter>(store: Arc<S>) {
    let (a, b) = (unique_tenant(), unique_tenant());
    let (sa, sb) = (
        SafetyScope::Tenant(a.clone()),
        SafetyScope::Tenant(b.clone()),
    );
    write(store.as_ref(), &sa, tenant_records()).await;
    write(store.as_ref(), &sb, tenant_records()).await;
    let spent = [
        (ledger_key(1), 1),
        (LedgerKey::from_stored("kubernetes"), 1),
        (LedgerKey::from_stored(""), 1),
    ];
    same(
        &ok(store.prune_ledgers(&b, &spent).await, "prune_ledgers"),
        &vec![ledger_key(1)],
        "prune deletes the tenant's ledger, not its breaker or switches of the same name",
    );
    let theirs = ok(store.safety_records(&sb, 0).await, "safety_records");
    same(
        &theirs
            .records
            .iter()
            .map(|r| r.key.clone())
            .collect::<Vec<_>>()
            .len(),
        &(tenant_records().len() - 1),
        "only the ledger is gone",
    );
    holds(
        theirs
            .records
            .iter()
            .any(|r| r.key == SafetyKey::Breaker("kubernetes".into()))
            && theirs.records.iter().any(|r| r.key == SafetyKey::Switches),
        "records of other kinds are never pruned",
    );
    let mine = ok(store.safety_records(&sa, 0).await, "safety_records");
    same(
        &as_map(&mine).len(),
        &tenant_records().len(),
        "another tenant's ledger under the same key and version survives",
    );
}

/// The platform's records are the platform's own scope, and every tenant
/// update sees them as they are. (Writes the platform scope: run no other
/// platform writer against the same database at the same time.)
pub async fn safety_platform_scope_is_seen_by_tenant_updates<S: StoreAdapter>(store: Arc<S>) {
    let before = ok(
        store.safety_records(&SafetyScope::Platform, 0).await,
        "safety_records",
    );
    let mut switches = GlobalSwitches::default();
    switches.features.insert(Feature::Execution, Switch::Off);
    let value = SafetyValue::GlobalSwitches(switches);
    let written = value.clone();
    let done = ok(
        store
            .update_safety(&SafetyScope::Platform, Ledgers::None, &mut move |view| {
                holds(
                    view.tenant.is_none(),
                    "a platform update sees no tenant records",
                );
                vec![(SafetyKey::Switches, written.clone())]
            })
            .await,
        "update_safety",
    );
    holds(
        done.epoch > before.epoch,
        "a platform update adds to the platform's epoch",
    );
    let scope = SafetyScope::Tenant(unique_tenant());
    ok(
        store
            .update_safety(&scope, Ledgers::None, &mut |view| {
                holds(
                    view.platform
                        .records
                        .iter()
                        .any(|r| r.key == SafetyKey::Switches && r.value == value),
                    "a tenant update sees the platform's current records",
                );
                Vec::new()
            })
            .await,
        "update_safety",
    );
    let unfrozen = SafetyValue::GlobalSwitches(GlobalSwitches::default());
    ok(
        store
            .update_safety(&SafetyScope::Platform, Ledgers::None, &mut move |_| {
                vec![(SafetyKey::Switches, unfrozen.clone())]
            })
            .await,
        "update_safety",
    );
}

/// Many tasks updating one record at once lose nothing: 32 tasks that each
/// add one to a ledger ten times end at 320, as the sequential model says,
/// and the scope's epoch counts every update.
pub async fn concurrent_safety_updates_lose_nothing<S: StoreAdapter>(store: Arc<S>) {
    const TASKS: usize = 32;
    const EACH: u32 = 10;
    let scope = SafetyScope::Tenant(unique_tenant());
    let key = ledger_key(7);
    let tasks = (0..TASKS).map(|_| {
        let store = store.clone();
        let scope = scope.clone();
        let key = key.clone();
        tokio::spawn(async move {
            for _ in 0..EACH {
                let keys = [key.clone()];
                store
                    .update_safety(&scope, Ledgers::Only(&keys), &mut |view| {
                        let current = view
                            .tenant
                            .and_then(|t| {
                                t.records
                                    .iter()
                                    .find(|r| r.key == SafetyKey::Ledger(key.clone()))
                            })
                            .and_then(|r| match &r.value {
                                SafetyValue::Ledger(l) => Some(l.clone()),
                                _ => None,
                            })
                            .unwrap_or_default();
                        let mut next = current;
                        next.total_attempts += 1;
                        next.last_started_at = Some(at(i64::from(next.total_attempts)));
                        vec![(SafetyKey::Ledger(key.clone()), SafetyValue::Ledger(next))]
                    })
                    .await?;
                tokio::time::sleep(Duration::from_micros(50)).await;
            }
            Ok::<(), hale_engine::ports::StoreError>(())
        })
    });
    for r in join_all(tasks.collect()).await {
        ok(r, "concurrent update_safety");
    }
    let read = ok(store.safety_records(&scope, 0).await, "safety_records");
    let total = read.records.iter().find_map(|r| match &r.value {
        SafetyValue::Ledger(l) => Some(l.total_attempts),
        _ => None,
    });
    let n = u32::try_from(TASKS).unwrap_or(u32::MAX) * EACH;
    same(
        &total,
        &Some(n),
        "concurrent updates of one record lose nothing (the sequential model's count)",
    );
    same(
        &read.epoch,
        &u64::from(n),
        "every concurrent update adds exactly one to the epoch",
    );
}

/// The store answers `ping` when it takes queries.
pub async fn ping_answers<S: StoreAdapter>(store: Arc<S>) {
    ok(store.ping().await, "ping answers Ok when the backend is up");
}
