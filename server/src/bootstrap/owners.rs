//! Owners as a device's answer needs them: credentials and response policy parsed at one
//! revision, with the signed artifacts cached per owner (conveyed information per rule,
//! encoding and signing; vouchers per device certificate), and how an answer is wrapped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use ztp_certs::{Cert, Fingerprint};
use ztp_yang::{
    Binary, BootstrapServer, ConveyedInformation, Encoding, OnboardingInformation,
    RedirectInformation,
};

use super::*;
use crate::artifacts::{self, OwnerCredentials, parse_onboarding};
use crate::domain::response::{Conveyed, Policy, Profile, Shape, Target};
use crate::ldevid::ztp_ca::ZtpCa;
use crate::store::LdevidIssuer;
use crate::store::licenses::PoolRecord;
use crate::store::{CustomerRecord, NmsConnectionRecord, TargetRecord};
use crate::telemetry::metrics::Cache;

pub(super) type ConveyedKey = (Option<String>, Encoding, bool);

/// How a response is wrapped: the profile in force, as it shapes this response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Plan {
    /// The profile in force.
    pub profile: Profile,
    /// Sign the conveyed information (and send owner certificate and voucher).
    pub signed: bool,
    /// The encoding of the conveyed information.
    pub conveyed_encoding: Encoding,
    /// Whether fields beyond the RFC 8572 core (license bundle, reporting-level) may be sent.
    pub extensions: bool,
}

impl Plan {
    /// The wrapping of a response in `response_encoding` that `profile` shapes so.
    pub fn new(profile: Profile, shape: Shape, response_encoding: Encoding) -> Self {
        Self {
            profile,
            signed: shape.signed,
            conveyed_encoding: if shape.always_json {
                Encoding::Json
            } else {
                response_encoding
            },
            extensions: shape.extensions,
        }
    }
}

/// The conveyed information (RFC 8572 §2.2) of what a policy chose.
pub(super) fn conveyed_information(
    conveyed: &Conveyed<'_, OnboardingInformation>,
) -> ConveyedInformation {
    match conveyed {
        Conveyed::Redirect(targets) => ConveyedInformation::Redirect(RedirectInformation {
            bootstrap_servers: targets
                .iter()
                .map(|t| BootstrapServer {
                    address: t.address.clone(),
                    port: t.port,
                    trust_anchor: t.trust_anchor.clone(),
                })
                .collect(),
        }),
        Conveyed::Onboarding(info) => ConveyedInformation::Onboarding((*info).clone()),
    }
}

/// Vouchers kept per owner at most (about 1.5 KiB each).
pub(super) const MAX_CACHED_VOUCHERS: usize = 16_384;

/// A voucher without nonce and when it was made.
pub(super) type CachedVoucher = (Binary, OffsetDateTime);

/// An owner's parsed credentials and policy at one revision, its NMS connections and license
/// pools (every change to those bumps the revision too), with its cached artifacts.
pub(super) struct OwnerEntry {
    pub(super) revision: i64,
    pub(super) credentials: OwnerCredentials,
    pub(super) policy: Policy<OnboardingInformation>,
    pub(super) connections: Vec<NmsConnectionRecord>,
    pub(super) pools: Vec<PoolRecord>,
    pub(super) conveyed: Mutex<HashMap<ConveyedKey, Binary>>,
    /// Where its devices' LDevIDs come from.
    pub(super) ldevid: LdevidIssuer,
    /// ztp's LDevID CA of the owner, when LDevIDs come from it.
    pub(super) ldevid_ca: Option<ZtpCa>,
    pub(super) vouchers: Mutex<HashMap<Fingerprint, CachedVoucher>>,
}

pub(super) fn owner_error(customer: &str, reason: impl Into<String>) -> BootstrapError {
    BootstrapError::Owner {
        customer: customer.to_owned(),
        reason: reason.into(),
    }
}

