//! Properties: decode(encode(x)) == x for every document type in both encodings; decoding
//! arbitrary or mutated bytes never panics.

use std::fmt::Debug;
use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use time::{Duration, OffsetDateTime, UtcOffset};
use ztp_yang::*;

use crate::fixtures;

/// Text with XML/JSON specials, whitespace and non-ASCII.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._:/&<>\"'\\\\é€😀\t\n\r-]{0,16}"
}

fn text1() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._&<>\"' é-]{1,24}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..48)
}

fn datetime() -> impl Strategy<Value = OffsetDateTime> {
    (0i64..200_000_000_000, 0u32..1_000_000_000, -1439i32..=1439).prop_map(
        |(secs, nanos, minutes)| {
            let utc = OffsetDateTime::from_unix_timestamp(secs)
                .expect("in range")
                .replace_nanosecond(nanos)
                .expect("nanos");
            utc.to_offset(UtcOffset::from_whole_seconds(minutes * 60).expect("offset"))
        },
    )
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}[a-z0-9](\\.[a-z][a-z0-9]{0,8}){0,3}",
        any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
        any::<[u16; 8]>().prop_map(|s| Ipv6Addr::from(s).to_string()),
    ]
}

fn input() -> impl Strategy<Value = GetBootstrappingDataInput> {
    (
        any::<bool>(),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(prop::collection::vec(any::<u8>(), 16..=32)),
    )
        .prop_map(|(sdp, hw, os, ver, nonce)| GetBootstrappingDataInput {
            signed_data_preferred: sdp,
            hw_model: hw,
            os_name: os,
            os_version: ver,
            nonce: nonce.map(|n| Nonce::new(n).expect("16..32")),
        })
}

fn output() -> impl Strategy<Value = GetBootstrappingDataOutput> {
    (
        prop::option::of(prop_oneof![
            Just(ReportingLevel::Minimal),
            Just(ReportingLevel::Verbose)
        ]),
        bytes(),
        prop::option::of((bytes(), bytes())),
        prop::option::of(bytes()),
    )
        .prop_map(|(level, ci, own, lic)| GetBootstrappingDataOutput {
            reporting_level: level,
            conveyed_information: ci.into(),
            ownership: own.map(|(c, v)| Ownership {
                owner_certificate: c.into(),
                ownership_voucher: v.into(),
            }),
            license_bundle: lic.map(Into::into),
        })
}

fn ssh_key() -> impl Strategy<Value = SshHostKey> {
    ("[a-z0-9@.-]{1,24}", bytes()).prop_map(|(algorithm, key_data)| SshHostKey {
        algorithm,
        key_data,
    })
}

fn progress() -> impl Strategy<Value = ReportProgressInput> {
    (
        prop::sample::select(ProgressType::ALL),
        prop::option::of(text()),
        prop::collection::vec(ssh_key(), 0..3),
        prop::collection::vec(bytes(), 0..3),
    )
        .prop_map(|(t, message, keys, certs)| {
            let complete = t.is_complete();
            ReportProgressInput {
                progress_type: t,
                message,
                ssh_host_keys: if complete { keys } else { Vec::new() },
                trust_anchor_certs: if complete { certs } else { Vec::new() },
            }
        })
}

fn conveyed() -> impl Strategy<Value = ConveyedInformation> {
    let server = (host(), any::<u16>(), prop::option::of(bytes())).prop_map(
        |(address, port, trust_anchor)| BootstrapServer {
            address,
            port,
            trust_anchor,
        },
    );
    let redirect = prop::collection::vec(server, 1..4).prop_map(|mut servers| {
        let mut seen = Vec::new();
        servers.retain(|s| {
            let new = !seen.contains(&s.address);
            seen.push(s.address.clone());
            new
        });
        ConveyedInformation::Redirect(RedirectInformation {
            bootstrap_servers: servers,
        })
    });
    let image = (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::collection::vec("https://[a-z]{1,8}/[a-z0-9/._-]{0,12}", 0..3),
        prop::option::of(prop::collection::vec(any::<u8>(), 32)),
    )
        .prop_map(|(os_name, os_version, uris, hash)| BootImage {
            os_name,
            os_version,
            image_verification: match hash {
                Some(hash_value) if !uris.is_empty() => vec![ImageVerification {
                    hash_algorithm: HashAlgorithm::Sha256,
                    hash_value,
                }],
                _ => Vec::new(),
            },
            download_uris: uris,
        });
    let handling = prop_oneof![
        Just(ConfigurationHandling::Merge),
        Just(ConfigurationHandling::Replace)
    ];
    let onboarding = (
        prop::option::of(image),
        prop::option::of((handling, bytes())),
        prop::option::of(bytes()),
        prop::option::of(bytes()),
    )
        .prop_map(|(boot_image, config, pre, post)| {
            ConveyedInformation::Onboarding(OnboardingInformation {
                boot_image,
                configuration: config.map(|(handling, data)| Configuration { handling, data }),
                pre_configuration_script: pre,
                post_configuration_script: post,
            })
        });
    prop_oneof![redirect, onboarding]
}

fn registration() -> impl Strategy<Value = DeviceRegistration> {
    (
        "[A-Z0-9-]{1,20}",
        text1(),
        text1(),
        prop::option::of(bytes()),
        datetime(),
        prop::collection::vec(ssh_key(), 0..3),
    )
        .prop_map(
            |(serial, model, owner, cert, at, keys)| DeviceRegistration {
                serial_number: serial,
                model_name: model,
                owner,
                idevid_certificate: cert,
                registered_at: at,
                ssh_host_keys: keys,
            },
        )
}

