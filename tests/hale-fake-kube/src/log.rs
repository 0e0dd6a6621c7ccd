//! The write log: every mutating request, in the order the server answered
//! them, with the fencing token the addressed object carried afterwards.
//!
//! Hale's Kubernetes executor records the fencing token of the lock it acts
//! under on each object it writes (the annotations [`FENCING_TOKEN`] and
//! [`FENCING_TENANT`]), and refuses to write an object that already carries
//! a higher token of the same tenant. The log lets a test check that rule
//! from the outside, for every object: [`fencing_regressions`] lists each
//! applied write that left an object with a lower token than an earlier
//! applied write had left on it.
//!
//! A record is kept for every mutating request (applied, dry run, refused,
//! or failed by an injected fault), so a test also sees the 409s that the
//! `resourceVersion` preconditions produced.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The annotation holding the fencing token of the last Hale write.
pub const FENCING_TOKEN: &str = "hale.dev/fencing-token";

/// The annotation naming the tenant whose lock that token belongs to
/// (tokens are ordered per tenant and resource, not across tenants).
pub const FENCING_TENANT: &str = "hale.dev/fencing-tenant";

/// One mutating request and what it left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The HTTP method.
    pub verb: String,
    /// The URL path (no query).
    pub path: String,
    /// The addressed object as `plural/namespace/name` (`pods/prod/web-1`,
    /// `nodes//node-a`); a subresource's request names its object. `None`
    /// when the path names no object the fake serves.
    pub object: Option<String>,
    /// The HTTP status of the answer.
    pub code: u16,
    /// The `Status` reason of a refusal (`Conflict`, `NotFound`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the request was a dry run.
    pub dry_run: bool,
    /// Whether it changed state (2xx and not a dry run).
    pub applied: bool,
    /// The `resourceVersion` the request required (its body's
    /// `metadata.resourceVersion`, or `preconditions.resourceVersion` of a
    /// delete or an eviction), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<String>,
    /// The object's `resourceVersion` after the request (`None` once the
    /// object is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// The [`FENCING_TOKEN`] on the object after the request; for a delete
    /// or an eviction that removed it, the token it carried when removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing_token: Option<u64>,
    /// The [`FENCING_TENANT`] next to that token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing_tenant: Option<String>,
}

/// A fencing violation: `later`, an applied write, left `object` with a
/// lower token than `earlier` had, for the same tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencingRegression {
    /// The object.
    pub object: String,
    /// The applied write that recorded the highest token so far.
    pub earlier: WriteRecord,
    /// The applied write after it that recorded a lower one.
    pub later: WriteRecord,
}

/// The token and tenant annotations of an object.
pub(crate) fn fencing_of(obj: &Value) -> (Option<u64>, Option<String>) {
    let annotations = &obj["metadata"]["annotations"];
    let token = annotations[FENCING_TOKEN]
        .as_str()
        .and_then(|t| t.parse().ok());
    let tenant = annotations[FENCING_TENANT].as_str().map(str::to_owned);
    (token, tenant)
}

/// The `resourceVersion` a request body requires, by the shape of the
/// body: a merge or strategic patch or a PUT names it in `metadata`, a JSON
/// patch in a `replace`/`add`/`test` of `/metadata/resourceVersion`, a
/// delete in `preconditions`, an eviction in `deleteOptions.preconditions`.
pub(crate) fn precondition_of(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let found = match &v {
        Value::Array(ops) => ops
            .iter()
            .find(|op| op["path"] == "/metadata/resourceVersion")
            .map(|op| &op["value"]),
        Value::Object(_) => [
            &v["metadata"]["resourceVersion"],
            &v["preconditions"]["resourceVersion"],
            &v["deleteOptions"]["preconditions"]["resourceVersion"],
        ]
        .into_iter()
        .find(|x| !x.is_null()),
        _ => None,
    };
    found.and_then(Value::as_str).map(str::to_owned)
}

/// Every applied write that lowered an object's token below one an
/// earlier applied write of the same tenant had recorded, in log order.
pub fn fencing_regressions(records: &[WriteRecord]) -> Vec<FencingRegression> {
    let mut highest: BTreeMap<(&str, Option<&str>), &WriteRecord> = BTreeMap::new();
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.applied) {
        let (Some(object), Some(token)) = (r.object.as_deref(), r.fencing_token) else {
            continue;
        };
        let slot = highest.entry((object, r.fencing_tenant.as_deref()));
        match slot {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(r);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let best = o.get().fencing_token.unwrap_or(0);
                if token < best {
                    out.push(FencingRegression {
                        object: object.to_owned(),
                        earlier: (*o.get()).clone(),
                        later: r.clone(),
                    });
                } else if token > best {
                    o.insert(r);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn write(
        seq: u64,
        object: &str,
        token: Option<u64>,
        tenant: &str,
        applied: bool,
    ) -> WriteRecord {
        WriteRecord {
            seq,
            verb: "PATCH".to_owned(),
            path: format!("/x/{object}"),
            object: Some(object.to_owned()),
            code: if applied { 200 } else { 409 },
            reason: None,
            dry_run: false,
            applied,
            precondition: None,
            resource_version: Some(seq.to_string()),
            fencing_token: token,
            fencing_tenant: Some(tenant.to_owned()),
        }
    }

    #[test]
    fn a_lower_token_after_a_higher_one_on_the_same_object_is_a_regression() {
        let log = vec![
            write(1, "a", Some(5), "t", true),
            write(2, "a", Some(7), "t", true),
            write(3, "b", Some(1), "t", true),
            // Refused writes and other tenants' tokens are not compared.
            write(4, "a", Some(6), "t", false),
            write(5, "a", Some(2), "u", true),
            write(6, "a", Some(7), "t", true),
            write(7, "a", None, "t", true),
            write(8, "a", Some(6), "t", true),
        ];
        let found = fencing_regressions(&log);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].object, "a");
        assert_eq!(found[0].earlier.seq, 2);
        assert_eq!(found[0].later.seq, 8);
    }

    #[test]
    fn preconditions_are_read_from_every_body_shape() {
        let cases = [
            (json!({"metadata": {"resourceVersion": "7"}}), Some("7")),
            (
                json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": "8"}]),
                Some("8"),
            ),
            (
                json!({"preconditions": {"resourceVersion": "9"}}),
                Some("9"),
            ),
            (
                json!({"kind": "Eviction", "deleteOptions": {"preconditions": {"resourceVersion": "10"}}}),
                Some("10"),
            ),
            (json!({"spec": {"replicas": 1}}), None),
        ];
        for (body, want) in cases {
            assert_eq!(
                precondition_of(body.to_string().as_bytes()).as_deref(),
                want,
                "{body}"
            );
        }
        assert_eq!(precondition_of(b"not json"), None);
    }

    #[test]
    fn tokens_are_read_from_the_annotations() {
        let obj =
            json!({"metadata": {"annotations": {FENCING_TOKEN: "42", FENCING_TENANT: "acme"}}});
        assert_eq!(fencing_of(&obj), (Some(42), Some("acme".to_owned())));
        assert_eq!(fencing_of(&json!({"metadata": {}})), (None, None));
    }
}
