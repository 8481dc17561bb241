//! A complete development PKI on disk: everything `ztp serve` needs to run on its defaults and
//! everything a test device needs to bootstrap against it.
//!
//! It is for development and tests only: the keys lie unencrypted beside the certificates. A
//! manufacturer brings its own CAs and keeps their keys in an HSM.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use crate::authority::{CertificateAuthority, IdevidSpec, Revocation, SerialPlacement};
use crate::cert::Cert;
use crate::error::PkiError;
use crate::identity::{ProductId, Serial};
use crate::key::{KeyAlgorithm, SigningKey};

/// Where each file of a development PKI lives, relative to its directory.
pub mod layout {
    /// Manufacturer root CA certificate: the trust anchor devices hold.
    pub const ROOT_CA: &str = "manufacturer/root-ca.pem";
    /// Manufacturer root CA key.
    pub const ROOT_CA_KEY: &str = "manufacturer/root-ca.key";
    /// IDevID issuing CA certificate: what ztp verifies device certificates against.
    pub const IDEVID_CA: &str = "manufacturer/idevid-ca.pem";
    /// IDevID issuing CA key.
    pub const IDEVID_CA_KEY: &str = "manufacturer/idevid-ca.key";
    /// CRL of the IDevID issuing CA.
    pub const IDEVID_CRL: &str = "manufacturer/idevid-ca.crl.pem";
    /// The IDevIDs revoked so far, from which `revoke_device` re-signs the CRL.
    pub const IDEVID_REVOKED: &str = "manufacturer/idevid-ca.revoked";
    /// The CA that issues voucher signers and nothing else: devices' anchor for vouchers.
    pub const VOUCHER_CA: &str = "manufacturer/voucher-ca.pem";
    /// The voucher CA's key.
    pub const VOUCHER_CA_KEY: &str = "manufacturer/voucher-ca.key";
    /// The CA that issues license signers and nothing else: devices' anchor for licenses.
    pub const LICENSE_CA: &str = "manufacturer/license-ca.pem";
    /// The license CA's key.
    pub const LICENSE_CA_KEY: &str = "manufacturer/license-ca.key";
    /// Voucher-signing (MASA) certificate chain.
    pub const MASA: &str = "manufacturer/masa.pem";
    /// Voucher-signing key.
    pub const MASA_KEY: &str = "manufacturer/masa.key";
    /// License-signing certificate chain.
    pub const LICENSE_SIGNING: &str = "manufacturer/license-signing.pem";
    /// License-signing key.
    pub const LICENSE_SIGNING_KEY: &str = "manufacturer/license-signing.key";
    /// TLS server certificate chain of the bootstrap server.
    pub const TLS_SERVER: &str = "server/tls.pem";
    /// TLS server key.
    pub const TLS_SERVER_KEY: &str = "server/tls.key";
    /// The RSA TLS server certificate written beside an ECDSA one ([`super::ServerKeys::Both`]).
    pub const TLS_SERVER_RSA: &str = "server/tls-rsa.pem";
    /// Its key.
    pub const TLS_SERVER_RSA_KEY: &str = "server/tls-rsa.key";
    /// The manifest listing every file and what it is.
    pub const MANIFEST: &str = "MANIFEST.txt";

    /// A customer's (owner's) directory.
    pub fn customer(name: &str) -> String {
        format!("customers/{name}")
    }

    /// A device's directory.
    pub fn device(serial: &str) -> String {
        format!("devices/{serial}")
    }
}

/// What to put in a development PKI.
#[derive(Debug, Clone)]
pub struct DevPkiOptions {
    /// The manufacturer's organization name.
    pub manufacturer: String,
    /// The sample customer's name (also its directory name).
    pub customer: String,
    /// Sample devices: serial and model.
    pub devices: Vec<(Serial, ProductId)>,
    /// DNS names and IP addresses of the TLS server certificate.
    pub server_names: Vec<String>,
    /// The TLS server certificates' key types.
    pub server_keys: ServerKeys,
}

