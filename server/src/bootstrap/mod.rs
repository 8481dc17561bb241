//! get-bootstrapping-data and report-progress for an authenticated device: find it and its
//! owner, choose the answer, sign it, move the device's state on.
//!
//! Signed artifacts that do not change per request (the owner-certificate bag, conveyed
//! information per rule and encoding, vouchers without nonce) are cached per owner and keyed
//! by the owner's revision, which every change to the owner, its targets or rules bumps: a
//! change, on any instance, makes the next request rebuild them.
//!
//! The answer is shaped by the owner's profile (or rule) with the quirks of the device's
//! family forced on top ([`Families`]): a family is the manufacturer's knowledge of what a
//! device's software takes, which no customer setting may undo.
//!
//! A device that gets an answer is registered with its owner's NMS connections (the
//! [`Registrar`]); under `nms-first`, the answer waits briefly for the delivery and otherwise
//! becomes [`BootstrapError::AwaitingNms`] (503 with Retry-After).
//!
//! May import: `domain`, `store`, `auth`, `artifacts`, `ldevid`, `licensing`, `nms`,
//! `telemetry`; never the APIs that call it.

mod ldevid;
mod owners;
mod progress;
pub mod trust_anchors;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration as StdDuration;

use arc_swap::ArcSwap;
use time::Duration;
use ztp_certs::{Serial, Signer};
use ztp_yang::{
    CsrMessage, CsrRequest, Encoding, GetBootstrappingDataInput, GetBootstrappingDataOutput,
    OnboardingInformation, Ownership,
};

use crate::artifacts::ArtifactError;
use crate::auth::device::AuthenticatedDevice;
use crate::domain::delivery::RegistrationState;
use crate::domain::response::family::Families;
use crate::domain::response::{Conveyed, NoResponse, Profile, Request};
use crate::domain::state::{DeviceState, Observation};
use crate::ldevid::{LdevidError, Ldevids};
use crate::licensing::{Conveyance, Licensee, Licensing, LicensingError};
use crate::nms::{Registrant, Registrar, RegistrarError};
use crate::store::devices::ImportedVoucher;
use crate::store::journal::Journal;
use crate::store::{
    CallingDevice, DeviceRecord, EventKind, LicenseRecord, NewEvent, RegistrationRecord, Store,
    StoreError, now_ms,
};
pub use owners::Plan;
use owners::{OwnerEntry, owner_error};

