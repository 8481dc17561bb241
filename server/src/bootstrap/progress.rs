//! report-progress: a device's report kept, its state moved on, its owner's NMS given the
//! host keys it reported with bootstrap-complete. The trust anchors a report carries are
//! checked first ([`super::trust_anchors`]): a report with a bad one is refused whole.

use ztp_yang::{ProgressType, ReportProgressInput};

use super::*;
use crate::auth::device::AuthenticatedDevice;
use crate::domain::notice::Notice;
use crate::domain::progress::{HostKey, Milestone, ProgressReport};
use crate::domain::state::DeviceState;
use crate::store::{CallingDevice, EventKind, NewEvent, StoreError};

/// A device's report as ztp keeps it.
pub(super) fn kept(report: &ReportProgressInput) -> ProgressReport {
    ProgressReport {
        progress_type: report.progress_type.as_str(),
        milestone: milestone(report.progress_type),
        message: report.message.clone(),
        ssh_host_keys: report
            .ssh_host_keys
            .iter()
            .map(|k| HostKey {
                algorithm: k.algorithm.clone(),
                key_data: k.key_data.clone(),
            })
            .collect(),
        trust_anchor_certs: report.trust_anchor_certs.clone(),
    }
}

/// The milestone a report of `progress` marks.
pub(super) fn milestone(progress: ProgressType) -> Milestone {
    if progress.is_complete() {
        Milestone::Complete
    } else if progress.is_terminal() {
        Milestone::Failed
    } else {
        Milestone::Underway
    }
}

impl Bootstrapper {
    /// Takes a progress report; returns the device's new state.
    pub async fn report_progress(
        &self,
        device: &AuthenticatedDevice,
        report: &ReportProgressInput,
        peer: &str,
    ) -> Result<DeviceState, BootstrapError> {
        for (i, anchor) in report.trust_anchor_certs.iter().enumerate() {
            trust_anchors::check(anchor).map_err(|reason| BootstrapError::BadTrustAnchor {
                serial: device.serial().to_owned(),
                index: i + 1,
                reason,
            })?;
        }
        let under_way = self.journal.expect_entry();
        if report.progress_type == ProgressType::BootstrapComplete
            && !report.ssh_host_keys.is_empty()
        {
            self.known_device(device).await?;
            under_way
                .aside(
                    self.outbox
                        .add_host_keys(device.serial(), &report.ssh_host_keys),
                )
                .await?;
        }
        let message = report
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let (serial, peer) = (device.serial().to_owned(), peer.to_owned());
        let report = kept(report);
        let (progress, milestone) = (report.progress_type, report.milestone);
        let event = move |state: DeviceState| NewEvent {
            serial: Some(serial.clone()),
            kind: EventKind::ProgressReported,
            status: Some(204),
            peer: Some(peer.clone()),
            detail: format!("{progress}{message} (now {state})"),
            notice: Notice::of(EventKind::ProgressReported, Some(milestone)),
            request_id: None,
        };
        // The device's existence and pin are checked by the write itself; only a refusal
        // reads the device, to say why.
        let presented = device.fingerprint.to_hex();
        match self
            .journal
            .progress(
                device.serial(),
                &presented,
                &report,
                Box::new(event),
                under_way,
            )
            .await
        {
            Ok(state) => Ok(state),
            Err(StoreError::NotFound { .. }) => {
                self.known_device(device).await?;
                Err(BootstrapError::UnknownDevice(device.serial().to_owned()))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The calling device's record (refused if unknown or its certificate is not the pinned
    /// one), with its owner's revision and its licenses.
    pub(super) async fn known_device(
        &self,
        device: &AuthenticatedDevice,
    ) -> Result<CallingDevice, BootstrapError> {
        let serial = device.serial();
        let calling = self
            .store
            .calling_device(serial)
            .await?
            .ok_or_else(|| BootstrapError::UnknownDevice(serial.to_owned()))?;
        let presented = device.fingerprint.to_hex();
        if let Some(pin) = &calling.device.certificate_pin
            && !pin.eq_ignore_ascii_case(&presented)
        {
            return Err(BootstrapError::PinMismatch {
                serial: serial.to_owned(),
                presented,
            });
        }
        Ok(calling)
    }
}
