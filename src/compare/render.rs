//! A comparison as a terminal table or as markdown for a pull-request comment.

use std::fmt::Write;

use super::{Comparison, Paired};

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn acc_cell(p: &Paired, a: bool) -> String {
    let acc = if a { &p.a } else { &p.b };
    format!("{} [{}, {}]", pct(acc.accuracy), pct(acc.ci_low), pct(acc.ci_high))
}

fn shorten(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', "\\n");
    if one_line.chars().count() <= n { one_line } else { format!("{}…", one_line.chars().take(n).collect::<String>()) }
}

/// The format-health rows shown for A and B.
fn format_rows(c: &Comparison) -> [(&'static str, f64, f64); 3] {
    [
        ("calls", c.format_a.call_rate, c.format_b.call_rate),
        ("parse errors", c.format_a.parse_error_rate, c.format_b.parse_error_rate),
        ("prose, no call", c.format_a.prose_rate, c.format_b.prose_rate),
    ]
}

/// Rows of the accuracy table: each category, then overall.
fn accuracy_rows(c: &Comparison) -> Vec<(String, &Paired)> {
    c.categories.iter().map(|(k, v)| (k.clone(), v)).chain(std::iter::once(("overall".to_string(), &c.overall))).collect()
}

pub fn table(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "A: {}\nB: {}", c.a, c.b);
    if let Some(n) = &c.subset_note {
        let _ = writeln!(o, "note: {n}");
    }
    let _ = writeln!(o, "\n{}\n", c.verdict);
    let w = c.categories.keys().map(String::len).max().unwrap_or(8).max(8);
    let _ = writeln!(
        o,
        "{:<w$}  {:>5}  {:>24}  {:>24}  {:>7}  {:>5}  {:>6}  {:>8}",
        "category", "n", "A (95% CI)", "B (95% CI)", "delta", "fixed", "broken", "p"
    );
    for (name, p) in accuracy_rows(c) {
        let _ = writeln!(
            o,
            "{:<w$}  {:>5}  {:>24}  {:>24}  {:>+6.1}  {:>5}  {:>6}  {:>8.4}",
            name,
            p.n,
            acc_cell(p, true),
            acc_cell(p, false),
            100.0 * p.delta,
            p.fixed,
            p.broken,
            p.p_value
        );
    }
    if let Some(r) = &c.pass_rates {
        let _ = writeln!(o, "\n{}", pass_rate_line(r));
    }
    for (name, p) in &c.by_skeleton {
        let _ = writeln!(
            o,
            "skeleton {name:<18} {:>5}  {:>24}  {:>24}  {:>+6.1}  p {:.4}",
            p.n,
            acc_cell(p, true),
            acc_cell(p, false),
            100.0 * p.delta,
            p.p_value
        );
    }
    if !c.robustness.is_empty() {
        let _ = writeln!(o, "\nrobustness (change under each perturbation, paired with its own run):");
        let _ = writeln!(o, "{:<20} {:>22} {:>22}", "perturbation", "A", "B");
        for r in &c.robustness {
            let _ = writeln!(o, "{:<20} {:>22} {:>22}", r.perturbation, robustness_cell(r.a.as_ref()), robustness_cell(r.b.as_ref()));
        }
    }
    let _ = writeln!(o, "\nformat            A        B");
    for (name, a, b) in format_rows(c) {
        let _ = writeln!(o, "{name:<14} {:>7} {:>8}", pct(a), pct(b));
    }
    let _ = writeln!(
        o,
        "abstentions    {:>3} right / {:>3} wrong -> {:>3} right / {:>3} wrong",
        c.format_a.correct_abstentions, c.format_a.wrong_abstentions, c.format_b.correct_abstentions, c.format_b.wrong_abstentions
    );
    if !c.timing.is_empty() {
        let _ = writeln!(o, "\ntiming               A          B      B-A   95% CI of B-A");
        for d in &c.timing {
            let ci = d.ci_text().unwrap_or_else(|| "-".into());
            let _ = writeln!(o, "{:<18} {:>8.1} {:>10.1} {:>+8.1}   {ci}", d.metric, d.a, d.b, d.delta);
        }
    }
    let _ = writeln!(o, "\ntransitions (A -> B):");
    for (from, tos) in &c.transitions {
        for (to, n) in tos {
            if from != to {
                let _ = writeln!(o, "  {n:>5}  {from} -> {to}");
            }
        }
    }
    for (title, list) in [("fixed (A wrong, B right)", &c.fixed), ("broken (A right, B wrong)", &c.broken)] {
        let _ = writeln!(o, "\n{title}: {}", list.len());
        for ch in list.iter().take(20) {
            let _ =
                writeln!(o, "  {} [{}]\n    A: {}\n    B: {}", ch.id, ch.category, shorten(&ch.a_output, 100), shorten(&ch.b_output, 100));
            if let Some(e) = &ch.expected {
                let _ = writeln!(o, "    expected: {}", shorten(&e.to_string(), 100));
            }
        }
        if list.len() > 20 {
            let _ = writeln!(o, "  ... and {} more (--format json lists all)", list.len() - 20);
        }
    }
    let flagged: Vec<_> = c.manifests.iter().filter(|r| r.differs).collect();
    if !flagged.is_empty() {
        let _ = writeln!(o, "\nsettings that differ:");
        for r in flagged {
            let _ = writeln!(o, "  {}{}: {} | {}", if r.unfair { "UNFAIR " } else { "" }, r.field, r.a, r.b);
        }
    }
    o
}

