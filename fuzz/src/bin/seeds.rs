//! Writes the fuzz targets' seeds: a fresh PKI (manufacturer, owner, license signer), its
//! anchors and clock to `seeds/trust/`, and valid examples of every input, signed by it, to
//! `seeds/<target>.txt` (one `name base64` line a seed; `scripts/fuzz` unpacks them).
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --features seeds --bin seeds
//! ```

use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use ztp::artifacts::{self, OwnerCredentials};
use ztp::dhcp::{self, BootstrapUri};
use ztp_certs::{
    CertificateAuthority, IdevidSpec, KeyAlgorithm, ProductId, Serial, SerialPlacement, Signer,
    cms, oid,
};
use ztp_fuzz::{NONCE, PRODUCT_ID, SERIAL, join};
use ztp_yang::{
    BootImage, BootstrapServer, Configuration, ConfigurationHandling, ConveyedInformation,
    Document, Encoding, ErrorTag, ErrorType, GetBootstrappingDataInput, GetBootstrappingDataOutput,
    HashAlgorithm, ImageVerification, License, LicenseBundle, LicenseType, NodeLock, Nonce,
    OnboardingInformation, Ownership, ProgressType, RedirectInformation, ReportProgressInput,
    RestconfError, RestconfErrors, SshHostKey,
};

type Seeds = Vec<(String, Vec<u8>)>;

