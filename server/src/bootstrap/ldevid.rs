//! RFC 9646 in the answer: a device that offers CSRs to an owner who wants LDevIDs is asked for
//! one; the CSR it sends is verified and issued, and the answer's onboarding information
//! carries the certificate (signed per request: it is the device's own).
//!
//! Only onboarding information can carry a certificate: a device that is redirected (to the
//! owner's own bootstrap server, which may ask for a CSR itself), or whose owner's
//! configuration is not XML or JSON, gets its usual answer, as does a device of an owner
//! without LDevIDs.

use ztp_yang::{Binary, ConveyedInformation, Csr, CsrMessage};

use super::*;
use crate::artifacts;
use crate::ldevid::conveyance;
use crate::ldevid::{LdevidError, Source, csr_request};
use crate::store::LdevidIssuer;

/// The onboarding information with the device's LDevID, and what was issued.
pub(super) struct IssuedLdevid {
    /// The owner's onboarding information, its configuration carrying the LDevID.
    pub(super) info: OnboardingInformation,
    /// For the event log.
    pub(super) describe: String,
}

impl Bootstrapper {
    /// Issues LDevIDs with `ldevids` (the `[ldevid]` command for owners set to `command`).
    pub fn with_ldevids(mut self, ldevids: Ldevids) -> Self {
        self.ldevids = ldevids;
        self
    }

    /// What the device's `csr-support` or `csr` does to its answer: nothing, a CSR request
    /// ([`BootstrapError::CsrWanted`]), or an LDevID issued.
    pub(super) async fn ldevid(
        &self,
        call: Call<'_>,
        customer: &str,
        owner: &OwnerEntry,
        conveyed: &Conveyed<'_, OnboardingInformation>,
        plan: Plan,
    ) -> Result<Option<IssuedLdevid>, BootstrapError> {
        let Some(message) = call.csr else {
            return Ok(None);
        };
        let serial = call.device.serial();
        let source = match (owner.ldevid, &owner.ldevid_ca) {
            (LdevidIssuer::Off, _) => return Ok(None),
            (LdevidIssuer::ZtpCa, Some(ca)) => Source::ZtpCa(ca),
            (LdevidIssuer::ZtpCa, None) => {
                return Err(owner_error(
                    customer,
                    "LDevIDs from ztp's CA, but it has none",
                ));
            }
            (LdevidIssuer::Command, _) => Source::Command,
        };
        let Conveyed::Onboarding(info) = conveyed else {
            tracing::debug!(%serial, "a device that offers a CSR is redirected: no LDevID");
            return Ok(None);
        };
        if !conveyance::can_carry(info) {
            tracing::info!(
                %serial, customer,
                "no CSR asked for: the owner's configuration is neither XML nor JSON"
            );
            return Ok(None);
        }
        let refused = |error| BootstrapError::Ldevid {
            serial: serial.to_owned(),
            error,
        };
        let der = match message {
            CsrMessage::Support(support) => {
                return match csr_request(support) {
                    Ok(request) => Err(BootstrapError::CsrWanted {
                        serial: serial.to_owned(),
                        request,
                    }),
                    Err(declined) => {
                        tracing::info!(%serial, customer, "no CSR asked for: {declined}");
                        Ok(None)
                    }
                };
            }
            CsrMessage::Csr(Csr::P10(der)) => der,
            CsrMessage::Csr(other) => {
                return Err(refused(LdevidError::UnsupportedFormat(other.format())));
            }
        };
        let (csr, chain, issuer) = self
            .ldevids
            .issue(source, serial, customer, der)
            .await
            .map_err(refused)?;
        let info = conveyance::with_ldevid(info, &chain, csr.spki(), plan.conveyed_encoding)
            .map_err(|e| refused(e.into()))?;
        let leaf = &chain[0];
        Ok(Some(IssuedLdevid {
            info,
            describe: format!(
                "LDevID issued by {issuer} for its {} key: {} (serial {}, until {})",
                csr.algorithm(),
                leaf.subject(),
                leaf.serial_number_hex(),
                leaf.not_after().date()
            ),
        }))
    }

    /// Conveyed information made for one answer (not cached: it carries the device's LDevID).
    pub(super) fn conveyed_once(
        &self,
        owner: &OwnerEntry,
        info: &OnboardingInformation,
        plan: Plan,
    ) -> Result<Binary, BootstrapError> {
        let signer = plan.signed.then(|| owner.credentials.signer());
        Ok(Binary::from(artifacts::conveyed_information(
            &ConveyedInformation::Onboarding(info.clone()),
            plan.conveyed_encoding,
            signer,
        )?))
    }
}
