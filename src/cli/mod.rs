//! Command-line interface: argument parsing, one module per subcommand, and the single place
//! where errors become exit codes (DESIGN.md §1): 0 ran clean, 1 findings at or above
//! `--fail-on`, 2 usage or input error, 3 could not evaluate.

pub mod args;
pub mod check;
pub mod checks;
pub mod common;
pub mod completion;
pub mod config;
pub mod explain;
pub mod inject;
mod linkerd_inject;
mod linkerd_render;
pub mod man;
pub mod preflight;
pub mod snapshot;
pub mod version;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

use crate::source::InputError;
use crate::workload::TargetError;

pub use args::{Cli, Command};

/// Why a command did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Input(#[from] InputError),
    #[error("{0}")]
    Target(#[from] TargetError),
    #[error("{0}")]
    Usage(String),
    /// The cluster could not be read at all.
    #[error("{0}")]
    Unreachable(String),
    /// The command ran and found something at or above `--fail-on`.
    #[error("findings at or above the --fail-on level")]
    Findings,
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Findings => 1,
            Failure::Input(_) | Failure::Target(_) | Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
        }
    }
}

/// Runs `meshdoctor` with these arguments and returns the process exit code.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> i32 {
    match Cli::try_parse_from(args) {
        Ok(cli) => finish(run(cli)),
        Err(e) => clap_exit(&e),
    }
}

/// Runs `kubectl inject-why` (the kubectl plugin) with these arguments.
pub fn plugin_main_with(args: impl IntoIterator<Item = OsString>) -> i32 {
    match args::PluginCli::try_parse_from(args) {
        Ok(cli) => finish(explain::run_plugin(&cli)),
        Err(e) => clap_exit(&e),
    }
}

fn clap_exit(e: &clap::Error) -> i32 {
    let _ = e.print();
    // clap uses 2 for usage errors and 0 for --help/--version, as DESIGN.md wants.
    e.exit_code()
}

fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Explain(a) => explain::run(&cli.global, a),
        Command::Check(a) => check::run(&cli.global, a),
        Command::Checks(a) => checks::run(a),
        Command::Inject(a) => inject::run(&cli.global, a),
        Command::Snapshot(a) => snapshot::run(&cli.global, a),
        Command::Serve(a) => crate::serve::run(&cli.global, a),
        Command::Preflight(a) => preflight::run(&cli.global, a),
        Command::Version(a) => version::run(&cli.global, a),
        Command::Completion(a) => completion::run(a),
        Command::Man(a) => man::run(a),
        Command::Complete(a) => {
            completion::print_answer(&a.words);
            Ok(())
        }
    }
}

fn finish(result: Result<(), Failure>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(Failure::Findings) => 1,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "meshdoctor: {e}");
            e.exit_code()
        }
    }
}
