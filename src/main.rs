use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = fgbench::cli::Cli::parse();
    match fgbench::cli::run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("fgbench: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
