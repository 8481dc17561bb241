//! The id of one device call: made when the call arrives, answered as `x-request-id`, carried
//! by its log lines (the `request` span) and stamped on the events it writes, so that one call
//! can be followed from the device's side, through the log, to the event log.

use std::fmt;
use std::future::Future;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// A device call's id: 16 hex digits, random.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A new id.
    pub fn new() -> Self {
        let mut bytes = [0_u8; 8];
        // The system's random source; should it fail, ids are still distinct enough for logs
        // from the clock and a counter.
        if aws_lc_rs::rand::fill(&mut bytes).is_err() {
            use std::sync::atomic::{AtomicU64, Ordering};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes = (nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed)).to_be_bytes();
        }
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Runs `work` as this call: [`current`] answers this id inside it.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of the device call running on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.0.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_id_is_current_only_within_its_call() {
        assert_eq!(current(), None);
        let id = RequestId::new();
        assert_eq!(id.as_str().len(), 16);
        assert_ne!(id, RequestId::new());
        let seen = id.clone().scope(async { current() }).await;
        assert_eq!(seen.as_deref(), Some(id.as_str()));
        assert_eq!(current(), None);
    }
}
