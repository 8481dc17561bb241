//! What the device authenticates with: its IDevID (chain and key, the serial named in it), an
//! activation code beside it, or, for a device without an IDevID, its serial and code alone.
//!
//! A code goes only to a server the device authenticated by TLS ([`CodeUse`]): a provisional
//! server (RFC 8572 §5.1) could be anyone, and a code, unlike a TLS handshake, can be replayed.
//! A device with an IDevID still asks a provisional server, without its code; a device whose
//! code is its only factor has nothing to show one, and does not contact it.

use http::HeaderValue;
use ztp_certs::{Cert, DeviceIdentity, Serial, SerialSource};

use super::activation::ActivationCode;
use super::client::ServerUrl;
use super::failure::{AgentError, printable};
use super::tls::{ClientIdentity, TlsConfigError};

/// The device: its IDevID if it has one, its serial, and its activation code if it has one.
#[derive(Debug)]
pub struct DeviceCredentials {
    idevid: Option<Idevid>,
    serial: Serial,
    product_id: Option<String>,
    code: Option<ActivationCode>,
}

/// The IDevID chain (leaf first) and its key.
#[derive(Debug)]
struct Idevid {
    identity: ClientIdentity,
    chain: Vec<Cert>,
}

/// Whether the code goes with the requests to one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeUse {
    /// The device has no code.
    NoCode,
    /// The code is sent (the server is authenticated).
    Sent,
    /// The device has a code but does not send it: the server is not authenticated.
    Withheld,
}

impl DeviceCredentials {
    /// Reads the IDevID chain (leaf first, PEM), its key (PEM), and the device's serial from
    /// the leaf at `source`.
    pub fn from_pem(
        chain_pem: &str,
        key_pem: &str,
        source: SerialSource,
    ) -> Result<Self, AgentError> {
        let chain = Cert::chain_from_pem(chain_pem)?;
        let leaf = chain.first().ok_or(TlsConfigError::NoCertificate)?;
        let identity = DeviceIdentity::from_certificate(leaf, source)?;
        Ok(Self {
            idevid: Some(Idevid {
                identity: ClientIdentity::new(&chain, key_pem)?,
                chain,
            }),
            serial: identity.serial,
            product_id: identity.product_id.map(|p| p.as_str().to_owned()),
            code: None,
        })
    }

    /// A device without an IDevID: `serial` and its `code`, its only factor.
    pub fn code_only(serial: Serial, code: ActivationCode) -> Self {
        Self {
            idevid: None,
            serial,
            product_id: None,
            code: Some(code),
        }
    }

    /// The same device, presenting `code` too.
    pub fn with_activation_code(mut self, code: ActivationCode) -> Self {
        self.code = Some(code);
        self
    }

    /// The device's serial number.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// The product id its IDevID names, if any.
    pub fn product_id(&self) -> Option<&str> {
        self.product_id.as_deref()
    }

    /// Whether the device has an IDevID.
    pub fn has_idevid(&self) -> bool {
        self.idevid.is_some()
    }

    /// The TLS client identity (IDevID chain and key), if the device has one.
    pub(super) fn identity(&self) -> Option<&ClientIdentity> {
        self.idevid.as_ref().map(|i| &i.identity)
    }

    /// The IDevID leaf and the CAs after it, if the device has one.
    pub(super) fn idevid_chain(&self) -> Option<(&Cert, &[Cert])> {
        let idevid = self.idevid.as_ref()?;
        // `from_pem` refuses an empty chain.
        idevid.chain.split_first()
    }

    /// The `Authorization` value for the requests to `server`, which `authenticated` says the
    /// device authenticated by TLS, and whether the code goes with them. A device whose code
    /// is its only factor refuses a server it did not authenticate.
    pub(super) fn authorization(
        &self,
        server: &ServerUrl,
        authenticated: bool,
    ) -> Result<(Option<HeaderValue>, CodeUse), AgentError> {
        match (&self.code, authenticated) {
            (None, _) => Ok((None, CodeUse::NoCode)),
            (Some(code), true) => Ok((Some(code.basic(&self.serial)), CodeUse::Sent)),
            (Some(_), false) if self.idevid.is_some() => Ok((None, CodeUse::Withheld)),
            (Some(_), false) => Err(AgentError::CodeOnlyToAuthenticated {
                server: printable(server.as_str()),
            }),
        }
    }
}
