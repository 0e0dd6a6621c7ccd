//! Patches (merge, strategic merge, JSON patch) and the shape checks the
//! API server's validation would make.
//!
//! Strategic merge patches are applied as JSON merge patches (RFC 7386).
//! That is exact for the map fields Hale patches (annotations, replicas,
//! `unschedulable`); list merging by key is not simulated.

use serde_json::{Map, Value};

/// Applies an RFC 7386 merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Splits a JSON pointer into the parent's pointer and the last token.
fn split(pointer: &str) -> Result<(String, String), String> {
    if !pointer.starts_with('/') {
        return Err(format!("invalid JSON pointer {pointer:?}"));
    }
    let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    Ok((parent.to_owned(), unescape(last)))
}

/// Applies an RFC 6902 JSON patch (`add`, `replace`, `remove`, `test`).
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or_else(|| "a JSON patch must be an array of operations".to_owned())?;
    for op in ops {
        let name = op["op"].as_str().ok_or("operation has no \"op\"")?;
        let path = op["path"].as_str().ok_or("operation has no \"path\"")?;
        let value = op.get("value");
        match name {
            "test" => {
                let current = target.pointer(path);
                if current != value {
                    return Err(format!("test operation failed at {path}"));
                }
            }
            "replace" => {
                let value = value.ok_or("replace needs a value")?;
                let slot = target
                    .pointer_mut(path)
                    .ok_or_else(|| format!("replace: {path} does not exist"))?;
                *slot = value.clone();
            }
            "remove" => {
                let (parent, last) = split(path)?;
                let container = target
                    .pointer_mut(&parent)
                    .ok_or_else(|| format!("remove: {parent} does not exist"))?;
                let removed = match container {
                    Value::Object(m) => m.remove(&last).is_some(),
                    Value::Array(a) => match last.parse::<usize>() {
                        Ok(i) if i < a.len() => {
                            a.remove(i);
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                };
                if !removed {
                    return Err(format!("remove: {path} does not exist"));
                }
            }
            "add" => {
                let value = value.ok_or("add needs a value")?.clone();
                let (parent, last) = split(path)?;
                let container = target
                    .pointer_mut(&parent)
                    .ok_or_else(|| format!("add: {parent} does not exist"))?;
                match container {
                    Value::Object(m) => {
                        m.insert(last, value);
                    }
                    Value::Array(a) if last == "-" => a.push(value),
                    Value::Array(a) => match last.parse::<usize>() {
                        Ok(i) if i <= a.len() => a.insert(i, value),
                        _ => return Err(format!("add: bad array index in {path}")),
                    },
                    _ => return Err(format!("add: {parent} is not a container")),
                }
            }
            other => return Err(format!("unsupported JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

fn object_or_absent(v: &Value, what: &str) -> Result<(), String> {
    if v.is_null() || v.is_object() {
        Ok(())
    } else {
        Err(format!("{what} must be an object"))
    }
}

fn string_map_or_absent(v: &Value, what: &str) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::Object(m) if m.values().all(Value::is_string) => Ok(()),
        _ => Err(format!("{what} must be a map of strings")),
    }
}

/// The structural rules every stored object keeps, so later updates (which
/// index into these fields) always find the shapes they expect.
pub(crate) fn check_shape(obj: &Value, workload: bool) -> Result<(), String> {
    if !obj["metadata"].is_object() {
        return Err("metadata must be an object".to_owned());
    }
    string_map_or_absent(&obj["metadata"]["labels"], "metadata.labels")?;
    string_map_or_absent(&obj["metadata"]["annotations"], "metadata.annotations")?;
    object_or_absent(&obj["spec"], "spec")?;
    object_or_absent(&obj["status"], "status")?;
    match &obj["spec"]["replicas"] {
        Value::Null => {}
        v if v.as_i64().is_some_and(|n| n >= 0) => {}
        v => {
            return Err(format!(
                "spec.replicas: Invalid value: {v}: must be greater than or equal to 0"
            ));
        }
    }
    match &obj["spec"]["unschedulable"] {
        Value::Null | Value::Bool(_) => {}
        v => {
            return Err(format!(
                "spec.unschedulable: Invalid value: {v}: must be a boolean"
            ));
        }
    }
    if workload {
        if !obj["spec"]["template"].is_object() {
            return Err("spec.template: Required value".to_owned());
        }
        object_or_absent(
            &obj["spec"]["template"]["metadata"],
            "spec.template.metadata",
        )?;
        string_map_or_absent(
            &obj["spec"]["template"]["metadata"]["labels"],
            "spec.template.metadata.labels",
        )?;
        string_map_or_absent(
            &obj["spec"]["template"]["metadata"]["annotations"],
            "spec.template.metadata.annotations",
        )?;
        object_or_absent(&obj["spec"]["selector"], "spec.selector")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "d": [1, 2]});
        merge(&mut doc, &json!({"a": {"b": null, "e": 3}, "d": [9]}));
        assert_eq!(doc, json!({"a": {"c": 2, "e": 3}, "d": [9]}));
    }

    #[test]
    fn json_patch_ops() {
        let mut doc = json!({"metadata": {"annotations": {"x": "1"}}, "list": [1, 2]});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/metadata/annotations/a~1b", "value": "2"},
                {"op": "replace", "path": "/list/0", "value": 7},
                {"op": "add", "path": "/list/-", "value": 3},
                {"op": "remove", "path": "/metadata/annotations/x"},
                {"op": "test", "path": "/list/0", "value": 7}
            ]),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"metadata": {"annotations": {"a/b": "2"}}, "list": [7, 2, 3]})
        );
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "replace", "path": "/nope", "value": 1}])
            )
            .is_err()
        );
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "test", "path": "/list/0", "value": 1}])
            )
            .is_err()
        );
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "move", "from": "/a", "path": "/b"}])
            )
            .is_err()
        );
    }

    #[test]
    fn shapes_are_checked() {
        let ok = json!({"metadata": {"name": "x"}, "spec": {"replicas": 2, "template": {}}});
        assert!(check_shape(&ok, true).is_ok());
        let bad = json!({"metadata": {"name": "x"}, "spec": {"replicas": -1, "template": {}}});
        assert!(check_shape(&bad, true).unwrap_err().contains("replicas"));
        let bad = json!({"metadata": {"name": "x", "labels": "app"}});
        assert!(check_shape(&bad, false).is_err());
        let bad = json!({"metadata": {"name": "x"}, "spec": {"replicas": 1}});
        assert!(check_shape(&bad, true).unwrap_err().contains("template"));
    }
}
