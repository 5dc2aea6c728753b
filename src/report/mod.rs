//! `fgbench report`: a self-contained HTML page and PNG charts for one run or a comparison of
//! two. A pure function of run records (and the dataset, for prompts and accepted answers).

mod generalisation;
pub mod html;
pub mod plot;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::compare::{Allow, CompareError, Comparison, Run, compare};
use crate::dataset::Dataset;
use crate::prompt::PromptStyle;
use crate::records::ResultRecord;
use crate::run::RunTiming;
use crate::summary::Accuracy;
use html::{CaseRow, Page, esc};
use plot::{COLORS, Series};

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

fn per_category(results: &[ResultRecord]) -> BTreeMap<String, Accuracy> {
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in results {
        let e = counts.entry(r.category.clone()).or_default();
        e.0 += usize::from(r.valid);
        e.1 += 1;
    }
    counts.into_iter().map(|(k, (c, n))| (k, Accuracy::new(c, n))).collect()
}

fn run_timing(run: &Run) -> Option<RunTiming> {
    let text = std::fs::read_to_string(run.dir.join(crate::run::SUMMARY)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.get("timing")?.clone()).ok()
}

/// Outcome in A (rows) against outcome in B (columns), as a table; the diagonal is what
/// stayed the same.
fn transition_matrix(t: &BTreeMap<String, BTreeMap<String, usize>>) -> String {
    let mut to: Vec<&String> = t.values().flat_map(|m| m.keys()).collect();
    to.sort();
    to.dedup();
    let mut o = String::from(
        "<p class=\"meta\">outcome per case, A (rows) to B (columns)</p><div class=\"scroll\"><table><thead><tr><th>A \\ B</th>",
    );
    for b in &to {
        o.push_str(&format!("<th class=\"num\">{}</th>", esc(b)));
    }
    o.push_str("</tr></thead><tbody>");
    for (a, row) in t {
        o.push_str(&format!("<tr><td>{}</td>", esc(a)));
        for b in &to {
            o.push_str(&format!("<td class=\"num\">{}</td>", row.get(*b).copied().unwrap_or(0)));
        }
        o.push_str("</tr>");
    }
    o + "</tbody></table></div>"
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Writes `index.html` and the charts into `out`.
pub fn write_report(runs: &[Run], with_compare: bool, dataset: Option<&Dataset>, allow: Allow, out: &Path) -> Result<Written, ReportError> {
    if runs.is_empty() || runs.len() > 2 || (with_compare && runs.len() != 2) {
        return Err(ReportError::RunCount(runs.len()));
    }
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io { path: out.to_path_buf(), source })?;
    let comparison: Option<Comparison> = if runs.len() == 2 { Some(compare(&runs[0], &runs[1], allow, dataset)?) } else { None };
    let labels: Vec<String> = match runs.len() {
        1 => vec![runs[0].label()],
        _ => vec![format!("A: {}", runs[0].label()), format!("B: {}", runs[1].label())],
    };
    let series: Vec<Series> = labels.iter().zip(COLORS).map(|(l, c)| Series { label: l, color: c }).collect();

    // Accuracy by category (+ overall).
    let cats_per_run: Vec<BTreeMap<String, Accuracy>> = runs.iter().map(|r| per_category(&r.results)).collect();
    let mut categories: Vec<String> = cats_per_run.iter().flat_map(|m| m.keys().cloned()).collect();
    categories.sort();
    categories.dedup();
    let overall: Vec<Accuracy> =
        runs.iter().map(|r| Accuracy::new(r.results.iter().filter(|x| x.valid).count(), r.results.len())).collect();
    let acc_values: Vec<Vec<(f64, f64, f64)>> = cats_per_run
        .iter()
        .zip(&overall)
        .map(|(m, o)| {
            categories
                .iter()
                .map(|c| m.get(c).map(|a| (a.accuracy, a.ci_low, a.ci_high)).unwrap_or((0.0, 0.0, 0.0)))
                .chain(std::iter::once((o.accuracy, o.ci_low, o.ci_high)))
                .collect()
        })
        .collect();
    let mut cat_labels = categories.clone();
    cat_labels.push("overall".into());

    // Error types.
    let mut types: Vec<String> = runs.iter().flat_map(|r| r.results.iter().filter_map(|x| x.error_type.clone())).collect();
    types.sort();
    types.dedup();
    let type_counts: Vec<Vec<usize>> = runs
        .iter()
        .map(|r| types.iter().map(|t| r.results.iter().filter(|x| x.error_type.as_deref() == Some(t)).count()).collect())
        .collect();
    let e2e: Vec<Vec<f64>> = runs.iter().map(|r| r.results.iter().filter_map(|x| x.timings.total_ms).collect()).collect();
    let ttft: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|r| r.results.iter().filter_map(|x| Some((x.timings.prompt_tokens? as f64, x.timings.ttft_ms?))).collect())
        .collect();
    // How the number of declared tools (the length of the shared tool block) drives TTFT.
    let tools: HashMap<&str, usize> = dataset.map(|d| d.cases.iter().map(|c| (c.id.as_str(), c.tools.len())).collect()).unwrap_or_default();
    let ttft_tools: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|r| r.results.iter().filter_map(|x| Some((*tools.get(x.id.as_str())? as f64, x.timings.ttft_ms?))).collect())
        .collect();
    let timings: Vec<Option<RunTiming>> = runs.iter().map(run_timing).collect();
    let throughput: Vec<Vec<(f64, f64)>> =
        timings.iter().map(|t| t.iter().map(|t| (t.concurrency as f64, t.cases_per_s)).collect()).collect();

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
    chart("accuracy.png", "Accuracy by category with 95% Wilson intervals", &|p| {
        plot::accuracy_bars(p, &cat_labels, &series, &acc_values)
    })?;
    chart("errors.png", "Error types among invalid outputs", &|p| plot::error_bars(p, &types, &series, &type_counts))?;
    let has_timing = e2e.iter().any(|v| !v.is_empty());
    if has_timing {
        chart("latency_hist.png", "End-to-end latency per case (histogram)", &|p| plot::latency_histogram(p, &series, &e2e))?;
        chart("latency_cdf.png", "End-to-end latency per case (CDF)", &|p| plot::latency_cdf(p, &series, &e2e))?;
        chart("ttft_vs_prompt.png", "Time to first token against prompt length", &|p| {
            plot::scatter(p, "TTFT vs prompt length", "prompt tokens", "TTFT ms", &series, &ttft, false)
        })?;
        if ttft_tools.iter().any(|v| !v.is_empty()) {
            chart("ttft_vs_tools.png", "Time to first token against the number of declared tools", &|p| {
                plot::scatter(p, "TTFT vs declared tools", "tools declared", "TTFT ms", &series, &ttft_tools, false)
            })?;
        }
    }
    if throughput.iter().any(|t| !t.is_empty()) {
        chart("throughput.png", "Throughput against concurrency (cases/s)", &|p| {
            plot::scatter(p, "Throughput vs concurrency", "requests in flight", "cases/s", &series, &throughput, true)
        })?;
    }

    // Tables.
    let mut acc_table = String::from("<div class=\"scroll\"><table><thead><tr><th>category</th><th class=\"num\">n</th>");
    for l in &labels {
        acc_table.push_str(&format!("<th class=\"num\">{}</th>", esc(l)));
    }
    if comparison.is_some() {
        acc_table.push_str(
            "<th class=\"num\">delta</th><th class=\"num\">fixed</th><th class=\"num\">broken</th><th class=\"num\">McNemar p</th>",
        );
    }
    acc_table.push_str("</tr></thead><tbody>");
    for (i, c) in cat_labels.iter().enumerate() {
        let n = if c == "overall" { overall[0].n } else { cats_per_run[0].get(c).map(|a| a.n).unwrap_or(0) };
        acc_table.push_str(&format!("<tr><td>{}</td><td class=\"num\">{n}</td>", esc(c)));
        for v in &acc_values {
            acc_table.push_str(&format!("<td class=\"num\">{} [{}, {}]</td>", pct(v[i].0), pct(v[i].1), pct(v[i].2)));
        }
        if let Some(cmp) = &comparison {
            let p = if c == "overall" { Some(&cmp.overall) } else { cmp.categories.get(c) };
            if let Some(p) = p {
                acc_table.push_str(&format!(
                    "<td class=\"num\">{:+.1}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.4}</td>",
                    100.0 * p.delta,
                    p.fixed,
                    p.broken,
                    p.p_value
                ));
            }
        }
        acc_table.push_str("</tr>");
    }
    acc_table.push_str("</tbody></table></div>");

    let formats: Vec<crate::compare::Format> = match &comparison {
        Some(c) => vec![c.format_a.clone(), c.format_b.clone()],
        None => vec![crate::compare::format_of(runs[0].results.iter())],
    };
    let mut fmt_table = String::from("<div class=\"scroll\"><table><thead><tr><th>format</th>");
    for l in &labels {
        fmt_table.push_str(&format!("<th class=\"num\">{}</th>", esc(l)));
    }
    fmt_table.push_str("</tr></thead><tbody>");
    type FmtRow = (&'static str, fn(&crate::compare::Format) -> String);
    let fmt_rows: [FmtRow; 5] = [
        ("outputs with calls", |f| pct(f.call_rate)),
        ("parse errors (malformed)", |f| pct(f.parse_error_rate)),
        ("prose, no call", |f| pct(f.prose_rate)),
        ("right abstentions (irrelevance)", |f| f.correct_abstentions.to_string()),
        ("wrong abstentions", |f| f.wrong_abstentions.to_string()),
    ];
    for (name, get) in fmt_rows {
        fmt_table.push_str(&format!("<tr><td>{name}</td>"));
        for f in &formats {
            fmt_table.push_str(&format!("<td class=\"num\">{}</td>", get(f)));
        }
        fmt_table.push_str("</tr>");
    }
    fmt_table.push_str("</tbody></table></div>");
    if let Some(c) = &comparison {
        fmt_table.push_str(&transition_matrix(&c.transitions));
    }

    let mut timing_html = String::new();
    if let Some(c) = comparison.as_ref().filter(|c| !c.timing.is_empty()) {
        timing_html.push_str("<div class=\"scroll\"><table><thead><tr><th>metric</th><th class=\"num\">A</th><th class=\"num\">B</th><th class=\"num\">B-A</th><th class=\"num\">95% CI</th></tr></thead><tbody>");
        for d in &c.timing {
            let ci = d.ci_text().unwrap_or_else(|| "-".into());
            timing_html.push_str(&format!("<tr><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:+.1}</td><td class=\"num\">{ci}</td></tr>", esc(&d.metric), d.a, d.b, d.delta));
        }
        timing_html.push_str("</tbody></table></div>");
    }
    for (l, t) in labels.iter().zip(&timings) {
        if let Some(t) = t {
            timing_html.push_str(&format!(
                "<p class=\"meta\">{}: {} cases in {:.1}s ({:.3} cases/s at concurrency {}), load {:.1}s, TTFT p50 {}, e2e p50 {} / p95 {}, decode {} tok/s, harness overhead {:.2}%</p>",
                esc(l), t.cases, t.wall_s, t.cases_per_s, t.concurrency, t.model_load_s,
                t.ttft_ms_p50.map(|v| format!("{v:.0} ms")).unwrap_or("-".into()),
                t.e2e_ms_p50.map(|v| format!("{v:.0} ms")).unwrap_or("-".into()),
                t.e2e_ms_p95.map(|v| format!("{v:.0} ms")).unwrap_or("-".into()),
                t.decode_tok_s_mean.map(|v| format!("{v:.1}")).unwrap_or("-".into()),
                100.0 * t.harness_overhead
            ));
        }
    }

    let mut manifest_html = String::new();
    if let Some(c) = comparison.as_ref().filter(|c| !c.manifests.is_empty()) {
        manifest_html.push_str("<div class=\"scroll\"><table><thead><tr><th>setting</th><th>A</th><th>B</th></tr></thead><tbody>");
        for r in &c.manifests {
            let class = if r.unfair { " class=\"unfair\"" } else { "" };
            manifest_html.push_str(&format!(
                "<tr{class}><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                if r.unfair { "⚠ " } else { "" },
                esc(&r.field),
                esc(&r.a),
                esc(&r.b)
            ));
        }
        manifest_html.push_str("</tbody></table></div>");
    } else if let Some(m) = &runs[0].manifest {
        manifest_html = format!("<pre>{}</pre>", esc(&serde_json::to_string_pretty(m).unwrap_or_default()));
    }

    // Per-case rows, in run A's order.
    let by_id: Vec<HashMap<&str, &ResultRecord>> = runs.iter().map(|r| r.results.iter().map(|x| (x.id.as_str(), x)).collect()).collect();
    let style = runs[0]
        .manifest
        .as_ref()
        .map(|m| if m.prompt_style == "bfcl" { PromptStyle::Bfcl } else { PromptStyle::Official })
        .unwrap_or_default();
    let rows: Vec<CaseRow> = runs[0]
        .results
        .iter()
        .filter(|r| by_id.iter().all(|m| m.contains_key(r.id.as_str())))
        .map(|r| {
            let recs: Vec<&ResultRecord> = by_id.iter().map(|m| m[r.id.as_str()]).collect();
            let verdicts: Vec<String> = recs
                .iter()
                .map(|x| if x.valid { "valid".into() } else { x.error_type.clone().unwrap_or_else(|| "invalid".into()) })
                .collect();
            let change = match recs.as_slice() {
                [a, b] if !a.valid && b.valid => "fixed",
                [a, b] if a.valid && !b.valid => "broken",
                [.., last] if last.valid => "right",
                _ => "wrong",
            };
            let case = dataset.and_then(|d| d.get(&r.id).ok());
            CaseRow {
                id: r.id.clone(),
                category: r.category.clone(),
                verdicts,
                change: change.into(),
                prompt: case.map(|c| style.render(&c.messages, &c.tools)),
                outputs: recs.iter().map(|x| x.output.clone()).collect(),
                calls: recs.iter().map(|x| serde_json::to_string_pretty(&x.calls).unwrap_or_default()).collect(),
                accepted: case.map(|c| serde_json::to_string_pretty(&c.answers).unwrap_or_default()),
            }
        })
        .collect();

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
        .zip(&labels)
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
    let extra = generalisation::sections(runs, &labels, &series, out)?;
    sections.extend(extra.sections);
    charts.extend(extra.charts);
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
