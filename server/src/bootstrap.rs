//! get-bootstrapping-data and report-progress for an authenticated device: find it and its
//! owner, choose the answer, sign it, move the device's state on.
//!
//! Signed artifacts that do not change per request (the owner-certificate bag, conveyed
//! information per rule and encoding, vouchers without nonce) are cached per owner and keyed
//! by the owner's revision, which every change to the owner, its targets or rules bumps: a
//! change, on any instance, makes the next request rebuild them.
//!
//! A device that gets an answer is registered with its owner's NMS connections (the
//! [`Registrar`]); under `nms-first`, the answer waits briefly for the delivery and otherwise
//! becomes [`BootstrapError::AwaitingNms`] (503 with Retry-After).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};
use ztp_certs::{Cert, Fingerprint, Signer, SigningKey};
use ztp_yang::{
    Binary, BootstrapServer, ConveyedInformation, Encoding, GetBootstrappingDataInput,
    GetBootstrappingDataOutput, OnboardingInformation, Ownership, ProgressType,
    RedirectInformation, ReportProgressInput,
};

use crate::artifacts::{self, ArtifactError, OwnerCredentials, parse_onboarding};
use crate::auth::device::AuthenticatedDevice;
use crate::domain::delivery::RegistrationState;
use crate::domain::notice::Notice;
use crate::domain::progress::{HostKey, Milestone, ProgressReport};
use crate::domain::response::{Conveyed, NoResponse, Policy, Profile, Request, Shape, Target};
use crate::domain::state::{DeviceState, Observation};
use crate::licensing::{Conveyance, Licensee, Licensing, LicensingError};
use crate::nms::{Registrant, Registrar, RegistrarError};
use crate::store::journal::Journal;
use crate::store::licenses::PoolRecord;
use crate::store::{
    CallingDevice, CustomerRecord, DeviceRecord, EventKind, LicenseRecord, NewEvent,
    NmsConnectionRecord, RegistrationRecord, Store, StoreError, TargetRecord, now_ms,
};

/// Why a device gets no bootstrapping data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The serial is not in the inventory.
    #[error("device {0} is not in the inventory")]
    UnknownDevice(String),
    /// The device's certificate is not the one pinned for it.
    #[error("device {serial} presented certificate {presented}, not the pinned one")]
    PinMismatch {
        /// The device.
        serial: String,
        /// The fingerprint it presented.
        presented: String,
    },
    /// The device has no owner yet.
    #[error("device {0} has no owner")]
    NoOwner(String),
    /// The owner has nothing for it.
    #[error("device {serial}: {reason}")]
    NothingConfigured {
        /// The device.
        serial: String,
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
        serial: String,
        /// `customer/connection`.
        connection: String,
        /// The last attempt's error, or that none was made yet.
        status: String,
    },
    /// The device's registration could not be queued.
    #[error(transparent)]
    Registration(#[from] RegistrarError),
}

/// A get-bootstrapping-data call.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Who calls.
    pub device: &'a AuthenticatedDevice,
    /// What it sent.
    pub input: &'a GetBootstrappingDataInput,
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
    /// How it was wrapped.
    pub plan: Plan,
    /// The device's new state.
    pub state: DeviceState,
    /// The licenses conveyed, and those withheld.
    pub licenses: Conveyance,
}

impl Served {
    /// One line for the event log.
    pub fn describe(&self) -> String {
        let what = match self.state {
            DeviceState::Onboarding => "onboarding information",
            _ => "redirect information",
        };
        format!(
            "sent {what} of customer {} ({}, profile {}, {}{}){}",
            self.customer,
            self.rule
                .as_deref()
                .map_or_else(|| "default answer".to_owned(), |r| format!("rule {r}")),
            self.plan.profile,
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
        )
    }
}

/// A response before the device's state is written.
struct Answer {
    output: GetBootstrappingDataOutput,
    customer: String,
    owner: Arc<OwnerEntry>,
    rule: Option<String>,
    plan: Plan,
    observation: Observation,
    licenses: Conveyance,
}

