//! Private keys held by a PKCS#11 token (an HSM, or SoftHSM2 in tests), named by RFC 7512 URI.
//!
//! The certificate supplies the public key and so the algorithm; the token only signs. Loading
//! a key signs a probe and verifies it with the certificate's public key, so a URI naming the
//! wrong object is refused at start, not at a device's first voucher.
//!
//! Sessions: one per key, behind a mutex (PKCS#11 sessions are not for concurrent use), opened
//! and logged in when the key loads and opened again when the token reports the session gone or
//! a device error (a token restarted, a network HSM reconnected). A module is loaded and
//! initialised once per process, whatever the number of keys on it.
//!
//! This module reads the PIN file a URI names (`pin-source=file:`) and loads the module; the
//! rest of the crate does no I/O.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, OnceLock};

use aws_lc_rs::{digest, signature};
use const_oid::ObjectIdentifier;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::asn1::UintRef;
use der::{Decode, Encode, Sequence};
use spki::SubjectPublicKeyInfoRef;

use crate::error::PkiError;
use crate::key::KeyAlgorithm;
use crate::oid;

/// The URI scheme that marks a key as held by a token rather than in a file.
pub const SCHEME: &str = "pkcs11:";

/// An RFC 7512 PKCS#11 URI naming a private key: which token, which object, which module and
/// where the PIN is.
///
/// Path attributes read: `token` (label), `serial` (token serial), `object` (label), `id`, and
/// `type` (must be `private` when given); query attributes: `module-path` (required),
/// `pin-value`, `pin-source=file:`. Others are refused rather than ignored, so that a URI does
/// not select a different key than its writer meant. [`fmt::Display`] never shows the PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    token: Option<String>,
    serial: Option<String>,
    object: Option<String>,
    id: Option<Vec<u8>>,
    module_path: PathBuf,
    pin: Option<Pin>,
    /// The URI as written, with any `pin-value` replaced: what messages show.
    shown: String,
}

#[derive(Clone, PartialEq, Eq)]
enum Pin {
    File(PathBuf),
    Value(String),
}

impl Pkcs11Uri {
    /// Whether `s` is a PKCS#11 URI (and not a file name).
    pub fn is_uri(s: &str) -> bool {
        s.get(..SCHEME.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(SCHEME))
    }

    /// The PKCS#11 module (shared library) the URI names.
    pub fn module_path(&self) -> &std::path::Path {
        &self.module_path
    }

    fn pin(&self) -> Result<Option<AuthPin>, PkiError> {
        Ok(match &self.pin {
            None => None,
            Some(Pin::Value(v)) => Some(AuthPin::from(v.as_str())),
            Some(Pin::File(path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| PkiError::Io {
                    path: path.clone(),
                    source,
                })?;
                Some(AuthPin::from(text.trim_end_matches(['\r', '\n'])))
            }
        })
    }
}

impl FromStr for Pkcs11Uri {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| PkiError::InvalidField {
            field: "PKCS#11 URI",
            reason,
        };
        if !Self::is_uri(s) {
            return Err(invalid(format!("does not start with {SCHEME}")));
        }
        let rest = &s[SCHEME.len()..];
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Self {
            token: None,
            serial: None,
            object: None,
            id: None,
            module_path: PathBuf::new(),
            pin: None,
            shown: String::new(),
        };
        let mut shown_query = Vec::new();
        for (attr, sep) in path
            .split(';')
            .map(|a| (a, ';'))
            .chain(query.split('&').map(|a| (a, '&')))
        {
            if attr.is_empty() {
                continue;
            }
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| invalid(format!("attribute {attr:?} has no value")))?;
            let bytes = percent_encoding::percent_decode_str(value).collect::<Vec<u8>>();
            let text = || {
                String::from_utf8(bytes.clone())
                    .map_err(|_| invalid(format!("{name} is not UTF-8")))
            };
            match (sep, name) {
                (';', "token") => uri.token = Some(text()?),
                (';', "serial") => uri.serial = Some(text()?),
                (';', "object") => uri.object = Some(text()?),
                (';', "id") => uri.id = Some(bytes.clone()),
                (';', "type") if text()? == "private" => {}
                (';', "type") => {
                    return Err(invalid(format!("type={value}: only private keys sign")));
                }
                ('&', "module-path") => uri.module_path = PathBuf::from(text()?),
                ('&', "pin-value") => uri.pin = Some(Pin::Value(text()?)),
                ('&', "pin-source") => {
                    let source = text()?;
                    let file = source.strip_prefix("file:").ok_or_else(|| {
                        invalid(format!("pin-source={source}: only file: sources are read"))
                    })?;
                    // file:/etc/ztp/pin and file:///etc/ztp/pin both name /etc/ztp/pin.
                    let file = file.strip_prefix("//").unwrap_or(file);
                    uri.pin = Some(Pin::File(PathBuf::from(file)));
                }
                _ => return Err(invalid(format!("unsupported attribute {name}"))),
            }
            if sep == '&' {
                shown_query.push(if name == "pin-value" {
                    "pin-value=(hidden)"
                } else {
                    attr
                });
            }
        }
        if uri.module_path.as_os_str().is_empty() {
            return Err(invalid(
                "module-path (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so) is \
                 required"
                    .to_owned(),
            ));
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(invalid("object or id must name the key".to_owned()));
        }
        uri.shown = format!("{SCHEME}{path}?{}", shown_query.join("&"));
        Ok(uri)
    }
}

impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pkcs11Uri").field(&self.shown).finish()
    }
}

/// A private key on a PKCS#11 token, checked against the certificate it signs for.
pub struct Pkcs11Key {
    uri: Pkcs11Uri,
    algorithm: KeyAlgorithm,
    /// The certificate's public key (the BIT STRING's content), for checking signatures.
    public_key: Vec<u8>,
    module: Pkcs11,
    slot: Slot,
    session: Mutex<Option<Open>>,
}

/// A logged-in session and the key's handle in it.
struct Open {
    session: Session,
    key: ObjectHandle,
}

impl Pkcs11Key {
    /// Opens the key `uri` names, whose public half is `spki_der` (the certificate's
    /// SubjectPublicKeyInfo), and checks that it is: it signs a probe that `spki_der` verifies.
    pub fn open(uri: &Pkcs11Uri, spki_der: &[u8]) -> Result<Self, PkiError> {
        let failed = |reason: String| PkiError::Key(format!("{uri}: {reason}"));
        let (algorithm, public_key) = public_key(spki_der)?;
        let module = module(&uri.module_path).map_err(|e| failed(e.clone()))?;
        let slot = find_slot(&module, uri).map_err(failed)?;
        let key = Self {
            uri: uri.clone(),
            algorithm,
            public_key,
            module,
            slot,
            session: Mutex::new(None),
        };
        let probe = b"ztp: does this key belong to its certificate?";
        let signature = key.sign(probe)?;
        verify(algorithm, &key.public_key, probe, &signature).map_err(|()| {
            failed(
                "the key does not belong to the certificate (a probe signature did not verify)"
                    .to_owned(),
            )
        })?;
        Ok(key)
    }

    /// The key's algorithm (the certificate's).
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The URI, without the PIN.
    pub fn uri(&self) -> &Pkcs11Uri {
        &self.uri
    }

    /// Signs `message` on the token; ECDSA signatures are DER-encoded, as X.509 and CMS carry
    /// them. A session the token dropped is opened again once.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let mut open = self.lock()?;
        let raw = match sign_raw(self.algorithm, open_ref(&open), message) {
            Err(e) if lost_session(&e) => {
                // Drop the dead session before opening another: some tokens cap sessions.
                *open = None;
                *open = Some(self.open_session().map_err(|reason| self.failed(reason))?);
                sign_raw(self.algorithm, open_ref(&open), message)
            }
            other => other,
        }
        .map_err(|e| PkiError::Key(format!("{}: signing: {}", self.uri, describe(&e))))?;
        match self.algorithm {
            KeyAlgorithm::Rsa2048 => Ok(raw),
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => ecdsa_der(&raw)
                .map_err(|reason| PkiError::Key(format!("{}: signing: {reason}", self.uri))),
        }
    }

    /// The session, opened and logged in if there is none.
    fn lock(&self) -> Result<MutexGuard<'_, Option<Open>>, PkiError> {
        // A panic while signing leaves at worst a session that the next call re-checks.
        let mut guard = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.open_session().map_err(|reason| self.failed(reason))?);
        }
        Ok(guard)
    }

    fn failed(&self, reason: String) -> PkiError {
        PkiError::Key(format!("{}: {reason}", self.uri))
    }

    fn open_session(&self) -> Result<Open, String> {
        let session = self
            .module
            .open_ro_session(self.slot)
            .map_err(|e| format!("opening a session: {}", describe(&e)))?;
        let pin = self.uri.pin().map_err(|e| e.to_string())?;
        if let Some(pin) = pin {
            match session.login(UserType::User, Some(&pin)) {
                // Logins are per application and token: a second key on the token finds it done.
                Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(e) => return Err(format!("logging in: {}", describe(&e))),
            }
        }
        let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
        if let Some(label) = &self.uri.object {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.uri.id {
            template.push(Attribute::Id(id.clone()));
        }
        let found = session
            .find_objects(&template)
            .map_err(|e| format!("finding the key: {}", describe(&e)))?;
        match found[..] {
            [key] => Ok(Open { session, key }),
            [] if self.uri.pin.is_none() => Err("no private key with that object/id on the \
                token (without a PIN, private keys are hidden: add pin-source or pin-value)"
                .into()),
            [] => Err("no private key with that object/id on the token".into()),
            _ => Err(format!(
                "{} private keys match; name one with both object and id",
                found.len()
            )),
        }
    }
}

