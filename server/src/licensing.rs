//! Licenses at bootstrap: a device's licenses are allocated from its owner's entitlement pools
//! (the same licenses again on every call), and conveyed as one bundle signed by the
//! manufacturer's license key. A pool without a free seat never blocks the device: the
//! shortage is recorded and raised as an event once per device and pool.
//!
//! May import: `domain`, `store`, `artifacts`, `telemetry`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use time::OffsetDateTime;
use ztp_certs::{Serial, Signer, cms, oid};
use ztp_yang::{Binary, Document, Encoding, License, LicenseBundle, LicenseType, NodeLock};

use crate::domain::licensing::{Term, Withheld};
use crate::domain::notice::Notice;
use crate::store::journal::Journal;
use crate::store::licenses::{NewLicense, ms_of, time_of};
use crate::store::{
    Allocation, EventKind, LicenseRecord, LicenseState, NewEvent, PoolRecord, StoreError,
};
use crate::telemetry::metrics::{Cache, CacheMetrics, LicenseMetrics};

/// Conveying licenses failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LicensingError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A license does not make a valid bundle (a pool's stored data is unusable).
    #[error("license bundle: {0}")]
    Bundle(String),
    /// Signing failed.
    #[error("signing the license bundle: {0}")]
    Signing(String),
}

/// A device asking for its licenses.
#[derive(Debug, Clone, Copy)]
pub struct Licensee<'a> {
    /// Serial number.
    pub serial: &'a Serial,
    /// Product id (hardware model, from the inventory).
    pub product_id: &'a str,
    /// Owner.
    pub customer: &'a str,
}

/// What a device is conveyed.
#[derive(Debug, Clone, Default)]
pub struct Conveyance {
    /// The signed bundle, when the device has at least one license.
    pub bundle: Option<Binary>,
    /// The licenses in it.
    pub licenses: Vec<License>,
    /// Pools that apply to the device but give it nothing now, and why.
    pub withheld: Vec<(String, Withheld)>,
}

impl Conveyance {
    /// One phrase for the event log.
    pub fn describe(&self) -> String {
        let mut text = match self.licenses.len() {
            0 => "no license".to_owned(),
            1 => "1 license".to_owned(),
            n => format!("{n} licenses"),
        };
        for (pool, why) in &self.withheld {
            text.push_str(&format!("; pool {pool}: {why}"));
        }
        text
    }
}

/// Signed bundles kept at most (about 2 KiB each with their content).
const MAX_CACHED_BUNDLES: usize = 16_384;

/// A device's last bundle: its licenses, their encoding and the signed bundle.
type CachedBundle = (Vec<License>, Encoding, Binary);

/// Allocates and signs licenses.
pub struct Licensing {
    /// Allocations are written by the journal's writer, with the devices' other writes.
    journal: Journal,
    /// The license signer in force, which a reload replaces.
    signer: ArcSwap<Signer>,
    /// Each device's last signed bundle, reused while its licenses and their encoding are
    /// the same (a device calling again, as vouchers are reused): the signature is over the
    /// content alone, which they determine.
    bundles: Mutex<HashMap<String, CachedBundle>>,
    /// Licenses withheld for want of seats.
    shortages: LicenseMetrics,
    /// Lookups in the signing caches: this one's, and the bootstrapper's (which counts into
    /// the same family).
    caches: CacheMetrics,
}

impl std::fmt::Debug for Licensing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Licensing")
            .field("signer", &self.signer.load().cert().subject())
            .finish_non_exhaustive()
    }
}

impl Licensing {
    /// Licensing allocating through `journal`, signing bundles with `signer`.
    pub fn new(journal: Journal, signer: Signer) -> Self {
        Self {
            journal,
            signer: ArcSwap::from_pointee(signer),
            bundles: Mutex::new(HashMap::new()),
            shortages: LicenseMetrics::default(),
            caches: CacheMetrics::default(),
        }
    }