type ConveyedKey = (Option<String>, Encoding, bool);

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
fn conveyed_information(conveyed: &Conveyed<'_, OnboardingInformation>) -> ConveyedInformation {
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
const MAX_CACHED_VOUCHERS: usize = 16_384;

/// A voucher without nonce and when it was made.
type CachedVoucher = (Binary, OffsetDateTime);

/// An owner's parsed credentials and policy at one revision, its NMS connections and license
/// pools (every change to those bumps the revision too), with its cached artifacts.
struct OwnerEntry {
    revision: i64,
    credentials: OwnerCredentials,
    policy: Policy<OnboardingInformation>,
    connections: Vec<NmsConnectionRecord>,
    pools: Vec<PoolRecord>,
    conveyed: Mutex<HashMap<ConveyedKey, Binary>>,
    vouchers: Mutex<HashMap<Fingerprint, CachedVoucher>>,
}

/// Answers devices.
pub struct Bootstrapper {
    store: Store,
    journal: Journal,
    outbox: Arc<Registrar>,
    licensing: Licensing,
    hold: DeviceHold,
    masa: Signer,
    voucher_validity: Duration,
    owners: RwLock<HashMap<String, Arc<OwnerEntry>>>,
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
            .field("masa", &self.masa.cert().subject())
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
            masa,
            voucher_validity,
            owners: RwLock::new(HashMap::new()),
        }
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
        } = self.known_device(call.device).await?;
        let model = device.model.clone();
        // One state write per request: the answer's (redirected or onboarding), or `contacted`
        // when the device is known but gets nothing (yet).
        // Registering with the NMS and allocating licenses wait on others (the outbox, the
        // journal's own commit): set aside, so that the journal does not wait for them.
        let answered = match self.answer(call, device, owner_revision).await {
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
                    tracing::warn!(serial, error = %e, "could not record the contact");
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
            plan: answer.plan,
            state: DeviceState::Shipped.after(answer.observation),
            licenses: answer.licenses,
        };
        let event = NewEvent {
            serial: Some(serial.to_owned()),
            kind: EventKind::BootstrapServed,
            status: Some(200),
            peer: Some(call.peer.to_owned()),
            detail: served.describe(),
            notice: None,
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
                serial,
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

    /// Adds the device's licenses to the answer: for the `standard` profile only, since the
    /// agents the other profiles serve reject output leaves they do not know.
    async fn add_licenses(
        &self,
        call: Call<'_>,
        model: &str,
        held: &[LicenseRecord],
        mut answer: Answer,
    ) -> Result<Answer, BootstrapError> {
        if answer.plan.profile != Profile::Standard {
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
        let plan = Plan::new(choice.profile, choice.shape, call.encoding);
        let conveyed_information = self.conveyed(&owner, &choice.rule, &choice.conveyed, plan)?;
        let ownership = if plan.signed {
            Some(Ownership {
                owner_certificate: owner.credentials.owner_certificate().clone(),
                ownership_voucher: self.voucher(&owner, call)?,
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
            plan,
            observation,
            licenses: Conveyance::default(),
        })
    }

    /// Takes a progress report; returns the device's new state.
    pub async fn report_progress(
        &self,
        device: &AuthenticatedDevice,
        report: &ReportProgressInput,
        peer: &str,
    ) -> Result<DeviceState, BootstrapError> {
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
    async fn known_device(
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

    /// The owner's entry at its current revision, loaded when the cached one is stale.
    /// The owner's entry at `revision` (read with the device), built again when it changed.
    async fn owner(&self, name: &str, revision: i64) -> Result<Arc<OwnerEntry>, BootstrapError> {
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
        let mut entry = build_owner(&record, &targets, &rules)?;
        entry.connections = self.store.nms_connections(name).await?;
        entry.pools = self.store.license_pools(name).await?;
        let entry = Arc::new(entry);
        self.owners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Arc::clone(&entry));
        Ok(entry)
    }

    fn cached_owner(&self, name: &str) -> Option<Arc<OwnerEntry>> {
        self.owners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    fn conveyed(
        &self,
        owner: &OwnerEntry,
        rule: &Option<String>,
        conveyed: &Conveyed<'_, OnboardingInformation>,
        plan: Plan,
    ) -> Result<Binary, BootstrapError> {
        let key = (rule.clone(), plan.conveyed_encoding, plan.signed);
        if let Some(cached) = lock(&owner.conveyed).get(&key) {
            return Ok(cached.clone());
        }
        let signer = plan.signed.then(|| owner.credentials.signer());
        let built = Binary::from(artifacts::conveyed_information(
            &conveyed_information(conveyed),
            plan.conveyed_encoding,
            signer,
        )?);
        lock(&owner.conveyed).insert(key, built.clone());
        Ok(built)
    }

    fn voucher(&self, owner: &OwnerEntry, call: Call<'_>) -> Result<Binary, BootstrapError> {
        let now = OffsetDateTime::now_utc();
        let serial = &call.device.identity.serial;
        let sign = |nonce| {
            // Bound to the CA that issued the IDevID presented (idevid-issuer), so that it
            // serves no device of the same serial under another IDevID CA.
            let issuer = Cert::from_der(call.device.certificate.to_vec())
                .ok()
                .and_then(|cert| cert.authority_key_identifier());
            artifacts::ownership_voucher(
                &self.masa,
                serial,
                issuer.as_deref(),
                owner.credentials.ca(),
                now,
                self.voucher_validity,
                nonce,
            )
        };
        // A nonce asks for a fresh voucher that carries it.
        if let Some(nonce) = &call.input.nonce {
            return Ok(Binary::from(sign(Some(nonce))?));
        }
        // Reuse a voucher while more than half of its life is left.
        let mut vouchers = lock(&owner.vouchers);
        if let Some((voucher, created)) = vouchers.get(&call.device.fingerprint)
            && now < *created + self.voucher_validity / 2
        {
            return Ok(voucher.clone());
        }
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn owner_error(customer: &str, reason: impl Into<String>) -> BootstrapError {
    BootstrapError::Owner {
        customer: customer.to_owned(),
        reason: reason.into(),
    }
}

fn build_owner(
    record: &CustomerRecord,
    targets: &[TargetRecord],
    rules: &[crate::domain::response::Rule],
) -> Result<OwnerEntry, BootstrapError> {
    let name = &record.name;
    let bad = |what: &str, e: &dyn std::fmt::Display| owner_error(name, format!("{what}: {e}"));
    let ca = Cert::from_pem(&record.owner_ca_pem).map_err(|e| bad("owner CA", &e))?;
    let chain =
        Cert::chain_from_pem(&record.signer_chain_pem).map_err(|e| bad("signer chain", &e))?;
    let key = SigningKey::from_pem(&record.signer_key_pem).map_err(|e| bad("signer key", &e))?;
    let signer = Signer::new(key, chain).map_err(|e| bad("signer", &e))?;
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
    Ok(OwnerEntry {
        revision: record.revision,
        credentials,
        policy,
        connections: Vec::new(),
        pools: Vec::new(),
        conveyed: Mutex::new(HashMap::new()),
        vouchers: Mutex::new(HashMap::new()),
    })
}

/// A device's report as ztp keeps it.
fn kept(report: &ReportProgressInput) -> ProgressReport {
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
fn milestone(progress: ProgressType) -> Milestone {
    if progress.is_complete() {
        Milestone::Complete
    } else if progress.is_terminal() {
        Milestone::Failed
    } else {
        Milestone::Underway
    }
}
