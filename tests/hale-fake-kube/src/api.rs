//! The Kubernetes API paths: routing, reads, lists and deletes, and the
//! `Status` errors the real API server sends.

use serde_json::{Value, json};

use crate::rollout;
use crate::selector::Selector;
use crate::state::State;
use crate::store::{Key, Resource};
use crate::{eviction, writes};

/// An answer with an HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub code: u16,
    /// JSON body.
    pub body: Value,
    /// Whether the request was a dry run (for the counters).
    pub dry_run: bool,
}

impl Answer {
    pub(crate) fn ok(body: Value) -> Answer {
        Answer {
            code: 200,
            body,
            dry_run: false,
        }
    }

    pub(crate) fn dry(mut self, dry_run: bool) -> Answer {
        self.dry_run = dry_run;
        self
    }
}

/// The machine-readable reason of a status code.
pub fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

/// A `Status` failure, shaped as the API server sends it.
pub fn failure(code: u16, message: &str) -> Answer {
    Answer {
        code,
        body: json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason_for(code),
            "code": code
        }),
        dry_run: false,
    }
}

/// `deployments.apps "checkout"`, the way the API server names objects in
/// messages.
pub(crate) fn describe(key: &Key) -> String {
    let group = match key.resource.api_version().split_once('/') {
        Some((group, _)) => format!(".{group}"),
        None => String::new(),
    };
    format!("{}{group} {:?}", key.resource.plural(), key.name)
}

pub(crate) fn not_found(key: &Key) -> Answer {
    failure(404, &format!("{} not found", describe(key)))
}

/// A parsed API path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    resource: Resource,
    namespace: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group_version, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("v1".to_owned(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] => ((*ns).to_owned(), rest),
        rest => (String::new(), rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some((*name).to_owned()), None),
        [plural, name, sub] => (*plural, Some((*name).to_owned()), Some((*sub).to_owned())),
        _ => return None,
    };
    let resource = Resource::from_path(&group_version, plural)?;
    if resource.namespaced() == namespace.is_empty() {
        return None;
    }
    Some(Route {
        resource,
        namespace,
        name,
        subresource,
    })
}

/// The object a request path addresses (the same object for its
/// subresources), if the path names one the fake serves.
pub(crate) fn object_key(path: &str) -> Option<Key> {
    let r = route(path)?;
    let name = r.name?;
    Some(Key::new(r.resource, &r.namespace, &name))
}

/// The 409 the API server sends when a write's precondition or
/// `resourceVersion` no longer matches the stored object.
pub(crate) fn conflict(key: &Key, why: &str) -> Answer {
    failure(
        409,
        &format!("Operation cannot be fulfilled on {}: {why}", describe(key)),
    )
}

