//! The deploy-check matrix as text or markdown: accuracy per rendering x parser, then each
//! runtime's parser loss with examples.

use super::Matrix;
use crate::table::{Align, Table};

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn tables(m: &Matrix) -> (Table, Table) {
    let mut acc = Table::new(&[
        ("rendering", Align::Left),
        ("parser", Align::Left),
        ("accuracy", Align::Right),
        ("95% CI", Align::Right),
        ("vs reference", Align::Right),
        ("McNemar p", Align::Right),
        ("parser loss", Align::Right),
        ("gained", Align::Right),
    ]);
    let mut loss = Table::new(&[
        ("rendering", Align::Left),
        ("parser", Align::Left),
        ("kind", Align::Left),
        ("cases", Align::Right),
        ("example", Align::Left),
    ]);
    for row in &m.rows {
        for c in &row.cells {
            let lost: usize = c.loss.values().sum();
            acc.row(vec![
                row.prompt_style.clone(),
                c.parser.clone(),
                pct(c.accuracy.accuracy),
                format!("[{}, {}]", pct(c.accuracy.ci_low), pct(c.accuracy.ci_high)),
                format!("{:+.1} pts", 100.0 * c.vs_reference.delta),
                format!("{:.2e}", c.vs_reference.p_value),
                lost.to_string(),
                c.gained.to_string(),
            ]);
            for (kind, n) in &c.loss {
                let example = c.examples.iter().find(|e| e.kind == *kind).map(|e| {
                    let calls = |cs: &[crate::codec::Call]| serde_json::to_string(cs).unwrap_or_default();
                    format!("{}: fgbench {} -> {} {}", e.id, calls(&e.fgbench_calls), c.parser, calls(&e.runtime_calls))
                });
                loss.row(vec![row.prompt_style.clone(), c.parser.clone(), kind.name().into(), n.to_string(), example.unwrap_or_default()]);
            }
        }
    }
    (acc, loss)
}

pub fn text(m: &Matrix) -> String {
    let (acc, loss) = tables(m);
    let mut out = format!("deploy-check ({}); reference: {} read by {}\n\n", m.scorer, m.rows[0].prompt_style, m.parsers[0]);
    out.push_str(&acc.text());
    out.push_str("\nparser loss (right as fgbench reads the output, wrong as the runtime does):\n");
    out.push_str(&loss.text());
    out
}

pub fn markdown(m: &Matrix) -> String {
    let (acc, loss) = tables(m);
    format!(
        "### Deployment check ({})\n\nReference: the `{}` rendering read by `{}`.\n\n{}\n**Parser loss** (right as fgbench reads the output, wrong as the runtime does):\n\n{}",
        m.scorer,
        m.rows[0].prompt_style,
        m.parsers[0],
        acc.markdown(),
        loss.markdown()
    )
}
