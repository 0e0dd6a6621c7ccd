//! Architecture invariant: hale-domain does no IO and knows nothing of
//! tokio, Redis, Postgres, Kubernetes or HTTP. This test reads `cargo
//! metadata` and fails if any such crate is in hale-domain's normal
//! dependency graph (dev-dependencies such as criterion are allowed).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "mio",
    "sqlx",
    "sqlx-core",
    "redis",
    "deadpool",
    "deadpool-redis",
    "kube",
    "kube-client",
    "k8s-openapi",
    "axum",
    "hyper",
    "reqwest",
    "tower",
    "h2",
    "socket2",
    "rusqlite",
    "libsqlite3-sys",
    "postgres",
    "tokio-postgres",
    "getrandom",
    "rand",
    "hale-engine",
];

#[test]
fn hale_domain_depends_on_no_io_crate() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");

    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: BTreeMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root = names
        .iter()
        .find(|(_, n)| **n == "hale-domain")
        .map(|(id, _)| *id)
        .expect("hale-domain is in the workspace");

    // Walk normal (non-dev, non-build) dependency edges only.
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                stack.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    let bad: Vec<&str> = seen
        .iter()
        .map(|id| names[id])
        .filter(|n| FORBIDDEN.contains(n))
        .collect();
    assert!(
        bad.is_empty(),
        "hale-domain must stay pure but depends on {bad:?}"
    );
    assert!(seen.len() > 1, "the walk found hale-domain's dependencies");
}

/// Architecture invariant: dependencies between our crates point inward
/// (apps -> adapters -> engine -> domain). Read from `cargo metadata`.
#[test]
fn workspace_dependencies_point_inward() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    // Layer of each crate by the folder it lives in.
    let layer = |manifest: &str| -> u8 {
        if manifest.contains("/crates/hale-domain/") {
            0
        } else if manifest.contains("/crates/") {
            1
        } else if manifest.contains("/adapters/") {
            2
        } else if manifest.contains("/tests/") {
            // Test doubles and real-process tests (hale-fake-kube,
            // hale-chaos): usable only as dev-dependencies.
            4
        } else {
            3
        }
    };
    let mut by_name = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        by_name.insert(
            p["name"].as_str().unwrap().to_owned(),
            layer(p["manifest_path"].as_str().unwrap()),
        );
    }
    let mut violations = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let from = by_name[name];
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            let dev = d["kind"].as_str() == Some("dev");
            let Some(&to) = by_name.get(dep) else {
                continue;
            };
            // hale-testkit and the crates under tests/ are test support:
            // allowed as dev-dependencies anywhere, never as normal ones.
            if dev && (dep == "hale-testkit" || to == 4) {
                continue;
            }
            // Apps may use adapters' test fakes (hale-fake-kube) and each other only as dev-deps.
            if to > from || (to == from && from < 3 && !dev && from != 1) {
                violations.push(format!("{name} -> {dep}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "dependencies must point inward: {violations:?}"
    );
    assert_eq!(by_name.get("hale-domain"), Some(&0));
}
