//! Integration tests against a real OpenSSH sshd on 127.0.0.1, one per test, started by
//! `ztp_tests::sshd::Sshd`. All in one test binary, so there is one link step.
//!
//! These need `/usr/sbin/sshd` and `ssh-keygen` (Debian: `apt-get install openssh-server`) and
//! run as root (the tests log in as root with their own `authorized_keys` file).

mod auth;
mod delivery;
mod names;
mod outage;
mod pins;
mod pool;
mod probe;
