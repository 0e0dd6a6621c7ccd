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