pub(super) fn build_owner(
    record: &CustomerRecord,
    targets: &[TargetRecord],
    rules: &[crate::domain::response::Rule],
    modules: &[std::path::PathBuf],
) -> Result<OwnerEntry, BootstrapError> {
    let name = &record.name;
    let bad = |what: &str, e: &dyn std::fmt::Display| owner_error(name, format!("{what}: {e}"));
    let ca = Cert::from_pem(&record.owner_ca_pem).map_err(|e| bad("owner CA", &e))?;
    let chain =
        Cert::chain_from_pem(&record.signer_chain_pem).map_err(|e| bad("signer chain", &e))?;
    let signer = artifacts::owner_signer(&record.signer_key_pem, chain, modules)
        .map_err(|e| bad("signer key", &e))?;
    let credentials = OwnerCredentials::new(ca, signer).map_err(|e| bad("signer", &e))?;
    let targets = targets
        .iter()
        .map(|t| {
            let trust_anchor = t
                .trust_anchor_pem
                .as_deref()
                .map(artifacts::trust_anchor_bag)
                .transpose()
                .map_err(|e| bad(&format!("trust anchor of target {}", t.name), &e))?;
            Ok(Target {
                name: t.name.clone(),
                address: t.address.clone(),
                port: t.port,
                trust_anchor,
            })
        })
        .collect::<Result<Vec<_>, BootstrapError>>()?;
    let onboarding = record
        .onboarding_json
        .as_deref()
        .map(|json| {
            serde_json::from_str(json)
                .map_err(|e| e.to_string())
                .and_then(|v| parse_onboarding(&v))
        })
        .transpose()
        .map_err(|e| bad("onboarding information", &e))?;
    let policy = Policy::new(
        record.profile,
        record.sign,
        targets,
        onboarding,
        rules,
        parse_onboarding,
    )
    .map_err(|e| bad("rules", &e))?;
    let ldevid_ca = match (&record.ldevid_issuer, &record.ldevid_ca) {
        (LdevidIssuer::ZtpCa, Some((cert, key))) => {
            Some(ZtpCa::load(name, cert, key).map_err(|e| bad("LDevID CA", &e))?)
        }
        _ => None,
    };
    Ok(OwnerEntry {
        revision: record.revision,
        credentials,
        policy,
        connections: Vec::new(),
        pools: Vec::new(),
        conveyed: Mutex::new(HashMap::new()),
        ldevid: record.ldevid_issuer,
        ldevid_ca,
        vouchers: Mutex::new(HashMap::new()),
    })
}