/// Checks `DeleteOptions.preconditions` (`uid`, `resourceVersion`) against
/// the stored object, as the API server does for deletes and evictions.
pub(crate) fn check_preconditions(key: &Key, obj: &Value, options: &Value) -> Result<(), Answer> {
    let pre = &options["preconditions"];
    for (field, name) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(want) = pre[field].as_str().filter(|w| !w.is_empty()) {
            let have = obj["metadata"][field].as_str().unwrap_or_default();
            if want != have {
                return Err(conflict(
                    key,
                    &format!(
                        "Precondition failed: {name} in precondition: {want}, {name} in object meta: {have}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// One request, as the dispatcher needs it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Upper-case HTTP method.
    pub method: &'a str,
    /// URL path.
    pub path: &'a str,
    /// `labelSelector` query parameter.
    pub label_selector: Option<&'a str>,
    /// `dryRun=All` in the query.
    pub dry_run: bool,
    /// `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// Serves one Kubernetes API request against the state.
pub fn dispatch(state: &mut State, req: Request<'_>) -> Answer {
    let Some(r) = route(req.path) else {
        return failure(
            404,
            &format!(
                "the server could not find the requested resource ({})",
                req.path
            ),
        );
    };
    let key = r
        .name
        .as_deref()
        .map(|n| Key::new(r.resource, &r.namespace, n));
    match (req.method, key, r.subresource.as_deref()) {
        ("GET", None, None) => list(state, r.resource, &r.namespace, req.label_selector),
        ("GET", Some(key), None) => get(state, &key),
        ("PATCH", Some(key), None) => writes::patch(state, &key, req),
        ("PUT", Some(key), None) => writes::put(state, &key, req),
        ("DELETE", Some(key), None) if r.resource == Resource::Pod => delete(state, &key, req),
        ("GET", Some(key), Some("scale")) => writes::get_scale(state, &key),
        ("PATCH", Some(key), Some("scale")) => writes::patch_scale(state, &key, req),
        ("POST", Some(key), Some("eviction")) if r.resource == Resource::Pod => {
            eviction::evict(state, &key, req)
        }
        (method, _, _) => failure(
            405,
            &format!("{method} is not supported on {} by the fake", req.path),
        ),
    }
}

fn get(state: &mut State, key: &Key) -> Answer {
    if state.store.get(key).is_none() {
        return not_found(key);
    }
    if let Some(remaining) = state.pending_rollouts.get_mut(key) {
        if *remaining == 0 {
            state.pending_rollouts.remove(key);
            let nodes = state.store.list(Resource::Node, "").len();
            let rv = state.store.next_rv();
            if let Some(obj) = state.store.get_mut(key) {
                rollout::complete(key.resource, obj, nodes);
                obj["metadata"]["resourceVersion"] = json!(rv);
            }
        } else {
            *remaining -= 1;
        }
    }
    state
        .store
        .get(key)
        .cloned()
        .map_or_else(|| not_found(key), Answer::ok)
}

fn list(state: &State, resource: Resource, namespace: &str, selector: Option<&str>) -> Answer {
    let selector = match Selector::parse(selector.unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return failure(400, &format!("unable to parse requirement: {e}")),
    };
    // List items carry no apiVersion/kind on the wire.
    let items: Vec<Value> = state
        .store
        .list(resource, namespace)
        .into_iter()
        .filter(|(_, obj)| selector.matches(obj))
        .map(|(_, obj)| {
            let mut item = obj.clone();
            if let Some(o) = item.as_object_mut() {
                o.remove("apiVersion");
                o.remove("kind");
            }
            item
        })
        .collect();
    Answer::ok(json!({
        "kind": format!("{}List", resource.kind()),
        "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": state.store.current_rv()},
        "items": items
    }))
}

/// Whether the DeleteOptions body asks for a dry run.
pub(crate) fn body_dry_run(body: &Value) -> bool {
    body["dryRun"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == "All"))
}

fn delete(state: &mut State, key: &Key, req: Request<'_>) -> Answer {
    let options: Value = if req.body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(req.body) {
            Ok(v) => v,
            Err(e) => return failure(400, &format!("invalid DeleteOptions: {e}")),
        }
    };
    let dry_run = req.dry_run || body_dry_run(&options);
    let Some(obj) = state.store.get(key).cloned() else {
        return not_found(key);
    };
    if let Err(a) = check_preconditions(key, &obj, &options) {
        return a;
    }
    if !dry_run {
        state.store.remove(key);
        state.store.next_rv();
    }
    Answer::ok(obj).dry(dry_run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_like_the_api_server() {
        let r = route("/apis/apps/v1/namespaces/prod/deployments/checkout/scale").unwrap();
        assert_eq!(r.resource, Resource::Deployment);
        assert_eq!(r.namespace, "prod");
        assert_eq!(r.subresource.as_deref(), Some("scale"));
        assert_eq!(route("/api/v1/nodes/n1").unwrap().resource, Resource::Node);
        assert!(route("/api/v1/namespaces/prod/nodes/n1").is_none());
        assert!(route("/api/v1/pods").is_none());
        assert!(route("/apis/apps/v1/namespaces/prod/ingresses").is_none());
        assert_eq!(
            describe(&Key::new(Resource::Deployment, "prod", "checkout")),
            "deployments.apps \"checkout\""
        );
        assert_eq!(
            describe(&Key::new(Resource::Pod, "prod", "p")),
            "pods \"p\""
        );
    }
}
