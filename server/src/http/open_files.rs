//! Connections hold file descriptors. A listener that accepts more connections than the process
//! may open files fails its accepts (EMFILE) and, worse, leaves the database, the NMS sessions
//! and the webhook deliveries without a descriptor to open. So ztp sizes its connection bounds
//! to the limit of open files it runs under (`ulimit -n`, systemd's `LimitNOFILE=`): beyond that
//! bound a connection is closed at accept, like any connection beyond `max_connections`.

use std::path::Path;

/// Descriptors kept for everything but connections: the listeners, the database and its
/// journal, logs, NMS sessions, webhook deliveries, CRL and key reads.
pub const RESERVED: usize = 64;

/// The process's soft limit of open files, as Linux states it in `/proc/self/limits`; `None`
/// where that file is missing or says `unlimited`.
pub fn limit() -> Option<usize> {
    parse_limits(&std::fs::read_to_string(Path::new("/proc/self/limits")).ok()?)
}

fn parse_limits(text: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

/// The connection bounds of the device and the admin listener within `limit` open files: of
/// what the reserve leaves, the device listener may hold seven eighths and the admin listener
/// the rest, each never more than configured (and at least one).
pub fn fit(device: usize, admin: usize, limit: Option<usize>) -> (usize, usize) {
    let Some(limit) = limit else {
        return (device, admin);
    };
    let available = limit.saturating_sub(RESERVED);
    let admin_share = (available / 8).max(1);
    let device_share = available.saturating_sub(admin_share).max(1);
    (device.min(device_share), admin.min(admin_share))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            256                  524288               files     \n";
        assert_eq!(parse_limits(text), Some(256));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_limits(unlimited), None);
        assert_eq!(parse_limits(""), None);
        // This machine states one.
        assert!(limit().is_some_and(|n| n > 0));
    }

    #[test]
    fn bounds_fit_the_limit_and_never_exceed_the_configuration() {
        assert_eq!(fit(4096, 4096, None), (4096, 4096));
        assert_eq!(fit(4096, 4096, Some(1_048_576)), (4096, 4096));
        // 256 files: 192 for connections, 24 of them for the admin listener.
        assert_eq!(fit(4096, 4096, Some(256)), (168, 24));
        assert_eq!(fit(100, 10, Some(256)), (100, 10));
        assert_eq!(fit(4096, 4096, Some(16)), (1, 1));
    }
}
