use std::process::ExitCode;

use clap::Parser;

// The scorer and the result writers allocate many small objects on all cores at once;
// glibc's malloc spent more time in its own bookkeeping than the parser did.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
