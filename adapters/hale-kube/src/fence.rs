//! Fencing at the target: every applied write records the fencing token of
//! the lock it runs under on the object it changes, and never lowers it.
//!
//! A lock's TTL can lapse while its holder still runs; a second holder then
//! takes the lock with a higher token. The lock service cannot stop the
//! first holder's late writes, so the object itself keeps the score:
//!
//! 1. GET the object and read its [`FENCING_TOKEN`] annotation. If it holds
//!    a token of the same tenant higher than ours, a newer holder has acted:
//!    touch nothing and fail as [`FailureClass::Fenced`].
//! 2. Write with our token in the annotation (and our tenant in
//!    [`FENCING_TENANT`]) and with `metadata.resourceVersion` set to the
//!    version read in step 1. The API server refuses the write with 409 if
//!    anyone wrote the object in between, so the check of step 1 still
//!    holds when the write lands.
//! 3. On 409, start again from step 1 (the token check applies again), at
//!    most [`WRITE_ATTEMPTS`] times; a conflict that outlasts them is
//!    [`FailureClass::Conflict`].
//!
//! Tokens are ordered per (tenant, resource) by the lock service, not across
//! tenants (their locks never exclude each other either), so a token
//! recorded by another tenant is not compared. Dry runs change nothing and
//! neither read nor record tokens.

use std::future::Future;
use std::time::Duration;

use hale_domain::TenantId;
use hale_domain::failure::FailureClass;
use hale_engine::ports::{ExecError, FencingToken};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

/// The annotation holding the fencing token of the last Hale write.
pub const FENCING_TOKEN: &str = "hale.dev/fencing-token";

/// The annotation naming the tenant whose lock that token belongs to.
pub const FENCING_TENANT: &str = "hale.dev/fencing-tenant";

/// How many times a fenced write is tried while the object keeps changing
/// between the read and the write (client-go's `retry.DefaultRetry` also
/// makes five).
pub const WRITE_ATTEMPTS: u32 = 5;

/// The pause before the n-th retry is n times this (client-go waits 10 ms).
const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// The fence of one applied action: whose lock, and its token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fence<'a> {
    pub(crate) tenant: &'a TenantId,
    pub(crate) token: FencingToken,
}

impl Fence<'_> {
    /// Checks an object just read: `Fenced` if it records a higher token of
    /// our tenant. Returns the `resourceVersion` the write must be
    /// conditional on.
    pub(crate) fn admit(&self, what: &str, meta: &ObjectMeta) -> Result<String, ExecError> {
        let annotations = meta.annotations.as_ref();
        let recorded = annotations.and_then(|a| a.get(FENCING_TOKEN));
        let tenant = annotations.and_then(|a| a.get(FENCING_TENANT));
        let same_tenant = tenant.is_none_or(|t| t == self.tenant.as_str());
        if let (Some(recorded), true) = (recorded, same_tenant) {
            let theirs: u64 = recorded.parse().map_err(|_| {
                ExecError::new(
                    FailureClass::InvalidAction,
                    format!(
                        "{what}: annotation {FENCING_TOKEN} is {recorded:?}, not a fencing \
                         token; nothing was changed (remove the annotation to let Hale act)"
                    ),
                )
            })?;
            if theirs > self.token.0 {
                return Err(ExecError {
                    class: FailureClass::Fenced,
                    message: format!(
                        "{what}: the object already carries fencing token {theirs}, newer than \
                         this action's {}: a newer lock holder has acted on it, so this one \
                         does not (nothing was changed)",
                        self.token
                    ),
                    response: Some(json!({
                        "recorded_token": theirs,
                        "token": self.token.0,
                        "tenant": self.tenant.as_str(),
                    })),
                    target_said: None,
                });
            }
        }
        meta.resource_version.clone().ok_or_else(|| {
            ExecError::new(
                FailureClass::Transient,
                format!(
                    "{what}: the object was read without a resourceVersion; cannot write it safely"
                ),
            )
        })
    }

    /// The annotations a write records.
    pub(crate) fn annotations(&self) -> [(&'static str, String); 2] {
        [
            (FENCING_TOKEN, self.token.to_string()),
            (FENCING_TENANT, self.tenant.as_str().to_owned()),
        ]
    }

    /// Adds the annotations and the `resourceVersion` precondition to a
    /// merge or strategic-merge patch body (a JSON object).
    pub(crate) fn stamp(&self, mut body: Value, resource_version: &str) -> Value {
        for (key, value) in self.annotations() {
            body["metadata"]["annotations"][key] = json!(value);
        }
        body["metadata"]["resourceVersion"] = json!(resource_version);
        body
    }
}

/// One try of a conditional write.
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// It landed (or there was nothing to write).
    Done(T),
    /// The object changed after it was read (409): read and try again.
    Changed(ExecError),
}

