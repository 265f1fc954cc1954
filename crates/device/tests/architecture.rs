//! The device crate's modules import each other without cycles: every `crate::` path in a
//! source file (in `use` trees and inline) is an edge to the module it names, and the graph of
//! those edges must be acyclic. Subsystems (pool, batch, encode, pipelines, staging, tuner)
//! never reach back to the `Device` that assembles them. No GPU needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of a source file: `ops/conv2d.rs` -> `ops::conv2d`, `ops/mod.rs` -> `ops`.
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let text = std::fs::read_to_string(&path).expect("read source");
            out.push((module_of(rel), text));
        }
    }
}

/// The code of `src` without comments and without its `#[cfg(test)]` module (tests may use
/// anything).
fn code(src: &str) -> String {
    let body = src.split("#[cfg(test)]\nmod tests").next().unwrap_or(src);
    body.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its full paths.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    match tree.find('{') {
        None => out.push(format!("{prefix}{tree}")),
        Some(open) => {
            let head = &tree[..open];
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&format!("{prefix}{head}"), &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            if !inner[start..].trim().is_empty() {
                expand(&format!("{prefix}{head}"), &inner[start..], out);
            }
        }
    }
}

/// Every `crate::` path in `code`, as written (segments separated by `::`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let is_use_tree = rest[..at].trim_end().ends_with("use");
        if is_use_tree {
            let end = after.find(';').unwrap_or(after.len());
            expand("", &after[..end], &mut out);
            rest = &after[end..];
        } else {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(after.len());
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn device_modules_import_each_other_without_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        for path in crate_paths(&code(text)) {
            let segs: Vec<&str> = path.split("::").map(str::trim).collect();
            // The longest prefix that names a module is the module the path reaches.
            let target = (1..=segs.len())
                .rev()
                .map(|n| segs[..n].join("::"))
                .find(|p| modules.contains(p));
            if let Some(t) = target
                && &t != module
                && !module.starts_with(&format!("{t}::"))
            {
                edges.entry(module.clone()).or_default().insert(t);
            }
        }
    }
    assert!(
        edges.get("pool").is_none_or(|e| !e.contains("context")),
        "the pool must not know the Device"
    );
    // Depth-first search with an explicit path: a back edge is a cycle.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} -> {m}", path[i..].join(" -> "));
        }
        path.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in &modules {
        visit(m, &edges, &mut Vec::new(), &mut done);
    }
    // The parser found the edges it should (a parser that found none would pass vacuously).
    let has = |a: &str, b: &str| edges.get(a).is_some_and(|e| e.contains(b));
    assert!(
        has("context", "pool") && has("launch", "context") && has("ops::conv2d", "ops::conv2d_via")
    );
}

#[test]
fn use_trees_expand_into_full_paths() {
    let mut out = Vec::new();
    expand(
        "",
        "ops::{fits_u32, conv2d::{Conv2dDims, params}}",
        &mut out,
    );
    assert_eq!(
        out,
        [
            "ops::fits_u32",
            "ops::conv2d::Conv2dDims",
            "ops::conv2d::params"
        ]
    );
    assert_eq!(
        crate_paths("use crate::a::{b, c};\nlet x = crate::d::e::f(1);"),
        ["a::b", "a::c", "d::e::f"]
    );
}
