//! The `ztp` binary: parse the command line, start telemetry, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use ztp::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    ztp::telemetry::init(cli.log_level());
    match ztp::commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
