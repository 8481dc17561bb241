//! Faults for the fault suite: a small filesystem that a test fills and frees, and a TCP peer
//! that accepts connections and never says a word.

use std::fs;
use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// A tmpfs of a fixed size mounted on a directory for the life of the value: a disk that a test
/// can fill ([`SmallFs::fill`]) and free again ([`SmallFs::free`]). Unmounted when dropped.
pub struct SmallFs {
    path: PathBuf,
    filler: PathBuf,
}

impl SmallFs {
    /// Mounts a tmpfs of `bytes` on `path` (created if missing). Needs root, or a sandbox that
    /// lets the tests mount: the panic says so.
    pub fn mount(path: &Path, bytes: u64) -> Self {
        fs::create_dir_all(path).expect("mount point");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("mount runs");
        assert!(
            output.status.success(),
            "cannot mount a {bytes}-byte tmpfs on {} ({}): the disk-full test needs to mount \
             filesystems (run as root, or in a container with CAP_SYS_ADMIN)",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Self {
            path: path.to_owned(),
            filler: path.join("filler"),
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a filler file until the filesystem has no space left; returns its size.
    pub fn fill(&self) -> u64 {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .expect("filler file");
        let chunk = vec![0u8; 4096];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == ErrorKind::StorageFull => break,
                Err(e) => panic!("filling {}: {e}", self.filler.display()),
            }
        }
        written
    }

    /// Removes the filler: the space is back.
    pub fn free(&self) {
        fs::remove_file(&self.filler).expect("remove the filler");
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // Lazy: a process that still has a file open there (a killed server's last moments)
        // must not keep the mount, and the temporary directory above it, alive.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A TCP listener on 127.0.0.1 that accepts every connection and holds it open without ever
/// sending or reading a byte: an NMS whose SSH daemon hangs. Its connections close when it is
/// dropped.
pub struct SilentPeer {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentPeer {
    /// Listens on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, stop) = (Arc::clone(&accepted), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut held: Vec<TcpStream> = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        held.push(stream);
                    }
                }
            })
        };
        Self {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag and drops every connection.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
