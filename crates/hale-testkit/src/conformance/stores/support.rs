//! Shared helpers of the store checks: instants, and assertions whose panic
//! messages name the contract clause that broke.

use std::fmt::Debug;

use std::future::Future;

use hale_domain::{TenantId, Timestamp};
use hale_engine::ports::{AuditFilter, Page, PageRequest, StoreAdapter, StoreError};
use tokio::task::JoinHandle;

/// The suite's reference instant, 2027-01-15T08:00:00.123456Z: it has
/// microseconds so that a store that truncates to milliseconds fails.
pub(super) const T0: Timestamp = Timestamp::from_unix_micros(1_800_000_000_123_456);

/// `T0` plus `secs` seconds (negative goes back).
pub(super) fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0.unix_micros() + secs * 1_000_000)
}

/// `T0` plus `micros` microseconds.
pub(super) fn at_micros(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0.unix_micros() + micros)
}

/// 0001-01-01T00:00:00.000001Z: the earliest instant the suite stores.
pub(super) fn far_past() -> Timestamp {
    Timestamp::from_unix_micros(-62_135_596_800_000_000 + 1)
}

/// 9999-12-31T23:59:59.999999Z: the latest instant the suite stores.
pub(super) fn far_future() -> Timestamp {
    Timestamp::from_unix_micros(253_402_300_799_999_999)
}

/// Text that trips encodings: CJK, Hangul, emoji, quotes, a backslash, a
/// newline and a tab.
pub(super) const UNICODE: &str =
    "重启 checkout — 재시작 ✓ 🚑 \"quoted\" 'single' back\\slash\nline two\ttab";

/// The value of an `Ok`, or a panic naming the clause.
#[track_caller]
pub(super) fn ok<T>(res: Result<T, StoreError>, clause: &str) -> T {
    match res {
        Ok(v) => v,
        Err(e) => panic!("store contract broken: {clause}\n  expected: Ok\n  got: Err({e:?})"),
    }
}

#[track_caller]
fn expect_err<T: Debug>(
    res: Result<T, StoreError>,
    want: &str,
    is: fn(&StoreError) -> bool,
    clause: &str,
) {
    match res {
        Err(e) if is(&e) => {}
        other => {
            panic!("store contract broken: {clause}\n  expected: Err({want}(..))\n  got: {other:?}")
        }
    }
}

/// Asserts `Err(StoreError::Conflict(_))`.
#[track_caller]
pub(super) fn conflict<T: Debug>(res: Result<T, StoreError>, clause: &str) {
    expect_err(
        res,
        "Conflict",
        |e| matches!(e, StoreError::Conflict(_)),
        clause,
    );
}

/// Asserts `Err(StoreError::NotFound(_))`.
#[track_caller]
pub(super) fn not_found<T: Debug>(res: Result<T, StoreError>, clause: &str) {
    expect_err(
        res,
        "NotFound",
        |e| matches!(e, StoreError::NotFound(_)),
        clause,
    );
}

/// Asserts `Err(StoreError::Invalid(_))`.
#[track_caller]
pub(super) fn invalid<T: Debug>(res: Result<T, StoreError>, clause: &str) {
    expect_err(
        res,
        "Invalid",
        |e| matches!(e, StoreError::Invalid(_)),
        clause,
    );
}

/// Asserts equality, printing both sides under the clause.
#[track_caller]
pub(super) fn same<T: PartialEq + Debug>(got: &T, want: &T, clause: &str) {
    if got != want {
        panic!("store contract broken: {clause}\n  expected: {want:#?}\n  got: {got:#?}");
    }
}

/// Asserts a condition, naming the clause.
#[track_caller]
pub(super) fn holds(cond: bool, clause: &str) {
    if !cond {
        panic!("store contract broken: {clause}");
    }
}

/// Waits for spawned tasks, re-raising a panic in any of them.
pub(super) async fn join_all<T>(tasks: Vec<JoinHandle<T>>) -> Vec<T> {
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| match r {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("store conformance: a task was cancelled: {e}"),
        })
        .collect()
}

/// The ids of a list, for order assertions.
pub(super) fn ids<T>(rows: &[T], id: impl Fn(&T) -> String) -> Vec<String> {
    rows.iter().map(id).collect()
}

/// Follows `next_offset` from offset 0 with pages of `limit` rows and
/// returns every row, checking the paging contract on the way: a page holds
/// at most `limit` rows, `next_offset` is `offset + limit`, and the walk
/// ends within `max_pages` pages.
pub(super) async fn all_pages<T, F, Fut>(limit: u32, max_pages: usize, fetch: F) -> Vec<T>
where
    F: Fn(PageRequest) -> Fut,
    Fut: Future<Output = Page<T>>,
{
    let mut rows = Vec::new();
    let mut offset = Some(0);
    let mut pages = 0;
    while let Some(o) = offset {
        pages += 1;
        holds(
            pages <= max_pages,
            &format!(
                "paging by {limit} must end within {max_pages} pages (next_offset must become None)"
            ),
        );
        let page = fetch(PageRequest::new(limit, o)).await;
        holds(
            page.items.len() <= limit as usize,
            "a page holds at most `limit` rows",
        );
        if let Some(next) = page.next_offset {
            same(
                &next,
                &(o + u64::from(limit)),
                "next_offset is offset + limit",
            );
            holds(
                page.items.len() == limit as usize,
                "only a full page has a next_offset",
            );
        }
        rows.extend(page.items);
        offset = page.next_offset;
    }
    rows
}

/// Owned copies of string literals, for comparing id lists.
pub(super) fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// The ids of the tenant's audit entries, sorted.
pub(super) async fn audit_ids<S: StoreAdapter>(store: &S, t: &TenantId) -> Vec<String> {
    let page = ok(
        store.list_audit(t, &AuditFilter::default()).await,
        "list_audit",
    );
    let mut ids: Vec<String> = page.items.into_iter().map(|a| a.id).collect();
    ids.sort();
    ids
}

/// The ids of the scope's unrouted notices, sorted.
pub(super) async fn notice_ids<S: StoreAdapter>(store: &S, t: Option<&TenantId>) -> Vec<String> {
    let notices = ok(store.unrouted_notices(t, 1000).await, "unrouted_notices");
    let mut ids: Vec<String> = notices.into_iter().map(|n| n.id).collect();
    ids.sort();
    ids
}
