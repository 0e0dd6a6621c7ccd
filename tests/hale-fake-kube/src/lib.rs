//! # hale-fake-kube
//!
//! An in-memory fake of the Kubernetes API server, for Hale's executor and
//! end-to-end tests. No real cluster can be installed on the build
//! machines; this fake serves, over real HTTP, the endpoints
//! `hale-kube`'s executor and probe use, with the semantics that matter to
//! them:
//!
//! * **Objects**: Deployments, StatefulSets, DaemonSets, ReplicaSets, Pods,
//!   PodDisruptionBudgets and Nodes as JSON, with uids, resource versions
//!   and generations.
//! * **Reads**: GET of each object, lists with `labelSelector` (pods,
//!   replicasets, ...), GET of the scale subresource.
//! * **Writes**: PATCH (strategic merge, merge, JSON patch) and PUT of
//!   workloads, pods and nodes, PATCH of the scale subresource, DELETE of
//!   pods, POST of an Eviction that enforces PodDisruptionBudgets
//!   (`minAvailable` / `maxUnavailable`, 429 with a `DisruptionBudget`
//!   cause).
//! * **Optimistic concurrency** as on the real API server: every stored
//!   write gets a new, larger `resourceVersion`; a PATCH or PUT whose body
//!   names a stale `metadata.resourceVersion`, and a DELETE or eviction
//!   whose `preconditions` (`uid`, `resourceVersion`) do not match, is
//!   refused with 409 and a `Status` of reason `Conflict`.
//! * **Dry run**: `dryRun=All` (or `DeleteOptions.dryRun`) validates and
//!   returns the would-be object, and changes nothing.
//! * **Rollouts**: a spec change bumps the generation and shows a rollout
//!   in progress that completes at once or after N GETs
//!   ([`FakeConfig::rollout_after_gets`]); a deployment's template change
//!   creates the next ReplicaSet revision, as the controller would.
//! * **Fault injection**: force a status code for the next N requests on a
//!   path (or prefix), or add latency ([`Fault`], `POST /_fake/faults`);
//!   have another client (the workload's controller) write an object's
//!   status right before a request, so a write naming the
//!   `resourceVersion` it read meets a real 409
//!   ([`FakeKube::status_write_before`]).
//! * **Counters** of mutating requests per (verb, path), split into
//!   applied, dry-run and failed, at `GET /_fake/requests`, so tests can
//!   assert "each remediation executed exactly once".
//! * **Write log** of every mutating request in answer order (verb, path,
//!   object, status and reason, dry run, the `resourceVersion` required
//!   and the one left, and the fencing token left on the object), at
//!   `GET /_fake/writes` with the [`fencing_regressions`] found in it, so
//!   tests can assert "no write with a lower token after one with a higher
//!   token, for every object".
//!
//! Control endpoints: `POST /_fake/objects` (seed one object, an array, or
//! `{"items": [...]}`), `GET /_fake/objects`, `POST|GET|DELETE
//! /_fake/faults`, `GET|DELETE /_fake/requests`, `GET|DELETE /_fake/writes`
//! (`?object=plural/namespace/name` filters), `GET|POST /_fake/config`.
//!
//! Not simulated: authentication, watches, server-side apply, strategic
//! merge of lists by key, pod creation by controllers.
//!
//! ## Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use hale_fake_kube::{FakeConfig, FakeKube, Resource};
//! use serde_json::json;
//!
//! let fake = FakeKube::start("127.0.0.1:0", FakeConfig::default()).await.unwrap();
//! fake.seed(json!({
//!     "apiVersion": "v1", "kind": "Node",
//!     "metadata": {"name": "node-a"},
//!     "spec": {},
//! }))
//! .unwrap();
//! assert!(fake.object(Resource::Node, "", "node-a").is_some());
//! println!("fake API server at {}", fake.url());
//! # }
//! ```
//!
//! The binary `hale-fake-kube --listen 127.0.0.1:0` prints the bound
//! address on its first line of stdout.

mod api;
mod eviction;
mod log;
mod patch;
mod rollout;
mod selector;
mod server;
mod state;
mod store;
mod writes;

pub use api::{Answer, Request, dispatch, failure, reason_for};
pub use log::{FENCING_TENANT, FENCING_TOKEN, FencingRegression, WriteRecord, fencing_regressions};
pub use patch::{json_patch, merge};
pub use rollout::{REVISION, template_hash};
pub use selector::Selector;
pub use server::{FakeKube, router};
pub use state::{Counts, FakeConfig, Fault, RequestCount, Shared, State};
pub use store::{CREATED_AT, Key, Resource, SeedError, Store};
