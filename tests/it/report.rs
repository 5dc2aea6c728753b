//! `fgbench report` through the binary: the page is self-contained (no external references),
//! carries its charts, and renders in a real headless browser with every chart loaded.

use std::path::Path;
use std::process::Command;

use crate::cli::{fgbench, repo_file, stderr, stdout};

fn report(dir: &Path) -> std::path::PathBuf {
    let (a, b) = crate::compare::two_runs(dir);
    let out = dir.join("report");
    let o = fgbench(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--compare",
        "--out",
        out.to_str().unwrap(),
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("B is better overall"), "{}", stdout(&o));
    out
}

#[test]
fn report_is_self_contained_with_charts_and_cases() {
    let dir = tempfile::tempdir().unwrap();
    let out = report(dir.path());
    for png in ["accuracy.png", "errors.png", "latency_hist.png", "latency_cdf.png", "ttft_vs_prompt.png", "ttft_vs_tools.png"] {
        let bytes = std::fs::read(out.join(png)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png} is a PNG");
        assert!(bytes.len() > 5_000, "{png} has content ({} bytes)", bytes.len());
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    // No external scripts, styles, fonts or images: everything is inline or a data: URI.
    for needle in ["src=\"http", "href=\"http", "url(http", "<link", "<script src", "@import", "src=\"//", "src=\"file"] {
        assert!(!html.contains(needle), "external reference `{needle}` in the report");
    }
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 6);
    assert!(html.contains("B is better overall"));
    // The per-case table with its details: prompt, outputs, calls, accepted answers.
    for id in ["demo_multiple_0", "demo_irrelevance_0", "demo_irrelevance_1", "demo_simple_0"] {
        assert!(html.contains(&format!(">{id}<")), "{id} row");
    }
    assert!(html.contains("data-change=\"fixed\"") && html.contains("data-change=\"broken\""));
    assert!(html.contains("Convert 5 gallons to litres."), "prompt of the case");
    assert!(html.contains("&quot;convert_units&quot;"), "accepted answers");
    // Each run read by every runtime's parser: B's right call has a bare number (`value:5`),
    // which vLLM drops, so vLLM's cell is shaded and its loss is listed.
    let runtimes = &html[html.find("<h2>Behind each runtime</h2>").expect("the runtimes section")..];
    for parser in ["fgbench", "vllm", "ollama", "mlx", "llama-server"] {
        assert!(runtimes.contains(&format!("<th>{parser}</th>")), "{parser} column");
    }
    assert!(runtimes.contains("<td>vllm</td><td>dropped argument</td><td>1</td><td>demo_multiple_0</td>"), "{runtimes}");
}

#[test]
fn report_errors_name_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let o = fgbench(&["report", dir.path().to_str().unwrap(), "--out", dir.path().join("r").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has no results.jsonl"), "{}", stderr(&o));
    let (a, _) = crate::compare::two_runs(dir.path());
    let o = fgbench(&["report", a.to_str().unwrap(), "--compare", "--out", dir.path().join("r").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("one run, or two with --compare"), "{}", stderr(&o));
}

/// Debian's Chromium, installed when missing (as root; scripts/apt-install.sh serializes the
/// installs of tests running at once).
fn chromium() -> String {
    if Path::new("/usr/bin/chromium").exists() {
        return "/usr/bin/chromium".into();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/apt-install.sh");
    let ok = Command::new("bash").arg(script).arg("chromium").status().map(|s| s.success()).unwrap_or(false);
    assert!(ok && Path::new("/usr/bin/chromium").exists(), "could not install Debian's chromium");
    "/usr/bin/chromium".into()
}

#[test]
fn report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = report(dir.path());
    let browser = chromium();
    let profile = dir.path().join("profile");
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ];
    let url = format!("file://{}", out.join("index.html").display());
    let dom = Command::new(&browser)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The page's own script counts the chart images that decoded with a real size.
    assert!(dom.contains("data-charts-loaded=\"6/6\""), "charts did not all load: {}", dom.chars().take(300).collect::<String>());
    assert!(dom.contains("<span id=\"shown\">4</span>"), "the filter script ran");
    let shot = out.join("screenshot.png");
    let o = Command::new(&browser)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--window-size=1100,2400", "--virtual-time-budget=5000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.is_file(), "no screenshot: {}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&shot).unwrap();
    assert!(bytes.len() > 50_000, "screenshot looks empty ({} bytes)", bytes.len());
    if let Some(keep) = std::env::var_os("FGBENCH_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
