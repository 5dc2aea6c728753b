use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::Error;
use crate::dataset::{Case, bfcl, fetch, mobile_actions, write_cases};
use crate::finetune::{self as train, TrainExample};

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
    /// How much of a test set its training set already holds: exact and folded duplicates,
    /// shared skeletons (values, numbers, dates and times as placeholders), near duplicates,
    /// argument values per field, tool sets; per test case, the nearest training row.
    #[command(
        after_help = "Example:\n  fgbench datasets leakage --train datasets/app/train.jsonl --test datasets/app/test.jsonl \\\n      --out datasets/app/test.leakage.json\n\nA leakage file beside a dataset (X.jsonl -> X.leakage.json) splits eval summaries and reports\ninto rows whose skeleton training has seen and rows it has not."
    )]
    Leakage(LeakageArgs),
    /// Split a dataset into train, validation and test files where whole groups (skeletons,
    /// tools, tool sets, argument values) fall on one side; rows are copied as they are.
    Split(SplitArgs),
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Rows to split (fgbench cases or Mobile Actions rows).
    #[arg(long)]
    pub dataset: PathBuf,
    #[arg(long, value_enum)]
    pub by: crate::dataset::split::GroupBy,
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for train.jsonl, validation.jsonl and test.jsonl (each written atomically).
    #[arg(long)]
    pub out_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct LeakageArgs {
    /// Training rows (fgbench cases or Mobile Actions rows).
    #[arg(long)]
    pub train: PathBuf,
    /// Test rows (fgbench cases or Mobile Actions rows).
    #[arg(long)]
    pub test: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Also write the whole report, per-case records included, as JSON (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Similarity (0-1, Jaccard of word 1-3-grams) from which a pair counts as near duplicates.
    #[arg(long, default_value_t = 0.8)]
    pub near_threshold: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Markdown,
    Json,
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
    #[arg(long, default_value = crate::finetune::NO_CALL_REPLY)]
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
    #[arg(long, value_enum, default_value_t = crate::prompt::PromptStyle::Official)]
    pub prompt_style: crate::prompt::PromptStyle,
    /// What a target writes after its last call: where the tool response starts, as Google's
    /// chat template and Mobile Actions recipe end a call turn (the default), or
    /// `<end_of_turn>` (fgbench's earlier targets).
    #[arg(long, value_enum, default_value_t)]
    pub call_ending: train::CallEnding,
    /// Eval sets the examples must not leak into, as fgbench cases or Mobile Actions rows
    /// (default: datasets/demo.jsonl and the fetched BFCL set, where present; required with
    /// --from).
    #[arg(long)]
    pub check_against: Vec<PathBuf>,
    /// With --from: the largest share of a --check-against set's rows whose skeleton (the
    /// request with its values, numbers, dates and times as placeholders) the training rows
    /// may share; above it the export is refused (`datasets leakage` shows which rows).
    #[arg(long, default_value_t = 0.0)]
    pub max_skeleton_overlap: f64,
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
    #[arg(long, value_parser = ["train", "validation", "eval"])]
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
        DatasetsCommand::Leakage(a) => leakage(a),
        DatasetsCommand::Split(a) => split(a),
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
                let overlap = crate::dataset::leakage::leakage(&train_cases, &eval, 0.8);
                if overlap.skeleton_overlap_rate > a.max_skeleton_overlap {
                    let first =
                        overlap.cases.iter().find(|c| c.skeleton_seen).map(|c| format!("`{}` ({})", c.id, c.skeleton)).unwrap_or_default();
                    return Err(Error::Usage(format!(
                        "training rows share a skeleton with {} of {} rows of {} ({:.1}%, above --max-skeleton-overlap {}); first: {first}; see `fgbench datasets leakage`",
                        overlap.skeleton_overlap,
                        eval.len(),
                        path.display(),
                        overlap.skeleton_overlap_rate * 100.0,
                        a.max_skeleton_overlap
                    )));
                }
                eprintln!(
                    "disjoint from {} ({} cases: ids, user texts, free-form argument values; skeleton overlap {:.1}%)",
                    path.display(),
                    eval.len(),
                    overlap.skeleton_overlap_rate * 100.0
                );
            }
            train::from_cases(&rows, a.prompt_style, a.call_ending)
        }
        None => {
            let examples = train::generate(a.n, a.seed, a.prompt_style, a.call_ending);
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

fn leakage(a: LeakageArgs) -> Result<i32, Error> {
    let train = crate::dataset::Dataset::load(&a.train)?;
    let test = crate::dataset::Dataset::load(&a.test)?;
    let mut report = crate::dataset::leakage::leakage(&train.cases, &test.cases, a.near_threshold);
    report.train = a.train.display().to_string();
    report.test = a.test.display().to_string();
    if let Some(out) = &a.out {
        let json = serde_json::to_vec_pretty(&report).expect("a leakage report serializes");
        crate::fsutil::write_atomic(out, &json).map_err(|source| Error::Write { path: out.clone(), source })?;
        eprintln!("wrote {}", out.display());
    }
    match a.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report).expect("a leakage report serializes")),
        f => print!("{}", report.render(f == ReportFormat::Markdown)),
    }
    Ok(0)
}

fn split(a: SplitArgs) -> Result<i32, Error> {
    use crate::dataset::split::{Side, split};
    let fractions_ok = (0.0..1.0).contains(&a.test_fraction)
        && (0.0..1.0).contains(&a.validation_fraction)
        && a.test_fraction + a.validation_fraction < 1.0;
    if !fractions_ok {
        return Err(Error::Usage("split: --test-fraction and --validation-fraction must be in [0, 1) and sum below 1".into()));
    }
    let ds = crate::dataset::Dataset::load(&a.dataset)?;
    let text = std::fs::read_to_string(&a.dataset).map_err(|source| Error::Write { path: a.dataset.clone(), source })?;
    // Dataset::load keeps every non-blank line as one row, in order: the rows copy over as written.
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != ds.cases.len() {
        return Err(Error::Usage(format!("{}: {} rows read from {} lines", a.dataset.display(), ds.cases.len(), lines.len())));
    }
    let s = split(&ds.cases, a.by, a.test_fraction, a.validation_fraction, a.seed);
    std::fs::create_dir_all(&a.out_dir).map_err(|source| Error::Write { path: a.out_dir.clone(), source })?;
    for side in Side::ALL {
        let mut body = String::new();
        for (line, _) in lines.iter().zip(&s.sides).filter(|(_, s)| **s == Some(side)) {
            body.push_str(line);
            body.push('\n');
        }
        let path = a.out_dir.join(format!("{}.jsonl", side.name()));
        crate::fsutil::write_atomic(&path, body.as_bytes()).map_err(|source| Error::Write { path: path.clone(), source })?;
        eprintln!(
            "{:>10}: {:>6} rows, {:>5} groups -> {}",
            side.name(),
            s.rows(side),
            s.groups.get(&side).copied().unwrap_or(0),
            path.display()
        );
    }
    if s.dropped() > 0 {
        eprintln!("{:>10}: {:>6} rows whose groups fell on different sides", "dropped", s.dropped());
    }
    Ok(0)
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