/// Which TLS server certificates a development PKI holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServerKeys {
    /// One, ECDSA P-256.
    #[default]
    Ecdsa,
    /// One, RSA 2048: for device software that rejects ECDSA server certificates.
    Rsa,
    /// ECDSA (`server/tls.pem`) and RSA beside it (`server/tls-rsa.pem`), for
    /// `device_api.alternative_tls_certificate`.
    Both,
}

impl Default for DevPkiOptions {
    fn default() -> Self {
        let device = |n: u32| {
            // Constant, valid values: parsing cannot fail.
            (
                Serial::parse(&format!("SN-{n:04}")).expect("valid sample serial"),
                ProductId::parse("uCPE-100").expect("valid sample model"),
            )
        };
        Self {
            manufacturer: "ztp Development Manufacturer".into(),
            customer: "example-customer".into(),
            devices: (1..=3).map(device).collect(),
            server_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            server_keys: ServerKeys::default(),
        }
    }
}

/// One file of a PKI directory and what it is for.
#[derive(Debug, Clone)]
pub struct PkiFile {
    /// Path relative to the PKI directory.
    pub path: PathBuf,
    /// What the file is.
    pub description: String,
}

/// A development PKI written to a directory.
#[derive(Debug, Clone)]
pub struct DevPki {
    /// The directory.
    pub dir: PathBuf,
    /// Every file written, in a useful reading order.
    pub files: Vec<PkiFile>,
}

/// Generates a complete development PKI into `dir` (created if missing; refused if it already
/// holds a PKI, so that keys are never overwritten).
pub fn generate(dir: &Path, options: &DevPkiOptions) -> Result<DevPki, PkiError> {
    let customer = path_component("customer name", &options.customer)?;
    if dir.join(layout::MANIFEST).exists() {
        return Err(PkiError::Io {
            path: dir.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already holds a PKI; choose an empty directory",
            ),
        });
    }
    let mfg = options.manufacturer.as_str();
    let alg = KeyAlgorithm::EcdsaP256;
    let mut out = Writer {
        dir: dir.to_owned(),
        files: Vec::new(),
    };

    let root = CertificateAuthority::new_root(&format!("{mfg} Root CA"), mfg, alg)?;
    out.ca(
        &root,
        layout::ROOT_CA,
        layout::ROOT_CA_KEY,
        "manufacturer root CA (devices' trust anchor for this server's TLS)",
    )?;

    let idevid_ca = root.new_subordinate(&format!("{mfg} IDevID CA"), mfg, alg)?;
    out.ca(
        &idevid_ca,
        layout::IDEVID_CA,
        layout::IDEVID_CA_KEY,
        "IDevID issuing CA (ztp verifies device certificates against it)",
    )?;
    let now = OffsetDateTime::now_utc();
    let crl = idevid_ca.crl(&[], 1, now - Duration::hours(1), now + Duration::days(30))?;
    out.text(
        layout::IDEVID_CRL,
        &crl,
        false,
        "CRL of the IDevID issuing CA (empty)",
    )?;

    // Each signing role has a CA of its own, which devices anchor for that role alone: were
    // vouchers anchored at the root, any key under it (an IDevID, the TLS key, the license
    // signer) could sign one.
    let voucher_ca = root.new_subordinate(&format!("{mfg} Voucher CA"), mfg, alg)?;
    out.ca(
        &voucher_ca,
        layout::VOUCHER_CA,
        layout::VOUCHER_CA_KEY,
        "voucher CA: issues the voucher signer only (devices' trust anchor for vouchers)",
    )?;
    let (cert, key) = voucher_ca.issue_signer(&format!("{mfg} Voucher Signing"), mfg, alg)?;
    out.pair(
        &[cert, voucher_ca.cert().clone()],
        &key,
        layout::MASA,
        layout::MASA_KEY,
        "voucher-signing (MASA) certificate chain",
    )?;
    let license_ca = root.new_subordinate(&format!("{mfg} License CA"), mfg, alg)?;
    out.ca(
        &license_ca,
        layout::LICENSE_CA,
        layout::LICENSE_CA_KEY,
        "license CA: issues the license signer only (devices' trust anchor for licenses)",
    )?;
    let (cert, key) = license_ca.issue_signer(&format!("{mfg} License Signing"), mfg, alg)?;
    out.pair(
        &[cert, license_ca.cert().clone()],
        &key,
        layout::LICENSE_SIGNING,
        layout::LICENSE_SIGNING_KEY,
        "license-signing certificate chain",
    )?;
    let main = match options.server_keys {
        ServerKeys::Rsa => KeyAlgorithm::Rsa2048,
        ServerKeys::Ecdsa | ServerKeys::Both => alg,
    };
    let (cert, key) = root.issue_tls_server(&options.server_names, main)?;
    out.pair(
        &[cert],
        &key,
        layout::TLS_SERVER,
        layout::TLS_SERVER_KEY,
        "bootstrap server TLS certificate",
    )?;
    if options.server_keys == ServerKeys::Both {
        let (cert, key) = root.issue_tls_server(&options.server_names, KeyAlgorithm::Rsa2048)?;
        out.pair(
            &[cert],
            &key,
            layout::TLS_SERVER_RSA,
            layout::TLS_SERVER_RSA_KEY,
            "bootstrap server RSA TLS certificate (device_api.alternative_tls_certificate)",
        )?;
    }

    let cdir = layout::customer(customer);
    let (owner_ca, signer_cert, signer_key) = CertificateAuthority::new_owner(customer, alg)?;
    out.ca(
        &owner_ca,
        &format!("{cdir}/owner-ca.pem"),
        &format!("{cdir}/owner-ca.key"),
        "sample customer's owner CA (the voucher's pinned-domain-cert)",
    )?;
    out.pair(
        &[signer_cert],
        &signer_key,
        &format!("{cdir}/owner-signing.pem"),
        &format!("{cdir}/owner-signing.key"),
        "sample customer's owner signing certificate (signs conveyed information)",
    )?;

    for (serial, model) in &options.devices {
        let spec = IdevidSpec {
            serial: serial.clone(),
            model: model.clone(),
            placement: SerialPlacement::SerialNumber,
            hardware_module_name: true,
            key_algorithm: alg,
        };
        out.device(&idevid_ca, &spec)?;
    }
    out.manifest()?;
    Ok(DevPki {
        dir: out.dir,
        files: out.files,
    })
}

