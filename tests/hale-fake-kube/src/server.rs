//! The HTTP server: Kubernetes paths, the `/_fake` control endpoints, fault
//! injection and request counting, and [`FakeKube`], a running instance.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{self, Answer, failure};
use crate::log::{FencingRegression, WriteRecord, fencing_regressions};
use crate::state::{FakeConfig, Fault, RequestCount, Shared, State};
use crate::store::{Key, Resource, SeedError};

fn respond(answer: Answer) -> Response {
    let code = StatusCode::from_u16(answer.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body.to_string(),
    )
        .into_response()
}

fn is_mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Every Kubernetes API request: faults first, then the handler, counting
/// mutating requests by outcome.
async fn kube_api(
    AxumState(shared): AxumState<Shared>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let verb = method.as_str().to_owned();
    let mutating = is_mutating(&method);
    let dry_run = query.get("dryRun").is_some_and(|v| v == "All");
    let body_dry_run = serde_json::from_slice::<Value>(&body)
        .is_ok_and(|b| api::body_dry_run(&b) || api::body_dry_run(&b["deleteOptions"]));
    let fault = {
        let mut s = shared.lock();
        if mutating {
            s.counts_mut(&verb, &path).received += 1;
        }
        s.status_write_before(&verb, &path, dry_run || body_dry_run);
        s.take_fault(&verb, &path, dry_run || body_dry_run)
    };
    if let Some(fault) = fault {
        if fault.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await;
        }
        if let Some(code) = fault.status {
            let answer = failure(code, &format!("injected fault: HTTP {code}"));
            if mutating {
                let mut s = shared.lock();
                s.counts_mut(&verb, &path).failed += 1;
                let before = s.addressed(&path);
                s.log_write(&verb, &path, &body, before, &answer);
            }
            return respond(answer);
        }
    }
    let request = api::Request {
        method: &verb,
        path: &path,
        label_selector: query.get("labelSelector").map(String::as_str),
        dry_run,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        body: &body,
    };
    let answer = {
        let mut s = shared.lock();
        let before = if mutating { s.addressed(&path) } else { None };
        let answer = api::dispatch(&mut s, request);
        if mutating {
            let counts = s.counts_mut(&verb, &path);
            match (answer.code < 300, answer.dry_run) {
                (true, false) => counts.applied += 1,
                (true, true) => counts.dry_run += 1,
                (false, _) => counts.failed += 1,
            }
            s.log_write(&verb, &path, &body, before, &answer);
        }
        answer
    };
    tracing::debug!(%verb, %path, code = answer.code, dry_run = answer.dry_run, "fake kube request");
    respond(answer)
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}

/// Seeds one object, an array of objects, or a `{"items": [...]}` list.
fn seed_all(state: &mut State, body: Value) -> Result<Vec<Key>, SeedError> {
    let items = match body {
        Value::Array(items) => items,
        Value::Object(ref o) if o.get("items").is_some_and(Value::is_array) => {
            body["items"].as_array().cloned().unwrap_or_default()
        }
        other => vec![other],
    };
    items.into_iter().map(|obj| state.store.seed(obj)).collect()
}

async fn post_objects(AxumState(shared): AxumState<Shared>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("body is not JSON: {e}")),
    };
    match seed_all(&mut shared.lock(), body) {
        Ok(keys) => {
            let seeded: Vec<String> = keys
                .iter()
                .map(|k| format!("{}/{}/{}", k.resource.plural(), k.namespace, k.name))
                .collect();
            (StatusCode::CREATED, axum::Json(json!({"seeded": seeded}))).into_response()
        }
        Err(e) => bad_request(e.0),
    }
}

async fn get_objects(AxumState(shared): AxumState<Shared>) -> Response {
    let s = shared.lock();
    let items: Vec<Value> = s.store.all().map(|(_, v)| v.clone()).collect();
    axum::Json(json!({"items": items})).into_response()
}

async fn post_faults(AxumState(shared): AxumState<Shared>, body: Bytes) -> Response {
    let faults: Vec<Fault> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(a)) => match serde_json::from_value(Value::Array(a)) {
            Ok(f) => f,
            Err(e) => return bad_request(format!("invalid faults: {e}")),
        },
        Ok(v) => match serde_json::from_value(v) {
            Ok(f) => vec![f],
            Err(e) => return bad_request(format!("invalid fault: {e}")),
        },
        Err(e) => return bad_request(format!("body is not JSON: {e}")),
    };
    let mut s = shared.lock();
    for f in faults {
        s.add_fault(f);
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"faults": s.faults()})),
    )
        .into_response()
}

async fn get_faults(AxumState(shared): AxumState<Shared>) -> Response {
    axum::Json(json!({"faults": shared.lock().faults()})).into_response()
}

