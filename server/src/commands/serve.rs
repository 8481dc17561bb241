//! `ztp serve`.

use std::process::ExitCode;

use anyhow::Context;
use ztp_certs::dev_pki::{self, DevPkiOptions};

use crate::cli::ServeArgs;

/// The exit code for "this service is not available" (sysexits `EX_UNAVAILABLE`).
const EX_UNAVAILABLE: u8 = 69;

/// Prepares the data directory and its development PKI. The RFC 8572 listener itself arrives
/// with the bootstrap-server work; until then this says so and exits with `EX_UNAVAILABLE`.
pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let pki_dir = args.data_dir.join("pki");
    if !pki_dir.join(dev_pki::layout::MANIFEST).exists() {
        dev_pki::generate(&pki_dir, &DevPkiOptions::default())
            .with_context(|| format!("creating the development PKI in {}", pki_dir.display()))?;
        tracing::warn!(
            dir = %pki_dir.display(),
            "generated a DEVELOPMENT PKI with unencrypted keys: never use it in production"
        );
    }
    eprintln!(
        "ztp serve: data directory {} is ready (development PKI in {}), but the bootstrap \
         server is not implemented yet.",
        args.data_dir.display(),
        pki_dir.display()
    );
    Ok(ExitCode::from(EX_UNAVAILABLE))
}
