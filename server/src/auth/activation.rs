//! Activation codes: HTTP Basic authentication of a device, its serial as the username and a
//! code printed on its box (or handed to its installer) as the password.
//!
//! A code is a second factor beside the IDevID (a device that has one must present both), or,
//! opted in per device, the only factor of a device without an IDevID (a virtual appliance, an
//! older box). The whole mechanism is off unless `device_api.activation_codes` is set.
//!
//! Only an Argon2id hash of a code is stored. Verifying one is slow on purpose, so it runs on
//! the blocking pool, at most [`VERIFYING`] at once; a code that verified is remembered (by a
//! digest of serial, code and hash) so that a device's next requests cost nothing; and a serial
//! that failed [`MAX_FAILURES`] times within [`LOCKOUT`] is refused without verifying until its
//! window ends. The device port's refusal budgets bench the source on top of that.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::Semaphore;

use crate::store::activation_codes::ActivationCodeRecord;
use crate::store::{Store, StoreError};

/// Verifications running at once (each takes tens of milliseconds of one core).
pub const VERIFYING: usize = 2;
/// Wrong codes one serial may be tried with per window before it is locked for the rest of it.
pub const MAX_FAILURES: u32 = 5;
/// The window.
pub const LOCKOUT: Duration = Duration::from_secs(600);
/// Serials whose failures are tracked at once; beyond, codes are not verified (fail closed).
const TRACKED: usize = 65_536;
/// Verified codes remembered.
const REMEMBERED: usize = 16_384;
/// The shortest and longest code accepted.
pub const CODE_LENGTH: std::ops::RangeInclusive<usize> = 12..=128;

/// Why a device's activation code does not let it in.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CodeRefusal {
    /// The device has a code and presented none.
    #[error(
        "device {serial} must present its activation code (HTTP Basic, the serial as username)"
    )]
    Missing {
        /// The device.
        serial: String,
    },
    /// The Basic username is not the serial the certificate names.
    #[error("the HTTP Basic username {given:?} is not the device's serial {serial}")]
    WrongUser {
        /// The device.
        serial: String,
        /// The username given.
        given: String,
    },
    /// The code is wrong (or the serial has no code the request could use).
    #[error("wrong activation code for {serial}")]
    Wrong {
        /// The device.
        serial: String,
    },
    /// The serial failed too often.
    #[error("too many wrong activation codes for {serial}: locked for up to {} s", LOCKOUT.as_secs())]
    Locked {
        /// The device.
        serial: String,
    },
    /// The store failed.
    #[error("reading the activation code: {0}")]
    Store(String),
}

impl CodeRefusal {
    /// The serial the refusal concerns.
    pub fn serial(&self) -> Option<&str> {
        match self {
            Self::Missing { serial }
            | Self::WrongUser { serial, .. }
            | Self::Wrong { serial }
            | Self::Locked { serial } => Some(serial),
            Self::Store(_) => None,
        }
    }
}

impl From<StoreError> for CodeRefusal {
    fn from(error: StoreError) -> Self {
        Self::Store(error.to_string())
    }
}

