//! Fully populated sample documents.

use time::macros::datetime;
use ztp_yang::*;

pub(crate) fn input() -> GetBootstrappingDataInput {
    GetBootstrappingDataInput {
        signed_data_preferred: true,
        hw_model: Some("acme-router-x1".into()),
        os_name: Some("AcmeOS".into()),
        os_version: Some("17.2 & <later>".into()),
        nonce: Some(Nonce::new(vec![7; 16]).expect("16 bytes")),
    }
}

pub(crate) fn output() -> GetBootstrappingDataOutput {
    GetBootstrappingDataOutput {
        reporting_level: Some(ReportingLevel::Verbose),
        conveyed_information: vec![0x30, 0x82, 0x01, 0x00].into(),
        ownership: Some(Ownership {
            owner_certificate: vec![1, 2, 3].into(),
            ownership_voucher: vec![4, 5, 6].into(),
        }),
        license_bundle: Some(vec![9, 9, 9].into()),
    }
}

pub(crate) fn progress() -> ReportProgressInput {
    ReportProgressInput {
        progress_type: ProgressType::BootstrapComplete,
        message: Some("done\r\nall good".into()),
        ssh_host_keys: vec![
            SshHostKey {
                algorithm: "ssh-ed25519".into(),
                key_data: vec![0, 0, 0, 11],
            },
            SshHostKey {
                algorithm: "ecdsa-sha2-nistp256".into(),
                key_data: vec![1; 40],
            },
        ],
        trust_anchor_certs: vec![vec![0x30, 0x01], vec![0x30, 0x02]],
    }
}

pub(crate) fn redirect() -> ConveyedInformation {
    ConveyedInformation::Redirect(RedirectInformation {
        bootstrap_servers: vec![
            BootstrapServer {
                address: "nms.customer.example".into(),
                port: 443,
                trust_anchor: Some(vec![0x30, 0x82, 0x02]),
            },
            BootstrapServer::new("192.0.2.10"),
            BootstrapServer {
                address: "2001:db8::10".into(),
                port: 8443,
                trust_anchor: None,
            },
        ],
    })
}

pub(crate) fn onboarding() -> ConveyedInformation {
    ConveyedInformation::Onboarding(OnboardingInformation {
        boot_image: Some(BootImage {
            os_name: Some("AcmeOS".into()),
            os_version: Some("17.2".into()),
            download_uris: vec![
                "https://images.example/acme-17.2.bin".into(),
                "http://mirror.example/acme-17.2.bin".into(),
            ],
            image_verification: vec![ImageVerification {
                hash_algorithm: HashAlgorithm::Sha256,
                hash_value: (0..32).collect(),
            }],
        }),
        configuration: Some(Configuration {
            handling: ConfigurationHandling::Replace,
            data: b"<config/>".to_vec(),
        }),
        pre_configuration_script: Some(b"#!/bin/sh\necho pre\n".to_vec()),
        post_configuration_script: Some(b"#!/bin/sh\necho post\n".to_vec()),
    })
}

pub(crate) fn registration() -> DeviceRegistration {
    DeviceRegistration {
        serial_number: "FOC1234X0AB".into(),
        model_name: "acme-router-x1".into(),
        owner: "Example Networks & Co".into(),
        idevid_certificate: Some(vec![0x30, 0x82, 0x03, 0x10]),
        registered_at: datetime!(2026-11-23 10:15:30.5 UTC),
        ssh_host_keys: vec![SshHostKey {
            algorithm: "ssh-ed25519".into(),
            key_data: vec![0, 0, 0, 11, 1, 2],
        }],
    }
}

pub(crate) fn licenses() -> LicenseBundle {
    let lock = NodeLock {
        product_id: "acme-router-x1".into(),
        serial_number: "FOC1234X0AB".into(),
    };
    LicenseBundle {
        licenses: vec![
            License {
                id: "LIC-0001".into(),
                feature: "ESS-ED-100G-SIA3".into(),
                license_type: LicenseType::Subscription,
                count: Some(4),
                node_lock: lock.clone(),
                issued_at: datetime!(2026-11-23 10:00:00 UTC),
                not_before: datetime!(2026-11-23 00:00:00 UTC),
                not_after: Some(datetime!(2029-11-23 00:00:00 +01:00)),
            },
            License {
                id: "LIC-0002".into(),
                feature: "SEC-FW".into(),
                license_type: LicenseType::Perpetual,
                count: None,
                node_lock: lock,
                issued_at: datetime!(2026-11-23 10:00:00 UTC),
                not_before: datetime!(2026-11-23 00:00:00 UTC),
                not_after: None,
            },
        ],
    }
}

pub(crate) fn errors() -> RestconfErrors {
    let mut detailed = RestconfError::new(
        ErrorType::Application,
        ErrorTag::DataMissing,
        "no redirect target configured for this device",
    );
    detailed.error_app_tag = Some("ztp:no-target".into());
    RestconfErrors {
        errors: vec![
            RestconfError::new(ErrorType::Protocol, ErrorTag::AccessDenied, "access denied"),
            detailed,
            RestconfError {
                error_type: ErrorType::Rpc,
                error_tag: ErrorTag::Other("x-vendor-tag".into()),
                error_app_tag: None,
                error_path: None,
                error_message: None,
                error_info: None,
            },
        ],
    }
}
