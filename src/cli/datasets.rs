use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::Error;
use crate::dataset::{bfcl, fetch, write_cases};

#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// Convert an external eval set into fgbench's canonical JSONL.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Download and import an eval set into the cache (does nothing when already there).
    #[command(subcommand)]
    Fetch(FetchCommand),
    /// Write fine-tuning examples (prompt + target completion) from tools of our own, after
    /// proving they are disjoint from the eval sets.
    ExportTrain(ExportTrainArgs),
}

#[derive(Debug, Args)]
pub struct ExportTrainArgs {
    /// Output JSONL (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of examples.
    #[arg(long, default_value_t = 300)]
    pub n: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = crate::codec::PromptStyle::Official)]
    pub prompt_style: crate::codec::PromptStyle,
    /// Eval sets the examples must not leak into (default: datasets/demo.jsonl and the
    /// fetched BFCL set, where present).
    #[arg(long)]
    pub check_against: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// BFCL v4 files as the bfcl-eval wheel ships them.
    Bfcl(ImportBfclArgs),
}

#[derive(Debug, Args)]
pub struct ImportBfclArgs {
    /// Folder with BFCL_v4_*.json (and possible_answer/), or an unpacked wheel root.
    #[arg(long)]
    pub from: PathBuf,
    /// Output file (canonical JSONL), written atomically.
    #[arg(long)]
    pub out: PathBuf,
    /// Categories to import (default: all supported single-turn categories).
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum FetchCommand {
    /// pip-download the pinned bfcl-eval wheel and import its data.
    Bfcl(FetchBfclArgs),
}

#[derive(Debug, Args)]
pub struct FetchBfclArgs {
    /// Cache folder (default: $FGBENCH_CACHE or ~/.cache/fgbench).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

pub fn run(c: DatasetsCommand) -> Result<i32, Error> {
    match c {
        DatasetsCommand::ExportTrain(a) => {
            let examples = crate::dataset::train::generate(a.n, a.seed, a.prompt_style);
            let against: Vec<PathBuf> = if a.check_against.is_empty() {
                [PathBuf::from("datasets/demo.jsonl"), fetch::cache_root().join("datasets/bfcl_v4.jsonl")].into_iter().filter(|p| p.is_file()).collect()
            } else {
                a.check_against.clone()
            };
            if against.is_empty() {
                return Err(Error::Usage("export-train: no eval set to check against (pass --check-against FILE)".into()));
            }
            for path in &against {
                let ds = crate::dataset::Dataset::load(path)?;
                let problems = crate::dataset::train::check_disjoint(&examples, &ds.cases);
                if let Some(first) = problems.first() {
                    return Err(Error::Usage(format!("training data leaks into {} ({} problems); first: {first}", path.display(), problems.len())));
                }
                eprintln!("disjoint from {} ({} cases)", path.display(), ds.cases.len());
            }
            let mut text = String::new();
            for e in &examples {
                text.push_str(&serde_json::to_string(e).expect("example serializes"));
                text.push('\n');
            }
            crate::fsutil::write_atomic(&a.out, text.as_bytes()).map_err(|source| Error::Write { path: a.out.clone(), source })?;
            let count = |k: &str| examples.iter().filter(|e| e.kind == k).count();
            eprintln!("wrote {} examples ({} single, {} parallel, {} irrelevance) to {}", examples.len(), count("single"), count("parallel"), count("irrelevance"), a.out.display());
            Ok(0)
        }
        DatasetsCommand::Import(ImportCommand::Bfcl(a)) => {
            let cases = bfcl::import(&a.from, &a.categories)?;
            write_cases(&a.out, &cases).map_err(|source| Error::Write { path: a.out.clone(), source })?;
            let mut per_cat = std::collections::BTreeMap::<&str, usize>::new();
            for c in &cases {
                *per_cat.entry(c.category.as_str()).or_default() += 1;
            }
            for (cat, n) in per_cat {
                eprintln!("{cat:>24}  {n:>5}");
            }
            eprintln!("imported {} cases into {}", cases.len(), a.out.display());
            Ok(0)
        }
        DatasetsCommand::Fetch(FetchCommand::Bfcl(a)) => {
            let cache = a.cache.unwrap_or_else(fetch::cache_root);
            let f = fetch::fetch_bfcl(&cache)?;
            let what = if f.already_there { "already there" } else { "fetched" };
            eprintln!("BFCL v4 ({}): {what}: {} cases", fetch::BFCL_EVAL_VERSION, f.cases);
            eprintln!("wheel: {}", f.wheel.display());
            eprintln!("data: {}", f.data_dir.display());
            println!("{}", f.dataset.display());
            Ok(0)
        }
    }
}
