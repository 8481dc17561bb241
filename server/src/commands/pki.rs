//! `ztp pki`: a development PKI, device IDevIDs, certificate inspection.

use std::path::Path;

use anyhow::Context;
use ztp_certs::dev_pki::{self, DevPkiOptions, PkiFile};
use ztp_certs::{Cert, DeviceIdentity, IdevidSpec, ProductId, Serial, SerialSource};

use super::output::print;
use crate::cli::{IssueDeviceArgs, PkiCommand, PkiInitArgs};

/// Runs a `ztp pki` subcommand.
pub fn run(command: PkiCommand) -> anyhow::Result<()> {
    match command {
        PkiCommand::Init(args) => init(&args),
        PkiCommand::IssueDevice(args) => issue_device(&args),
        PkiCommand::Revoke { pki, serial } => revoke(&pki, &serial),
        PkiCommand::Show { file } => show(&file),
    }
}

fn revoke(pki: &Path, serial: &str) -> anyhow::Result<()> {
    let serial = Serial::parse(serial).context("--serial")?;
    let crl = dev_pki::revoke_device(pki, &serial)
        .with_context(|| format!("revoking {} in {}", serial.as_str(), pki.display()))?;
    print(&format!(
        "revoked the IDevID of {}; CRL re-signed: {}\n",
        serial.as_str(),
        crl.display()
    ))
}

fn init(args: &PkiInitArgs) -> anyhow::Result<()> {
    let model = ProductId::parse(&args.model).context("--model")?;
    let devices = (1..=args.devices)
        .map(|n| Ok((Serial::parse(&format!("SN-{n:04}"))?, model.clone())))
        .collect::<Result<Vec<_>, ztp_certs::IdentityError>>()?;
    let options = DevPkiOptions {
        manufacturer: args.manufacturer.clone(),
        customer: args.customer.clone(),
        devices,
        server_names: args.server_names.clone(),
        server_keys: args.server_key.into(),
    };
    let pki = dev_pki::generate(&args.dir, &options)
        .with_context(|| format!("creating a development PKI in {}", args.dir.display()))?;
    print(&format!(
        "Development PKI written to {} (keys unencrypted: development only).\n\n",
        pki.dir.display()
    ))?;
    print_files(&pki.dir, &pki.files)
}

fn issue_device(args: &IssueDeviceArgs) -> anyhow::Result<()> {
    let spec = IdevidSpec {
        serial: Serial::parse(&args.serial).context("--serial")?,
        model: ProductId::parse(&args.model).context("--model")?,
        placement: args.placement.into(),
        hardware_module_name: !args.no_hardware_module_name,
        key_algorithm: args.key_type,
    };
    let files = dev_pki::issue_device(&args.pki, &spec)
        .with_context(|| format!("issuing an IDevID from the PKI in {}", args.pki.display()))?;
    print_files(&args.pki, &files)
}

fn print_files(dir: &Path, files: &[PkiFile]) -> anyhow::Result<()> {
    for file in files {
        print(&format!(
            "{:<60} {}\n",
            dir.join(&file.path).display(),
            file.description
        ))?;
    }
    Ok(())
}

fn show(path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs = match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN") => Cert::chain_from_pem(text)?,
        _ => vec![Cert::from_der(bytes)?],
    };
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
    let described: Vec<String> = certs.iter().map(describe).collect();
    print(&described.join("\n"))
}

/// The facts `ztp pki show` prints about one certificate.
pub fn describe(cert: &Cert) -> String {
    let mut out = format!(
        "subject:      {}\nissuer:       {}\n",
        cert.subject(),
        cert.issuer()
    );
    if cert.is_ca() {
        out.push_str("kind:         CA\n");
    }
    for source in [
        SerialSource::SubjectSerialNumber,
        SerialSource::CommonName,
        SerialSource::HardwareModuleName,
    ] {
        if let Ok(identity) = DeviceIdentity::from_certificate(cert, source) {
            out.push_str(&format!("device ({source}): {identity}\n"));
        }
    }
    out.push_str(&format!(
        "serial:       {}\nnot before:   {}\nnot after:    {}\nSHA-256:      {}\n",
        cert.serial_number_hex(),
        rfc3339(cert.not_before()),
        rfc3339(cert.not_after()),
        cert.fingerprint(),
    ));
    out
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
