use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::run::merge::{MergeError, merge};
use crate::summary::render_table;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard runs (`eval --shard K/N`), all N of them.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// The merged run directory.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: MergeArgs) -> Result<i32, Error> {
    let merged = merge(&a.runs, &a.out).map_err(|e| match e {
        MergeError::Run(r) => Error::Run(r),
        other => Error::Usage(other.to_string()),
    })?;
    print!("{}", render_table(&merged.summary));
    println!(
        "merged {} shard(s): {} cases{} -> {}",
        a.runs.len(),
        merged.cases,
        if merged.failed > 0 { format!(", {} failed in the engine", merged.failed) } else { String::new() },
        a.out.display()
    );
    Ok(0)
}
