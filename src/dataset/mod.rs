//! Eval sets: the canonical case format, loading, and importers.

pub mod bfcl;
pub mod case;
pub mod fetch;
pub mod leakage;
pub mod mobile_actions;
pub mod skeleton;
pub mod split;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use case::{CASE_SCHEMA, Case, CheckKind, ExpectedCall, Message, Role};

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read dataset {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: malformed case: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("{path}:{line}: unsupported case schema `{found}` (this fgbench reads `{CASE_SCHEMA}`)")]
    Schema { path: PathBuf, line: usize, found: String },
    #[error("{path}:{line}: duplicate case id `{id}` (first seen on line {first})")]
    DuplicateId { path: PathBuf, line: usize, id: String, first: usize },
    #[error("{path}:{line}: case `{id}` has no tools")]
    NoTools { path: PathBuf, line: usize, id: String },
    #[error("{path}:{line}: case `{id}`: {message}")]
    Invalid { path: PathBuf, line: usize, id: String, message: String },
    #[error("dataset {path} has no case with id `{id}`")]
    UnknownId { path: PathBuf, id: String },
    #[error("{path} holds no cases")]
    Empty { path: PathBuf },
}

/// A loaded eval set, in file order.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub path: PathBuf,
    pub cases: Vec<Case>,
}

impl Dataset {
    /// Loads fgbench's case JSONL, or a Mobile Actions file (recognised by its first row).
    pub fn load(path: &Path) -> Result<Dataset, DatasetError> {
        if mobile_actions::sniff(path) {
            let rows = mobile_actions::read(path, &mobile_actions::ImportOptions::default())?;
            return Ok(Dataset { path: path.to_path_buf(), cases: rows.into_iter().map(|r| r.case).collect() });
        }
        let mut cases = Vec::new();
        for_each_batch(path, |batch| {
            cases.extend(batch);
            Ok(())
        })?;
        Ok(Dataset { path: path.to_path_buf(), cases })
    }

    pub fn get(&self, id: &str) -> Result<&Case, DatasetError> {
        self.cases.iter().find(|c| c.id == id).ok_or_else(|| DatasetError::UnknownId { path: self.path.clone(), id: id.to_string() })
    }

    pub fn ids(&self) -> HashSet<&str> {
        self.cases.iter().map(|c| c.id.as_str()).collect()
    }
}

/// About this many bytes of a case file are read, then parsed on all cores, at a time.
const BLOCK_BYTES: usize = 8 << 20;

/// Reads a JSONL file a block of whole lines at a time, handing `f` each block's non-blank
/// lines with their 1-based numbers; the whole file is never in memory at once, no line is
/// copied out of its block, and the next block is read while `f` works on this one.
pub fn for_each_line_block(path: &Path, f: impl FnMut(&[(usize, &str)]) -> Result<(), DatasetError> + Send) -> Result<(), DatasetError> {
    for_each_line_block_of(path, BLOCK_BYTES, f)
}

fn for_each_line_block_of(
    path: &Path,
    block_bytes: usize,
    mut f: impl FnMut(&[(usize, &str)]) -> Result<(), DatasetError> + Send,
) -> Result<(), DatasetError> {
    use rayon::prelude::*;
    let io = |source| DatasetError::Io { path: path.to_path_buf(), source };
    let mut reader = BlockReader { file: std::fs::File::open(path).map_err(io)?, block_bytes, tail: Vec::new(), eof: false };
    let (mut block, mut spare) = (Vec::new(), Vec::new());
    let mut more = reader.fill(&mut block).map_err(io)?;
    let mut line_no = 0;
    while more {
        let mut raw: Vec<(usize, &[u8])> = Vec::new();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &block).chain((block.last() != Some(&b'\n')).then_some(block.len())) {
            line_no += 1;
            let l = &block[start..end];
            raw.push((line_no, l.strip_suffix(b"\r").unwrap_or(l)));
            start = end + 1;
        }
        let text: Vec<Result<(usize, &str), DatasetError>> = raw
            .par_iter()
            .map(|&(n, l)| {
                std::str::from_utf8(l).map(|t| (n, t)).map_err(|e| DatasetError::Malformed {
                    path: path.into(),
                    line: n,
                    message: format!("not UTF-8: {e}"),
                })
            })
            .collect();
        let mut lines = Vec::with_capacity(text.len());
        for t in text {
            let (n, t) = t?;
            if !t.trim().is_empty() {
                lines.push((n, t));
            }
        }
        let (done, read) = rayon::join(|| f(&lines), || reader.fill(&mut spare));
        done?;
        more = read.map_err(io)?;
        drop(lines);
        std::mem::swap(&mut block, &mut spare);
    }
    Ok(())
}

/// A file read in blocks that end at a line's end.
struct BlockReader {
    file: std::fs::File,
    block_bytes: usize,
    /// What followed the last block's final newline.
    tail: Vec<u8>,
    eof: bool,
}

impl BlockReader {
    /// Fills `block` with the next lines (about `block_bytes`, more when a line is longer);
    /// false at the end of the file.
    fn fill(&mut self, block: &mut Vec<u8>) -> std::io::Result<bool> {
        use std::io::Read;
        block.clear();
        block.append(&mut self.tail);
        loop {
            if !self.eof {
                let want = self.block_bytes.saturating_sub(block.len()).max(self.block_bytes.min(1 << 16));
                self.eof = (&mut self.file).take(want as u64).read_to_end(block)? < want;
            }
            match memchr::memrchr(b'\n', block) {
                Some(i) => {
                    self.tail.extend_from_slice(&block[i + 1..]);
                    block.truncate(i + 1);
                    return Ok(true);
                }
                None if self.eof => return Ok(!block.is_empty()),
                None => continue,
            }
        }
    }
}

