//! What each subcommand does.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use admin::Inventory;

pub mod admin;
pub mod device;
pub mod dhcp_option;
pub mod pki;
pub mod secrets;
pub mod serve;

/// Runs the subcommand `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Pki(command) => pki::run(command).map(|()| ExitCode::SUCCESS),
        Command::DhcpOption(args) => dhcp_option::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Device(command) => device::run(command),
        Command::Customer(command) => inventory(Inventory::Customer(command)),
        Command::Target(command) => inventory(Inventory::Target(command)),
        Command::Rules(command) => inventory(Inventory::Rules(command)),
        Command::Events(args) => inventory(Inventory::Events(args)),
        Command::Nms(command) => inventory(Inventory::Nms(command)),
        Command::Registration(command) => inventory(Inventory::Registration(command)),
        Command::License(command) => inventory(Inventory::License(command)),
        Command::Secrets(command) => secrets::run(command).map(|()| ExitCode::SUCCESS),
        Command::Token(command) => inventory(Inventory::Token(command)),
        Command::Audit(args) => inventory(Inventory::Audit(args)),
    }
}

fn inventory(command: Inventory) -> anyhow::Result<ExitCode> {
    admin::run(command).map(|()| ExitCode::SUCCESS)
}