    /// Signs bundles with `signer` from now on; bundles the previous one signed are signed
    /// again at the next call.
    pub fn replace_signer(&self, signer: Signer) {
        self.signer.store(Arc::new(signer));
        self.bundles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// What licensing counts: licenses withheld for want of seats.
    pub fn shortages(&self) -> &LicenseMetrics {
        &self.shortages
    }

    /// Where the signing caches count their lookups (the bundles here, the bootstrapper's
    /// vouchers and conveyed information).
    pub fn caches(&self) -> &CacheMetrics {
        &self.caches
    }

    /// The device's licenses from its owner's `pools`, allocated where it `held` none yet, as
    /// a bundle in `encoding`. The caller has both at hand: the bootstrapper keeps the pools per
    /// owner revision and reads the licenses with the device.
    pub async fn convey(
        &self,
        device: Licensee<'_>,
        pools: &[PoolRecord],
        held: &[LicenseRecord],
        encoding: Encoding,
    ) -> Result<Conveyance, LicensingError> {
        let applicable: Vec<&PoolRecord> = pools
            .iter()
            .filter(|p| p.scope.covers(device.serial.as_str(), device.product_id))
            .collect();
        if applicable.is_empty() {
            return Ok(Conveyance::default());
        }
        let now = OffsetDateTime::now_utc();
        let mut conveyance = Conveyance::default();
        for pool in applicable {
            match self.license_from(pool, held, device, now).await? {
                Ok(record) => conveyance.licenses.push(license(pool, &record)),
                Err(why) => conveyance.withheld.push((pool.name.clone(), why)),
            }
        }
        if !conveyance.licenses.is_empty() {
            conveyance.bundle =
                Some(self.signed(device.serial.as_str(), &conveyance.licenses, encoding)?);
        }
        Ok(conveyance)
    }

    /// The signed bundle of `licenses` in `encoding` for `serial`: the one made last time
    /// when they are the same, else a new signature.
    fn signed(
        &self,
        serial: &str,
        licenses: &[License],
        encoding: Encoding,
    ) -> Result<Binary, LicensingError> {
        let lock = || self.bundles.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached, cached_encoding, bundle)) = lock().get(serial)
            && *cached_encoding == encoding
            && cached.as_slice() == licenses
        {
            self.caches.looked_up(Cache::License, true);
            return Ok(bundle.clone());
        }
        self.caches.looked_up(Cache::License, false);
        let document = LicenseBundle {
            licenses: licenses.to_vec(),
        };
        let content = document
            .encode_checked(encoding)
            .map_err(|e| LicensingError::Bundle(e.to_string()))?;
        let bundle = Binary::from(
            cms::sign(oid::ID_DATA, content.as_bytes(), &self.signer.load())
                .map_err(|e| LicensingError::Signing(e.to_string()))?,
        );
        let mut bundles = lock();
        if bundles.len() >= MAX_CACHED_BUNDLES && !bundles.contains_key(serial) {
            // Bounded memory whatever the fleet; signing again costs less than a handshake.
            bundles.clear();
        }
        bundles.insert(
            serial.to_owned(),
            (document.licenses, encoding, bundle.clone()),
        );
        Ok(bundle)
    }

    /// The device's license from `pool`: the one it holds, or a new one if a seat is free.
    async fn license_from(
        &self,
        pool: &PoolRecord,
        held: &[LicenseRecord],
        device: Licensee<'_>,
        now: OffsetDateTime,
    ) -> Result<Result<LicenseRecord, Withheld>, StoreError> {
        let mine = held.iter().filter(|l| l.pool_id == pool.id);
        if let Some(active) = mine.clone().find(|l| l.state == LicenseState::Active) {
            return Ok(pool
                .terms
                .still_valid(time_of(active.issued_at), now)
                .map(|()| active.clone()));
        }
        if mine.clone().any(|l| l.state == LicenseState::Revoked) {
            return Ok(Err(Withheld::Revoked));
        }
        if let Err(why) = pool.terms.may_issue(now) {
            return Ok(Err(why));
        }
        let license = NewLicense {
            id: new_license_id(),
            pool_id: pool.id,
            serial: device.serial.to_string(),
            product_id: device.product_id.to_owned(),
        };
        let detail = format!(
            "license pool {}/{} ({}) has no seat left for {}: the device is answered without it",
            pool.customer, pool.name, pool.feature, device.serial
        );
        let shortage = NewEvent {
            serial: Some(device.serial.clone()),
            kind: EventKind::LicenseShortage,
            status: None,
            peer: None,
            detail: detail.clone(),
            notice: Some(Notice::LicenseShortage),
            request_id: None,
        };
        match self.journal.allocate(license, shortage).await? {
            Allocation::Granted(record) => Ok(Ok(record)),
            Allocation::NoSeat { first } => {
                self.shortages.short(1);
                if first {
                    tracing::warn!(serial = %device.serial, "{detail}");
                }
                Ok(Err(Withheld::NoSeat))
            }
        }
    }
}

/// A license as conveyed: the stored allocation with its pool's current terms (a renewed
/// subscription conveys the new end date under the same license id).
fn license(pool: &PoolRecord, record: &LicenseRecord) -> License {
    let issued_at = time_of(record.issued_at);
    let validity = pool.terms.validity(issued_at);
    License {
        id: record.id.clone(),
        feature: pool.feature.clone(),
        license_type: match pool.terms.term {
            Term::Perpetual => LicenseType::Perpetual,
            Term::Subscription => LicenseType::Subscription,
            Term::Evaluation => LicenseType::Evaluation,
        },
        count: None,
        node_lock: NodeLock {
            product_id: record.product_id.clone(),
            serial_number: record.serial.clone(),
        },
        issued_at: whole_seconds(issued_at),
        not_before: whole_seconds(validity.not_before),
        not_after: validity.not_after.map(whole_seconds),
    }
}

fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    time_of(ms_of(at) / 1000 * 1000)
}

/// A new license id: `LIC-` and 24 random hex digits.
pub fn new_license_id() -> String {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 12];
    // The system generator failing is not recoverable; the time keeps ids unique enough then.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        bytes[..8].copy_from_slice(&crate::store::now_ms().to_be_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("LIC-{hex}")
}

#[cfg(test)]
mod tests {
    use ztp_certs::{CertificateAuthority, KeyAlgorithm};

