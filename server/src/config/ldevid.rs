//! `[ldevid]`: the external LDevID issuer (RFC 9646) that customers set to `command` use.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[ldevid]`: the command that issues LDevIDs for customers whose issuer is `command`: it
/// reads the CSR (PEM) on stdin, gets `ZTP_SERIAL` and `ZTP_CUSTOMER`, and prints the chain
/// (PEM, the device's certificate first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdevidConfig {
    /// The program and its arguments (`["/usr/local/bin/issue-ldevid", "--profile", "dev"]`);
    /// empty: no command (customers set to `command` get no LDevID, and the refusal says why).
    pub command: Vec<String>,
    /// How long the command may run, in seconds; then it is killed.
    pub timeout_secs: u64,
    /// How much it may print, in bytes.
    pub max_output_bytes: usize,
}

impl Default for LdevidConfig {
    fn default() -> Self {
        Self {
            command: Vec::new(),
            timeout_secs: 30,
            max_output_bytes: 64 * 1024,
        }
    }
}

impl LdevidConfig {
    /// The program, its arguments, the timeout and the output limit, if a command is set.
    pub fn command(&self) -> Option<(PathBuf, Vec<String>, Duration, usize)> {
        let (program, args) = self.command.split_first()?;
        Some((
            PathBuf::from(program),
            args.to_vec(),
            Duration::from_secs(self.timeout_secs.max(1)),
            self.max_output_bytes,
        ))
    }
}
