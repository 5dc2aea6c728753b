//! `fgbench perturb`: writes a metamorphic variant of a dataset (one case per case, same ids,
//! same order) that any command can run on.

use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::dataset::Dataset;
use crate::perturb::{Perturbation, perturb};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  fgbench perturb --dataset datasets/app/test.jsonl --kind rename --out /tmp/app-renamed.jsonl\n  \
    fgbench eval --model demo --adapter adapters/app-lora --dataset datasets/app/test.jsonl --scorer exact \\\n      \
    --perturb shuffle-tools,rename,activation --out runs/app   # the suite, paired with the run")]
pub struct PerturbArgs {
    /// Cases to perturb (fgbench cases or Mobile Actions rows).
    #[arg(long)]
    pub dataset: PathBuf,
    #[arg(long, value_enum)]
    pub kind: Perturbation,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The variant, as fgbench cases (written atomically).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: PerturbArgs) -> Result<i32, Error> {
    let ds = Dataset::load(&a.dataset)?;
    let variant = perturb(&ds.cases, a.kind, a.seed);
    let changed = variant.iter().zip(&ds.cases).filter(|(v, c)| v != c).count();
    crate::dataset::write_cases(&a.out, &variant).map_err(|source| Error::Write { path: a.out.clone(), source })?;
    eprintln!("{}: {changed} of {} cases changed -> {}", a.kind.name(), variant.len(), a.out.display());
    Ok(0)
}
