//! End-to-end tests: the real `ztp` binary and ztp's artifacts checked by independent tools.
//! One test binary with a module per capability, so there is one link step.

mod activation_codes;
mod admin;
mod admin_matrix;
mod admin_security;
mod admin_tls;
mod agent;
mod agent_codes;
mod audit;
mod backup;
mod bootstrap;
mod cms_interop;
mod command_line;
mod csr;
mod database;
mod device_port;
mod dhcp_cli;
mod drain;
mod exhaustion;
mod faults;
mod field_devices;
mod hsm;
mod import;
mod imported_vouchers;
mod instances;
mod legacy_devices;
mod licenses;
mod logs;
mod metrics;
mod nms;
mod openapi;
mod owner_credentials;
mod pki_cli;
mod pki_doc;
mod postgres_restart;
mod proxy;
mod registration;
mod reload;
mod rotation;
mod secrets;
mod startup;
mod tokens;
mod voucher_interop;
mod webhooks;

use std::path::Path;

use ztp_certs::dev_pki::{self, layout};
use ztp_certs::{Cert, Signer, SigningKey};
use ztp_tests::{success, ztp};

/// A development PKI made by the real `ztp pki init`.
fn dev_pki(dir: &Path) {
    success(ztp([Path::new("pki"), Path::new("init"), dir]));
}

/// Loads a signer (key + chain) from a PKI directory.
fn signer(pki: &Path, cert: &str, key: &str) -> Signer {
    let chain = Cert::chain_from_pem(&dev_pki::read(&pki.join(cert)).unwrap()).unwrap();
    let key = SigningKey::from_pem(&dev_pki::read(&pki.join(key)).unwrap()).unwrap();
    Signer::new(key, chain).unwrap()
}

/// The first certificate of a PEM file in a PKI directory.
fn cert(pki: &Path, path: &str) -> Cert {
    Cert::from_pem(&dev_pki::read(&pki.join(path)).unwrap()).unwrap()
}

/// The sample customer's directory in a development PKI.
const OWNER: &str = "customers/example-customer";

/// The sample customer's owner signing key and certificate.
fn owner_signer(pki: &Path) -> Signer {
    signer(
        pki,
        &format!("{OWNER}/owner-signing.pem"),
        &format!("{OWNER}/owner-signing.key"),
    )
}

fn masa(pki: &Path) -> Signer {
    signer(pki, layout::MASA, layout::MASA_KEY)
}

/// The cells of a CSV document, row by row (RFC 4180, as a spreadsheet reads it).
fn csv_cells(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// The cells of a CSV document that a spreadsheet would evaluate as a formula.
fn formula_cells(text: &str) -> Vec<String> {
    csv_cells(text)
        .into_iter()
        .flatten()
        .filter(|cell| cell.starts_with(['=', '+', '-', '@', '\t', '\r']))
        .collect()
}