impl fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("uri", &self.uri)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn open_ref(open: &Option<Open>) -> &Open {
    // `lock` returns a guard holding a session.
    open.as_ref().expect("lock opened a session")
}

/// Whether `e` means the session (not the key or the request) is gone, so that a new session
/// may succeed.
fn lost_session(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceError
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::UserNotLoggedIn
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid,
            _
        )
    )
}

/// A PKCS#11 error in a line: the function and the return value's name (cryptoki's `Display`
/// quotes the specification's paragraph).
fn describe(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => format!("{function:?} returned {rv:?}"),
        other => other.to_string(),
    }
}

fn sign_raw(algorithm: KeyAlgorithm, open: &Open, message: &[u8]) -> Result<Vec<u8>, CkError> {
    match algorithm {
        KeyAlgorithm::EcdsaP256 => open.session.sign(
            &Mechanism::Ecdsa,
            open.key,
            digest::digest(&digest::SHA256, message).as_ref(),
        ),
        KeyAlgorithm::EcdsaP384 => open.session.sign(
            &Mechanism::Ecdsa,
            open.key,
            digest::digest(&digest::SHA384, message).as_ref(),
        ),
        KeyAlgorithm::Rsa2048 => open
            .session
            .sign(&Mechanism::Sha256RsaPkcs, open.key, message),
    }
}

/// ECDSA-Sig-Value (RFC 3279 §2.2.3), what X.509 and CMS carry.
#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// PKCS#11's ECDSA signature (r and s, each the curve's size, concatenated) as DER.
fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, String> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(format!("an ECDSA signature of {} bytes", raw.len()));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let value = EcdsaSigValue {
        r: UintRef::new(r).map_err(|e| e.to_string())?,
        s: UintRef::new(s).map_err(|e| e.to_string())?,
    };
    value.to_der().map_err(|e| e.to_string())
}

/// The algorithm and raw public key of a SubjectPublicKeyInfo.
fn public_key(spki_der: &[u8]) -> Result<(KeyAlgorithm, Vec<u8>), PkiError> {
    const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(PkiError::Certificate)?;
    let curve = spki
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let algorithm = match (spki.algorithm.oid, curve) {
        (EC_PUBLIC_KEY, Some(P256)) => KeyAlgorithm::EcdsaP256,
        (EC_PUBLIC_KEY, Some(P384)) => KeyAlgorithm::EcdsaP384,
        (oid::RSA_ENCRYPTION, _) => KeyAlgorithm::Rsa2048,
        (alg, curve) => {
            return Err(PkiError::UnsupportedKeyAlgorithm(match curve {
                Some(curve) => format!("{alg} on {curve}"),
                None => alg.to_string(),
            }));
        }
    };
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| PkiError::Key("the public key is not a whole number of bytes".into()))?;
    Ok((algorithm, bits.to_vec()))
}

fn verify(
    algorithm: KeyAlgorithm,
    public_key: &[u8],
    message: &[u8],
    sig: &[u8],
) -> Result<(), ()> {
    let alg: &dyn signature::VerificationAlgorithm = match algorithm {
        KeyAlgorithm::EcdsaP256 => &signature::ECDSA_P256_SHA256_ASN1,
        KeyAlgorithm::EcdsaP384 => &signature::ECDSA_P384_SHA384_ASN1,
        KeyAlgorithm::Rsa2048 => &signature::RSA_PKCS1_2048_8192_SHA256,
    };
    signature::UnparsedPublicKey::new(alg, public_key)
        .verify(message, sig)
        .map_err(|_| ())
}