    use super::*;
    use crate::domain::licensing::{Scope, Terms};
    use crate::store::testing::{new_customer, store};
    use crate::store::{NewPool, Store};

    async fn licensing() -> (Licensing, Store, crate::store::testing::Scratch) {
        let (store, dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let root = CertificateAuthority::new_root("Root", "Mfg", KeyAlgorithm::EcdsaP256).unwrap();
        let (cert, key) = root
            .issue_signer("License Signing", "Mfg", KeyAlgorithm::EcdsaP256)
            .unwrap();
        let signer = Signer::new(key, vec![cert]).unwrap();
        let journal = Journal::start(&store);
        (Licensing::new(journal, signer), store, dir)
    }

    /// What `serial` (a uCPE-100 of acme) is conveyed, in `encoding`.
    async fn convey(
        licensing: &Licensing,
        store: &Store,
        serial: &str,
        encoding: Encoding,
    ) -> Conveyance {
        let parsed = Serial::parse(serial).unwrap();
        let device = Licensee {
            serial: &parsed,
            product_id: "uCPE-100",
            customer: "acme",
        };
        let pools = store.license_pools("acme").await.unwrap();
        let held = store.licenses_of(serial).await.unwrap();
        licensing
            .convey(device, &pools, &held, encoding)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_device_calling_again_gets_the_same_signed_bundle_until_its_licenses_change() {
        let (licensing, store, _dir) = licensing().await;
        let pool = |name: &str| NewPool {
            customer: "acme".into(),
            name: name.into(),
            feature: format!("FEATURE-{name}"),
            terms: Terms {
                term: Term::Perpetual,
                starts_at: None,
                ends_at: None,
                evaluation_days: None,
            },
            seats: None,
            scope: Scope::Serials(vec!["SN-1".into()]),
        };
        store.insert_license_pool(&pool("core")).await.unwrap();
        let first = convey(&licensing, &store, "SN-1", Encoding::Json).await;
        let again = convey(&licensing, &store, "SN-1", Encoding::Json).await;
        assert!(first.bundle.is_some());
        assert_eq!(first.bundle, again.bundle, "signed once");
        let xml = convey(&licensing, &store, "SN-1", Encoding::Xml).await;
        assert_ne!(xml.bundle, first.bundle, "another content, another bundle");

        // A new license changes the content: a new signature over both.
        store.insert_license_pool(&pool("extra")).await.unwrap();
        let more = convey(&licensing, &store, "SN-1", Encoding::Json).await;
        assert_eq!(more.licenses.len(), 2);
        assert_ne!(more.bundle, first.bundle);
        let verified = cms::verify(
            more.bundle.as_deref().unwrap(),
            &[oid::ID_DATA],
            &ztp_certs::TrustPolicy {
                anchors: std::slice::from_ref(licensing.signer.load().cert()),
                extra_certificates: &[],
                at: OffsetDateTime::now_utc(),
            },
        );
        assert!(verified.is_ok(), "{verified:?}");
    }

    #[tokio::test]
    async fn a_used_up_evaluation_is_not_conveyed_while_a_new_device_starts_its_own() {
        let (licensing, store, _dir) = licensing().await;
        store
            .insert_license_pool(&NewPool {
                customer: "acme".into(),
                name: "trial".into(),
                feature: "SEC-ADV".into(),
                terms: Terms {
                    term: Term::Evaluation,
                    starts_at: None,
                    ends_at: None,
                    evaluation_days: Some(30),
                },
                seats: None,
                scope: Scope::Serials(vec!["SN-1".into(), "SN-2".into()]),
            })
            .await
            .unwrap();
        let first = convey(&licensing, &store, "SN-1", Encoding::Json).await;
        assert_eq!(first.licenses.len(), 1);
        assert!(first.bundle.is_some());
        let ends = first.licenses[0].not_after.unwrap();
        assert_eq!(
            ends - first.licenses[0].not_before,
            time::Duration::days(30)
        );

        // Thirty-one days later (the license is back-dated).
        let month_ago = crate::store::now_ms() - 31 * 24 * 3600 * 1000;
        sqlx::query("UPDATE licenses SET issued_at = $1")
            .bind(month_ago)
            .execute(store.pool())
            .await
            .unwrap();
        let later = convey(&licensing, &store, "SN-1", Encoding::Json).await;
        assert!(later.licenses.is_empty());
        assert!(later.bundle.is_none());
        assert_eq!(
            later.withheld,
            [("trial".to_owned(), Withheld::EvaluationUsedUp)]
        );
        assert!(later.describe().contains("used up"), "{}", later.describe());

        let other = convey(&licensing, &store, "SN-2", Encoding::Xml).await;
        assert_eq!(other.licenses.len(), 1, "SN-2's own evaluation starts now");
        let outside = convey(&licensing, &store, "SN-3", Encoding::Json).await;
        assert!(
            outside.licenses.is_empty() && outside.withheld.is_empty(),
            "not in scope"
        );
    }

    #[test]
    fn license_ids_are_distinct_and_well_formed() {
        let a = new_license_id();
        let b = new_license_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 28);
        assert!(a.starts_with("LIC-"));
    }
}