/// The credentials of an `Authorization: Basic` header.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The username: a serial.
    pub username: String,
    /// The password: an activation code.
    password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl BasicCredentials {
    /// Reads an `Authorization` header's value; `None` unless it is Basic and well formed.
    pub fn from_header(value: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(value).ok()?;
        let (scheme, encoded) = text.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (username, password) = decoded.split_once(':')?;
        Some(Self {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// An Argon2id hash (PHC string) of `code`.
pub fn hash(code: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(code.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `code` is one an operator may set: printable ASCII, [`CODE_LENGTH`] long.
pub fn check_code(code: &str) -> Result<(), String> {
    if !CODE_LENGTH.contains(&code.len()) {
        return Err(format!(
            "an activation code is {} to {} characters",
            CODE_LENGTH.start(),
            CODE_LENGTH.end()
        ));
    }
    if !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("an activation code is printable ASCII without spaces".into());
    }
    Ok(())
}

/// A new random code: 20 characters of an alphabet without look-alikes, in groups of four.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    // The system's random source failing leaves no way to make a secret: abort.
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source works");
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Checks devices' activation codes.
pub struct ActivationCodes {
    store: Store,
    verifying: Semaphore,
    verified: Mutex<HashSet<[u8; 32]>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl std::fmt::Debug for ActivationCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationCodes").finish_non_exhaustive()
    }
}

impl ActivationCodes {
    /// Codes read from `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            verifying: Semaphore::new(VERIFYING),
            verified: Mutex::new(HashSet::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// For a device whose IDevID verified: passes when it has no code, or presented its own.
    pub async fn second_factor(
        &self,
        serial: &str,
        credentials: Option<&BasicCredentials>,
        now: Instant,
    ) -> Result<(), CodeRefusal> {
        let Some(record) = self.store.activation_code(serial).await? else {
            return Ok(());
        };
        let Some(credentials) = credentials else {
            return Err(CodeRefusal::Missing {
                serial: serial.to_owned(),
            });
        };
        if credentials.username != serial {
            return Err(CodeRefusal::WrongUser {
                serial: serial.to_owned(),
                given: credentials.username.chars().take(64).collect(),
            });
        }
        self.check(&record, credentials, now).await
    }

    /// For a request without a certificate: the serial its credentials authenticate, when that
    /// device's code is its only factor.
    pub async fn only_factor(
        &self,
        credentials: &BasicCredentials,
        now: Instant,
    ) -> Result<String, CodeRefusal> {
        let serial = &credentials.username;
        let wrong = || CodeRefusal::Wrong {
            serial: serial.clone(),
        };
        // Unknown serials and second-factor codes are refused alike: nothing about the
        // inventory leaks, and a second factor never stands alone.
        let record = self.store.activation_code(serial).await?;
        let Some(record) = record.filter(|r| r.only_factor) else {
            self.failed(serial, now);
            return Err(wrong());
        };
        self.check(&record, credentials, now).await?;
        Ok(serial.clone())
    }

    async fn check(
        &self,
        record: &ActivationCodeRecord,
        credentials: &BasicCredentials,
        now: Instant,
    ) -> Result<(), CodeRefusal> {
        let serial = &record.serial;
        let remembered = digest_of(serial, &credentials.password, &record.hash);
        if self.lock(&self.verified).contains(&remembered) {
            return Ok(());
        }
        if self.locked(serial, now) {
            return Err(CodeRefusal::Locked {
                serial: serial.clone(),
            });
        }
        let permit = self.verifying.acquire().await;
        let (hash, password) = (record.hash.clone(), credentials.password.clone());
        let verified = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        drop(permit);
        if !verified {
            self.failed(serial, now);
            return Err(CodeRefusal::Wrong {
                serial: serial.clone(),
            });
        }
        let mut remembered_codes = self.lock(&self.verified);
        if remembered_codes.len() >= REMEMBERED {
            remembered_codes.clear();
        }
        remembered_codes.insert(remembered);
        Ok(())
    }

    /// Whether `serial` is locked at `now`; full of tracked serials counts as locked.
    fn locked(&self, serial: &str, now: Instant) -> bool {
        let mut failures = self.lock(&self.failures);
        failures.retain(|_, (_, since)| now.duration_since(*since) < LOCKOUT);
        match failures.get(serial) {
            Some((count, _)) => *count >= MAX_FAILURES,
            None => failures.len() >= TRACKED,
        }
    }

    fn failed(&self, serial: &str, now: Instant) {
        let mut failures = self.lock(&self.failures);
        if failures.len() >= TRACKED && !failures.contains_key(serial) {
            return;
        }
        let entry = failures.entry(serial.to_owned()).or_insert((0, now));
        entry.0 += 1;
    }

    fn lock<'a, T>(&self, mutex: &'a Mutex<T>) -> std::sync::MutexGuard<'a, T> {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a verified code is remembered by.
fn digest_of(serial: &str, code: &str, hash: &str) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in [serial, code, hash] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    let mut out = [0; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

#[cfg(test)]
mod tests;