/// Issues one more device IDevID from the IDevID CA of the PKI in `dir`, writing
/// `devices/<serial>/idevid.pem` and `idevid.key`.
pub fn issue_device(dir: &Path, spec: &IdevidSpec) -> Result<Vec<PkiFile>, PkiError> {
    let ca = CertificateAuthority::load(
        Cert::from_pem(&read(&dir.join(layout::IDEVID_CA))?)?,
        SigningKey::from_pem(&read(&dir.join(layout::IDEVID_CA_KEY))?)?,
    )?;
    let mut out = Writer {
        dir: dir.to_owned(),
        files: Vec::new(),
    };
    out.device(&ca, spec)?;
    Ok(out.files)
}

/// Revokes device `serial`'s IDevID: adds its certificate to the revocation list kept beside the
/// IDevID CA (`manufacturer/idevid-ca.revoked`, one `<hex serial> <RFC 3339 time>` per line)
/// and re-signs the CRL from it. Returns the CRL's path. Revoking twice is harmless.
pub fn revoke_device(dir: &Path, serial: &Serial) -> Result<PathBuf, PkiError> {
    let ca = CertificateAuthority::load(
        Cert::from_pem(&read(&dir.join(layout::IDEVID_CA))?)?,
        SigningKey::from_pem(&read(&dir.join(layout::IDEVID_CA_KEY))?)?,
    )?;
    let device = Cert::chain_from_pem(&read(
        &dir.join(layout::device(serial.as_str())).join("idevid.pem"),
    )?)?;
    let leaf = device.first().ok_or_else(|| PkiError::Io {
        path: dir.join(layout::device(serial.as_str())),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no certificate"),
    })?;
    let list_path = dir.join(layout::IDEVID_REVOKED);
    let mut list = match fs::read_to_string(&list_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(PkiError::Io {
                path: list_path,
                source,
            });
        }
    };
    let now = OffsetDateTime::now_utc();
    let hex = leaf.serial_number_hex();
    if !list
        .lines()
        .any(|l| l.split(' ').next() == Some(hex.as_str()))
    {
        let at = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        list.push_str(&format!("{hex} {at}\n"));
    }
    let revoked = list
        .lines()
        .filter_map(|line| {
            let (hex, at) = line.split_once(' ')?;
            Some(Revocation {
                serial_number: decode_hex(hex)?,
                revoked_at: OffsetDateTime::parse(
                    at,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()?,
            })
        })
        .collect::<Vec<_>>();
    let crl = ca.crl(
        &revoked,
        1 + revoked.len() as u64,
        now - Duration::minutes(5),
        now + Duration::days(30),
    )?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PkiError::Io { path, source }
    };
    fs::write(&list_path, list).map_err(io(&list_path))?;
    let crl_path = dir.join(layout::IDEVID_CRL);
    fs::write(&crl_path, crl).map_err(io(&crl_path))?;
    Ok(crl_path)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.bytes().filter(|b| *b != b':').collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// Reads a UTF-8 file, naming it in the error.
