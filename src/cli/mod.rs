//! Command-line interface: clap definitions, one file per subcommand.

mod before_after;
mod bench;
mod client;
mod compare;
mod datasets;
mod deploy_check;
mod engine_args;
mod eval;
mod gate;
mod merge;
mod models;
mod parity;
mod perturb;
mod render;
mod report;
mod score;
mod serve;

use clap::{Parser, Subcommand};

use crate::Error;

#[derive(Debug, Parser)]
#[command(name = "fgbench", version, about = "Benchmark and evaluation harness for FunctionGemma checkpoints")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the exact prompt the model sees for one case.
    Render(render::RenderArgs),
    /// Score predictions (raw model outputs) against a dataset: BFCL's AST rules or exact match.
    Score(score::ScoreArgs),
    /// Obtain, import and inspect eval sets.
    #[command(subcommand)]
    Datasets(datasets::DatasetsCommand),
    /// Compare two runs case by case: accuracy, McNemar test, fixed/broken cases, format, latency.
    Compare(compare::CompareArgs),
    /// Measure latency and throughput (TTFT, prefill/decode tok/s, e2e percentiles with CIs,
    /// requests/s per concurrency level, SLO goodput, peak memory).
    Bench(bench::BenchArgs),
    /// Check a run against a stored baseline: exit 0 pass, 1 regression, 2 bad input or
    /// usage, 3 a runtime failure.
    Gate(gate::GateArgs),
    /// Write a self-contained HTML report with PNG charts for one run or two (--compare).
    Report(report::ReportArgs),
    /// Run a model over a dataset: render, generate, parse, score; resumable run records.
    Eval(eval::EvalArgs),
    /// Join the shard runs of `eval --shard K/N` (made on several machines) into one run.
    Merge(merge::MergeArgs),
    /// Did the fine-tune help? Evaluate a model before and after fine-tuning (base vs base +
    /// adapter, or two checkpoints) on held-out cases, compare them paired, write the report.
    BeforeAfter(before_after::BeforeAfterArgs),
    /// Does the score survive deployment? Read a run's outputs as each runtime's server does
    /// (vLLM, Ollama, mlx-lm, llama-server): accuracy per rendering x parser, and the parser
    /// loss (cases right as fgbench reads them that the runtime turns wrong), by kind.
    DeployCheck(deploy_check::DeployCheckArgs),
    /// Run the same cases through engine variants (dtype, quantization, concurrency) and
    /// report identical completions, first divergence and verdict agreement.
    Parity(parity::ParityArgs),
    /// Write a metamorphic variant of a dataset whose right answers follow from the original
    /// (tools shuffled or renamed, distractors, the called tool removed, another activation
    /// sentence, the date moved, surface noise).
    Perturb(perturb::PerturbArgs),
    /// Obtain, import and inspect models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Serve loaded models on a Unix socket (JSON lines; docs/protocol.md) for live requests
    /// and side-by-side comparisons.
    Serve(serve::ServeArgs),
    /// Talk to `fgbench serve`: one request, JSON lines from stdin, `compare`, or a load `bench`.
    Client(client::ClientArgs),
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Render(a) => render::run(a),
        Command::Score(a) => score::run(a),
        Command::Datasets(c) => datasets::run(c),
        Command::Eval(a) => eval::run(a),
        Command::Merge(a) => merge::run(a),
        Command::BeforeAfter(a) => before_after::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Report(a) => report::run(a),
        Command::Gate(a) => gate::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Models(c) => models::run(c),
        Command::Parity(a) => parity::run(a),
        Command::DeployCheck(a) => deploy_check::run(a),
        Command::Perturb(a) => perturb::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Client(a) => client::run(a),
    }
}
