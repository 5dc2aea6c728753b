use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::dataset::Dataset;
use crate::prompt::PromptStyle;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Dataset file (canonical JSONL).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Case id to render.
    #[arg(long)]
    pub id: String,
    /// `official` (Google's chat template), `bfcl` (BFCL's FunctionGemma handler) or `ollama`
    /// (Ollama's renderer).
    #[arg(long, value_enum, default_value_t = PromptStyle::Official)]
    pub prompt_style: PromptStyle,
}

pub fn run(a: RenderArgs) -> Result<i32, Error> {
    let ds = Dataset::load(&a.dataset)?;
    let case = ds.get(&a.id)?;
    print!("{}", a.prompt_style.render(&case.messages, &case.tools));
    Ok(0)
}
