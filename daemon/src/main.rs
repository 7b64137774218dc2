//! `cairnd`, the Cairn daemon, and the admin commands that manage its users and keys.

mod admin_cli;
mod admin_client;
mod admin_server;
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
    let result: Result<(), Box<dyn std::error::Error>> = match cli.command {
        cli::Command::Serve(args) => serve(args).map_err(Into::into),
        cli::Command::User(args) => admin_cli::user(args).map_err(Into::into),
        cli::Command::Key(args) => admin_cli::key(args).map_err(Into::into),
        cli::Command::Grant(args) => admin_cli::grant(args).map_err(Into::into),
        cli::Command::Ungrant(args) => admin_cli::ungrant(args).map_err(Into::into),
        cli::Command::MasterKey(args) => admin_cli::master_key(args).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairnd: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: cli::ServeArgs) -> Result<(), startup::StartupError> {
    let config = config::Config::resolve(args)?;
    logging::init(&config.log_filter)?;
    run::serve(config)
}