pub fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })
}

struct Writer {
    dir: PathBuf,
    files: Vec<PkiFile>,
}

impl Writer {
    fn ca(
        &mut self,
        ca: &CertificateAuthority,
        cert: &str,
        key: &str,
        what: &str,
    ) -> Result<(), PkiError> {
        self.pair(std::slice::from_ref(ca.cert()), ca.key(), cert, key, what)
    }

    fn pair(
        &mut self,
        chain: &[Cert],
        key: &SigningKey,
        cert_path: &str,
        key_path: &str,
        what: &str,
    ) -> Result<(), PkiError> {
        let pem: String = chain.iter().map(Cert::pem).collect();
        self.text(cert_path, &pem, false, what)?;
        self.text(
            key_path,
            &key.to_pem(),
            true,
            &format!("private key for {cert_path}"),
        )
    }

    fn device(&mut self, ca: &CertificateAuthority, spec: &IdevidSpec) -> Result<(), PkiError> {
        let serial = spec.serial.as_str();
        let (cert, key) = ca.issue_idevid(spec)?;
        let ddir = layout::device(serial);
        self.pair(
            &[cert, ca.cert().clone()],
            &key,
            &format!("{ddir}/idevid.pem"),
            &format!("{ddir}/idevid.key"),
            &format!(
                "IDevID of device {serial} ({}), with its issuing CA",
                spec.model
            ),
        )
    }

    fn text(
        &mut self,
        rel: &str,
        contents: &str,
        secret: bool,
        what: &str,
    ) -> Result<(), PkiError> {
        let path = self.dir.join(rel);
        let io = |source| PkiError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if secret { 0o600 } else { 0o644 });
        }
        options
            .open(&path)
            .and_then(|mut f| f.write_all(contents.as_bytes()))
            .map_err(io)?;
        self.files.push(PkiFile {
            path: rel.into(),
            description: what.to_owned(),
        });
        Ok(())
    }

    fn manifest(&mut self) -> Result<(), PkiError> {
        let mut text = String::from(
            "DEVELOPMENT PKI generated by `ztp pki init`. Keys are unencrypted: never use in production.\n\n",
        );
        for f in &self.files {
            text.push_str(&format!("{:<48} {}\n", f.path.display(), f.description));
        }
        self.text(layout::MANIFEST, &text, false, "this list")
    }
}

