//! `charter`: the command line. It only composes the crates; nothing here decides policy.

mod billing;
mod cli;
mod evidence;
mod health;
mod master_key;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole cause chain, no backtrace, no panic.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
