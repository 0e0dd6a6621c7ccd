//! The eviction subresource, enforcing PodDisruptionBudgets.
//!
//! As on the real API server: a pod covered by more than one budget cannot
//! be evicted (500); a healthy pod may be evicted only if afterwards the
//! budget still holds (`minAvailable` healthy pods left, or at most
//! `maxUnavailable` unavailable), otherwise 429 with a `DisruptionBudget`
//! cause; an unhealthy pod may always be evicted; `deleteOptions.preconditions`
//! (`uid`, `resourceVersion`) must match the pod or the eviction is 409
//! `Conflict`. Expected pods are the
//! budget's `status.expectedPods` when seeded (the real disruption controller
//! asks the pods' controller), or else the pods its selector matches.

use serde_json::{Value, json};

use crate::api::{Answer, Request, body_dry_run, check_preconditions, failure, not_found};
use crate::selector::Selector;
use crate::state::State;
use crate::store::{Key, Resource};

fn healthy(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// An int-or-percent of `total`, rounded up as Kubernetes does.
fn scaled(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((pct * total + 99) / 100)
        }
        _ => None,
    }
}

/// POST of an Eviction for the pod `key`.
pub(crate) fn evict(state: &mut State, key: &Key, req: Request<'_>) -> Answer {
    let eviction: Value = match serde_json::from_slice(req.body) {
        Ok(v) => v,
        Err(e) => return failure(400, &format!("invalid Eviction body: {e}")),
    };
    if !eviction["kind"].is_null() && eviction["kind"] != "Eviction" {
        return failure(
            400,
            &format!("expected an Eviction, got kind {}", eviction["kind"]),
        );
    }
    if !eviction["metadata"]["name"].is_null() && eviction["metadata"]["name"] != key.name.as_str()
    {
        return failure(400, "name in URL does not match name in Eviction object");
    }
    let dry_run = req.dry_run || body_dry_run(&eviction["deleteOptions"]);
    let Some(pod) = state.store.get(key).cloned() else {
        return not_found(key);
    };

    let budgets: Vec<(String, Value, Selector)> = state
        .store
        .list(Resource::PodDisruptionBudget, &key.namespace)
        .into_iter()
        .filter_map(|(k, pdb)| {
            // policy/v1: an empty selector selects every pod.
            let sel = Selector::from_object(&pdb["spec"]["selector"]).ok()?;
            sel.matches(&pod)
                .then(|| (k.name.clone(), pdb.clone(), sel))
        })
        .collect();
    if budgets.len() > 1 {
        return failure(
            500,
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        );
    }
    if let Some((name, pdb, sel)) = budgets.first()
        && healthy(&pod)
    {
        let covered: Vec<&Value> = state
            .store
            .list(Resource::Pod, &key.namespace)
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| sel.matches(p))
            .collect();
        // The disruption controller's count of pods the workload should
        // have, when the seed gives it; else the pods that exist now.
        let expected = pdb["status"]["expectedPods"]
            .as_i64()
            .unwrap_or(0)
            .max(covered.len() as i64);
        let healthy_now = covered.iter().filter(|p| healthy(p)).count() as i64;
        let (allowed, desired) = if let Some(min) = scaled(&pdb["spec"]["minAvailable"], expected) {
            (healthy_now > min, min)
        } else if let Some(max) = scaled(&pdb["spec"]["maxUnavailable"], expected) {
            (expected - healthy_now < max, expected - max)
        } else {
            (true, 0)
        };
        if !allowed {
            let mut answer = failure(
                429,
                "Cannot evict pod as it would violate the pod's disruption budget.",
            );
            answer.body["details"] = json!({"causes": [{
                "reason": "DisruptionBudget",
                "message": format!("The disruption budget {name} needs {desired} healthy pods and has {healthy_now} currently")
            }]});
            return answer.dry(dry_run);
        }
    }
    // As on the API server, the eviction's delete honours the caller's
    // preconditions (a stale `resourceVersion` or another `uid` is 409).
    if let Err(a) = check_preconditions(key, &pod, &eviction["deleteOptions"]) {
        return a.dry(dry_run);
    }
    if !dry_run {
        state.store.remove(key);
        state.store.next_rv();
    }
    Answer {
        code: 201,
        body: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        dry_run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!(2), 3), Some(2));
        assert_eq!(scaled(&json!("x"), 3), None);
    }
}
