//! The report's sections on whether a model learned the task: the dataset's leakage and the
//! accuracy on seen and unseen request skeletons, the call decisions, and the robustness of
//! each run under the perturbation suite (a table and a chart).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::html::{esc, img};
use super::plot::{self, Series};
use super::{ReportError, pct};
use crate::compare::Run;
use crate::dataset::leakage::{self, LeakageReport};
use crate::perturb::robustness::Robustness;
use crate::summary::{Accuracy, CallDecisions, by_skeleton};

/// (title, html) sections and the charts they drew.
pub struct Sections {
    pub sections: Vec<(String, String)>,
    pub charts: Vec<PathBuf>,
}

fn leakage_of(run: &Run) -> Result<Option<LeakageReport>, ReportError> {
    let Some(m) = &run.manifest else { return Ok(None) };
    leakage::beside(Path::new(&m.dataset.path))
        .map_err(|e| ReportError::Io { path: PathBuf::from(&m.dataset.path), source: std::io::Error::other(e) })
}

fn acc_cell(a: &Accuracy) -> String {
    format!("{} ({}/{}) [{}, {}]", pct(a.accuracy), a.correct, a.n, pct(a.ci_low), pct(a.ci_high))
}

fn decisions_of(run: &Run) -> Option<CallDecisions> {
    let text = std::fs::read_to_string(run.dir.join(crate::run::SUMMARY)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.get("decisions")?.clone()).ok()
}

pub fn sections(runs: &[Run], labels: &[String], series: &[Series], out: &Path) -> Result<Sections, ReportError> {
    let mut s = Sections { sections: Vec::new(), charts: Vec::new() };
    if let Some(l) = leakage_of(&runs[0])? {
        let mut h = String::new();
        let _ = write!(
            h,
            "<p>Training set {} ({} rows) against this dataset ({} rows): {} of the test rows share a request skeleton with a training row, {} are exact duplicates, {} near duplicates (similarity at least {}); free-form argument values seen in training: {}.</p>",
            esc(&l.train),
            l.train_rows,
            l.test_rows,
            pct(l.skeleton_overlap_rate),
            pct(l.exact_duplicate_rate),
            pct(l.near_duplicate_rate),
            l.near_threshold,
            pct(l.value_overlap_rate)
        );
        h.push_str("<table><tr><th>run</th><th>skeleton seen in training</th><th>unseen</th></tr>");
        for (run, label) in runs.iter().zip(labels) {
            let groups = by_skeleton(&run.results, &l);
            let cell = |g: &str| groups.get(g).map(acc_cell).unwrap_or_else(|| "no rows".into());
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(label),
                cell(crate::summary::SEEN),
                cell(crate::summary::UNSEEN)
            );
        }
        h.push_str("</table>");
        s.sections.push(("Generalisation: seen and unseen request skeletons".into(), h));
    }
    let decisions: Vec<Option<CallDecisions>> = runs.iter().map(decisions_of).collect();
    if decisions.iter().any(Option::is_some) {
        let mut h = String::from(
            "<table><tr><th>run</th><th>call rate</th><th>precision of calling</th><th>recall of calling</th><th>calls where none was wanted</th><th>silent where one was</th><th>call-start probability</th></tr>",
        );
        for (d, label) in decisions.iter().zip(labels) {
            if let Some(d) = d {
                let confidence = d.confidence.as_ref().map(|c| esc(c.line().trim())).unwrap_or_else(|| "-".into());
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{confidence}</td></tr>",
                    esc(label),
                    pct(d.call_rate),
                    pct(d.precision),
                    pct(d.recall),
                    d.called_when_not_wanted,
                    d.silent_when_wanted
                );
            }
        }
        h.push_str("</table>");
        let curves: Vec<Vec<(f64, f64)>> = decisions
            .iter()
            .map(|d| d.as_ref().and_then(|d| d.confidence.as_ref()).map(|c| c.risk_coverage.clone()).unwrap_or_default())
            .collect();
        if curves.iter().any(|c| !c.is_empty()) {
            let path = out.join("call_risk_coverage.png");
            plot::scatter(
                &path,
                "Call decision: risk against coverage",
                "coverage (most confident first)",
                "share of wrong decisions",
                series,
                &curves,
                true,
            )
            .map_err(|message| ReportError::Plot { chart: "call_risk_coverage.png".into(), message })?;
            let png = std::fs::read(&path).map_err(|source| ReportError::Io { path: path.clone(), source })?;
            h.push_str(&img(
                "The decision \"call when the call-start probability is at least 0.5\", its cases taken most confident first",
                &png,
            ));
            s.charts.push(path);
        }
        s.sections.push(("Call decisions (call vs no call)".into(), h));
    }
    let rows: Vec<Vec<Robustness>> = runs
        .iter()
        .map(|r| crate::compare::robustness_of_run(&r.dir, &r.results))
        .collect::<Result<_, _>>()
        .map_err(|e| ReportError::Plot { chart: "robustness".into(), message: e })?;
    if rows.iter().any(|r| !r.is_empty()) {
        s.sections.push(("Robustness under perturbations".into(), robustness_section(&rows, labels, series, out, &mut s.charts)?));
    }
    Ok(s)
}

fn robustness_section(
    rows: &[Vec<Robustness>],
    labels: &[String],
    series: &[Series],
    out: &Path,
    charts: &mut Vec<PathBuf>,
) -> Result<String, ReportError> {
    let mut kinds: Vec<String> = Vec::new();
    for r in rows.iter().flatten() {
        if !kinds.contains(&r.perturbation) {
            kinds.push(r.perturbation.clone());
        }
    }
    let mut h = String::from(
        "<p>Each variant run paired with its own run on the same cases: accuracy on the variant, the change in points, McNemar's exact p.</p><table><tr><th>perturbation</th>",
    );
    for l in labels {
        let _ = write!(h, "<th>{}</th>", esc(l));
    }
    h.push_str("</tr>");
    for k in &kinds {
        let _ = write!(h, "<tr><td>{}</td>", esc(k));
        for run_rows in rows {
            let cell = run_rows
                .iter()
                .find(|r| &r.perturbation == k)
                .map(|r| {
                    format!(
                        "{} ({:+.1}, p {:.3}; {} broken, {} fixed)",
                        pct(r.perturbed.accuracy),
                        100.0 * r.delta,
                        r.p_value,
                        r.broken.len(),
                        r.fixed.len()
                    )
                })
                .unwrap_or_else(|| "-".into());
            let _ = write!(h, "<td>{cell}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    // The chart: accuracy on each variant, with the run's own accuracy on the same cases first.
    let mut cats = vec!["original".to_string()];
    cats.extend(kinds.iter().cloned());
    let values: Vec<Vec<(f64, f64, f64)>> = rows
        .iter()
        .map(|run_rows| {
            let original = run_rows.first().map(|r| &r.original);
            std::iter::once(original)
                .chain(kinds.iter().map(|k| run_rows.iter().find(|r| &r.perturbation == k).map(|r| &r.perturbed)))
                .map(|a| a.map(|a| (a.accuracy, a.ci_low, a.ci_high)).unwrap_or((0.0, 0.0, 0.0)))
                .collect()
        })
        .collect();
    let path = out.join("robustness.png");
    plot::accuracy_bars(&path, &cats, series, &values).map_err(|message| ReportError::Plot { chart: "robustness.png".into(), message })?;
    let png = std::fs::read(&path).map_err(|source| ReportError::Io { path: path.clone(), source })?;
    h.push_str(&img("Accuracy under each perturbation (95% Wilson intervals)", &png));
    charts.push(path);
    Ok(h)
}