/// Refuses a second case with the same id, and a file without cases.
#[derive(Default)]
pub struct UniqueIds(rustc_hash::FxHashMap<String, usize>);

impl UniqueIds {
    pub fn insert(&mut self, path: &Path, line: usize, id: &str) -> Result<(), DatasetError> {
        match self.0.insert(id.to_string(), line) {
            Some(first) => Err(DatasetError::DuplicateId { path: path.into(), line, id: id.to_string(), first }),
            None => Ok(()),
        }
    }

    pub fn finish(self, path: &Path) -> Result<(), DatasetError> {
        if self.0.is_empty() {
            return Err(DatasetError::Empty { path: path.into() });
        }
        Ok(())
    }
}

/// Reads a case JSONL file in batches of cases (file order), parsing each batch's lines on
/// all cores; the whole file is never in memory at once. Checks what `load` checks
/// (schema, case checks, unique ids, not empty).
pub fn for_each_batch(path: &Path, mut f: impl FnMut(Vec<Case>) -> Result<(), DatasetError> + Send) -> Result<(), DatasetError> {
    use rayon::prelude::*;
    let mut seen = UniqueIds::default();
    for_each_line_block(path, |lines| {
        let parsed: Vec<Result<Case, DatasetError>> = lines.par_iter().map(|(n, l)| parse_case_line(path, *n, l)).collect();
        let mut cases = Vec::with_capacity(parsed.len());
        for ((line_no, _), case) in lines.iter().zip(parsed) {
            let case = case?;
            seen.insert(path, *line_no, &case.id)?;
            cases.push(case);
        }
        f(cases)
    })?;
    seen.finish(path)
}

/// The case checks of line `line`, with the errors `load` says (a case without tools gets
/// its own), however the line was read.
pub(crate) fn check_case_line(path: &Path, line: usize, parts: &case::CaseParts) -> Result<(), DatasetError> {
    if parts.tool_count == 0 && parts.kind != CheckKind::Irrelevance {
        return Err(DatasetError::NoTools { path: path.into(), line, id: parts.id.to_string() });
    }
    case::validate_parts(parts).map_err(|message| DatasetError::Invalid { path: path.into(), line, id: parts.id.to_string(), message })
}

/// One line of a case file, with every check `load` makes of a case.
pub(crate) fn parse_case_line(path: &Path, line: usize, text: &str) -> Result<Case, DatasetError> {
    let malformed = |message: String| DatasetError::Malformed { path: path.into(), line, message };
    // Straight into the typed case; only a line that does not fit is read again as a value
    // tree, to say precisely what is wrong with it.
    let case: Case = match serde_json::from_str::<Case>(text) {
        Ok(c) if c.schema == CASE_SCHEMA => c,
        Ok(c) => return Err(DatasetError::Schema { path: path.into(), line, found: c.schema }),
        Err(e) => {
            let raw: serde_json::Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
            return Err(match raw.get("schema").and_then(|s| s.as_str()) {
                Some(CASE_SCHEMA) => malformed(e.to_string()),
                Some(other) => DatasetError::Schema { path: path.into(), line, found: other.into() },
                None => malformed("missing field `schema`".into()),
            });
        }
    };
    check_case_line(path, line, &case.parts())?;
    Ok(case)
}

/// Writes cases as canonical JSONL to `path` atomically (temp file, then rename).
pub fn write_cases(path: &Path, cases: &[Case]) -> std::io::Result<()> {
    crate::fsutil::write_jsonl(path, cases)
}

/// The cases a run covers: category filter, at most `per_category` of each, then `limit`, in
/// file order.
pub fn select(ds: &Dataset, categories: &[String], limit: Option<usize>, per_category: Option<usize>) -> Result<Vec<Case>, String> {
    for c in categories {
        if !ds.cases.iter().any(|x| &x.category == c) {
            return Err(format!("--categories: `{c}` is not a category of {}", ds.path.display()));
        }
    }
    let mut taken: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let selected = ds.cases.iter().filter(|c| categories.is_empty() || categories.contains(&c.category)).filter(|c| {
        let n = taken.entry(c.category.as_str()).or_default();
        *n += 1;
        per_category.is_none_or(|k| *n <= k)
    });
    Ok(selected.take(limit.unwrap_or(usize::MAX)).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block size, from one byte up, yields the lines `str::lines` sees (CRLF, blank
    /// lines, lines longer than a block, no final newline) with their numbers.
    #[test]
    fn line_blocks_are_the_files_lines_whatever_the_block_size() {
        let text = "first\r\n\nsecond line, longer than a small block\n  \nthird\r\nlast without newline";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.jsonl");
        std::fs::write(&path, text).unwrap();
        let want: Vec<(usize, String)> =
            text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l.to_string())).collect();
        for block_bytes in [1, 2, 5, 16, 64, 1 << 20] {
            let mut got = Vec::new();
            for_each_line_block_of(&path, block_bytes, |lines| {
                got.extend(lines.iter().map(|(n, l)| (*n, l.to_string())));
                Ok(())
            })
            .unwrap();
            assert_eq!(got, want, "block of {block_bytes} bytes");
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, b"{}\n{\"a\": \"\xff\"}\n").unwrap();
        let err = for_each_line_block_of(&path, 4, |_| Ok(())).unwrap_err();
        assert!(matches!(err, DatasetError::Malformed { line: 2, .. }), "{err}");
    }
}