/// A perturbation's effect on one run: accuracy after, and the change in points.
fn robustness_cell(r: Option<&crate::perturb::robustness::Robustness>) -> String {
    r.map(|r| format!("{} ({:+.1}, p {:.3})", pct(r.perturbed.accuracy), 100.0 * r.delta, r.p_value)).unwrap_or_else(|| "-".into())
}

/// Repeated runs in one line: mean per-case pass rates, their paired difference and test.
pub fn pass_rate_line(r: &super::PassRates) -> String {
    let ci = match (r.ci_low, r.ci_high) {
        (Some(l), Some(h)) => format!(" [{:+.1}, {:+.1}]", 100.0 * l, 100.0 * h),
        _ => String::new(),
    };
    format!(
        "pass rate over repeats ({} cases, {} / {} runs each): A {}, B {}, B-A {:+.1} points{ci}, paired sign-flip p{}",
        r.cases,
        r.runs_a,
        r.runs_b,
        pct(r.a),
        pct(r.b),
        100.0 * r.delta,
        super::fmt_p(r.p_value)
    )
}

fn md_escape(s: &str) -> String {
    shorten(s, 120).replace('|', "\\|").replace('`', "'").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn markdown(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "### fgbench compare\n\n**{}**\n", c.verdict);
    let _ = writeln!(o, "- A: `{}`\n- B: `{}`", c.a, c.b);
    if let Some(n) = &c.subset_note {
        let _ = writeln!(o, "- note: {n}");
    }
    let _ = writeln!(o, "\n| category | n | A | B | delta | fixed | broken | McNemar p |\n|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, p) in accuracy_rows(c) {
        let bold = if name == "overall" { "**" } else { "" };
        let _ = writeln!(
            o,
            "| {bold}{name}{bold} | {} | {} | {} | {:+.1} | {} | {} | {:.4} |",
            p.n,
            acc_cell(p, true),
            acc_cell(p, false),
            100.0 * p.delta,
            p.fixed,
            p.broken,
            p.p_value
        );
    }
    if let Some(r) = &c.pass_rates {
        let _ = writeln!(o, "\n{}", pass_rate_line(r));
    }
    if !c.by_skeleton.is_empty() {
        let _ = writeln!(o, "\n| request skeleton | n | A | B | delta | McNemar p |\n|---|---:|---:|---:|---:|---:|");
        for (name, p) in &c.by_skeleton {
            let _ = writeln!(
                o,
                "| {name} | {} | {} | {} | {:+.1} | {:.4} |",
                p.n,
                acc_cell(p, true),
                acc_cell(p, false),
                100.0 * p.delta,
                p.p_value
            );
        }
    }
    if !c.robustness.is_empty() {
        let _ = writeln!(o, "\n| perturbation | A: accuracy (change, p) | B: accuracy (change, p) |\n|---|---:|---:|");
        for r in &c.robustness {
            let _ = writeln!(o, "| {} | {} | {} |", r.perturbation, robustness_cell(r.a.as_ref()), robustness_cell(r.b.as_ref()));
        }
    }
    let _ = writeln!(o, "\n| format | A | B |\n|---|---:|---:|");
    for (name, a, b) in format_rows(c) {
        let _ = writeln!(o, "| {name} | {} | {} |", pct(a), pct(b));
    }
    let _ = writeln!(
        o,
        "| right / wrong abstentions | {} / {} | {} / {} |",
        c.format_a.correct_abstentions, c.format_a.wrong_abstentions, c.format_b.correct_abstentions, c.format_b.wrong_abstentions
    );
    if !c.timing.is_empty() {
        let _ = writeln!(o, "\n| timing | A | B | B-A (95% CI) |\n|---|---:|---:|---:|");
        for d in &c.timing {
            let ci = d.ci_text().map(|t| format!(" {t}")).unwrap_or_default();
            let _ = writeln!(o, "| {} | {:.1} | {:.1} | {:+.1}{ci} |", d.metric, d.a, d.b, d.delta);
        }
    }
    let moved: Vec<(&String, &String, usize)> = c
        .transitions
        .iter()
        .flat_map(|(from, tos)| tos.iter().filter(move |(to, _)| *to != from).map(move |(to, n)| (from, to, *n)))
        .collect();
    if !moved.is_empty() {
        let _ = writeln!(o, "\n| outcome in A | outcome in B | cases |\n|---|---|---:|");
        for (from, to, n) in moved {
            let _ = writeln!(o, "| {from} | {to} | {n} |");
        }
    }
    for (title, list) in [("Fixed (A wrong, B right)", &c.fixed), ("Broken (A right, B wrong)", &c.broken)] {
        let _ = writeln!(
            o,
            "\n<details><summary>{title}: {}</summary>\n\n| id | category | expected | A | B |\n|---|---|---|---|---|",
            list.len()
        );
        for ch in list {
            let expected = ch.expected.as_ref().map(|e| md_escape(&e.to_string())).unwrap_or_default();
            let _ = writeln!(o, "| {} | {} | {expected} | {} | {} |", ch.id, ch.category, md_escape(&ch.a_output), md_escape(&ch.b_output));
        }
        let _ = writeln!(o, "\n</details>");
    }
    let flagged: Vec<_> = c.manifests.iter().filter(|r| r.differs).collect();
    if !flagged.is_empty() {
        let _ = writeln!(o, "\n| setting | A | B |\n|---|---|---|");
        for r in flagged {
            let _ = writeln!(o, "| {}{} | {} | {} |", if r.unfair { "⚠ " } else { "" }, r.field, md_escape(&r.a), md_escape(&r.b));
        }
    }
    o
}
