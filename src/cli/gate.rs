use std::path::PathBuf;

use clap::Args;

use super::compare::AllowArgs;
use crate::Error;
use crate::compare::Run;
use crate::gate::{Decision, GateConfig, gate, render_table, update_baseline};

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The stored baseline run directory.
    #[arg(long)]
    pub baseline: PathBuf,
    /// The run to check.
    #[arg(long)]
    pub current: PathBuf,
    /// Thresholds (see ci/gate.toml); defaults: accuracy may not drop by more than 2 points
    /// with McNemar p < 0.05, at least 30 paired cases.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the verdict table as markdown (for a pull-request comment).
    #[arg(long)]
    pub markdown: bool,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
    /// When the gate passes, make the current run the new baseline (atomic replace).
    #[arg(long)]
    pub update_baseline: bool,
    /// Gate runs made with different generation settings, dtype or quantization.
    #[arg(long)]
    pub allow_settings_mismatch: bool,
    #[command(flatten)]
    pub allow: AllowArgs,
}

/// Exit 0 pass, 1 regression, 2 bad input or usage.
pub fn run(a: GateArgs) -> Result<i32, Error> {
    let cfg = match &a.config {
        Some(p) => GateConfig::load(p).map_err(Error::Usage)?,
        None => GateConfig::default(),
    };
    let (base, cur) = (Run::load(&a.baseline)?, Run::load(&a.current)?);
    let report = gate(&base, &cur, &cfg, a.allow.allow(), a.allow_settings_mismatch)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
    } else {
        print!("{}", render_table(&report, a.markdown));
    }
    if report.decision == Decision::Fail {
        return Ok(1);
    }
    if a.update_baseline {
        update_baseline(&a.current, &a.baseline).map_err(|source| Error::Write { path: a.baseline.clone(), source })?;
        eprintln!("fgbench: baseline {} updated from {}", a.baseline.display(), a.current.display());
    }
    Ok(0)
}
