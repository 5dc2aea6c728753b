//! fgbench: a benchmark and evaluation harness for FunctionGemma and its fine-tuned checkpoints.
//!
//! The flow is one-way and every stage writes a file: dataset -> render (prompt, over the
//! wire syntax in codec) -> engine -> parse (codec) -> score -> records -> summary.
//! Everything after the engine is a pure function of files. No two top-level modules depend
//! on each other (tests/it/layers.rs checks it).

pub mod call_decisions;
pub mod civil;
pub mod cli;
pub mod codec;
pub mod compare;
pub mod dataset;
pub mod deploy;
pub mod engine;
pub mod error;
pub mod finetune;
pub mod fsutil;
pub mod gate;
pub mod measure;
pub mod models;
pub mod parity;
pub mod perturb;
pub mod pip;
pub mod pool;
pub mod prompt;
pub mod records;
pub mod report;
pub mod run;
pub mod runtime;
pub mod score;
pub mod serve;
pub mod stats;
pub mod summary;
pub mod table;

pub use error::Error;