async fn delete_faults(AxumState(shared): AxumState<Shared>) -> Response {
    shared.lock().clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_requests(AxumState(shared): AxumState<Shared>) -> Response {
    axum::Json(json!({"requests": shared.lock().request_counts()})).into_response()
}

async fn delete_requests(AxumState(shared): AxumState<Shared>) -> Response {
    shared.lock().reset_counts();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(serde::Deserialize)]
struct WritesQuery {
    /// Only the records of this object (`plural/namespace/name`).
    object: Option<String>,
}

async fn get_writes(
    AxumState(shared): AxumState<Shared>,
    Query(q): Query<WritesQuery>,
) -> Response {
    let s = shared.lock();
    let all = s.write_log();
    let writes: Vec<&WriteRecord> = all
        .iter()
        .filter(|r| q.object.is_none() || r.object == q.object)
        .collect();
    axum::Json(json!({
        "writes": writes,
        "fencing_regressions": fencing_regressions(all),
    }))
    .into_response()
}

async fn delete_writes(AxumState(shared): AxumState<Shared>) -> Response {
    shared.lock().reset_writes();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_config(AxumState(shared): AxumState<Shared>) -> Response {
    axum::Json(shared.lock().config).into_response()
}

async fn post_config(AxumState(shared): AxumState<Shared>, body: Bytes) -> Response {
    match serde_json::from_slice::<FakeConfig>(&body) {
        Ok(c) => {
            shared.lock().config = c;
            axum::Json(c).into_response()
        }
        Err(e) => bad_request(format!("invalid config: {e}")),
    }
}

/// The router over shared state (for embedding the fake in another server).
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/_fake/objects", get(get_objects).post(post_objects))
        .route(
            "/_fake/faults",
            get(get_faults).post(post_faults).delete(delete_faults),
        )
        .route("/_fake/requests", get(get_requests).delete(delete_requests))
        .route("/_fake/writes", get(get_writes).delete(delete_writes))
        .route("/_fake/config", get(get_config).post(post_config))
        .fallback(kube_api)
        .with_state(shared)
}

// === FakeKube ===

/// A running fake API server; stops when dropped.
#[derive(Debug)]
pub struct FakeKube {
    addr: SocketAddr,
    shared: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeKube {
    /// Binds `listen` (e.g. `127.0.0.1:0`) and serves until dropped.
    pub async fn start(listen: &str, config: FakeConfig) -> std::io::Result<FakeKube> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mut state = State::default();
        state.config = config;
        let shared: Shared = Arc::new(Mutex::new(state));
        let app = router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "fake kube server stopped");
            }
        });
        Ok(FakeKube {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds or replaces an object (see `POST /_fake/objects`).
    pub fn seed(&self, obj: Value) -> Result<(), SeedError> {
        seed_all(&mut self.shared.lock(), obj).map(|_| ())
    }

    /// The stored object, if any.
    pub fn object(&self, resource: Resource, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .lock()
            .store
            .get(&Key::new(resource, namespace, name))
            .cloned()
    }

    /// The stored objects of a resource in a namespace.
    pub fn objects(&self, resource: Resource, namespace: &str) -> Vec<Value> {
        self.shared
            .lock()
            .store
            .list(resource, namespace)
            .into_iter()
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().add_fault(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().clear_faults();
    }

    /// Replaces the behaviour switches.
    pub fn set_config(&self, config: FakeConfig) {
        self.shared.lock().config = config;
    }

    /// The mutating-request counters.
    pub fn requests(&self) -> Vec<RequestCount> {
        self.shared.lock().request_counts()
    }

    /// How many non-dry-run `verb` requests on `path` changed state.
    pub fn applied(&self, verb: &str, path: &str) -> u64 {
        self.requests()
            .into_iter()
            .filter(|r| r.verb.eq_ignore_ascii_case(verb) && r.path == path)
            .map(|r| r.counts.applied)
            .sum()
    }

    /// Total non-dry-run state changes on any path.
    pub fn applied_total(&self) -> u64 {
        self.requests().iter().map(|r| r.counts.applied).sum()
    }

    /// The write log: every mutating request, oldest first.
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.shared.lock().write_log().to_vec()
    }

    /// The write log of one object (`plural/namespace/name`, e.g.
    /// `deployments/prod/checkout` or `nodes//node-a`).
    pub fn writes_to(&self, object: &str) -> Vec<WriteRecord> {
        self.shared
            .lock()
            .write_log()
            .iter()
            .filter(|r| r.object.as_deref() == Some(object))
            .cloned()
            .collect()
    }

    /// Applied writes that lowered an object's fencing token (should be
    /// none: see [`fencing_regressions`]).
    pub fn fencing_regressions(&self) -> Vec<FencingRegression> {
        fencing_regressions(self.shared.lock().write_log())
    }

    /// Forgets the write log.
    pub fn reset_writes(&self) {
        self.shared.lock().reset_writes();
    }

    /// Another client writes the object's status before each of the next
    /// `times` applied `method` requests on `path`
    /// ([`State::add_status_write`]).
    pub fn status_write_before(&self, method: &str, path: &str, times: u32) {
        self.shared.lock().add_status_write(method, path, times);
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
