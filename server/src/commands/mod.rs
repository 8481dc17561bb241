//! What each subcommand does.
//!
//! May import: everything: this is the command line's edge.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use admin::Inventory;

pub mod admin;
pub mod db;
pub mod device;
pub mod dhcp_option;
pub mod migrate;
pub mod output;
pub mod pki;
pub mod secrets;
pub mod serve;

/// Runs the subcommand `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Pki(command) => pki::run(command).map(|()| ExitCode::SUCCESS),
        Command::DhcpOption(args) => dhcp_option::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Device(command) => device::run(command, cli.output),
        Command::Customer(command) => inventory(cli.output, Inventory::Customer(command)),
        Command::Target(command) => inventory(cli.output, Inventory::Target(command)),
        Command::Rules(command) => inventory(cli.output, Inventory::Rules(command)),
        Command::Events(args) => inventory(cli.output, Inventory::Events(args)),
        Command::Nms(command) => inventory(cli.output, Inventory::Nms(command)),
        Command::Webhook(command) => inventory(cli.output, Inventory::Webhook(command)),
        Command::Registration(command) => inventory(cli.output, Inventory::Registration(command)),
        Command::License(command) => inventory(cli.output, Inventory::License(command)),
        Command::Secrets(command) => secrets::run(command).map(|()| ExitCode::SUCCESS),
        Command::Migrate(args) => migrate::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Db(command) => db::run(command).map(|()| ExitCode::SUCCESS),
        Command::Token(command) => inventory(cli.output, Inventory::Token(command)),
        Command::Audit(args) => inventory(cli.output, Inventory::Audit(args)),
    }
}

fn inventory(output: output::Output, command: Inventory) -> anyhow::Result<ExitCode> {
    admin::run(command, output).map(|()| ExitCode::SUCCESS)
}
