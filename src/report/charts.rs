//! The report's PNG charts, each written beside the page and embedded in it.

use std::path::{Path, PathBuf};

use super::data::ReportData;
use super::plot::{self, Series};
use super::{ReportError, html};

/// Draws every chart the data has into `out`; the figures' HTML and the files written.
pub(super) fn draw(d: &ReportData, series: &[Series], out: &Path) -> Result<(String, Vec<PathBuf>), ReportError> {
    let ReportData { cat_labels, acc_values, types, type_counts, e2e, ttft, ttft_tools, throughput, .. } = d;
    let mut charts = Vec::new();
    let mut figures = String::new();
    let mut chart = |name: &str, title: &str, draw: &dyn Fn(&Path) -> Result<(), String>| -> Result<(), ReportError> {
        let path = out.join(name);
        draw(&path).map_err(|message| ReportError::Plot { chart: name.into(), message })?;
        let png = std::fs::read(&path).map_err(|source| ReportError::Io { path: path.clone(), source })?;
        figures.push_str(&html::img(title, &png));
        charts.push(path);
        Ok(())
    };
    chart("accuracy.png", "Accuracy by category with 95% Wilson intervals", &|p| plot::accuracy_bars(p, cat_labels, series, acc_values))?;
    chart("errors.png", "Error types among invalid outputs", &|p| plot::error_bars(p, types, series, type_counts))?;
    let has_timing = e2e.iter().any(|v| !v.is_empty());
    if has_timing {
        chart("latency_hist.png", "End-to-end latency per case (histogram)", &|p| plot::latency_histogram(p, series, e2e))?;
        chart("latency_cdf.png", "End-to-end latency per case (CDF)", &|p| plot::latency_cdf(p, series, e2e))?;
        chart("ttft_vs_prompt.png", "Time to first token against prompt length", &|p| {
            plot::scatter(p, "TTFT vs prompt length", "prompt tokens", "TTFT ms", series, ttft, false)
        })?;
        if ttft_tools.iter().any(|v| !v.is_empty()) {
            chart("ttft_vs_tools.png", "Time to first token against the number of declared tools", &|p| {
                plot::scatter(p, "TTFT vs declared tools", "tools declared", "TTFT ms", series, ttft_tools, false)
            })?;
        }
    }
    if throughput.iter().any(|t| !t.is_empty()) {
        chart("throughput.png", "Throughput against concurrency (cases/s)", &|p| {
            plot::scatter(p, "Throughput vs concurrency", "requests in flight", "cases/s", series, throughput, true)
        })?;
    }

    Ok((figures, charts))
}