/// Why a device gets no bootstrapping data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The serial is not in the inventory.
    #[error("device {0} is not in the inventory")]
    UnknownDevice(Serial),
    /// The device's certificate is not the one pinned for it.
    #[error("device {serial} presented certificate {presented}, not the pinned one")]
    PinMismatch {
        /// The device.
        serial: Serial,
        /// The fingerprint it presented.
        presented: String,
    },
    /// The device has no owner yet.
    #[error("device {0} has no owner")]
    NoOwner(Serial),
    /// The device's imported voucher cannot be served, and ztp may sign it none.
    #[error("device {serial}: its imported ownership voucher {reason}")]
    ImportedVoucher {
        /// The device.
        serial: Serial,
        /// Why it cannot be served.
        reason: String,
    },
    /// The owner has nothing for it.
    #[error("device {serial}: {reason}")]
    NothingConfigured {
        /// The device.
        serial: Serial,
        /// Why.
        reason: NoResponse,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The owner's stored credentials or policy are unusable.
    #[error("customer {customer}: {reason}")]
    Owner {
        /// The customer.
        customer: String,
        /// What is wrong.
        reason: String,
    },
    /// Building an artifact failed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The device's licenses could not be conveyed.
    #[error(transparent)]
    Licensing(#[from] LicensingError),
    /// Under `nms-first`, the device's registration has not reached its NMS yet.
    #[error("device {serial}: waiting for its registration with NMS {connection} ({status})")]
    AwaitingNms {
        /// The device.
        serial: Serial,
        /// `customer/connection`.
        connection: String,
        /// The last attempt's error, or that none was made yet.
        status: String,
    },
    /// The device's registration could not be queued.
    #[error(transparent)]
    Registration(#[from] RegistrarError),
    /// A trust anchor the device reported with its progress is not what RFC 8572 says it is.
    #[error("device {serial}: trust-anchor-cert {index} of its report: {reason}")]
    BadTrustAnchor {
        /// The device.
        serial: Serial,
        /// Which one, from 1.
        index: usize,
        /// What is wrong with it.
        reason: trust_anchors::TrustAnchorError,
    },
    /// The device offers CSRs and its owner wants LDevIDs: it is to send one (RFC 9646's 400
    /// `missing-attribute` with a `csr-request`).
    #[error("device {serial}: asked for a CSR (RFC 9646)")]
    CsrWanted {
        /// The device.
        serial: Serial,
        /// What CSR.
        request: CsrRequest,
    },
    /// The device's CSR got no LDevID.
    #[error("device {serial}: no LDevID: {error}")]
    Ldevid {
        /// The device.
        serial: Serial,
        /// Why.
        error: LdevidError,
    },
}

/// A get-bootstrapping-data call.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Who calls.
    pub device: &'a AuthenticatedDevice,
    /// What it sent.
    pub input: &'a GetBootstrappingDataInput,
    /// Its RFC 9646 `csr-support` or `csr`, if any.
    pub csr: Option<&'a CsrMessage>,
    /// From where.
    pub source: IpAddr,
    /// The peer's address and port, for the event log.
    pub peer: &'a str,
    /// The response's encoding.
    pub encoding: Encoding,
}

/// What a device was sent, and why.
#[derive(Debug, Clone)]
pub struct Served {
    /// The RPC output.
    pub output: GetBootstrappingDataOutput,
    /// The owner.
    pub customer: String,
    /// The rule that chose the answer (`None`: the owner's default).
    pub rule: Option<String>,
    /// The device family whose quirks shaped it, if any.
    pub family: Option<String>,
    /// How it was wrapped.
    pub plan: Plan,
    /// The device's new state.
    pub state: DeviceState,
    /// The licenses conveyed, and those withheld.
    pub licenses: Conveyance,
    /// The LDevID issued in this answer, described.
    pub ldevid: Option<String>,
}

impl Served {
    /// One line for the event log.
    pub fn describe(&self) -> String {
        let what = match self.state {
            DeviceState::Onboarding => "onboarding information",
            _ => "redirect information",
        };
        format!(
            "sent {what} of customer {} ({}, profile {}{}, {}{}){}",
            self.customer,
            self.rule
                .as_deref()
                .map_or_else(|| "default answer".to_owned(), |r| format!("rule {r}")),
            self.plan.profile,
            self.family
                .as_deref()
                .map_or_else(String::new, |f| format!(", device family {f}")),
            if self.plan.signed {
                "signed"
            } else {
                "unsigned"
            },
            if self.output.ownership.is_some() {
                ", with owner certificate and voucher"
            } else {
                ""
            },
            if self.licenses.licenses.is_empty() && self.licenses.withheld.is_empty() {
                String::new()
            } else {
                format!("; {}", self.licenses.describe())
            },
        ) + &self
            .ldevid
            .as_deref()
            .map_or_else(String::new, |l| format!("; {l}"))
    }
}

/// A response before the device's state is written.
struct Answer {
    output: GetBootstrappingDataOutput,
    customer: String,
    owner: Arc<OwnerEntry>,
    rule: Option<String>,
    family: Option<String>,
    plan: Plan,
    observation: Observation,
    licenses: Conveyance,
    ldevid: Option<String>,
}

/// Answers devices.
pub struct Bootstrapper {
    store: Store,
    journal: Journal,
    outbox: Arc<Registrar>,
    licensing: Licensing,
    hold: DeviceHold,
    /// The voucher signer in force, which a reload replaces.
    masa: ArcSwap<Signer>,
    voucher_validity: Duration,
    owners: RwLock<HashMap<String, Arc<OwnerEntry>>>,
    /// The PKCS#11 modules owners' keys may be on.
    owner_key_modules: Vec<std::path::PathBuf>,
    /// The device families whose quirks shape answers.
    families: Families,
    /// The LDevID issuers (RFC 9646).
    ldevids: Ldevids,
}

/// How long a device waits for its `nms-first` registrations.
#[derive(Debug, Clone, Copy)]
pub struct DeviceHold {
    /// Within one request, before it gets 503 with Retry-After.
    pub inline_wait: StdDuration,
    /// In all, since the registration began waiting: then the device is answered anyway.
    pub max_hold: StdDuration,
}

impl std::fmt::Debug for Bootstrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrapper")
            .field("masa", &self.masa.load().cert().subject())
            .field("voucher_validity", &self.voucher_validity)
            .finish_non_exhaustive()
    }
}

impl Bootstrapper {
    /// A bootstrapper writing devices' state and events through `journal`, signing vouchers
    /// with `masa`, valid for `voucher_validity` when the device sends no nonce, registering
    /// devices in `outbox` and holding them for `nms-first` deliveries as `hold` says.
    pub fn new(
        journal: Journal,
        outbox: Arc<Registrar>,
        licensing: Licensing,
        hold: DeviceHold,
        masa: Signer,
        voucher_validity: Duration,
    ) -> Self {
        Self {
            store: outbox.store().clone(),
            journal,
            outbox,
            licensing,
            hold,
            masa: ArcSwap::from_pointee(masa),
            voucher_validity,
            owners: RwLock::new(HashMap::new()),
            owner_key_modules: Vec::new(),
            families: Families::default(),
            ldevids: Ldevids::default(),
        }
    }

