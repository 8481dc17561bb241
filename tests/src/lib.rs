//! Harness for ztp's end-to-end tests: the real `ztp` binary, and the independent tools that
//! check what it makes (`openssl` for certificates and CMS, `yanglint` for YANG documents).
//!
//! Every helper fails the test with a message that says what to install when a tool is
//! missing: `scripts/test` installs them, and a test that silently skips proves nothing.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `ztp` binary of this build: `$ZTP_BIN` if set, else `ztp` beside the test executable's
/// `deps/` directory (where `cargo build --workspace --bins` puts it).
pub fn ztp_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("ZTP_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = profile_dir.join(format!("ztp{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// Runs `ztp` with `args` and returns what it did.
pub fn ztp<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(ztp_bin())
        .args(args)
        .output()
        .expect("ztp runs")
}

/// Runs an external tool, failing the test with an install hint if it is not there.
pub fn tool<I, S>(program: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install it (scripts/test installs what tests need)")
        })
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Both streams, for failure messages.
pub fn transcript(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts the command succeeded and returns its standard output.
pub fn success(output: Output) -> String {
    assert!(
        output.status.success(),
        "command failed:\n{}",
        transcript(&output)
    );
    stdout(&output)
}

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// `yang/modules`: the YANG modules ztp ships.
pub fn yang_modules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../yang/modules")
}

/// `yang/tests/shadow`: test-only copies of modules whose `rc:yang-data` structures are
/// re-declared as containers, so yanglint can validate instances of them.
pub fn yang_shadow_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../yang/tests/shadow")
}

/// `openssl cms -verify` of a DER SignedData against `ca_file`, writing the content to `out`.
/// OpenSSL is an independent implementation: ztp's CMS is checked by it, not by itself.
pub fn openssl_cms_verify(cms: &Path, ca_file: &Path, out: &Path) -> Output {
    tool(
        "openssl",
        [
            "cms".as_ref(),
            "-verify".as_ref(),
            "-inform".as_ref(),
            "DER".as_ref(),
            "-binary".as_ref(),
            "-in".as_ref(),
            cms.as_os_str(),
            "-CAfile".as_ref(),
            ca_file.as_os_str(),
            "-out".as_ref(),
            out.as_os_str(),
        ],
    )
}

/// `openssl cms -cmsout -print` of a DER CMS structure: its parse, as text.
pub fn openssl_cms_print(cms: &Path) -> String {
    success(tool(
        "openssl",
        [
            "cms".as_ref(),
            "-cmsout".as_ref(),
            "-print".as_ref(),
            "-inform".as_ref(),
            "DER".as_ref(),
            "-in".as_ref(),
            cms.as_os_str(),
        ],
    ))
}