/// The module at `path`, loaded and initialised once per process (PKCS#11 allows one
/// `C_Initialize` per module and process; every key on it shares it).
fn module(path: &std::path::Path) -> Result<Pkcs11, String> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(module) = modules.get(path) {
        return Ok(module.clone());
    }
    let module = Pkcs11::new(path)
        .map_err(|e| format!("loading the PKCS#11 module {}: {e}", path.display()))?;
    match module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(format!(
                "initialising the PKCS#11 module {}: {}",
                path.display(),
                describe(&e)
            ));
        }
    }
    modules.insert(path.to_owned(), module.clone());
    Ok(module)
}

/// The slot whose token the URI's `token` and `serial` name (the only token present when it
/// names none).
fn find_slot(module: &Pkcs11, uri: &Pkcs11Uri) -> Result<Slot, String> {
    let slots = module
        .get_slots_with_initialized_token()
        .map_err(|e| format!("listing tokens: {}", describe(&e)))?;
    let mut matching = Vec::new();
    for slot in slots {
        let info = module
            .get_token_info(slot)
            .map_err(|e| format!("reading a token's label: {}", describe(&e)))?;
        let label_ok = uri
            .token
            .as_deref()
            .is_none_or(|t| info.label().trim_end() == t);
        let serial_ok = uri
            .serial
            .as_deref()
            .is_none_or(|s| info.serial_number().trim_end() == s);
        if label_ok && serial_ok {
            matching.push(slot);
        }
    }
    match matching[..] {
        [slot] => Ok(slot),
        [] => Err("no initialised token matches token/serial".to_owned()),
        _ => Err(format!(
            "{} tokens match; name one with token= or serial=",
            matching.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &str = "module-path=/usr/lib/softhsm/libsofthsm2.so";

    #[test]
    fn a_uri_names_token_object_id_module_and_pin_file() {
        let uri: Pkcs11Uri = format!(
            "pkcs11:token=ztp%20mfg;object=masa;id=%01%a2;type=private?{MODULE}\
             &pin-source=file:/etc/ztp/hsm-pin"
        )
        .parse()
        .unwrap();
        assert_eq!(uri.token.as_deref(), Some("ztp mfg"));
        assert_eq!(uri.object.as_deref(), Some("masa"));
        assert_eq!(uri.id.as_deref(), Some(&[0x01, 0xa2][..]));
        assert_eq!(
            uri.module_path(),
            std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so")
        );
        assert!(uri.pin == Some(Pin::File(PathBuf::from("/etc/ztp/hsm-pin"))));
    }

    #[test]
    fn the_pin_value_is_never_shown() {
        let uri: Pkcs11Uri = format!("pkcs11:token=ztp;object=masa?{MODULE}&pin-value=s3cret")
            .parse()
            .unwrap();
        for shown in [uri.to_string(), format!("{uri:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("object=masa"), "{shown}");
        }
    }

    #[test]
    fn uris_without_a_module_or_a_key_name_or_with_unknown_attributes_are_refused() {
        for bad in [
            "pkcs11:token=ztp;object=masa",
            &format!("pkcs11:token=ztp?{MODULE}"),
            &format!("pkcs11:token=ztp;object=masa;slot-description=x?{MODULE}"),
            &format!("pkcs11:object=masa;type=cert?{MODULE}"),
            &format!("pkcs11:object=masa?{MODULE}&pin-source=https://pins"),
            "file.key",
        ] {
            assert!(bad.parse::<Pkcs11Uri>().is_err(), "{bad}");
        }
        assert!(Pkcs11Uri::is_uri("PKCS11:object=x"));
        assert!(!Pkcs11Uri::is_uri("pki/manufacturer/masa.key"));
    }

    #[test]
    fn raw_ecdsa_signatures_become_der_that_aws_lc_verifies() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
        // Enough signatures that some have r or s with the high bit set or a leading zero.
        for i in 0..64u8 {
            let message = [i; 8];
            let raw = pair.sign(&rng, &message).unwrap();
            let der = ecdsa_der(raw.as_ref()).unwrap();
            let public = pair.public_key().as_ref();
            verify(KeyAlgorithm::EcdsaP256, public, &message, &der).unwrap();
        }
        assert!(ecdsa_der(&[1, 2, 3]).is_err());
    }
}