fn path_component<'a>(what: &'static str, value: &'a str) -> Result<&'a str, PkiError> {
    Serial::parse(value)
        .map(|_| value)
        .map_err(|e| PkiError::InvalidField {
            field: what,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{DeviceIdentity, SerialSource};

    #[test]
    fn generates_every_file_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let pki = generate(dir.path(), &DevPkiOptions::default()).unwrap();
        for f in &pki.files {
            assert!(dir.path().join(&f.path).is_file(), "{}", f.path.display());
        }
        let device =
            Cert::from_pem(&read(&dir.path().join("devices/SN-0002/idevid.pem")).unwrap()).unwrap();
        let id =
            DeviceIdentity::from_certificate(&device, SerialSource::SubjectSerialNumber).unwrap();
        assert_eq!(id.serial.as_str(), "SN-0002");
        assert!(generate(dir.path(), &DevPkiOptions::default()).is_err());

        let spec = IdevidSpec {
            serial: Serial::parse("NEW-1").unwrap(),
            model: ProductId::parse("uCPE-200").unwrap(),
            placement: SerialPlacement::Udi,
            hardware_module_name: false,
            key_algorithm: KeyAlgorithm::Rsa2048,
        };
        issue_device(dir.path(), &spec).unwrap();
        let chain =
            Cert::chain_from_pem(&read(&dir.path().join("devices/NEW-1/idevid.pem")).unwrap())
                .unwrap();
        let id =
            DeviceIdentity::from_certificate(&chain[0], SerialSource::SubjectSerialNumber).unwrap();
        assert_eq!(id.to_string(), "PID:uCPE-200 SN:NEW-1");
        // Issuing the same serial twice would overwrite a device key: refused.
        assert!(issue_device(dir.path(), &spec).is_err());
    }

    #[test]
    fn each_role_has_a_ca_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &DevPkiOptions::default()).unwrap();
        let chain =
            |path: &str| Cert::chain_from_pem(&read(&dir.path().join(path)).unwrap()).unwrap();
        let (device_anchors, voucher, license, tls) = (
            chain(layout::IDEVID_CA),
            chain(layout::MASA),
            chain(layout::LICENSE_SIGNING),
            chain(layout::TLS_SERVER),
        );
        let roles = crate::role::ManufacturerRoles {
            device_anchors: &device_anchors,
            device_intermediates: &[],
            voucher_signer: &voucher,
            license_signer: &license,
            tls_server: &tls,
        };
        roles.check(OffsetDateTime::now_utc()).unwrap();
        assert_eq!(voucher[1], chain(layout::VOUCHER_CA)[0]);
        assert_eq!(license[1], chain(layout::LICENSE_CA)[0]);
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &DevPkiOptions::default()).unwrap();
        let mode = fs::metadata(dir.path().join(layout::MASA_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_rsa_server_certificate_can_stand_beside_the_ecdsa_one_or_instead_of_it() {
        use crate::oid;
        let algorithm = |dir: &Path, file: &str| {
            let cert = Cert::from_pem(&read(&dir.join(file)).unwrap()).unwrap();
            let info = &cert.x509().tbs_certificate.subject_public_key_info;
            info.algorithm.oid
        };
        let ec_public_key = const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
        let both = tempfile::tempdir().unwrap();
        let options = DevPkiOptions {
            server_keys: ServerKeys::Both,
            ..DevPkiOptions::default()
        };
        generate(both.path(), &options).unwrap();
        assert_eq!(algorithm(both.path(), layout::TLS_SERVER), ec_public_key);
        assert_eq!(
            algorithm(both.path(), layout::TLS_SERVER_RSA),
            oid::RSA_ENCRYPTION
        );
        let rsa = tempfile::tempdir().unwrap();
        let options = DevPkiOptions {
            server_keys: ServerKeys::Rsa,
            ..DevPkiOptions::default()
        };
        generate(rsa.path(), &options).unwrap();
        assert_eq!(
            algorithm(rsa.path(), layout::TLS_SERVER),
            oid::RSA_ENCRYPTION
        );
        assert!(!rsa.path().join(layout::TLS_SERVER_RSA).exists());
    }

    #[test]
    fn a_hostile_customer_name_never_becomes_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let options = DevPkiOptions {
            customer: "../../etc".into(),
            ..DevPkiOptions::default()
        };
        assert!(generate(dir.path(), &options).is_err());
    }
}
