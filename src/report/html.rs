//! The self-contained report page: inline CSS and JS, charts as data: URIs, no external
//! references, readable on a phone (responsive layout, scrollable tables).

use std::fmt::Write;

use base64::Engine as _;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

pub fn img(title: &str, png: &[u8]) -> String {
    format!(
        "<figure><img class=\"chart\" alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>",
        esc(title),
        base64::engine::general_purpose::STANDARD.encode(png),
        esc(title)
    )
}

/// One per-case row: the visible cells and the details shown when it is opened.
pub struct CaseRow {
    pub id: String,
    pub category: String,
    pub verdicts: Vec<String>,
    /// `fixed`, `broken`, `right`, `wrong` (with two runs) or `right` / `wrong` (one run).
    pub change: String,
    pub prompt: Option<String>,
    pub outputs: Vec<String>,
    pub calls: Vec<String>,
    pub accepted: Option<String>,
}

const STYLE: &str = r#"
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dee7;--ok:#1e8449;--bad:#b03a2e;--bg:#fff}
*{box-sizing:border-box}body{font:15px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1100px;padding:16px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid var(--line);padding-bottom:.2em}
.verdict{font-size:1.1em;background:#f3f6fb;border-left:4px solid #4271c4;padding:10px 14px;margin:12px 0}
.meta{color:var(--muted);font-size:.9em}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.92em}th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f7f8fa;position:sticky;top:0}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}.unfair{color:var(--bad)}
figure{margin:12px 0}img.chart{max-width:100%;height:auto;border:1px solid var(--line)}figcaption{color:var(--muted);font-size:.85em}
.filters{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.filters label{font-size:.9em}select{font-size:.95em;padding:3px}
details pre{white-space:pre-wrap;word-break:break-word;background:#f7f8fa;padding:8px;border:1px solid var(--line);font-size:.85em;max-height:320px;overflow:auto}
summary{cursor:pointer}
"#;

const SCRIPT: &str = r#"
function applyFilters(){
  var c=document.getElementById('f-cat').value, v=document.getElementById('f-verdict').value, ch=document.getElementById('f-change').value, n=0;
  document.querySelectorAll('tr.case').forEach(function(r){
    var show=(!c||r.dataset.category===c)&&(!v||r.dataset.verdict===v)&&(!ch||r.dataset.change===ch);
    r.style.display=show?'':'none'; var d=r.nextElementSibling; if(d&&d.classList.contains('detail')) d.style.display=show?'':'none'; if(show) n++;
  });
  document.getElementById('shown').textContent=n;
}
function chartsLoaded(){
  var imgs=document.querySelectorAll('img.chart'), ok=0;
  imgs.forEach(function(i){ if(i.complete&&i.naturalWidth>0) ok++; });
  document.body.setAttribute('data-charts-loaded', ok+'/'+imgs.length);
}
window.addEventListener('load', function(){ chartsLoaded(); applyFilters(); });
"#;

pub struct Page {
    pub title: String,
    pub verdict: String,
    pub meta: Vec<String>,
    pub sections: Vec<(String, String)>,
    pub run_labels: Vec<String>,
    pub rows: Vec<CaseRow>,
}

fn options(values: &[String]) -> String {
    values.iter().map(|v| format!("<option value=\"{0}\">{0}</option>", esc(v))).collect()
}

pub fn render(p: &Page) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&p.title)
    );
    let _ = write!(o, "<h1>{}</h1><div class=\"verdict\">{}</div>", esc(&p.title), esc(&p.verdict));
    for m in &p.meta {
        let _ = write!(o, "<div class=\"meta\">{}</div>", esc(m));
    }
    for (title, html) in &p.sections {
        let _ = write!(o, "<h2>{}</h2>{html}", esc(title));
    }
    let mut cats: Vec<String> = p.rows.iter().map(|r| r.category.clone()).collect();
    cats.sort();
    cats.dedup();
    let mut changes: Vec<String> = p.rows.iter().map(|r| r.change.clone()).collect();
    changes.sort();
    changes.dedup();
    let last = p.run_labels.len().saturating_sub(1);
    let _ = write!(
        o,
        "<h2>Cases</h2><div class=\"filters\"><label>category <select id=\"f-cat\" onchange=\"applyFilters()\"><option value=\"\">all</option>{}</select></label>\
<label>verdict ({}) <select id=\"f-verdict\" onchange=\"applyFilters()\"><option value=\"\">all</option><option value=\"valid\">valid</option><option value=\"invalid\">invalid</option></select></label>\
<label>change <select id=\"f-change\" onchange=\"applyFilters()\"><option value=\"\">all</option>{}</select></label>\
<span class=\"meta\"><span id=\"shown\">{}</span> shown</span></div><div class=\"scroll\"><table><thead><tr><th>id</th><th>category</th>",
        options(&cats),
        esc(p.run_labels.get(last).map(String::as_str).unwrap_or("")),
        options(&changes),
        p.rows.len()
    );
    for l in &p.run_labels {
        let _ = write!(o, "<th>{}</th>", esc(l));
    }
    let _ = write!(o, "<th>change</th></tr></thead><tbody>");
    let cols = 3 + p.run_labels.len();
    for r in &p.rows {
        let verdict = if r.verdicts.get(last).is_some_and(|v| v == "valid") { "valid" } else { "invalid" };
        let _ = write!(
            o,
            "<tr class=\"case\" data-category=\"{}\" data-verdict=\"{verdict}\" data-change=\"{}\"><td>{}</td><td>{}</td>",
            esc(&r.category),
            esc(&r.change),
            esc(&r.id),
            esc(&r.category)
        );
        for v in &r.verdicts {
            let class = if v == "valid" { "ok" } else { "bad" };
            let _ = write!(o, "<td class=\"{class}\">{}</td>", esc(v));
        }
        let _ = write!(
            o,
            "<td>{}</td></tr><tr class=\"detail\"><td colspan=\"{cols}\"><details><summary>prompt, outputs, calls, accepted answers</summary>",
            esc(&r.change)
        );
        if let Some(prompt) = &r.prompt {
            let _ = write!(o, "<div>prompt</div><pre>{}</pre>", esc(prompt));
        }
        for (i, l) in p.run_labels.iter().enumerate() {
            let _ = write!(
                o,
                "<div>{} raw output</div><pre>{}</pre><div>{} parsed calls</div><pre>{}</pre>",
                esc(l),
                esc(r.outputs.get(i).map(String::as_str).unwrap_or("")),
                esc(l),
                esc(r.calls.get(i).map(String::as_str).unwrap_or(""))
            );
        }
        if let Some(a) = &r.accepted {
            let _ = write!(o, "<div>accepted answers</div><pre>{}</pre>", esc(a));
        }
        let _ = write!(o, "</details></td></tr>");
    }
    let _ = write!(
        o,
        "</tbody></table></div><p class=\"meta\">Generated by fgbench {}.</p><script>{SCRIPT}</script></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    o
}
