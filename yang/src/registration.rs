//! The device registration document (`ztp-device-registration`) that ztp uploads to a
//! customer's NMS over SFTP, one file per device.
//!
//! XML root `<device-registration xmlns="urn:ztp:yang:ztp-device-registration">`; JSON
//! `{"ztp-device-registration:device-registration": {...}}`.

use time::OffsetDateTime;

use crate::encoding::{Model, document};
use crate::error::{DecodeError, ValidationError};
use crate::modules::ZTP_DEVICE_REGISTRATION as REG;
use crate::progress::SshHostKey;
use crate::tree::{Members, Node, Out, expect_root};
use crate::types::{
    binary, check_date_time, check_string, date_time, read_binary, read_date_time, read_string,
};

/// The registration of one device with its owner's NMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRegistration {
    /// `serial-number` (1..64 characters).
    pub serial_number: String,
    /// `model-name`: the hardware model / product id (1..255 characters).
    pub model_name: String,
    /// `owner`: the customer's name (1..255 characters).
    pub owner: String,
    /// `idevid-certificate`: the device's IDevID certificate (DER); none for a device without
    /// one, which its activation code alone authenticated.
    pub idevid_certificate: Option<Vec<u8>>,
    /// `registered-at`.
    pub registered_at: OffsetDateTime,
    /// `ssh-host-keys/ssh-host-key`: from the device's `bootstrap-complete` report, if any.
    pub ssh_host_keys: Vec<SshHostKey>,
}

impl DeviceRegistration {
    fn check(&self) -> Result<(), ValidationError> {
        check_string("serial-number", &self.serial_number, 1, 64)?;
        check_string("model-name", &self.model_name, 1, 255)?;
        check_string("owner", &self.owner, 1, 255)?;
        check_date_time(&self.registered_at)?;
        self.ssh_host_keys.iter().try_for_each(SshHostKey::check)
    }
}

impl Model for DeviceRegistration {
    fn to_tree(&self) -> Out {
        let mut c = vec![
            Out::string(&REG, "serial-number", &self.serial_number),
            Out::string(&REG, "model-name", &self.model_name),
            Out::string(&REG, "owner", &self.owner),
        ];
        if let Some(certificate) = &self.idevid_certificate {
            c.push(Out::leaf(&REG, "idevid-certificate", binary(certificate)));
        }
        c.push(Out::leaf(
            &REG,
            "registered-at",
            date_time(&self.registered_at),
        ));
        if !self.ssh_host_keys.is_empty() {
            let keys = self
                .ssh_host_keys
                .iter()
                .map(|k| k.to_entry(&REG))
                .collect();
            c.push(Out::container(&REG, "ssh-host-keys", keys));
        }
        Out::container(&REG, "device-registration", c)
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        expect_root(root, &REG, "device-registration")?;
        let mut m = Members::of(root)?;
        let registration = Self {
            serial_number: read_string(m.required(&REG, "serial-number")?)?,
            model_name: read_string(m.required(&REG, "model-name")?)?,
            owner: read_string(m.required(&REG, "owner")?)?,
            idevid_certificate: m
                .optional(&REG, "idevid-certificate")?
                .map(read_binary)
                .transpose()?,
            registered_at: read_date_time(m.required(&REG, "registered-at")?)?,
            ssh_host_keys: SshHostKey::read_container(m.optional(&REG, "ssh-host-keys")?, &REG)?,
        };
        m.finish()?;
        Ok(registration)
    }
}

document!(DeviceRegistration);
