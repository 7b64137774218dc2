//! `cairnd`, the Cairn daemon.

mod auth_config;
mod cli;
mod config;
mod keystore;
mod logging;
mod notify;
mod run;
mod service;
mod startup;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Serve(args) => config::Config::resolve(args).and_then(|config| {
            logging::init(&config.log_filter)?;
            run::serve(config)
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairnd: error: {e}");
            ExitCode::FAILURE
        }
    }
}
