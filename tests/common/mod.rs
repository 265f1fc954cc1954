//! Helpers shared by the root test crates: the Python a test runs (Keras's, or one with
//! safetensors and numpy), found or skipped the same way everywhere. Each crate uses some.
#![allow(dead_code)]

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
