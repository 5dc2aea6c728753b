//! `fgbench report`: a self-contained HTML page and PNG charts for one run or a comparison of
//! two. A pure function of run records (and the dataset, for prompts and accepted answers).

mod charts;
mod data;
mod generalisation;
pub mod html;
pub mod plot;
mod runtimes;
mod tables;

use std::path::{Path, PathBuf};

use crate::compare::{Allow, CompareError, Comparison, Run, compare};
use crate::dataset::Dataset;
use data::ReportData;
use html::Page;
use plot::{COLORS, Series};
use tables::pct;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Compare(#[from] CompareError),
    #[error("report takes one run, or two with --compare (got {0})")]
    RunCount(usize),
    #[error("chart {chart}: {message}")]
    Plot { chart: String, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// What a report wrote.
pub struct Written {
    pub index: PathBuf,
    pub charts: Vec<PathBuf>,
    pub verdict: String,
}

/// Writes `index.html` and the charts into `out`.
pub fn write_report(runs: &[Run], with_compare: bool, dataset: Option<&Dataset>, allow: Allow, out: &Path) -> Result<Written, ReportError> {
    if runs.is_empty() || runs.len() > 2 || (with_compare && runs.len() != 2) {
        return Err(ReportError::RunCount(runs.len()));
    }
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io { path: out.to_path_buf(), source })?;
    let comparison: Option<Comparison> = if runs.len() == 2 { Some(compare(&runs[0], &runs[1], allow, dataset)?) } else { None };
    let d = ReportData::collect(runs, dataset);
    let labels = &d.labels;
    let series: Vec<Series> = labels.iter().zip(COLORS).map(|(l, c)| Series { label: l, color: c }).collect();
    let (figures, mut charts) = charts::draw(&d, &series, out)?;
    let formats: Vec<crate::compare::Format> = match &comparison {
        Some(c) => vec![c.format_a.clone(), c.format_b.clone()],
        None => vec![crate::compare::format_of(runs[0].results.iter())],
    };
    let acc_table = tables::accuracy(&d, comparison.as_ref());
    let fmt_table = tables::format_health(labels, &formats, comparison.as_ref());
    let timing_html = tables::timing(&d, comparison.as_ref());
    let manifest_html = tables::settings(runs, comparison.as_ref());
    let rows = tables::case_rows(runs, dataset);
    let overall = &d.overall;

    let verdict = match &comparison {
        Some(c) => c.verdict.clone(),
        None => {
            let o = &overall[0];
            format!(
                "{}: {} overall ({}/{} cases, 95% CI [{}, {}]); parse errors {}, outputs with calls {}",
                labels[0],
                pct(o.accuracy),
                o.correct,
                o.n,
                pct(o.ci_low),
                pct(o.ci_high),
                pct(formats[0].parse_error_rate),
                pct(formats[0].call_rate)
            )
        }
    };
    let meta: Vec<String> = runs
        .iter()
        .zip(labels)
        .map(|(r, l)| match &r.manifest {
            Some(m) => format!(
                "{l}: {} cases, {} {} {}, {} prompt style, max {} new tokens, dataset {}",
                r.results.len(),
                m.engine.engine,
                m.engine.engine_version,
                m.engine.dtype,
                m.prompt_style,
                m.generation.max_new_tokens,
                m.dataset.path
            ),
            None => format!("{l}: {} cases ({})", r.results.len(), r.dir.display()),
        })
        .chain(comparison.as_ref().and_then(|c| c.subset_note.clone()))
        .collect();
    let mut sections = vec![("Accuracy".to_string(), acc_table), ("Charts".to_string(), figures), ("Format health".to_string(), fmt_table)];
    let extra = generalisation::sections(runs, labels, &series, out)?;
    sections.extend(extra.sections);
    charts.extend(extra.charts);
    if let Some(h) = runtimes::section(runs, labels, dataset) {
        sections.push(("Behind each runtime".into(), h));
    }
    if !timing_html.is_empty() {
        sections.push(("Latency and throughput".into(), timing_html));
    }
    if !manifest_html.is_empty() {
        sections.push(("Settings".into(), manifest_html));
    }
    let page = Page {
        title: if comparison.is_some() { "fgbench comparison".into() } else { "fgbench run report".into() },
        verdict: verdict.clone(),
        meta,
        sections,
        run_labels: labels.clone(),
        rows,
    };
    let index = out.join("index.html");
    crate::fsutil::write_atomic(&index, html::render(&page).as_bytes())
        .map_err(|source| ReportError::Io { path: index.clone(), source })?;
    Ok(Written { index, charts, verdict })
}
