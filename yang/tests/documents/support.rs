//! yanglint harness: module directories (real and shadow) and validation of documents.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;
use ztp_yang::modules;

/// The shadow modules: test-only copies of modules whose `rc:yang-data` is replaced by
/// top-level data nodes in the same namespace, because yanglint 2.1 cannot validate yang-data
/// instances.
pub(crate) const SHADOW_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/shadow");

/// Path of the yanglint binary; fails the test (never skips) when it is missing.
pub(crate) fn yanglint() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("yanglint"))
        .find(|candidate| candidate.is_file())
        .expect(
            "yanglint not found on PATH: install it (Debian: `apt-get install libyang2-tools`); \
             these tests validate ztp's YANG documents with it",
        )
}

/// A temporary directory with the module files, optionally with the shadow modules in place of
/// the real ones.
pub(crate) struct Schemas {
    dir: TempDir,
}

impl Schemas {
    /// The real modules.
    pub(crate) fn real() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        modules::write_all(dir.path()).expect("write modules");
        Self { dir }
    }

    /// The real modules with the shadows written over them.
    pub(crate) fn shadowed() -> Self {
        let schemas = Self::real();
        for entry in fs::read_dir(SHADOW_DIR).expect("shadow dir") {
            let entry = entry.expect("shadow entry");
            fs::copy(entry.path(), schemas.dir.path().join(entry.file_name())).expect("copy");
        }
        schemas
    }

    /// Path of a module file in this directory.
    pub(crate) fn module(&self, name: &str) -> PathBuf {
        let module = modules::by_name(name).expect("known module");
        self.dir.path().join(module.file_name())
    }

    /// Runs yanglint with `-p <dir>`, the given arguments and files; `Err(output)` on failure.
    pub(crate) fn lint(&self, args: &[&str], files: &[&Path]) -> Result<String, String> {
        let output = Command::new(yanglint())
            .arg("-p")
            .arg(self.dir.path())
            .args(args)
            .args(files)
            .output()
            .expect("run yanglint");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() && !text.contains("err") {
            Ok(text)
        } else {
            Err(text)
        }
    }

    /// Validates a document against the named modules. `kind` is yanglint's `-t` (`rpc`,
    /// `reply`) or `None` for data.
    pub(crate) fn validate(
        &self,
        kind: Option<&str>,
        modules: &[&str],
        document: &str,
        extension: &str,
    ) -> Result<String, String> {
        let doc = self.dir.path().join(format!("document.{extension}"));
        fs::write(&doc, document).expect("write document");
        let schema_files: Vec<PathBuf> = modules.iter().map(|m| self.module(m)).collect();
        let mut files: Vec<&Path> = schema_files.iter().map(PathBuf::as_path).collect();
        files.push(&doc);
        let args: Vec<&str> = match kind {
            Some(kind) => vec!["-t", kind],
            None => vec![],
        };
        self.lint(&args, &files)
            .map_err(|e| format!("{e}\n--- document ---\n{document}"))
    }
}

/// Rewrites an RPC `input`/`output` document into the form yanglint's `-t rpc`/`-t reply`
/// expects: the root named after the RPC.
pub(crate) fn as_operation(document: &str, root: &str, rpc: &str) -> String {
    let module = "ietf-sztp-bootstrap-server";
    if document.starts_with('{') {
        document.replacen(
            &format!("\"{module}:{root}\""),
            &format!("\"{module}:{rpc}\""),
            1,
        )
    } else {
        let open = document.replacen(&format!("<{root} "), &format!("<{rpc} "), 1);
        let close = format!("</{root}>");
        match open.rfind(&close) {
            Some(i) => format!("{}</{rpc}>{}", &open[..i], &open[i + close.len()..]),
            // `<input .../>`: self-closed root.
            None => open,
        }
    }
}
