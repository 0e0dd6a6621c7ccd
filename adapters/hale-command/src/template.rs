//! Argument templates: fixed argv with whole-element placeholders.
//!
//! A template element is either literal text or exactly one placeholder
//! such as `{name}`. A placeholder becomes one whole argv element, never
//! part of one, and its value must match a conservative character set, so
//! nothing an alert carries can add an argument, start an option, or reach a
//! shell (there is none: the program is executed directly).

use std::collections::BTreeMap;

use hale_domain::ResourceRef;

/// Placeholders every template may use, filled from the target resource.
pub const BUILTIN_PLACEHOLDERS: [&str; 3] = ["namespace", "kind", "name"];

/// Longest value a placeholder may take.
pub const MAX_VALUE_LEN: usize = 253;

/// One template element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder(String),
}

/// A compiled argument template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArgTemplate {
    parts: Vec<Part>,
    params: Vec<String>,
}

impl ArgTemplate {
    /// Compiles `args`; `params` are the declared parameter names.
    pub(crate) fn compile(args: &[String], params: &[String]) -> Result<Self, String> {
        let mut parts = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            let inner = arg.strip_prefix('{').and_then(|a| a.strip_suffix('}'));
            match inner {
                Some(name) if !name.contains(['{', '}']) => {
                    let known =
                        BUILTIN_PLACEHOLDERS.contains(&name) || params.iter().any(|p| p == name);
                    if !known {
                        return Err(format!(
                            "args[{i}] uses unknown placeholder {{{name}}}; use {{namespace}}, \
                             {{kind}}, {{name}} or a name listed in params {params:?}"
                        ));
                    }
                    parts.push(Part::Placeholder(name.to_owned()));
                }
                _ if arg.contains(['{', '}']) => {
                    return Err(format!(
                        "args[{i}] = {arg:?}: a placeholder must be a whole argument \
                         (there is no interpolation inside an argument)"
                    ));
                }
                _ => parts.push(Part::Literal(arg.clone())),
            }
        }
        Ok(ArgTemplate {
            parts,
            params: params.to_vec(),
        })
    }

    /// Renders the argv (without the program) for a target and the action's
    /// parameters. Every declared parameter must be given and no other.
    pub(crate) fn render(
        &self,
        resource: &ResourceRef,
        given: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Vec<String>, String> {
        if let Some(unknown) = given.keys().find(|k| !self.params.contains(k)) {
            return Err(format!(
                "unknown param {unknown:?}; this command declares {:?}",
                self.params
            ));
        }
        let mut values = BTreeMap::new();
        for p in &self.params {
            let v = given.get(p).ok_or_else(|| format!("missing param {p:?}"))?;
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(format!(
                        "param {p:?} must be a string, an integer or a boolean, not {other}"
                    ));
                }
            };
            values.insert(p.as_str(), text);
        }
        values.insert("namespace", resource.namespace.clone());
        values.insert("kind", resource.kind.clone());
        values.insert("name", resource.name.clone());

        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(s) => Ok(s.clone()),
                Part::Placeholder(name) => {
                    // Compile checked every placeholder against the same
                    // names inserted above, so the lookup cannot miss.
                    let v = values
                        .get(name.as_str())
                        .ok_or_else(|| format!("placeholder {{{name}}} has no value"))?;
                    check_value(name, v)?;
                    Ok(v.clone())
                }
            })
            .collect()
    }
}

/// Whether a substituted value is safe: 1-253 characters of
/// `[A-Za-z0-9._:/@=+-]`, not starting with `-` (so it cannot be read as an
/// option).
pub(crate) fn check_value(placeholder: &str, value: &str) -> Result<(), String> {
    let charset_ok = value.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'.' | b'_' | b':' | b'/' | b'@' | b'=' | b'+' | b'-')
    });
    if value.is_empty() || value.len() > MAX_VALUE_LEN || !charset_ok {
        return Err(format!(
            "value {value:?} for {{{placeholder}}} is not allowed: use 1-{MAX_VALUE_LEN} \
             characters of [A-Za-z0-9._:/@=+-]"
        ));
    }
    if value.starts_with('-') {
        return Err(format!(
            "value {value:?} for {{{placeholder}}} starts with '-' and could be read as an option"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    fn target() -> ResourceRef {
        ResourceRef::parse("web:unit/nginx").unwrap()
    }

    #[test]
    fn substitutes_whole_elements() {
        let t = ArgTemplate::compile(
            &args(&[
                "restart",
                "{name}",
                "--ns",
                "{namespace}",
                "{kind}",
                "{unit}",
            ]),
            &args(&["unit"]),
        )
        .unwrap();
        let argv = t
            .render(
                &target(),
                &BTreeMap::from([("unit".to_owned(), json!("a.service"))]),
            )
            .unwrap();
        assert_eq!(
            argv,
            ["restart", "nginx", "--ns", "web", "unit", "a.service"]
        );
    }

    #[test]
    fn numbers_and_booleans_become_text() {
        let t = ArgTemplate::compile(&args(&["{n}", "{b}"]), &args(&["n", "b"])).unwrap();
        let given = BTreeMap::from([("n".to_owned(), json!(3)), ("b".to_owned(), json!(true))]);
        assert_eq!(t.render(&target(), &given).unwrap(), ["3", "true"]);
        let given = BTreeMap::from([("n".to_owned(), json!(1.5)), ("b".to_owned(), json!(true))]);
        assert!(t.render(&target(), &given).is_err());
    }

    #[test]
    fn rejects_interpolation_inside_an_element_and_unknown_placeholders() {
        let e = ArgTemplate::compile(&args(&["--unit={name}"]), &[]).unwrap_err();
        assert!(e.contains("whole argument"), "{e}");
        let e = ArgTemplate::compile(&args(&["{{name}}"]), &[]).unwrap_err();
        assert!(e.contains("whole argument"), "{e}");
        let e = ArgTemplate::compile(&args(&["{host}"]), &[]).unwrap_err();
        assert!(e.contains("unknown placeholder"), "{e}");
    }

    #[test]
    fn rejects_missing_unknown_and_unsafe_values() {
        let t = ArgTemplate::compile(&args(&["{label}"]), &args(&["label"])).unwrap();
        assert!(
            t.render(&target(), &BTreeMap::new())
                .unwrap_err()
                .contains("missing")
        );
        let extra = BTreeMap::from([
            ("label".to_owned(), json!("x")),
            ("other".to_owned(), json!("y")),
        ]);
        assert!(
            t.render(&target(), &extra)
                .unwrap_err()
                .contains("unknown param")
        );
        for evil in [
            "x; rm -rf /",
            "$(reboot)",
            "a b",
            "`id`",
            "-rf",
            "--force",
            "",
            "x\ny",
        ] {
            let given = BTreeMap::from([("label".to_owned(), json!(evil))]);
            assert!(
                t.render(&target(), &given).is_err(),
                "{evil:?} was accepted"
            );
        }
    }
}
