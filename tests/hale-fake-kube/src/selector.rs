//! Label selectors: the query-string form (`app=x,tier in (a,b),!canary`)
//! and the object form of PodDisruptionBudgets (`matchLabels`,
//! `matchExpressions`).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed selector; the empty selector matches everything, as in
/// Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector(Vec<Req>);

fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn set(s: &str) -> Result<Vec<String>, String> {
    let inner = s
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected (values) in {s:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

impl Selector {
    /// Parses the query-string form.
    pub fn parse(input: &str) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        if input.trim().is_empty() {
            return Ok(Selector(reqs));
        }
        for part in split_top(input) {
            let p = part.trim();
            let req = if let Some(k) = p.strip_prefix('!') {
                Req::NotExists(k.trim().to_owned())
            } else if let Some((k, v)) = p.split_once("!=") {
                Req::Ne(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                Req::Eq(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, rest)) = p.split_once(" notin ") {
                Req::NotIn(k.trim().to_owned(), set(rest)?)
            } else if let Some((k, rest)) = p.split_once(" in ") {
                Req::In(k.trim().to_owned(), set(rest)?)
            } else if !p.is_empty() && !p.contains(char::is_whitespace) {
                Req::Exists(p.to_owned())
            } else {
                return Err(format!("unable to parse requirement {p:?}"));
            };
            reqs.push(req);
        }
        Ok(Selector(reqs))
    }

    /// Converts the object form (`{"matchLabels": .., "matchExpressions": ..}`).
    pub fn from_object(sel: &Value) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        if let Some(labels) = sel["matchLabels"].as_object() {
            for (k, v) in labels {
                reqs.push(Req::Eq(
                    k.clone(),
                    v.as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        for e in sel["matchExpressions"].as_array().into_iter().flatten() {
            let key = e["key"].as_str().unwrap_or_default().to_owned();
            let values: Vec<String> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            reqs.push(match e["operator"].as_str() {
                Some("In") => Req::In(key, values),
                Some("NotIn") => Req::NotIn(key, values),
                Some("Exists") => Req::Exists(key),
                Some("DoesNotExist") => Req::NotExists(key),
                other => return Err(format!("unknown selector operator {other:?}")),
            });
        }
        Ok(Selector(reqs))
    }

    /// Whether an object's `metadata.labels` match.
    pub fn matches(&self, obj: &Value) -> bool {
        let label = |k: &str| obj["metadata"]["labels"][k].as_str();
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => label(k) == Some(v.as_str()),
            Req::Ne(k, v) => label(k) != Some(v.as_str()),
            Req::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Req::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Req::Exists(k) => label(k).is_some(),
            Req::NotExists(k) => label(k).is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"labels": labels}})
    }

    #[test]
    fn query_selectors_match_like_kubernetes() {
        let s = Selector::parse("app=checkout,track!=canary,tier in (web, api),!legacy").unwrap();
        assert!(s.matches(&obj(json!({"app": "checkout", "tier": "web"}))));
        assert!(!s.matches(&obj(
            json!({"app": "checkout", "tier": "web", "track": "canary"})
        )));
        assert!(!s.matches(&obj(json!({"app": "checkout", "tier": "db"}))));
        assert!(!s.matches(&obj(
            json!({"app": "checkout", "tier": "web", "legacy": "y"})
        )));
        assert!(Selector::parse("").unwrap().matches(&obj(json!({}))));
        assert!(Selector::parse("a b").is_err());
    }

    #[test]
    fn object_selectors_match() {
        let s = Selector::from_object(&json!({
            "matchLabels": {"app": "checkout"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
        }))
        .unwrap();
        assert!(s.matches(&obj(json!({"app": "checkout"}))));
        assert!(!s.matches(&obj(json!({"app": "checkout", "tier": "db"}))));
    }
}
