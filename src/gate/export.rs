//! The gate's verdict in the files CI systems read: JUnit XML (one test case per check, as
//! Jenkins, GitLab and GitHub test reporters read it) and the Bencher Metric Format (JSON
//! for continuous benchmarking: accuracy per category and the latency and throughput
//! measures, each with lower and upper bounds).

use std::fmt::Write;

use serde_json::{Map, Value, json};

use super::{Check, Decision, GateReport};

/// JUnit XML: a `testsuite` named `fgbench gate` with one `testcase` per check; a failed
/// check is a `<failure>`, an inconclusive one `<skipped>` (or a failure under
/// `fail_on_inconclusive`, as the report's decision says).
pub fn junit(r: &GateReport) -> String {
    let failures = r.checks.iter().filter(|c| c.decision == Decision::Fail).count();
    let skipped = r.checks.iter().filter(|c| c.decision == Decision::Inconclusive).count();
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(o, "<testsuites name=\"fgbench\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">", r.checks.len());
    let _ = writeln!(
        o,
        "  <testsuite name=\"fgbench gate\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" errors=\"0\">",
        r.checks.len()
    );
    if !r.setting_differences.is_empty() {
        o.push_str("    <properties>\n");
        for d in &r.setting_differences {
            let _ = writeln!(o, "      <property name=\"setting difference\" value=\"{}\"/>", xml(d));
        }
        o.push_str("    </properties>\n");
    }
    for c in &r.checks {
        let _ = write!(o, "    <testcase classname=\"fgbench.gate\" name=\"{}\">", xml(&c.metric));
        let body = format!(
            "{} -> {} (change {}, 95% CI {}); threshold {}; {}",
            value(c, c.baseline),
            value(c, c.current),
            change(c),
            ci(c),
            c.threshold,
            c.detail
        );
        match c.decision {
            Decision::Pass => {
                let _ = write!(o, "<system-out>{}</system-out>", xml(&body));
            }
            Decision::Fail => {
                let _ = write!(
                    o,
                    "<failure message=\"{}\" type=\"regression\">{}</failure>",
                    xml(&format!("{} regressed", c.metric)),
                    xml(&body)
                );
            }
            Decision::Inconclusive if r.fail_on_inconclusive => {
                let _ = write!(
                    o,
                    "<failure message=\"{}\" type=\"inconclusive\">{}</failure>",
                    xml(&format!("{} could not be decided", c.metric)),
                    xml(&body)
                );
            }
            Decision::Inconclusive => {
                let _ = write!(o, "<skipped message=\"{}\"/>", xml(&format!("inconclusive: {body}")));
            }
        }
        o.push_str("</testcase>\n");
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

/// Bencher Metric Format: `{benchmark: {measure: {value, lower_value, upper_value}}}`.
/// Benchmarks are `accuracy/<category>` (value in percent, bounds the Wilson interval) and
/// `latency` (each timing metric of the current run, bounds its 95% interval).
pub fn bmf(r: &GateReport) -> Value {
    let mut out = Map::new();
    for c in &r.checks {
        if let Some(category) = c.metric.strip_prefix("accuracy ") {
            let [lo, hi] = c.current_ci.unwrap_or([c.current, c.current]);
            out.insert(
                format!("accuracy/{category}"),
                json!({"accuracy_pct": {"value": 100.0 * c.current, "lower_value": 100.0 * lo, "upper_value": 100.0 * hi}}),
            );
        } else {
            // The interval is of current/baseline: scale it back to the current value.
            let (lo, hi) = match (c.ci_low, c.ci_high) {
                (Some(l), Some(h)) if c.baseline.is_finite() => (l * c.baseline, h * c.baseline),
                _ => (c.current, c.current),
            };
            let entry = out.entry("latency").or_insert_with(|| json!({}));
            entry[c.metric.as_str()] = json!({"value": c.current, "lower_value": lo, "upper_value": hi});
        }
    }
    Value::Object(out)
}

fn value(c: &Check, v: f64) -> String {
    if c.metric.starts_with("accuracy") { format!("{:.1}%", 100.0 * v) } else { format!("{v:.1}") }
}

fn change(c: &Check) -> String {
    if c.metric.starts_with("accuracy") { format!("{:+.1} pts", 100.0 * c.change) } else { format!("x{:.3}", c.change) }
}

fn ci(c: &Check) -> String {
    match (c.ci_low, c.ci_high) {
        (Some(l), Some(h)) => format!("[{l:.3}, {h:.3}]"),
        _ => "-".into(),
    }
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(metric: &str, decision: Decision) -> Check {
        Check {
            metric: metric.into(),
            baseline: 0.8,
            current: 0.7,
            change: -0.1,
            ci_low: Some(0.6),
            ci_high: Some(0.78),
            threshold: "t".into(),
            decision,
            detail: "d <&>".into(),
            current_ci: Some([0.6, 0.78]),
        }
    }

    #[test]
    fn junit_has_a_testcase_per_check_with_failures_and_skips() {
        let r = GateReport {
            checks: vec![
                check("accuracy overall", Decision::Fail),
                check("accuracy simple", Decision::Pass),
                check("e2e_ms_p95", Decision::Inconclusive),
            ],
            decision: Decision::Fail,
            fail_on_inconclusive: false,
            setting_differences: vec!["threads 2 vs 4".into()],
        };
        let x = junit(&r);
        assert!(x.contains("<property name=\"setting difference\" value=\"threads 2 vs 4\"/>"), "{x}");
        assert!(x.contains("tests=\"3\" failures=\"1\" skipped=\"1\""), "{x}");
        assert_eq!(x.matches("<testcase ").count(), 3);
        assert!(x.contains("<failure message=\"accuracy overall regressed\" type=\"regression\">"), "{x}");
        assert!(x.contains("<skipped message=\"inconclusive:"), "{x}");
        assert!(x.contains("d &lt;&amp;&gt;"), "escaped: {x}");
        let strict = junit(&GateReport { fail_on_inconclusive: true, ..r });
        assert!(strict.contains("type=\"inconclusive\""), "{strict}");
    }

    #[test]
    fn bmf_has_accuracy_per_category_and_latency_measures_with_bounds() {
        let mut lat = check("e2e_ms_p95", Decision::Pass);
        (lat.baseline, lat.current, lat.ci_low, lat.ci_high) = (100.0, 110.0, Some(1.0), Some(1.2));
        let r = GateReport {
            checks: vec![check("accuracy overall", Decision::Pass), lat],
            decision: Decision::Pass,
            fail_on_inconclusive: false,
            setting_differences: Vec::new(),
        };
        let b = bmf(&r);
        assert_eq!(b["accuracy/overall"]["accuracy_pct"]["value"].as_f64().unwrap().round(), 70.0);
        assert_eq!(b["accuracy/overall"]["accuracy_pct"]["lower_value"].as_f64().unwrap().round(), 60.0);
        assert_eq!(b["latency"]["e2e_ms_p95"]["value"], 110.0);
        assert_eq!(b["latency"]["e2e_ms_p95"]["upper_value"].as_f64().unwrap().round(), 120.0);
    }
}
