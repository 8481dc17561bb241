//! LDevIDs (IEEE 802.1AR local device identities) issued in the bootstrap exchange (RFC 9646).
//!
//! A device that says it can make a CSR (`csr-support`) is asked for one ([`csr_request`]: a
//! PKCS#10 CSR, for a new key of the first algorithm it offers that ztp accepts, or for its
//! IDevID's key when it cannot make keys); the CSR it then sends is checked
//! ([`csr::VerifiedCsr`]: its proof of possession first), issued by the customer's issuer
//! ([`issuer::Issuer`]: ztp's own CA per customer, [`ztp_ca::ZtpCa`], or the operator's
//! external CA behind a command, [`command::CommandIssuer`]), the chain checked
//! ([`issuer::check_issued`]) and conveyed in the onboarding information ([`conveyance`]).
//!
//! May import: nothing else of ztp.

pub mod command;
pub mod conveyance;
pub mod csr;
pub mod issuer;
pub mod ztp_ca;

use ztp_certs::Cert;
use ztp_yang::{CsrFormat, CsrRequest, CsrSupport};

use self::command::CommandIssuer;
use self::conveyance::ConveyanceError;
use self::csr::{CsrError, VerifiedCsr};
use self::issuer::{IssueError, IssueRequest, Issuer, check_issued};
use self::ztp_ca::ZtpCa;

/// Why a device that offers CSRs is not asked for one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Declined {
    /// It makes no PKCS#10 CSR, the only format ztp takes.
    #[error("it makes no PKCS#10 CSR (it offers {0})")]
    NoP10(String),
    /// It can make keys, but of no algorithm ztp issues for.
    #[error("it offers no key algorithm ztp issues for ({0} offered)")]
    NoAlgorithm(usize),
}

/// Why a device's CSR gets no certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdevidError {
    /// A CMC or CMP request: ztp takes PKCS#10 only.
    #[error("the CSR format {0} is not supported; send a p10-csr")]
    UnsupportedFormat(CsrFormat),
    /// The CSR is refused.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// The issuer gave no usable certificate.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The customer's issuer is the command, and none is configured.
    #[error(
        "the customer's LDevIDs come from the issuer command, and [ldevid] command is not configured"
    )]
    NoCommand,
    /// The certificate cannot be conveyed in the onboarding information.
    #[error(transparent)]
    Conveyance(#[from] ConveyanceError),
}

impl LdevidError {
    /// Whether the device's request is at fault (a 400), rather than ztp or its issuer.
    pub fn is_the_devices(&self) -> bool {
        matches!(self, Self::UnsupportedFormat(_) | Self::Csr(_))
    }
}

/// The `csr-request` answering `support`: a PKCS#10 CSR, for a new key of the first algorithm
/// the device offers that ztp accepts (none offered: for the key it has).
pub fn csr_request(support: &CsrSupport) -> Result<CsrRequest, Declined> {
    if !support.formats.contains(&CsrFormat::P10) {
        let offered: Vec<String> = support.formats.iter().map(ToString::to_string).collect();
        return Err(Declined::NoP10(offered.join(", ")));
    }
    let key_generation = match &support.key_generation {
        None => None,
        Some(offered) => Some(
            offered
                .iter()
                .find(|a| csr::accepted(a).is_some())
                .cloned()
                .ok_or(Declined::NoAlgorithm(offered.len()))?,
        ),
    };
    Ok(CsrRequest {
        key_generation,
        format: CsrFormat::P10,
        cert_req_info: None,
    })
}

/// Where a customer's LDevIDs come from.
#[derive(Debug)]
pub enum Source<'a> {
    /// ztp's CA of the customer.
    ZtpCa(&'a ZtpCa),
    /// The operator's command.
    Command,
}

/// The issuers in force: the command, when the configuration names one.
#[derive(Debug, Default)]
pub struct Ldevids {
    command: Option<CommandIssuer>,
}

