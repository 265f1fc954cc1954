//! kiln-nn reaches the device layer only through kiln-graph, except where it launches its own
//! kernels on GPU-resident state: the optimizers (`optimizers.rs`, `optimizer_packed.rs`,
//! `packing.rs`) and the metrics (`metrics.rs`). No GPU needed.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            out.push((path.display().to_string(), text));
        }
    }
}

#[test]
fn only_the_optimizers_and_metrics_import_the_device_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let allowed = [
        "optimizers.rs",
        "optimizer_packed.rs",
        "packing.rs",
        "metrics.rs",
    ];
    let mut users = Vec::new();
    for (path, text) in &files {
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect();
        if code.contains("kiln_device") {
            users.push(path.clone());
            assert!(
                allowed.iter().any(|a| path.ends_with(a)),
                "{path} imports kiln_device: use what kiln_graph offers (shape rules, Rows, \
                 Tensor::read_many, the re-exported types) instead"
            );
        }
    }
    assert_eq!(users.len(), 4, "the four documented users: {users:?}");
}
