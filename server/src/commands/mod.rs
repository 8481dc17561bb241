//! What each subcommand does. Their answers go to standard output through [`output::print`],
//! so that a closed pipe (`ztp … | head`) ends a command quietly.
//!
//! May import: everything: this is the command line's edge.

use std::process::ExitCode;

use anyhow::anyhow;

use crate::cli::{Cli, Command, Printing};
use admin::Inventory;

pub mod admin;
pub mod backup;
pub mod check_config;
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
    let before = cli.output;
    let output = |printing: Printing| printing.output(before).map_err(|e| anyhow!(e));
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::CheckConfig(args) => check_config::run(&args),
        Command::Pki(command) => pki::run(command).map(|()| ExitCode::SUCCESS),
        Command::DhcpOption(args) => dhcp_option::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Device { command, printing } => device::run(command, output(printing)?),
        Command::Customer { command, printing } => {
            inventory(output(printing)?, Inventory::Customer(command))
        }
        Command::Target { command, printing } => {
            inventory(output(printing)?, Inventory::Target(command))
        }
        Command::Rules { command, printing } => {
            inventory(output(printing)?, Inventory::Rules(command))
        }
        Command::Events(args) => inventory(output(args.printing)?, Inventory::Events(args)),
        Command::Nms { command, printing } => inventory(output(printing)?, Inventory::Nms(command)),
        Command::Webhook { command, printing } => {
            inventory(output(printing)?, Inventory::Webhook(command))
        }
        Command::Registration { command, printing } => {
            inventory(output(printing)?, Inventory::Registration(command))
        }
        Command::License { command, printing } => {
            inventory(output(printing)?, Inventory::License(command))
        }
        Command::Secrets(command) => secrets::run(command).map(|()| ExitCode::SUCCESS),
        Command::Migrate(args) => migrate::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Backup(args) => backup::run_backup(&args).map(|()| ExitCode::SUCCESS),
        Command::Restore(args) => backup::run_restore(&args).map(|()| ExitCode::SUCCESS),
        Command::Db(command) => db::run(command).map(|()| ExitCode::SUCCESS),
        Command::Token { command, printing } => {
            inventory(output(printing)?, Inventory::Token(command))
        }
        Command::Audit(args) => inventory(output(args.printing)?, Inventory::Audit(args)),
    }
}

fn inventory(output: output::Output, command: Inventory) -> anyhow::Result<ExitCode> {
    admin::run(command, output).map(|()| ExitCode::SUCCESS)
}
