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

/// `cargo metadata` of the whole workspace, resolved.
fn metadata(no_deps: bool) -> serde_json::Value {
    let mut args = vec!["metadata", "--format-version", "1"];
    if no_deps {
        args.push("--no-deps");
    }
    let out = Command::new(env!("CARGO"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata is JSON")
}

/// The names of every package in `root`'s normal (non-dev, non-build)
/// dependency graph, `root` included.
fn normal_dependencies(meta: &serde_json::Value, root: &str) -> BTreeSet<String> {
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
        .find(|(_, n)| **n == root)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("{root} is in the workspace"));
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
    seen.iter().map(|id| names[id].to_owned()).collect()
}

#[test]
fn hale_domain_depends_on_no_io_crate() {
    let seen = normal_dependencies(&metadata(false), "hale-domain");
    let bad: Vec<&String> = seen
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        bad.is_empty(),
        "hale-domain must stay pure but depends on {bad:?}"
    );
    assert!(seen.len() > 1, "the walk found hale-domain's dependencies");
}

/// Architecture invariant: the `hale` CLI is an HTTP client and an offline
/// policy tool; it links no HTTP server, Kubernetes client or Redis client
/// (it reads the server's configuration through `hale-config`, not
/// `hale-server`).
#[test]
fn the_cli_links_no_server_kubernetes_or_redis_stack() {
    let seen = normal_dependencies(&metadata(false), "hale-cli");
    let server_stack = [
        "axum",
        "kube",
        "kube-client",
        "k8s-openapi",
        "redis",
        "deadpool-redis",
        "hale-server",
        "hale-kube",
        "hale-redis",
        "maud",
    ];
    let bad: Vec<&String> = seen
        .iter()
        .filter(|n| server_stack.contains(&n.as_str()))
        .collect();
    assert!(bad.is_empty(), "hale-cli links {bad:?}");
    assert!(seen.contains("hale-config"), "the walk found hale-config");
}

/// Architecture invariant: dependencies between our crates point inward
/// (apps -> adapters -> engine -> domain). Read from `cargo metadata`.
#[test]
fn workspace_dependencies_point_inward() {
    let meta = metadata(true);
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
    // Packages with a binary: an app is a program, never a library of
    // another app (hale-config, the app layer's one library, has none).
    let mut programs = BTreeSet::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_owned();
        by_name.insert(name.clone(), layer(p["manifest_path"].as_str().unwrap()));
        let has_bin = p["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"));
        if has_bin {
            programs.insert(name);
        }
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
            // Apps may use adapters' test fakes (hale-fake-kube) and each
            // other only as dev-deps; an app's normal dependency within its
            // layer is a library without a program (hale-config).
            let app_on_program = from == 3 && to == 3 && !dev && programs.contains(dep);
            if to > from || (to == from && from < 3 && !dev && from != 1) || app_on_program {
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

/// Architecture invariant: tokio's `test-util` (the paused clock) is in no
/// release build of the programs, alone or built together: it lives behind
/// hale-cli's opt-in `simulate` feature and in dev-dependencies. Were it
/// in one program's normal dependencies, `cargo build --release -p
/// hale-server -p hale-cli` followed by `-p hale-server` alone would build
/// tokio, and everything above it, twice.
#[test]
fn tokio_test_util_is_in_no_default_build_of_the_programs() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "hale-server",
            "-p",
            "hale-cli",
            "-p",
            "hale-load",
            "-e",
            "normal,features",
            "-i",
            "tokio",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("tokio v1"), "the tree shows tokio: {tree}");
    assert!(
        !tree.contains("feature \"test-util\""),
        "tokio's test-util is in a default build of the programs:\n{tree}"
    );
}
