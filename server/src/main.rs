//! The `ztp` binary: parse the command line, start telemetry, run the subcommand.

use std::process::ExitCode;

use ztp::cli::{Cli, LogFormat};
use ztp::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    let format = match cli.log_format {
        LogFormat::Text => telemetry::LogFormat::Text,
        LogFormat::Json => telemetry::LogFormat::Json,
    };
    telemetry::init(cli.log_level(), format);
    match ztp::commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
