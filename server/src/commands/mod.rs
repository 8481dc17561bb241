//! What each subcommand does.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub mod device;
pub mod dhcp_option;
pub mod pki;
pub mod serve;

/// Runs the subcommand `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Pki(command) => pki::run(command).map(|()| ExitCode::SUCCESS),
        Command::DhcpOption(args) => dhcp_option::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Device(command) => device::run(command),
    }
}
