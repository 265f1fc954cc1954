//! The one way a request names a file: a path relative to the logdir that must stay inside it.
//! Rejected (the server answers 404 without saying why, so probing learns nothing): empty
//! paths, absolute paths, `..`, `.` and prefix components (after the router's percent-decoding,
//! so `%2e%2e` is `..`), backslashes and NUL, and anything whose canonical path (symbolic
//! links resolved) leaves the canonical logdir or is not a regular file.

use std::path::{Component, Path, PathBuf};

/// The file `relative` names under `root` (canonical), when it is a regular file inside it.
pub fn resolve(root: &Path, relative: &str) -> Option<PathBuf> {
    if relative.is_empty() || relative.contains('\\') || relative.contains('\0') {
        return None;
    }
    let rel = Path::new(relative);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel).canonicalize().ok()?;
    (full.starts_with(root) && full.is_file()).then_some(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_root_resolve() {
        let base = std::env::temp_dir().join(format!("kiln-studio-safe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("logdir");
        std::fs::create_dir_all(root.join("run/validation")).unwrap();
        std::fs::write(root.join("run/validation/x.npy"), b"x").unwrap();
        std::fs::write(base.join("secret"), b"s").unwrap();
        let root = root.canonicalize().unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.join("secret"), root.join("run/link")).unwrap();
            std::os::unix::fs::symlink(&base, root.join("run/up")).unwrap();
        }
        assert!(resolve(&root, "run/validation/x.npy").is_some());
        for bad in [
            "",
            "../secret",
            "run/../../secret",
            "/etc/passwd",
            "./run/validation/x.npy",
            "run\\..\\..\\secret",
            "run/link",
            "run/up/secret",
            "run/validation",
            "run/missing",
            "run/x\0",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad:?}");
        }
        let _ = std::fs::remove_dir_all(&base);
    }
}
