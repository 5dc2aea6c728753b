//! The report's section on deployment: each run's outputs read by every runtime's parser
//! (`deploy-check`), as a heat map of accuracies and the parser loss by kind.

use std::fmt::Write;

use super::html::esc;
use super::pct;
use crate::compare::Run;
use crate::dataset::Dataset;
use crate::runtime::RuntimeParser;

/// A cell's background: white at the reference accuracy, deeper red the more a parser loses.
fn shade(loss_points: f64) -> String {
    let t = (loss_points / 50.0).clamp(0.0, 1.0);
    let g = (255.0 - 155.0 * t) as u8;
    format!("rgb(255,{g},{g})")
}

/// The section's HTML, or `None` when there is no dataset to score against or nothing calls.
pub fn section(runs: &[Run], labels: &[String], dataset: Option<&Dataset>) -> Option<String> {
    let ds = dataset?;
    let mut h = String::from(
        "<p>The same outputs read as each runtime's server reads them before an app sees the calls (docs/runtimes.md); \
         red marks the accuracy a runtime's parser loses.</p><table><tr><th>run</th>",
    );
    for p in RuntimeParser::ALL {
        let _ = write!(h, "<th>{}</th>", esc(p.name()));
    }
    h.push_str("</tr>");
    let mut losses = String::new();
    for (run, label) in runs.iter().zip(labels) {
        let m = crate::deploy::check(std::slice::from_ref(run), ds, &RuntimeParser::ALL).ok()?;
        let cells = &m.rows[0].cells;
        let reference = cells[0].accuracy.accuracy;
        let _ = write!(h, "<tr><td>{}</td>", esc(label));
        for c in cells {
            let lost = 100.0 * (reference - c.accuracy.accuracy);
            let _ = write!(h, "<td style=\"background:{}\">{}</td>", shade(lost), pct(c.accuracy.accuracy));
            for (kind, n) in &c.loss {
                let example = c.examples.iter().find(|e| e.kind == *kind).map(|e| e.id.clone()).unwrap_or_default();
                let _ = write!(
                    losses,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{n}</td><td>{}</td></tr>",
                    esc(label),
                    esc(&c.parser),
                    esc(kind.name()),
                    esc(&example)
                );
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    if !losses.is_empty() {
        let _ = write!(
            h,
            "<p>Parser loss: cases right as fgbench reads the output and wrong as the runtime does.</p>\
             <table><tr><th>run</th><th>parser</th><th>what the parser did</th><th>cases</th><th>for example</th></tr>{losses}</table>"
        );
    }
    Some(h)
}
