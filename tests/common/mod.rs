//! Helpers shared by the root test crates: the Python a test runs (Keras's, or one with
//! safetensors and numpy), found or skipped the same way everywhere. Each crate uses some.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python named by `$var` (else `python3`) if it imports `modules`; otherwise `None` with
/// a printed reason, or a failure when `$require` is "1" (the test script sets it).
pub fn python(var: &str, require: &str, modules: &str, test: &str) -> Option<String> {
    let python = std::env::var(var).unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output();
    if probe.as_ref().is_ok_and(|o| o.status.success()) {
        return Some(python);
    }
    assert_ne!(
        std::env::var(require).as_deref(),
        Ok("1"),
        "{require}=1 but {python} cannot import {modules}"
    );
    eprintln!("skipping {test}: {python} cannot import {modules}");
    None
}

/// A Python with Keras (`KILN_KERAS_PYTHON`, required by `KILN_REQUIRE_KERAS=1`).
pub fn keras_python(modules: &str, test: &str) -> Option<String> {
    python("KILN_KERAS_PYTHON", "KILN_REQUIRE_KERAS", modules, test)
}

/// Checks `logdir` with the real TensorBoard (../shared/tbcheck, `--strict`) against the
/// `expect` specs; skipped with a reason when the tool or its venv is missing, unless
/// KILN_REQUIRE_TBCHECK=1.
pub fn tbcheck(logdir: &Path, expect: &[&str]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tool = root.join("../shared/tbcheck/tbcheck.py");
    let venv = std::env::var_os("TBCHECK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".tbcheck-venv"));
    if !tool.exists() || !venv.join("bin/python").exists() {
        assert_ne!(
            std::env::var("KILN_REQUIRE_TBCHECK").as_deref(),
            Ok("1"),
            "KILN_REQUIRE_TBCHECK=1 but tbcheck or its venv is missing"
        );
        eprintln!(
            "skipping the real-TensorBoard check: ../shared/tbcheck or its venv ({}) is missing",
            venv.display()
        );
        return;
    }
    let out = Command::new(venv.join("bin/python"))
        .arg(&tool)
        .arg(logdir)
        .arg("--strict")
        .arg("--expect")
        .args(expect)
        .output()
        .expect("running tbcheck.py");
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tbcheck failed:\n{report}");
    eprintln!("{report}");
}

/// The events of the one event file in `dir`.
pub fn events_in(dir: &Path) -> Vec<kiln::summary::proto::Event> {
    let file = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("events.out.tfevents")
        })
        .unwrap();
    kiln::summary::read_events(file).unwrap()
}
