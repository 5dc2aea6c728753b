//! The report's HTML tables: accuracy, format health and outcome transitions, timing,
//! settings, and the per-case rows.

use std::collections::{BTreeMap, HashMap};

use super::data::ReportData;
use super::html::{CaseRow, esc};
use crate::compare::{Comparison, Format, Run};
use crate::dataset::Dataset;
use crate::prompt::PromptStyle;
use crate::records::ResultRecord;

pub(super) fn accuracy(d: &ReportData, comparison: Option<&Comparison>) -> String {
    let ReportData { labels, cat_labels, overall, cats_per_run, acc_values, .. } = d;
    let mut acc_table = String::from("<div class=\"scroll\"><table><thead><tr><th>category</th><th class=\"num\">n</th>");
    for l in labels.iter() {
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
        for v in acc_values.iter() {
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

    acc_table
}

pub(super) fn format_health(labels: &[String], formats: &[Format], comparison: Option<&Comparison>) -> String {
    let mut fmt_table = String::from("<div class=\"scroll\"><table><thead><tr><th>format</th>");
    for l in labels.iter() {
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
        for f in formats.iter() {
            fmt_table.push_str(&format!("<td class=\"num\">{}</td>", get(f)));
        }
        fmt_table.push_str("</tr>");
    }
    fmt_table.push_str("</tbody></table></div>");
    if let Some(c) = &comparison {
        fmt_table.push_str(&transition_matrix(&c.transitions));
    }

    fmt_table
}

pub(super) fn timing(d: &ReportData, comparison: Option<&Comparison>) -> String {
    let ReportData { labels, timings, .. } = d;
    let mut timing_html = String::new();
    if let Some(c) = comparison.as_ref().filter(|c| !c.timing.is_empty()) {
        timing_html.push_str("<div class=\"scroll\"><table><thead><tr><th>metric</th><th class=\"num\">A</th><th class=\"num\">B</th><th class=\"num\">B-A</th><th class=\"num\">95% CI</th></tr></thead><tbody>");
        for d in &c.timing {
            let ci = d.ci_text().unwrap_or_else(|| "-".into());
            timing_html.push_str(&format!("<tr><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:+.1}</td><td class=\"num\">{ci}</td></tr>", esc(&d.metric), d.a, d.b, d.delta));
        }
        timing_html.push_str("</tbody></table></div>");
    }
    for (l, t) in labels.iter().zip(timings.iter()) {
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

    timing_html
}

pub(super) fn settings(runs: &[Run], comparison: Option<&Comparison>) -> String {
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

    manifest_html
}

/// One row per case both runs hold, in run A's order.
pub(super) fn case_rows(runs: &[Run], dataset: Option<&Dataset>) -> Vec<CaseRow> {
    let by_id: Vec<HashMap<&str, &ResultRecord>> = runs.iter().map(|r| r.results.iter().map(|x| (x.id.as_str(), x)).collect()).collect();
    let style = runs[0]
        .manifest
        .as_ref()
        .map(|m| if m.prompt_style == "bfcl" { PromptStyle::Bfcl } else { PromptStyle::Official })
        .unwrap_or_default();
    runs[0]
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
        .collect()
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

pub(super) fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}
