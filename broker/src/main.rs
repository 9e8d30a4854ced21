//! `broker`: one binary for every role (serve, migrate, demo, audit, keys, …). Errors are one line
//! on stderr and a non-zero exit; nothing is written when the input is bad.

use std::process::ExitCode;

fn main() -> ExitCode {
    broker::cli::main()
}