const ED25519_LINE: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl host";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    fs::create_dir_all(dir.join("trust"))?;
    // Whole seconds: the clock is written as RFC 3339 text and read back.
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let alg = KeyAlgorithm::EcdsaP256;

    let mfg = CertificateAuthority::new_root("Fuzz Manufacturer", "Fuzz Mfg", alg)?;
    let (masa_cert, masa_key) = mfg.issue_signer("Fuzz MASA", "Fuzz Mfg", alg)?;
    let masa = Signer::new(masa_key, vec![masa_cert])?;
    let (owner_ca, owner_cert, owner_key) = CertificateAuthority::new_owner("Fuzz", alg)?;
    let owner = OwnerCredentials::new(
        owner_ca.cert().clone(),
        Signer::new(owner_key, vec![owner_cert])?,
    )?;
    let lic_root = CertificateAuthority::new_root("Fuzz Licenses", "Fuzz Mfg", alg)?;
    let (lic_cert, lic_key) = lic_root.issue_signer("Fuzz License Signer", "Fuzz Mfg", alg)?;
    let licenser = Signer::new(lic_key, vec![lic_cert])?;
    fs::write(dir.join("trust/manufacturer.pem"), mfg.cert().pem())?;
    fs::write(dir.join("trust/owner.pem"), owner.ca().pem())?;
    fs::write(dir.join("trust/license.pem"), lic_root.cert().pem())?;
    fs::write(
        dir.join("trust/at.txt"),
        format!("{}\n", now.format(&Rfc3339)?),
    )?;

    let serial = Serial::parse(SERIAL)?;
    let nonce = Nonce::new(NONCE.to_vec())?;
    let redirect = ConveyedInformation::Redirect(RedirectInformation {
        bootstrap_servers: vec![BootstrapServer::new("nms.example.net")],
    });
    let onboarding = ConveyedInformation::Onboarding(OnboardingInformation {
        boot_image: Some(BootImage {
            os_name: Some("FuzzOS".into()),
            os_version: Some("1.2".into()),
            download_uris: vec!["https://images.example.net/fuzz.bin".into()],
            image_verification: vec![ImageVerification {
                hash_algorithm: HashAlgorithm::Sha256,
                hash_value: vec![7; 32],
            }],
        }),
        configuration: Some(Configuration {
            handling: ConfigurationHandling::Merge,
            data: b"hostname fuzz\n".to_vec(),
        }),
        pre_configuration_script: Some(b"#!/bin/sh\necho pre\n".to_vec()),
        post_configuration_script: None,
    });
    let bundle = LicenseBundle {
        licenses: vec![License {
            id: "LIC-1".into(),
            feature: "FUZZ-FEATURE".into(),
            license_type: LicenseType::Subscription,
            count: Some(2),
            node_lock: NodeLock {
                product_id: PRODUCT_ID.into(),
                serial_number: SERIAL.into(),
            },
            issued_at: now,
            not_before: now - Duration::days(1),
            not_after: Some(now + Duration::days(365)),
        }],
    };
    let signed_bundle = |e| cms::sign(oid::ID_DATA, bundle.encode(e).as_bytes(), &licenser);
    let voucher = |nonce| {
        artifacts::ownership_voucher(
            &masa,
            &serial,
            None,
            owner.ca(),
            now,
            Duration::days(1),
            nonce,
        )
    };
    let conveyed = |info, e, signed: bool| {
        artifacts::conveyed_information(info, e, signed.then(|| owner.signer()))
    };
    let bag = owner.owner_certificate().as_bytes().to_vec();
    let plain_voucher = voucher(None)?;
    let nonce_voucher = voucher(Some(&nonce))?;
    let signed_json = conveyed(&redirect, Encoding::Json, true)?;
    let signed_xml = conveyed(&onboarding, Encoding::Xml, true)?;
    let unsigned_json = conveyed(&redirect, Encoding::Json, false)?;
    let unsigned_xml = conveyed(&onboarding, Encoding::Xml, false)?;

    let mut all: Vec<(&str, Seeds)> = Vec::new();

    // restconf_request: byte 0 bit 0 the encoding, bit 1 the document.
    let input = GetBootstrappingDataInput {
        signed_data_preferred: true,
        hw_model: Some(PRODUCT_ID.into()),
        os_name: Some("FuzzOS".into()),
        os_version: Some("1.0".into()),
        nonce: Some(nonce.clone()),
    };
    let mut complete = ReportProgressInput::new(ProgressType::BootstrapComplete);
    complete.message = Some("done".into());
    complete.ssh_host_keys = vec![SshHostKey {
        algorithm: "ssh-ed25519".into(),
        key_data: vec![
            0, 0, 0, 11, b's', b's', b'h', b'-', b'e', b'd', b'2', b'5', b'5', b'1', b'9',
        ],
    }];
    complete.trust_anchor_certs = vec![bag.clone()];
    let mut seeds = Seeds::new();
    for (i, e) in [Encoding::Xml, Encoding::Json].into_iter().enumerate() {
        let tag = tag(e);
        seeds.push((format!("input-{tag}"), selected(i as u8, input.encode(e))));
        seeds.push((
            format!("input-empty-{tag}"),
            selected(i as u8, GetBootstrappingDataInput::default().encode(e)),
        ));
        seeds.push((
            format!("progress-complete-{tag}"),
            selected(i as u8 | 2, complete.encode(e)),
        ));
        let started = ReportProgressInput::new(ProgressType::BootstrapInitiated);
        seeds.push((
            format!("progress-initiated-{tag}"),
            selected(i as u8 | 2, started.encode(e)),
        ));
    }
    all.push(("restconf_request", seeds));

    // yang_answer: bit 0 the encoding, bits 1-2 the document.
    let output = GetBootstrappingDataOutput {
        conveyed_information: signed_json.clone().into(),
        ownership: Some(Ownership {
            owner_certificate: bag.clone().into(),
            ownership_voucher: plain_voucher.clone().into(),
        }),
        license_bundle: Some(signed_bundle(Encoding::Json)?.into()),
        ..Default::default()
    };
    let errors = RestconfErrors {
        errors: vec![
            RestconfError::new(
                ErrorType::Application,
                ErrorTag::InvalidValue,
                "no such device",
            ),
            RestconfError {
                error_app_tag: Some("ztp:busy".into()),
                error_path: Some("/ietf-sztp-bootstrap-server:get-bootstrapping-data".into()),
                ..RestconfError::new(ErrorType::Protocol, ErrorTag::parse("too-big"), "later")
            },
        ],
    };
    let mut seeds = Seeds::new();
    for (i, e) in [Encoding::Xml, Encoding::Json].into_iter().enumerate() {
        let (i, tag) = (i as u8, tag(e));
        seeds.push((format!("output-{tag}"), selected(i, output.encode(e))));
        seeds.push((
            format!("redirect-{tag}"),
            selected(i | 2, redirect.encode(e)),
        ));
        seeds.push((
            format!("onboarding-{tag}"),
            selected(i | 2, onboarding.encode(e)),
        ));
        seeds.push((format!("licenses-{tag}"), selected(i | 4, bundle.encode(e))));
        seeds.push((format!("errors-{tag}"), selected(i | 6, errors.encode(e))));
    }
    all.push(("yang_answer", seeds));

    // cms: raw DER.
    all.push((
        "cms",
        vec![
            ("signed-conveyed-json".into(), signed_json.clone()),
            ("signed-conveyed-xml".into(), signed_xml.clone()),
            ("unsigned-conveyed".into(), unsigned_json.clone()),
            ("owner-bag".into(), bag.clone()),
            ("voucher".into(), plain_voucher.clone()),
            ("license-bundle".into(), signed_bundle(Encoding::Xml)?),
        ],
    ));

    // voucher: byte 0 even JSON, odd signed; bit 1 the nonce sent.
    let json = ztp_certs::Voucher::new(SERIAL, owner.ca(), now, now + Duration::days(1), None)
        .to_json()?;
    all.push((
        "voucher",
        vec![
            ("json".into(), selected(0, json)),
            ("signed".into(), prefixed(1, &plain_voucher)),
            ("signed-nonce".into(), prefixed(3, &nonce_voucher)),
        ],
    ));

    // identity: byte 0 even an IDevID, odd a serialNumber value.
    let mut seeds = Seeds::new();
    for (name, placement) in [
        ("idevid-serial-number", SerialPlacement::SerialNumber),
        ("idevid-udi", SerialPlacement::Udi),
        ("idevid-common-name", SerialPlacement::CommonName),
    ] {
        let (cert, _) = mfg.issue_idevid(&IdevidSpec {
            serial: serial.clone(),
            model: ProductId::parse(PRODUCT_ID)?,
            placement,
            hardware_module_name: true,
            key_algorithm: alg,
        })?;
        seeds.push((name.into(), prefixed(0, cert.der())));
    }
    seeds.push((
        "udi".into(),
        selected(1, format!("PID:{PRODUCT_ID} VID:V01 SN:{SERIAL}")),
    ));
    seeds.push(("bare".into(), selected(1, SERIAL.into())));
    all.push(("identity", seeds));

    // agent_response: byte 0 even a response (bit 1 nonce sent, bit 2 server authenticated),
    // odd a license bundle (bit 1 JSON).
    all.push((
        "agent_response",
        vec![
            (
                "signed-redirect".into(),
                prefixed(0, &join(&[&signed_json, &bag, &plain_voucher])),
            ),
            (
                "signed-onboarding-nonce".into(),
                prefixed(2, &join(&[&signed_xml, &bag, &nonce_voucher])),
            ),
            (
                "unsigned-redirect".into(),
                prefixed(0, &join(&[&unsigned_json, b"", b""])),
            ),
            (
                "unsigned-onboarding".into(),
                prefixed(4, &join(&[&unsigned_xml, b"", b""])),
            ),
            (
                "licenses-xml".into(),
                prefixed(1, &signed_bundle(Encoding::Xml)?),
            ),
            (
                "licenses-json".into(),
                prefixed(3, &signed_bundle(Encoding::Json)?),
            ),
        ],
    ));

    // dhcp: an option value, and the hex text of one.
    let value = dhcp::encode(&[
        BootstrapUri::parse("https://ztp.example.com:8443")?,
        BootstrapUri::parse("https://[2001:db8::1]/")?,
    ])?;
    let hex = value
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    all.push((
        "dhcp",
        vec![("value".into(), value), ("hex".into(), hex.into_bytes())],
    ));

    // csv_import and nms_names: text.
    all.push((
        "csv_import",
        vec![
            ("full".into(), format!(
                "serial,model,customer,certificate_pin,license_pools\r\n\
                 {SERIAL},{PRODUCT_ID},acme,{},lab\r\nSN-2,M,,,\r\n\"SN-3\",\"M\",acme,,\"lab; fleet\"\r\n",
                "ab:".repeat(31) + "ab"
            ).into_bytes()),
            ("short".into(), b"Serial,Model\nA,m\n\nB,m\n".to_vec()),
        ],
    ));
    all.push((
        "nms_names",
        vec![
            (
                "fingerprint".into(),
                b"SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".to_vec(),
            ),
            ("serial".into(), SERIAL.as_bytes().to_vec()),
            (
                "host-key".into(),
                format!("# keys\n{ED25519_LINE}\n").into_bytes(),
            ),
        ],
    ));

    for (target, seeds) in all {
        let mut text = format!(
            "# Seeds of fuzz target {target}, written by fuzz/src/bin/seeds.rs: `name base64`.\n"
        );
        for (name, bytes) in seeds {
            text.push_str(&format!("{name} {}\n", STANDARD.encode(bytes)));
        }
        fs::write(dir.join(format!("{target}.txt")), text)?;
    }
    Ok(())
}

fn tag(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Xml => "xml",
        Encoding::Json => "json",
    }
}

fn selected(selector: u8, text: String) -> Vec<u8> {
    prefixed(selector, text.as_bytes())
}

fn prefixed(selector: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![selector];
    out.extend_from_slice(bytes);
    out
}
