//! The library's top-level error and its mapping to exit codes.

use std::path::PathBuf;

use crate::dataset::DatasetError;
use crate::dataset::bfcl::ImportError;
use crate::dataset::fetch::FetchError;
use crate::engine::EngineError;
use crate::models::ModelError;
use crate::records::RecordError;
use crate::run::RunError;

/// Exit codes: 0 success, 1 a check failed (a gate regression, an error answer to
/// `fgbench client`), 2 bad input or usage, 3 a runtime failure (a download, a write, the
/// engine). CI reads them: README, "Exit codes".
pub const EXIT_CHECK_FAILED: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;
pub const EXIT_FAILURE: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Records(#[from] RecordError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Compare(#[from] crate::compare::CompareError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("--strict: {count} problem(s) in the predictions; the first: {first}")]
    Strict { count: usize, first: String },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Report(crate::report::ReportError::Io { .. } | crate::report::ReportError::Plot { .. }) => EXIT_FAILURE,
            Error::Fetch(_) | Error::Write { .. } | Error::Engine(EngineError::Generate(_)) => EXIT_FAILURE,
            // A setting the engine cannot run (a prompt past the context) is bad input.
            Error::Run(RunError::Engine { source: EngineError::Unsupported(_), .. } | RunError::Settings { .. }) => EXIT_BAD_INPUT,
            Error::Run(RunError::Io { .. } | RunError::Engine { .. }) => EXIT_FAILURE,
            Error::Model(ModelError::Pip(_) | ModelError::Hub { .. } | ModelError::Write { .. }) => EXIT_FAILURE,
            _ => EXIT_BAD_INPUT,
        }
    }
}