impl Bootstrapper {
    /// The owner's entry at its current revision, loaded when the cached one is stale.
    /// The owner's entry at `revision` (read with the device), built again when it changed.
    pub(super) async fn owner(
        &self,
        name: &str,
        revision: i64,
    ) -> Result<Arc<OwnerEntry>, BootstrapError> {
        if let Some(entry) = self.cached_owner(name)
            && entry.revision == revision
        {
            return Ok(entry);
        }
        let record = self
            .store
            .customer(name)
            .await?
            .ok_or_else(|| owner_error(name, "no longer exists"))?;
        let targets = self.store.targets(name).await?;
        let rules = self.store.rules(name).await?;
        let mut entry = build_owner(&record, &targets, &rules, &self.owner_key_modules)?;
        entry.connections = self.store.nms_connections(name).await?;
        entry.pools = self.store.license_pools(name).await?;
        let entry = Arc::new(entry);
        self.owners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Arc::clone(&entry));
        Ok(entry)
    }

    pub(super) fn cached_owner(&self, name: &str) -> Option<Arc<OwnerEntry>> {
        self.owners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub(super) fn conveyed(
        &self,
        owner: &OwnerEntry,
        rule: &Option<String>,
        conveyed: &Conveyed<'_, OnboardingInformation>,
        plan: Plan,
    ) -> Result<Binary, BootstrapError> {
        let key = (rule.clone(), plan.conveyed_encoding, plan.signed);
        let caches = self.licensing.caches();
        if let Some(cached) = lock(&owner.conveyed).get(&key) {
            caches.looked_up(Cache::ConveyedInformation, true);
            return Ok(cached.clone());
        }
        caches.looked_up(Cache::ConveyedInformation, false);
        let signer = plan.signed.then(|| owner.credentials.signer());
        let built = Binary::from(artifacts::conveyed_information(
            &conveyed_information(conveyed),
            plan.conveyed_encoding,
            signer,
        )?);
        lock(&owner.conveyed).insert(key, built.clone());
        Ok(built)
    }

    /// The device's ownership voucher: the one imported for it (another party's MASA signed
    /// it), or one ztp signs.
    pub(super) fn voucher(
        &self,
        owner: &OwnerEntry,
        call: Call<'_>,
        imported: Option<&ImportedVoucher>,
    ) -> Result<Binary, BootstrapError> {
        let now = OffsetDateTime::now_utc();
        let serial = &call.device.identity.serial;
        if let Some(imported) = imported {
            return serve_imported(imported, call);
        }
        let sign = |nonce| {
            // Bound to the CA that issued the IDevID presented (idevid-issuer), so that it
            // serves no device of the same serial under another IDevID CA.
            let issuer = Cert::from_der(call.device.certificate.to_vec())
                .ok()
                .and_then(|cert| cert.authority_key_identifier());
            artifacts::ownership_voucher(
                &self.masa.load(),
                serial,
                issuer.as_deref(),
                owner.credentials.ca(),
                now,
                self.voucher_validity,
                nonce,
            )
        };
        let caches = self.licensing.caches();
        // A nonce asks for a fresh voucher that carries it.
        if let Some(nonce) = &call.input.nonce {
            caches.looked_up(Cache::Voucher, false);
            return Ok(Binary::from(sign(Some(nonce))?));
        }
        // Reuse a voucher while more than half of its life is left.
        let mut vouchers = lock(&owner.vouchers);
        if let Some((voucher, created)) = vouchers.get(&call.device.fingerprint)
            && now < *created + self.voucher_validity / 2
        {
            caches.looked_up(Cache::Voucher, true);
            return Ok(voucher.clone());
        }
        caches.looked_up(Cache::Voucher, false);
        let voucher = Binary::from(sign(None)?);
        if vouchers.len() >= MAX_CACHED_VOUCHERS {
            // Bounded memory whatever the fleet: stale vouchers go first, then all of them
            // (re-signing one costs less than a handshake).
            let fresh_until = self.voucher_validity / 2;
            vouchers.retain(|_, (_, created)| now < *created + fresh_until);
            if vouchers.len() >= MAX_CACHED_VOUCHERS {
                vouchers.clear();
            }
        }
        vouchers.insert(call.device.fingerprint, (voucher.clone(), now));
        Ok(voucher)
    }
}

/// The imported voucher, as it was imported, when it still applies to the device calling: not
/// expired, and naming the issuer of the IDevID presented if it names one. A device that sent a
/// nonce gets it too: no voucher carrying that nonce can be had from its MASA here, and
/// ietf-voucher has a device check the expiry of a voucher without nonce.
fn serve_imported(imported: &ImportedVoucher, call: Call<'_>) -> Result<Binary, BootstrapError> {
    let refused = |reason: String| BootstrapError::ImportedVoucher {
        serial: call.device.identity.serial.clone(),
        reason,
    };
    if let Some(expires_at) = imported.expires_at
        && expires_at < now_ms()
    {
        return Err(refused(
            "has expired: import a fresh one from its MASA".into(),
        ));
    }
    if let Some(named) = &imported.idevid_issuer {
        let presented = Cert::from_der(call.device.certificate.to_vec())
            .ok()
            .and_then(|cert| cert.authority_key_identifier())
            .map(|id| crate::store::vouchers::lower_hex(&id));
        if presented.as_ref() != Some(named) {
            return Err(refused(
                "names another issuer of the device's IDevID (idevid-issuer)".into(),
            ));
        }
    }
    if call.input.nonce.is_some() {
        tracing::info!(
            serial = call.device.identity.serial.as_str(),
            "the device asked for a voucher bound to its nonce: it gets its imported voucher, \
             which has none"
        );
    }
    Ok(Binary::from(imported.cms.clone()))
}
