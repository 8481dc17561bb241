//! Each role's key only where that role is trusted: vouchers, licenses, anchors.

use super::*;

#[tokio::test]
async fn a_voucher_signed_by_any_key_but_a_voucher_signers_is_refused() {
    let w = Arc::new(world());
    for key in [Key::Device, Key::License, Key::TlsUnderVoucherCa] {
        let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::SignedBy(key, None)).await;
        let err = bootstrap(&options(&w, &[addr], false)).await.unwrap_err();
        assert!(
            matches!(err, AgentError::Refused(RefusedResponse::Voucher(_))),
            "{key:?}: {err}"
        );
        assert_eq!(seen.lock().unwrap().reports(), [], "{key:?}");
    }
    let err = {
        let (addr, _) = spawn_server(
            w.clone(),
            b"h2",
            Answer::SignedBy(Key::TlsUnderVoucherCa, None),
        )
        .await;
        bootstrap(&options(&w, &[addr], false)).await.unwrap_err()
    };
    assert!(
        matches!(
            err,
            AgentError::Refused(RefusedResponse::Voucher(VoucherError::Signer(
                RoleError::TlsCertificate { .. }
            )))
        ),
        "a TLS key under the voucher CA is caught by its purpose: {err}"
    );
}

#[tokio::test]
async fn licenses_signed_by_any_key_but_a_license_signers_are_refused_whole() {
    let w = Arc::new(world());
    let (addr, _) = spawn_server(
        w.clone(),
        b"h2",
        Answer::SignedBy(Key::Masa, Some(Key::License)),
    )
    .await;
    // The test IDevID names no model: the device knows it from its configuration.
    let options = |addr| BootstrapOptions {
        request: RequestOptions {
            hw_model: Some("uCPE-100".into()),
            ..Default::default()
        },
        ..options(&w, &[addr], false)
    };
    let outcome = bootstrap(&options(addr)).await.unwrap();
    let licenses = outcome.licenses.unwrap();
    assert_eq!(licenses.accepted.len(), 1, "{licenses:?}");
    for key in [Key::Masa, Key::Device, Key::TlsUnderVoucherCa] {
        let (addr, _) =
            spawn_server(w.clone(), b"h2", Answer::SignedBy(Key::Masa, Some(key))).await;
        let outcome = bootstrap(&options(addr)).await.unwrap();
        let licenses = outcome.licenses.unwrap();
        assert!(licenses.accepted.is_empty(), "{key:?}: {licenses:?}");
        assert_eq!(licenses.refused[0].0, "*", "{key:?}");
    }
}

#[tokio::test]
async fn a_voucher_naming_another_idevid_issuer_is_refused() {
    let w = Arc::new(world());
    let (addr, _) = spawn_server(w.clone(), b"h2", Answer::NamingIssuer(true)).await;
    bootstrap(&options(&w, &[addr], false)).await.unwrap();
    let (addr, _) = spawn_server(w.clone(), b"h2", Answer::NamingIssuer(false)).await;
    let err = bootstrap(&options(&w, &[addr], false)).await.unwrap_err();
    assert!(
        matches!(
            err,
            AgentError::Refused(RefusedResponse::Voucher(VoucherError::IdevidIssuerMismatch))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn anchors_that_let_one_roles_key_pass_for_another_are_refused_before_connecting() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::SignedRedirect).await;
    let base = options(&w, &[addr], true);
    let (mfg, tls, vouchers) = (
        vec![w.mfg.cert().clone()],
        base.anchors.servers.clone(),
        base.anchors.vouchers.clone(),
    );
    let cases = [
        // The device's own IDevID (so any device's) under the voucher anchor.
        Anchors {
            vouchers: mfg.clone(),
            ..base.anchors.clone()
        },
        Anchors {
            licenses: mfg,
            ..base.anchors.clone()
        },
        // One CA for the server's TLS and the vouchers, or for vouchers and licenses.
        Anchors {
            vouchers: tls,
            ..base.anchors.clone()
        },
        Anchors {
            licenses: vouchers,
            ..base.anchors.clone()
        },
    ];
    for anchors in cases {
        let opts = BootstrapOptions {
            anchors: anchors.clone(),
            servers: base.servers.clone(),
            ..options(&w, &[addr], true)
        };
        let err = bootstrap(&opts).await.unwrap_err();
        assert!(matches!(err, AgentError::Anchors(_)), "{anchors:?}: {err}");
    }
    assert!(seen.lock().unwrap().requests.is_empty());
}
