//! The one way this executor changes an object: a patch, fenced when it is
//! applied (see [`crate::fence`]), sent once with `dryRun=All` when it is a
//! dry run.

use std::fmt::Debug;

use hale_engine::ports::ExecError;
use kube::api::{Api, Patch};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::errors::CallKind;
use crate::executor::Ctx;
use crate::fence::{Attempt, Fence, WRITE_ATTEMPTS, attempt, retry_changed};

/// The patch formats the actions send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    /// `application/strategic-merge-patch+json`, as kubectl sends.
    Strategic,
    /// `application/merge-patch+json`.
    Merge,
}

impl PatchKind {
    fn wrap(self, body: Value) -> Patch<Value> {
        match self {
            PatchKind::Strategic => Patch::Strategic(body),
            PatchKind::Merge => Patch::Merge(body),
        }
    }
}

/// Patches the object `name` through `api` with `body` (a JSON object).
///
/// Applied: GET it, refuse as `Fenced` if it records a newer token, then
/// PATCH `body` plus our token annotations, conditional on the version
/// read; a 409 starts over, at most [`WRITE_ATTEMPTS`] times. Dry run: one
/// PATCH of `body` with `dryRun=All`, no read and no annotation.
pub(crate) async fn patch_object<K>(
    ctx: &Ctx<'_>,
    api: &Api<K>,
    name: &str,
    what: &str,
    kind: PatchKind,
    body: Value,
) -> Result<K, ExecError>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let Some(fence) = ctx.fence else {
        let patch = kind.wrap(body);
        return ctx
            .call(
                what,
                CallKind::Other,
                api.patch(name, &ctx.patch_params(), &patch),
            )
            .await;
    };
    let body = &body;
    retry_changed(what, WRITE_ATTEMPTS, || {
        patch_once(ctx, fence, api, name, what, kind, body)
    })
    .await
}

/// One fenced try: GET, check the token, PATCH `body` with our token
/// annotations conditional on the version read. A 409 is `Changed`.
pub(crate) async fn patch_once<K>(
    ctx: &Ctx<'_>,
    fence: Fence<'_>,
    api: &Api<K>,
    name: &str,
    what: &str,
    kind: PatchKind,
    body: &Value,
) -> Result<Attempt<K>, ExecError>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let current = ctx
        .call(&format!("{what} (reading)"), CallKind::Other, api.get(name))
        .await?;
    let resource_version = fence.admit(what, current.meta())?;
    let patch = kind.wrap(fence.stamp(body.clone(), &resource_version));
    attempt(
        ctx.call(
            what,
            CallKind::Other,
            api.patch(name, &ctx.patch_params(), &patch),
        )
        .await,
    )
}