    /// Owners' keys may be on the PKCS#11 `modules` (`manufacturer.owner_key_modules`).
    pub fn with_owner_key_modules(mut self, modules: Vec<std::path::PathBuf>) -> Self {
        self.owner_key_modules = modules;
        self
    }

    /// Shapes answers with the quirks of `families` (`device_families`; the built-in ones
    /// unless told otherwise).
    pub fn with_families(mut self, families: Families) -> Self {
        self.families = families;
        self
    }

    /// Signs vouchers with `masa` and licenses with `license` from now on (a reload of the
    /// manufacturer's keys); what was signed with the previous ones is signed again at the next
    /// call (the caches of owners and bundles are emptied), so that a retired key signs
    /// nothing more.
    pub fn replace_signers(&self, masa: Signer, license: Signer) {
        self.masa.store(Arc::new(masa));
        self.owners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.licensing.replace_signer(license);
    }

    /// Licensing, whose families count the signing caches and license shortages.
    pub fn licensing(&self) -> &Licensing {
        &self.licensing
    }

    /// Where requests' writes go (group commit).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Answers get-bootstrapping-data.
    pub async fn get_bootstrapping_data(&self, call: Call<'_>) -> Result<Served, BootstrapError> {
        let under_way = self.journal.expect_entry();
        let serial = call.device.serial();
        let CallingDevice {
            device,
            owner_revision,
            licenses,
            imported_voucher,
        } = self.known_device(call.device).await?;
        let model = device.model.clone();
        // One state write per request: the answer's (redirected or onboarding), or `contacted`
        // when the device is known but gets nothing (yet).
        // Registering with the NMS and allocating licenses wait on others (the outbox, the
        // journal's own commit): set aside, so that the journal does not wait for them.
        let answered = match self
            .answer(call, device, owner_revision, imported_voucher.as_ref())
            .await
        {
            Ok(answer) => under_way
                .aside(self.register(call, &model, &answer.customer, &answer.owner))
                .await
                .map(|()| answer),
            Err(error) => Err(error),
        };
        let answered = match answered {
            Ok(answer) => {
                under_way
                    .aside(self.add_licenses(call, &model, &licenses, answer))
                    .await
            }
            Err(error) => Err(error),
        };
        let answer = match answered {
            Ok(answer) => answer,
            Err(error) => {
                let contacted = self
                    .journal
                    .observe(serial, Observation::Contacted, None, under_way)
                    .await;
                if let Err(e) = contacted {
                    tracing::warn!(%serial, error = %e, "could not record the contact");
                }
                return Err(error);
            }
        };
        // An answer moves the device to the same state whatever it was (see `DeviceState`), so
        // the event can say what it was sent before the write.
        let served = Served {
            output: answer.output,
            customer: answer.customer,
            rule: answer.rule,
            family: answer.family,
            plan: answer.plan,
            state: DeviceState::Shipped.after(answer.observation),
            licenses: answer.licenses,
            ldevid: answer.ldevid,
        };
        let event = NewEvent {
            serial: Some(serial.to_owned()),
            kind: EventKind::BootstrapServed,
            status: Some(200),
            peer: Some(call.peer.to_owned()),
            detail: if call.device.legacy_chain {
                format!("{} (legacy SHA-1 chain)", served.describe())
            } else {
                served.describe()
            },
            notice: None,
            request_id: None,
        };
        self.journal
            .observe(
                serial,
                answer.observation,
                Some(Box::new(move |_| event.clone())),
                under_way,
            )
            .await?;
        Ok(served)
    }

