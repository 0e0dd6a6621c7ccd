//! Label selectors, parsed strictly and guarded against matching everything.
//!
//! A selector from a strategy picks pods to evict. An empty selector matches
//! every pod in the namespace, and so do selectors made only of negations
//! (`!canary`, `tier!=db`) or bare existence tests (`app`) in practice. The
//! guard therefore requires at least one positive equality or set
//! requirement (`app=checkout`, `app in (a,b)`), and accepts only the
//! documented selector grammar with valid label keys and values, so what is
//! sent to the API server is exactly what was reviewed.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sSelector;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Requirement {
    fn narrows(&self) -> bool {
        matches!(self, Requirement::Equals(..) | Requirement::In(..))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Equals(k, v) => write!(f, "{k}={v}"),
            Requirement::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
            Requirement::Exists(k) => f.write_str(k),
            Requirement::DoesNotExist(k) => write!(f, "!{k}"),
        }
    }
}

/// A validated label selector that matches a proper subset of pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl LabelSelector {
    /// Parses a selector string and applies the match-everything guard.
    pub fn parse_guarded(input: &str) -> Result<Self, String> {
        let sel = LabelSelector::parse(input)?;
        if sel.requirements.is_empty() {
            return Err("the selector is empty and would match every pod".to_owned());
        }
        if !sel.requirements.iter().any(Requirement::narrows) {
            return Err(format!(
                "selector {input:?} has no `key=value` or `key in (...)` requirement and could \
                 match every pod"
            ));
        }
        Ok(sel)
    }

    /// Parses the selector grammar (`k=v`, `k==v`, `k!=v`, `k in (a,b)`,
    /// `k notin (a,b)`, `k`, `!k`, comma-separated).
    fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(input)? {
            let part = part.trim();
            if part.is_empty() {
                if input.trim().is_empty() {
                    continue;
                }
                return Err(format!("selector {input:?} has an empty requirement"));
            }
            requirements
                .push(parse_requirement(part).map_err(|e| format!("selector {input:?}: {e}"))?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Converts a workload's `spec.selector`; `None` when it is empty (which
    /// would select everything).
    pub fn from_k8s(sel: &K8sSelector) -> Result<Option<Self>, String> {
        let mut requirements = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            requirements.push(Requirement::Equals(k.clone(), v.clone()));
        }
        for e in sel.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            requirements.push(match e.operator.as_str() {
                "In" => Requirement::In(e.key.clone(), values),
                "NotIn" => Requirement::NotIn(e.key.clone(), values),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(e.key.clone()),
                other => return Err(format!("unknown selector operator {other:?}")),
            });
        }
        Ok((!requirements.is_empty()).then_some(LabelSelector { requirements }))
    }
}

fn split_top_level(input: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0u32;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("selector {input:?} has an unmatched ')'"))?;
            }
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("selector {input:?} has an unmatched '('"));
    }
    parts.push(&input[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key_ok(key.trim())?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(
            key_ok(k.trim())?,
            value_ok(v.trim())?,
        ));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key_ok(k.trim())?, value_ok(v.trim())?));
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim();
        let (op, set) = if let Some(s) = rest.strip_prefix("notin") {
            ("notin", s)
        } else if let Some(s) = rest.strip_prefix("in") {
            ("in", s)
        } else {
            return Err(format!("cannot read requirement {part:?}"));
        };
        let set = set
            .trim()
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| format!("requirement {part:?}: expected a value list in parentheses"))?;
        let values = set
            .split(',')
            .map(|v| value_ok(v.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if values.iter().any(String::is_empty) {
            return Err(format!(
                "requirement {part:?} has an empty value in its list"
            ));
        }
        let key = key_ok(key)?;
        return Ok(if op == "in" {
            Requirement::In(key, values)
        } else {
            Requirement::NotIn(key, values)
        });
    }
    Ok(Requirement::Exists(key_ok(part)?))
}

/// A label key: optional DNS-subdomain prefix and `/`, then a name of
/// 1-63 characters of `[A-Za-z0-9._-]` starting and ending alphanumeric.
fn key_ok(key: &str) -> Result<String, String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    });
    if !prefix_ok || !name_ok(name) || name.is_empty() {
        return Err(format!("{key:?} is not a valid label key"));
    }
    Ok(key.to_owned())
}

/// A label value: empty, or 1-63 characters like a key's name part.
fn value_ok(value: &str) -> Result<String, String> {
    if value.is_empty() || name_ok(value) {
        Ok(value.to_owned())
    } else {
        Err(format!("{value:?} is not a valid label value"))
    }
}

fn name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_narrowing_selectors_and_prints_them_canonically() {
        let s = LabelSelector::parse_guarded("app=checkout, tier!=db,!canary").unwrap();
        assert_eq!(s.to_string(), "app=checkout,tier!=db,!canary");
        let s = LabelSelector::parse_guarded("app.kubernetes.io/name in (a, b),track").unwrap();
        assert_eq!(s.to_string(), "app.kubernetes.io/name in (a,b),track");
        assert_eq!(
            LabelSelector::parse_guarded("app==x").unwrap().to_string(),
            "app=x"
        );
    }

    #[test]
    fn refuses_empty_and_match_everything_selectors() {
        for s in [
            "",
            "  ",
            "!canary",
            "tier!=db",
            "app",
            "app notin (x)",
            "app,!b",
        ] {
            let e = LabelSelector::parse_guarded(s).unwrap_err();
            assert!(e.contains("every pod"), "{s:?}: {e}");
        }
    }

    #[test]
    fn refuses_malformed_selectors() {
        for s in [
            "app=x,,b=y",
            "app in (a,",
            "app in a,b",
            "app=x; rm -rf /",
            "app=$(id)",
            "a b=c",
            "app=-x",
            "app in (a,)",
            ")app=x(",
        ] {
            assert!(
                LabelSelector::parse_guarded(s).is_err(),
                "{s:?} was accepted"
            );
        }
    }

    #[test]
    fn converts_a_workload_selector() {
        let k: K8sSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "checkout"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]
        }))
        .unwrap();
        let s = LabelSelector::from_k8s(&k).unwrap().unwrap();
        assert_eq!(s.to_string(), "app=checkout,tier in (web,api)");
        assert_eq!(
            LabelSelector::from_k8s(&K8sSelector::default()).unwrap(),
            None
        );
    }
}
