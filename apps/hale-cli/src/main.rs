//! The `hale` binary: parses the command line and hands it to
//! [`hale_cli::run`]. clap itself exits with 2 on a usage error and 0 for
//! `--help` and `--version`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    hale_cli::run(hale_cli::cli::Cli::parse()).into()
}