    /// Queues the device's registration with its owner's NMS connections; under `nms-first`,
    /// waits up to the inline wait for delivery.
    async fn register(
        &self,
        call: Call<'_>,
        model: &str,
        customer: &str,
        owner: &OwnerEntry,
    ) -> Result<(), BootstrapError> {
        let serial = call.device.serial();
        let registrant = Registrant {
            serial,
            model,
            customer,
            certificate: call.device.certificate.as_ref(),
        };
        let queued = self
            .outbox
            .register_with(registrant, &owner.connections)
            .await?;
        let now = now_ms();
        for late in queued.iter().filter(|q| q.overdue(now, self.hold.max_hold)) {
            tracing::warn!(
                %serial,
                connection = %format!("{}/{}", late.registration.customer, late.registration.connection),
                "answering the device before its registration reached the NMS: it has waited \
                 longer than nms.max_device_hold_secs; delivery goes on"
            );
        }
        let holding: Vec<&RegistrationRecord> = queued
            .iter()
            .filter(|q| q.holds_back_the_device(now, self.hold.max_hold))
            .map(|q| &q.registration)
            .collect();
        if holding.is_empty() {
            return Ok(());
        }
        // Wait only when an attempt can end within the wait: a registration that is new or
        // due soon. One in backoff (the NMS is down) is answered at once, so that devices
        // retrying against a dead NMS do not each hold a request slot for the whole wait.
        let horizon = now_ms()
            .saturating_add(i64::try_from(self.hold.inline_wait.as_millis()).unwrap_or(i64::MAX));
        let worth_waiting = holding.iter().all(|r| {
            r.state == RegistrationState::Pending
                && (r.last_error.is_none() || r.next_attempt_at <= horizon)
        });
        let wait = if worth_waiting {
            self.hold.inline_wait
        } else {
            StdDuration::ZERO
        };
        let ids: Vec<i64> = holding.iter().map(|r| r.id).collect();
        let undelivered = self.outbox.wait_for_delivery(&ids, wait).await?;
        match undelivered.into_iter().next() {
            None => Ok(()),
            Some(r) => Err(BootstrapError::AwaitingNms {
                serial: serial.to_owned(),
                connection: format!("{}/{}", r.customer, r.connection),
                status: match r.last_error {
                    Some(error) => format!("last attempt: {error}"),
                    None => "not delivered yet".to_owned(),
                },
            }),
        }
    }

    /// Adds the device's licenses to the answer: for the `standard` profile only, and not for
    /// a family that takes the core fields only, since the agents the other profiles and such
    /// families serve reject output leaves they do not know.
    async fn add_licenses(
        &self,
        call: Call<'_>,
        model: &str,
        held: &[LicenseRecord],
        mut answer: Answer,
    ) -> Result<Answer, BootstrapError> {
        if answer.plan.profile != Profile::Standard || !answer.plan.extensions {
            return Ok(answer);
        }
        let licensee = Licensee {
            serial: call.device.serial(),
            product_id: model,
            customer: &answer.customer,
        };
        let conveyance = self
            .licensing
            .convey(licensee, &answer.owner.pools, held, call.encoding)
            .await?;
        answer.output.license_bundle = conveyance.bundle.clone();
        answer.licenses = conveyance;
        Ok(answer)
    }

    /// What a known device is owed; no state is written.
    async fn answer(
        &self,
        call: Call<'_>,
        device: DeviceRecord,
        owner_revision: Option<i64>,
        imported_voucher: Option<&ImportedVoucher>,
    ) -> Result<Answer, BootstrapError> {
        let serial = call.device.serial();
        let customer = device
            .customer
            .ok_or_else(|| BootstrapError::NoOwner(serial.to_owned()))?;
        let revision = owner_revision.ok_or_else(|| owner_error(&customer, "no longer exists"))?;
        let owner = self.owner(&customer, revision).await?;
        let request = Request {
            hw_model: call.input.hw_model.as_deref(),
            os_name: call.input.os_name.as_deref(),
            os_version: call.input.os_version.as_deref(),
            source: call.source,
            signed_data_preferred: call.input.signed_data_preferred,
        };
        let choice =
            owner
                .policy
                .choose(&request)
                .map_err(|reason| BootstrapError::NothingConfigured {
                    serial: serial.to_owned(),
                    reason,
                })?;
        let product_id = call.device.identity.product_id.as_ref();
        let family = self
            .families
            .of(request.hw_model, product_id.map(|p| p.as_str()));
        let shape = family.map_or(choice.shape, |f| {
            f.shape(choice.shape, call.input.signed_data_preferred)
        });
        let plan = Plan::new(choice.profile, shape, call.encoding);
        let issued = self
            .ldevid(call, &customer, &owner, &choice.conveyed, plan)
            .await?;
        let conveyed_information = match &issued {
            Some(issued) => self.conveyed_once(&owner, &issued.info, plan)?,
            None => self.conveyed(&owner, &choice.rule, &choice.conveyed, plan)?,
        };
        let ownership = if plan.signed {
            Some(Ownership {
                owner_certificate: owner.credentials.owner_certificate().clone(),
                ownership_voucher: self.voucher(&owner, call, imported_voucher)?,
            })
        } else {
            None
        };
        let observation = match choice.conveyed {
            Conveyed::Redirect(_) => Observation::Redirected,
            Conveyed::Onboarding(_) => Observation::Onboarded,
        };
        Ok(Answer {
            output: GetBootstrappingDataOutput {
                conveyed_information,
                ownership,
                ..GetBootstrappingDataOutput::default()
            },
            customer,
            owner: Arc::clone(&owner),
            rule: choice.rule,
            family: family.map(|f| f.name.clone()),
            plan,
            observation,
            licenses: Conveyance::default(),
            ldevid: issued.map(|i| i.describe),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