fn license() -> impl Strategy<Value = License> {
    let kind = prop_oneof![
        Just(LicenseType::Perpetual),
        Just(LicenseType::Subscription),
        Just(LicenseType::Evaluation)
    ];
    (
        "[A-Z0-9-]{1,12}",
        "[A-Za-z0-9][A-Za-z0-9_.-]{0,20}",
        kind,
        prop::option::of(1u32..),
        ("[a-z0-9-]{1,12}", "[A-Z0-9]{1,12}"),
        datetime(),
        datetime(),
        prop::option::of(0i64..400_000_000),
    )
        .prop_map(
            |(id, feature, kind, count, (pid, sn), issued, not_before, term)| {
                let term = match (kind, term) {
                    (LicenseType::Perpetual, term) => term,
                    (_, term) => Some(term.unwrap_or(86_400)),
                };
                License {
                    id,
                    feature,
                    license_type: kind,
                    count,
                    node_lock: NodeLock {
                        product_id: pid,
                        serial_number: sn,
                    },
                    issued_at: issued,
                    not_before,
                    not_after: term.map(|s| not_before + Duration::seconds(s)),
                }
            },
        )
}

fn licenses() -> impl Strategy<Value = LicenseBundle> {
    prop::collection::vec(license(), 0..4).prop_map(|mut licenses| {
        let mut seen = Vec::new();
        licenses.retain(|l| {
            let new = !seen.contains(&l.id);
            seen.push(l.id.clone());
            new
        });
        LicenseBundle { licenses }
    })
}

fn errors() -> impl Strategy<Value = RestconfErrors> {
    let tag = prop_oneof![
        prop::sample::select(vec![
            "in-use",
            "invalid-value",
            "access-denied",
            "data-missing",
            "malformed-message",
            "operation-failed"
        ])
        .prop_map(ErrorTag::parse),
        "x-[a-z]{1,8}".prop_map(ErrorTag::Other),
    ];
    let kind = prop_oneof![
        Just(ErrorType::Transport),
        Just(ErrorType::Rpc),
        Just(ErrorType::Protocol),
        Just(ErrorType::Application)
    ];
    let error = (
        kind,
        tag,
        prop::option::of(text()),
        prop::option::of("/ietf-sztp-bootstrap-server:[a-z-]{1,12}"),
        prop::option::of(text()),
    )
        .prop_map(
            |(error_type, error_tag, app, path, message)| RestconfError {
                error_type,
                error_tag,
                error_app_tag: app,
                error_path: path,
                error_message: message,
                error_info: None,
            },
        );
    prop::collection::vec(error, 1..4).prop_map(|errors| RestconfErrors { errors })
}

fn roundtrip<T: Document + PartialEq + Debug>(doc: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(doc.validate(), Ok(()));
    for encoding in [Encoding::Xml, Encoding::Json] {
        let text = doc.encode(encoding);
        let back = T::decode_limited(encoding, text.as_bytes(), usize::MAX);
        prop_assert_eq!(back.as_ref(), Ok(doc), "{:?}: {}", encoding, text);
    }
    Ok(())
}

/// Decodes `bytes` as every document type in both encodings (the property is: no panic).
fn decode_all(bytes: &[u8]) {
    for encoding in [Encoding::Xml, Encoding::Json] {
        let _ = GetBootstrappingDataInput::decode(encoding, bytes);
        let _ = GetBootstrappingDataOutput::decode(encoding, bytes);
        let _ = ReportProgressInput::decode(encoding, bytes);
        let _ = ConveyedInformation::decode(encoding, bytes);
        let _ = DeviceRegistration::decode(encoding, bytes);
        let _ = LicenseBundle::decode(encoding, bytes);
        let _ = RestconfErrors::decode(encoding, bytes);
    }
}

/// Valid encodings of every fixture, to mutate.
fn seeds() -> Vec<String> {
    let mut seeds = Vec::new();
    for encoding in [Encoding::Xml, Encoding::Json] {
        seeds.push(fixtures::input().encode(encoding));
        seeds.push(fixtures::output().encode(encoding));
        seeds.push(fixtures::progress().encode(encoding));
        seeds.push(fixtures::redirect().encode(encoding));
        seeds.push(fixtures::onboarding().encode(encoding));
        seeds.push(fixtures::registration().encode(encoding));
        seeds.push(fixtures::licenses().encode(encoding));
        seeds.push(fixtures::errors().encode(encoding));
    }
    seeds
}

proptest! {
    #[test]
    fn input_roundtrips(doc in input()) { roundtrip(&doc)?; }

    #[test]
    fn output_roundtrips(doc in output()) { roundtrip(&doc)?; }

    #[test]
    fn progress_roundtrips(doc in progress()) { roundtrip(&doc)?; }

    #[test]
    fn conveyed_roundtrips(doc in conveyed()) { roundtrip(&doc)?; }

    #[test]
    fn registration_roundtrips(doc in registration()) { roundtrip(&doc)?; }

    #[test]
    fn licenses_roundtrip(doc in licenses()) { roundtrip(&doc)?; }

    #[test]
    fn errors_roundtrip(doc in errors()) { roundtrip(&doc)?; }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let seeds = seeds();
        let mut bytes = seed.get(&seeds).clone().into_bytes();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        decode_all(&bytes);
        bytes.truncate(cut.index(bytes.len() + 1));
        decode_all(&bytes);
    }
}

#[test]
fn fixtures_roundtrip() {
    roundtrip(&fixtures::input()).unwrap();
    roundtrip(&fixtures::output()).unwrap();
    roundtrip(&fixtures::progress()).unwrap();
    roundtrip(&fixtures::redirect()).unwrap();
    roundtrip(&fixtures::onboarding()).unwrap();
    roundtrip(&fixtures::registration()).unwrap();
    roundtrip(&fixtures::licenses()).unwrap();
    roundtrip(&fixtures::errors()).unwrap();
}
