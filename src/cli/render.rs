use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::codec::render_prompt;
use crate::dataset::Dataset;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Dataset file (canonical JSONL).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Case id to render.
    #[arg(long)]
    pub id: String,
}

pub fn run(a: RenderArgs) -> Result<i32, Error> {
    let ds = Dataset::load(&a.dataset)?;
    let case = ds.get(&a.id)?;
    print!("{}", render_prompt(&case.messages, &case.tools));
    Ok(0)
}
