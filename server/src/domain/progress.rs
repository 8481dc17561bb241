//! A device's progress report (RFC 8572 §7.3) in the terms ztp keeps and acts on: which
//! milestone of the bootstrapping it marks, and what it carries for the owner.

/// What a report says of the bootstrapping as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Milestone {
    /// The device is still at work: every report but the last (initiated, warnings,
    /// informational, the steps' completions).
    Underway,
    /// `bootstrap-complete`: the device finished bootstrapping with this server.
    Complete,
    /// One of the six `*-error` types: the device abandoned this server.
    Failed,
}

/// An SSH host key a device reported with `bootstrap-complete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// The public key algorithm's name (IANA), e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// The RFC 4253 §6.6 public key blob.
    pub key_data: Vec<u8>,
}

/// A progress report as ztp keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressReport {
    /// The progress type's YANG name, e.g. `parsing-complete`.
    pub progress_type: &'static str,
    /// The milestone it marks.
    pub milestone: Milestone,
    /// The device's free-form message, e.g. a script's output.
    pub message: Option<String>,
    /// The device's SSH host keys (with `bootstrap-complete`).
    pub ssh_host_keys: Vec<HostKey>,
    /// Trust-anchor certificate bags, CMS degenerate SignedData (DER).
    pub trust_anchor_certs: Vec<Vec<u8>>,
}

impl ProgressReport {
    /// A report of `progress_type` marking `milestone`, carrying nothing else.
    pub fn new(progress_type: &'static str, milestone: Milestone) -> Self {
        Self {
            progress_type,
            milestone,
            message: None,
            ssh_host_keys: Vec::new(),
            trust_anchor_certs: Vec::new(),
        }
    }
}
