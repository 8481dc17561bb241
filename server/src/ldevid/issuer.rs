//! The pluggable issuer: what turns a verified CSR into a certificate chain for a device, and
//! the checks every issued chain passes before a device gets it.

use std::future::Future;

use time::OffsetDateTime;
use ztp_certs::{Cert, DeviceIdentity, Serial, SerialSource};

use super::csr::VerifiedCsr;

/// What an issuer is asked to certify.
#[derive(Debug, Clone, Copy)]
pub struct IssueRequest<'a> {
    /// The device, as its IDevID names it: the certificate names it so too.
    pub serial: &'a Serial,
    /// Its owner.
    pub customer: &'a str,
    /// The request, whose proof of possession verified.
    pub csr: &'a VerifiedCsr,
}

/// Why an issuer gave no certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The issuer failed (its key, its command, its output).
    #[error("the {issuer} issuer failed: {reason}")]
    Failed {
        /// Which issuer.
        issuer: &'static str,
        /// What happened.
        reason: String,
    },
    /// The issuer's command ran longer than allowed and was killed.
    #[error("the LDevID issuer command did not finish within {0:?}; it was killed")]
    TimedOut(std::time::Duration),
    /// What the issuer returned is not a certificate ztp may hand to this device.
    #[error("the {issuer} issuer returned an unusable certificate: {reason}")]
    Unusable {
        /// Which issuer.
        issuer: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Issues LDevIDs. ztp's own CA per customer and an operator's command implement it; anything
/// else (an EST or ACME client in-process, an HSM-backed CA) can.
pub trait Issuer: Send + Sync {
    /// Its name, for events and errors.
    fn name(&self) -> &'static str;

    /// The chain for `request`: the device's certificate first, then the CAs above it.
    fn issue(
        &self,
        request: IssueRequest<'_>,
    ) -> impl Future<Output = Result<Vec<Cert>, IssueError>> + Send;
}

/// Checks what `issuer` returned for `request`: a chain whose first certificate is an
/// end-entity certificate for the CSR's public key, naming the device's serial, valid now.
pub fn check_issued(
    issuer: &'static str,
    request: IssueRequest<'_>,
    chain: &[Cert],
) -> Result<(), IssueError> {
    let unusable = |reason: String| IssueError::Unusable { issuer, reason };
    let leaf = chain
        .first()
        .ok_or_else(|| unusable("no certificate".into()))?;
    let key = leaf
        .public_key_der()
        .map_err(|e| unusable(format!("its public key: {e}")))?;
    if key != request.csr.spki() {
        return Err(unusable(format!(
            "{} is not for the CSR's public key",
            leaf.subject()
        )));
    }
    if leaf.is_ca() {
        return Err(unusable(format!("{} is a CA certificate", leaf.subject())));
    }
    if !leaf.is_valid_at(OffsetDateTime::now_utc()) {
        return Err(unusable(format!("{} is not valid now", leaf.subject())));
    }
    let names_serial = [SerialSource::SubjectSerialNumber, SerialSource::CommonName]
        .into_iter()
        .filter_map(|source| DeviceIdentity::from_certificate(leaf, source).ok())
        .any(|identity| &identity.serial == request.serial);
    if !names_serial {
        return Err(unusable(format!(
            "{} does not name the device's serial {} (subject serialNumber or CN)",
            leaf.subject(),
            request.serial
        )));
    }
    Ok(())
}