impl Ldevids {
    /// Issuers with `command` as the external one.
    pub fn new(command: Option<CommandIssuer>) -> Self {
        Self { command }
    }

    /// Whether an issuer command is configured.
    pub fn has_command(&self) -> bool {
        self.command.is_some()
    }

    /// Verifies `csr` (DER PKCS#10), has `source` issue it for the device and checks the chain.
    /// Returns the verified CSR (its key goes into the keystore) and the chain.
    pub async fn issue(
        &self,
        source: Source<'_>,
        serial: &ztp_certs::Serial,
        customer: &str,
        csr: &[u8],
    ) -> Result<(VerifiedCsr, Vec<Cert>, &'static str), LdevidError> {
        let csr = VerifiedCsr::verify(csr)?;
        let request = IssueRequest {
            serial,
            customer,
            csr: &csr,
        };
        let (name, chain) = match source {
            Source::ZtpCa(ca) => (ca.name(), ca.issue(request).await?),
            Source::Command => {
                let command = self.command.as_ref().ok_or(LdevidError::NoCommand)?;
                (command.name(), command.issue(request).await?)
            }
        };
        check_issued(name, request, &chain)?;
        Ok((csr, chain, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_accepted_algorithm_the_device_offers_is_chosen() {
        let support = CsrSupport {
            key_generation: Some(vec![
                vec![0x30, 0x00],
                csr::EC_P384.to_vec(),
                csr::EC_P256.to_vec(),
            ]),
            formats: vec![CsrFormat::Cmp, CsrFormat::P10],
        };
        let request = csr_request(&support).unwrap();
        assert_eq!(request.key_generation.as_deref(), Some(csr::EC_P384));
        assert_eq!(request.format, CsrFormat::P10);
    }

    #[test]
    fn a_device_that_cannot_make_keys_is_asked_for_its_own() {
        let support = CsrSupport {
            key_generation: None,
            formats: vec![CsrFormat::P10],
        };
        assert_eq!(csr_request(&support).unwrap().key_generation, None);
    }

    #[test]
    fn devices_ztp_cannot_serve_are_declined() {
        let cmp_only = CsrSupport {
            key_generation: None,
            formats: vec![CsrFormat::Cmp],
        };
        assert_eq!(
            csr_request(&cmp_only),
            Err(Declined::NoP10("ietf-ztp-types:cmp-csr".into()))
        );
        let unknown_keys = CsrSupport {
            key_generation: Some(vec![vec![0x30, 0x00]]),
            formats: vec![CsrFormat::P10],
        };
        assert_eq!(csr_request(&unknown_keys), Err(Declined::NoAlgorithm(1)));
    }

    #[tokio::test]
    async fn a_forged_csr_gets_nothing_and_a_missing_command_is_said() {
        let (cert, key) = ZtpCa::generate("acme").unwrap();
        let ca = ZtpCa::load("acme", &cert, &key).unwrap();
        let serial = ztp_certs::Serial::parse("SN-1").unwrap();
        let good = csr::tests::csr(&rcgen::PKCS_ECDSA_P256_SHA256, "device-A");
        let forged = csr::tests::replace(&good, b"device-A", b"device-B");
        let ldevids = Ldevids::default();
        let e = ldevids
            .issue(Source::ZtpCa(&ca), &serial, "acme", &forged)
            .await
            .unwrap_err();
        assert!(matches!(e, LdevidError::Csr(CsrError::BadSignature)) && e.is_the_devices());
        let e = ldevids
            .issue(Source::Command, &serial, "acme", &good)
            .await
            .unwrap_err();
        assert!(matches!(e, LdevidError::NoCommand) && !e.is_the_devices());
        let (_, chain, issuer) = ldevids
            .issue(Source::ZtpCa(&ca), &serial, "acme", &good)
            .await
            .unwrap();
        assert_eq!((chain.len(), issuer), (2, "ztp CA"));
    }
}
