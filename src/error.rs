//! The library's top-level error and its mapping to exit codes.

use std::path::PathBuf;

use crate::dataset::DatasetError;
use crate::dataset::bfcl::ImportError;
use crate::dataset::fetch::FetchError;
use crate::records::RecordError;

/// Exit codes: 0 success, 1 a check failed or a runtime failure, 2 bad input or usage.
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;

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
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("--strict: {count} problem(s) in the predictions; the first: {first}")]
    Strict { count: usize, first: String },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Fetch(_) | Error::Write { .. } => EXIT_FAILURE,
            _ => EXIT_BAD_INPUT,
        }
    }
}