impl<T> Attempt<T> {
    /// The result of a try that is done, transformed.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Done(v) => Attempt::Done(f(v)),
            Attempt::Changed(e) => Attempt::Changed(e),
        }
    }
}

/// A write's result as an attempt: 409 (`Conflict`) means the
/// `resourceVersion` precondition failed, which a fresh read can cure; any
/// other error is final.
pub(crate) fn attempt<T>(result: Result<T, ExecError>) -> Result<Attempt<T>, ExecError> {
    match result {
        Ok(v) => Ok(Attempt::Done(v)),
        Err(e) if e.class == FailureClass::Conflict => Ok(Attempt::Changed(e)),
        Err(e) => Err(e),
    }
}

/// Runs `once` until it is done, retrying `Changed` up to `attempts` times
/// in all; a change that outlasts them is `Conflict`.
pub(crate) async fn retry_changed<T, F, Fut>(
    what: &str,
    attempts: u32,
    mut once: F,
) -> Result<T, ExecError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, ExecError>>,
{
    let mut last = None;
    for n in 0..attempts.max(1) {
        if n > 0 {
            tokio::time::sleep(RETRY_PAUSE * n).await;
        }
        match once().await? {
            Attempt::Done(v) => return Ok(v),
            Attempt::Changed(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if attempts > 1 => ExecError {
            message: format!(
                "{what}: the object kept changing between read and write; gave up after \
                 {attempts} attempts ({})",
                e.message
            ),
            ..e
        },
        Some(e) => e,
        None => ExecError::new(FailureClass::Conflict, format!("{what}: not attempted")),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn meta(annotations: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            resource_version: Some("17".to_owned()),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..ObjectMeta::default()
        }
    }

    fn fence(tenant: &TenantId, token: u64) -> Fence<'_> {
        Fence {
            tenant,
            token: FencingToken(token),
        }
    }

    #[test]
    fn a_higher_token_of_the_same_tenant_fences_and_lower_or_equal_ones_admit() {
        let acme = TenantId::new("acme").unwrap();
        let f = fence(&acme, 42);
        for (annotations, admitted) in [
            (vec![], true),
            (vec![(FENCING_TOKEN, "41"), (FENCING_TENANT, "acme")], true),
            (vec![(FENCING_TOKEN, "42"), (FENCING_TENANT, "acme")], true),
            (vec![(FENCING_TOKEN, "43"), (FENCING_TENANT, "acme")], false),
            // Without a tenant the token is compared (fail closed).
            (vec![(FENCING_TOKEN, "43")], false),
            // Another tenant's tokens are another sequence.
            (vec![(FENCING_TOKEN, "99"), (FENCING_TENANT, "other")], true),
        ] {
            let got = f.admit("deployment prod/x", &meta(&annotations));
            match (admitted, got) {
                (true, Ok(rv)) => assert_eq!(rv, "17"),
                (false, Err(e)) => {
                    assert_eq!(e.class, FailureClass::Fenced, "{e}");
                    assert!(e.message.contains("newer lock holder"), "{e}");
                }
                (want, got) => panic!("{annotations:?}: admitted {want}, got {got:?}"),
            }
        }
        let e = f.admit("x", &meta(&[(FENCING_TOKEN, "soon")])).unwrap_err();
        assert_eq!(e.class, FailureClass::InvalidAction);
    }

    #[test]
    fn stamping_adds_annotations_and_the_precondition() {
        let acme = TenantId::new("acme").unwrap();
        let body = fence(&acme, 7).stamp(json!({"spec": {"replicas": 2}}), "99");
        assert_eq!(
            body,
            json!({
                "metadata": {
                    "annotations": {FENCING_TOKEN: "7", FENCING_TENANT: "acme"},
                    "resourceVersion": "99"
                },
                "spec": {"replicas": 2}
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn changes_are_retried_a_bounded_number_of_times() {
        let mut calls = 0;
        let r: Result<(), ExecError> = retry_changed("write", 3, || {
            calls += 1;
            async { attempt(Err(ExecError::new(FailureClass::Conflict, "409"))) }
        })
        .await;
        let e = r.unwrap_err();
        assert_eq!((calls, e.class), (3, FailureClass::Conflict));
        assert!(e.message.contains("gave up after 3 attempts"), "{e}");

        let mut calls = 0;
        let r = retry_changed("write", 3, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 2 {
                    attempt(Err(ExecError::new(FailureClass::Conflict, "409")))
                } else {
                    attempt(Ok(n))
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 2);

        // Other errors are final at once.
        let mut calls = 0;
        let r: Result<(), ExecError> = retry_changed("write", 3, || {
            calls += 1;
            async { attempt(Err(ExecError::new(FailureClass::Fenced, "newer"))) }
        })
        .await;
        assert_eq!((calls, r.unwrap_err().class), (1, FailureClass::Fenced));
    }
}
