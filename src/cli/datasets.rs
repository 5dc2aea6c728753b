use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::Error;
use crate::dataset::train::{self, TrainExample};
use crate::dataset::{Case, bfcl, fetch, mobile_actions, write_cases};

#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// Convert an external eval set into fgbench's canonical JSONL.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Download and import an eval set into the cache (does nothing when already there).
    #[command(subcommand)]
    Fetch(FetchCommand),
    /// Write fine-tuning examples (prompt + target completion), after proving they are
    /// disjoint from the eval sets: from an app's own training rows (`--from`), or from tools
    /// of our own.
    ExportTrain(ExportTrainArgs),
    /// Write fgbench cases in an external format.
    #[command(subcommand)]
    Export(ExportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Mobile Actions rows (`metadata`, `tools`, `messages` with the reference tool calls).
    MobileActions(ExportMobileActionsArgs),
}

#[derive(Debug, Args)]
pub struct ExportMobileActionsArgs {
    /// fgbench cases (JSONL).
    #[arg(long)]
    pub from: PathBuf,
    /// Output JSONL, written atomically.
    #[arg(long)]
    pub out: PathBuf,
    /// The rows' `metadata`.
    #[arg(long, default_value = "eval")]
    pub split: String,
    /// The assistant's text on rows without a call.
    #[arg(long, default_value = crate::dataset::train::NO_CALL_REPLY)]
    pub reply: String,
}

#[derive(Debug, Args)]
pub struct ExportTrainArgs {
    /// Output JSONL (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// An app's training rows: a Mobile Actions file or fgbench cases. The tools may be
    /// shared with the eval sets (that is the point); ids, user texts and free-form argument
    /// values may not. Without it, examples come from tools of our own (--n, --seed).
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Number of examples (tools of our own).
    #[arg(long, default_value_t = 300)]
    pub n: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = crate::codec::PromptStyle::Official)]
    pub prompt_style: crate::codec::PromptStyle,
    /// Eval sets the examples must not leak into, as fgbench cases or Mobile Actions rows
    /// (default: datasets/demo.jsonl and the fetched BFCL set, where present; required with
    /// --from).
    #[arg(long)]
    pub check_against: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// BFCL v4 files as the bfcl-eval wheel ships them.
    Bfcl(ImportBfclArgs),
    /// Mobile Actions rows (Google's `google/mobile-actions`, or an app set in its format).
    MobileActions(ImportMobileActionsArgs),
}

#[derive(Debug, Args)]
pub struct ImportMobileActionsArgs {
    /// Mobile Actions JSONL.
    #[arg(long)]
    pub from: PathBuf,
    /// Output file (canonical JSONL), written atomically.
    #[arg(long)]
    pub out: PathBuf,
    /// Keep only the rows of this split (the rows' `metadata`).
    #[arg(long, value_parser = ["train", "eval"])]
    pub split: Option<String>,
    /// Category prefix: cases land in PREFIX_single, PREFIX_parallel, PREFIX_no_call.
    #[arg(long, default_value = "mobile_actions")]
    pub category: String,
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
        DatasetsCommand::ExportTrain(a) => export_train(a),
        DatasetsCommand::Export(ExportCommand::MobileActions(a)) => {
            let ds = crate::dataset::Dataset::load(&a.from)?;
            mobile_actions::write(&a.out, &ds.cases, &a.split, &a.reply).map_err(|source| Error::Write { path: a.out.clone(), source })?;
            eprintln!("wrote {} rows to {}", ds.cases.len(), a.out.display());
            Ok(0)
        }
        DatasetsCommand::Import(ImportCommand::MobileActions(a)) => {
            let opts = mobile_actions::ImportOptions { category: a.category, split: a.split };
            let cases: Vec<_> = mobile_actions::read(&a.from, &opts)?.into_iter().map(|r| r.case).collect();
            write_cases(&a.out, &cases).map_err(|source| Error::Write { path: a.out.clone(), source })?;
            print_categories(&cases);
            eprintln!("imported {} cases into {}", cases.len(), a.out.display());
            Ok(0)
        }
        DatasetsCommand::Import(ImportCommand::Bfcl(a)) => {
            let cases = bfcl::import(&a.from, &a.categories)?;
            write_cases(&a.out, &cases).map_err(|source| Error::Write { path: a.out.clone(), source })?;
            print_categories(&cases);
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

fn print_categories(cases: &[Case]) {
    let mut per_cat = std::collections::BTreeMap::<&str, usize>::new();
    for c in cases {
        *per_cat.entry(c.category.as_str()).or_default() += 1;
    }
    for (cat, n) in per_cat {
        eprintln!("{cat:>24}  {n:>5}");
    }
}

fn export_train(a: ExportTrainArgs) -> Result<i32, Error> {
    let against: Vec<PathBuf> = if !a.check_against.is_empty() {
        a.check_against.clone()
    } else if a.from.is_some() {
        return Err(Error::Usage("export-train --from: name the held-out set with --check-against FILE".into()));
    } else {
        [PathBuf::from("datasets/demo.jsonl"), fetch::cache_root().join("datasets/bfcl_v4.jsonl")]
            .into_iter()
            .filter(|p| p.is_file())
            .collect()
    };
    if against.is_empty() {
        return Err(Error::Usage("export-train: no eval set to check against (pass --check-against FILE)".into()));
    }
    let examples = match &a.from {
        Some(from) => {
            let rows: Vec<(Case, Option<String>)> = if mobile_actions::sniff(from) {
                mobile_actions::read(from, &mobile_actions::ImportOptions::default())?.into_iter().map(|r| (r.case, r.reply)).collect()
            } else {
                crate::dataset::Dataset::load(from)?.cases.into_iter().map(|c| (c, None)).collect()
            };
            let train_cases: Vec<Case> = rows.iter().map(|r| r.0.clone()).collect();
            for path in &against {
                let eval = crate::dataset::Dataset::load(path)?.cases;
                refuse_leaks(path, train::check_app_disjoint(&train_cases, &eval))?;
                eprintln!("disjoint from {} ({} cases: ids, user texts, free-form argument values)", path.display(), eval.len());
            }
            train::from_cases(&rows, a.prompt_style)
        }
        None => {
            let examples = train::generate(a.n, a.seed, a.prompt_style);
            for path in &against {
                let eval = crate::dataset::Dataset::load(path)?.cases;
                refuse_leaks(path, train::check_disjoint(&examples, &eval))?;
                eprintln!("disjoint from {} ({} cases)", path.display(), eval.len());
            }
            examples
        }
    };
    write_examples(&a.out, &examples)
}

fn refuse_leaks(path: &std::path::Path, problems: Vec<String>) -> Result<(), Error> {
    match problems.first() {
        Some(first) => {
            Err(Error::Usage(format!("training data leaks into {} ({} problems); first: {first}", path.display(), problems.len())))
        }
        None => Ok(()),
    }
}

fn write_examples(out: &std::path::Path, examples: &[TrainExample]) -> Result<i32, Error> {
    crate::fsutil::write_jsonl(out, examples).map_err(|source| Error::Write { path: out.to_path_buf(), source })?;
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for e in examples {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!("wrote {} examples ({}) to {}", examples.len(), kinds.join(", "), out.display());
    Ok(0)
}
