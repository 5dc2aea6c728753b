//! End-to-end tests through the real `fgbench` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fgbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fgbench")).args(args).output().expect("run fgbench")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn repo_file(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel).to_string_lossy().into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

const CALL_OK: &str =
    "<start_function_call>call:convert_units{from_unit:<escape>gal<escape>,to_unit:<escape>l<escape>,value:5}<end_function_call>";

#[test]
fn render_prints_the_exact_prompt() {
    let o = fgbench(&["render", "--dataset", &repo_file("datasets/demo.jsonl"), "--id", "demo_multiple_0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = stdout(&o);
    assert!(p.starts_with("<bos><start_of_turn>developer\nYou are a model that can do function calling with the following functions<start_function_declaration>declaration:set_thermostat{"));
    assert_eq!(p.matches("<start_function_declaration>").count(), 3);
    assert!(p.ends_with("<start_of_turn>user\nConvert 5 gallons to litres.<end_of_turn>\n<start_of_turn>model\n"));
}

#[test]
fn render_unknown_id_is_a_clear_error() {
    let o = fgbench(&["render", "--dataset", &repo_file("datasets/demo.jsonl"), "--id", "nope_42"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no case with id `nope_42`"), "{}", stderr(&o));
}

#[test]
fn score_reports_verdicts_problems_and_missing_cases() {
    let dir = tempfile::tempdir().unwrap();
    let wrong =
        "<start_function_call>call:track_parcel{carrier:<escape>dhl<escape>,tracking_number:<escape>JD0146<escape>}<end_function_call>";
    let preds = write(
        dir.path(),
        "p.jsonl",
        &[
            format!("{}", serde_json::json!({"id": "demo_multiple_0", "output": CALL_OK, "ttft_ms": 12.5})),
            format!("{}", serde_json::json!({"id": "demo_multiple_1", "output": wrong})),
            "{not json".to_string(),
            format!("{}", serde_json::json!({"id": "no_such_case", "output": ""})),
            format!("{}", serde_json::json!({"id": "demo_multiple_0", "output": "dup"})),
            format!("{}", serde_json::json!({"id": "demo_irrelevance_0", "output": "Canberra."})),
            format!("{}", serde_json::json!({"id": "demo_simple_0", "output": "<start_function_call>call:set_thermostat{room:<escape>x"})),
        ]
        .join("\n"),
    );
    let results = dir.path().join("results.jsonl");
    let o = fgbench(&[
        "score",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--predictions",
        &preds,
        "--out",
        results.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("p.jsonl:3: malformed prediction"), "{err}");
    assert!(err.contains("p.jsonl:4: unknown case id `no_such_case`"), "{err}");
    assert!(err.contains("p.jsonl:5: duplicate prediction for `demo_multiple_0` (first on line 1)"), "{err}");

    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(s["scored"], 4);
    assert_eq!(s["total_cases"], 48);
    assert_eq!(s["missing"].as_array().unwrap().len(), 44);
    assert_eq!(s["overall"]["correct"], 2);
    assert_eq!(s["categories"]["multiple"]["correct"], 1);
    assert_eq!(s["categories"]["irrelevance"]["correct"], 1);
    assert_eq!(s["error_types"]["value_error:string"], 1);
    assert_eq!(s["error_types"]["parse_error"], 1);
    assert_eq!(s["format"]["malformed"], 1);
    assert_eq!(s["format"]["correct_abstentions"], 1);

    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&results).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["id"], "demo_multiple_0");
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[0]["ttft_ms"], 12.5);
    assert_eq!(lines[0]["calls"][0]["args"]["value"], 5);
    assert_eq!(lines[1]["error_type"], "value_error:string");
    let parse_error = lines[3]["parse_error"].as_str().unwrap();
    assert!(parse_error.starts_with("unterminated call") && parse_error.ends_with("at byte 0"), "{parse_error}");

    let strict = fgbench(&["score", "--dataset", &repo_file("datasets/demo.jsonl"), "--predictions", &preds, "--strict"]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(stderr(&strict).contains("--strict: 47 problem(s)"), "{}", stderr(&strict));
}

#[test]
fn score_table_and_csv_formats() {
    let args = ["score", "--dataset", &repo_file("datasets/demo.jsonl"), "--predictions", &repo_file("datasets/demo.predictions.jsonl")];
    let table = fgbench(&args);
    assert!(table.status.success());
    let t = stdout(&table);
    assert!(t.contains("overall") && t.contains("95% CI") && t.contains("parse-error rate"), "{t}");
    let csv = fgbench(&[&args[..], &["--format", "csv"]].concat());
    let c = stdout(&csv);
    assert!(c.starts_with("category,n,correct,accuracy,ci_low,ci_high\n"), "{c}");
    assert_eq!(c.lines().count(), 1 + 5 + 1);
}

/// `render` loads whole cases; `score` reads only answer keys: both name the same line and
/// fault.
#[test]
fn bad_dataset_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(repo_file("datasets/demo.jsonl")).unwrap();
    let first = good.lines().next().unwrap();
    let preds = repo_file("datasets/demo.predictions.jsonl");
    let refused = |ds: &str, want: &str| {
        for o in
            [fgbench(&["render", "--dataset", ds, "--id", "demo_simple_0"]), fgbench(&["score", "--dataset", ds, "--predictions", &preds])]
        {
            assert_eq!(o.status.code(), Some(2));
            assert!(stderr(&o).contains(want), "want `{want}`: {}", stderr(&o));
        }
    };
    refused(&write(dir.path(), "d.jsonl", &format!("{first}\n{{\"schema\": \"fgbench.case/1\", \"id\": 3\n")), "d.jsonl:2: malformed case");
    refused(
        &write(dir.path(), "f.jsonl", &first.replace("fgbench.case/1", "fgbench.case/9")),
        "f.jsonl:1: unsupported case schema `fgbench.case/9`",
    );
    refused(
        &write(dir.path(), "dup.jsonl", &format!("{first}\n{first}\n")),
        "dup.jsonl:2: duplicate case id `demo_simple_0` (first seen on line 1)",
    );
    let no_tools = first.replacen("\"tools\": [{", "\"tools\": [], \"x\": [{", 1);
    refused(&write(dir.path(), "nt.jsonl", &no_tools), "nt.jsonl:1: case `demo_simple_0` has no tools");
    let unnamed = first.replacen("\"name\": \"set_thermostat\"", "\"name\": 7", 1);
    assert_ne!(unnamed, first);
    refused(&write(dir.path(), "un.jsonl", &unnamed), "un.jsonl:1: case `demo_simple_0`: tool #0 has no `name`");
    refused(&write(dir.path(), "empty.jsonl", "\n  \n"), "holds no cases");
}

/// A miniature BFCL data folder in the wheel's layout.
fn bfcl_fixture(dir: &Path) {
    let entry = |id: &str| {
        serde_json::json!({"id": id, "question": [[{"role": "user", "content": "Area of a 3 by 4 rectangle?"}]],
            "function": [{"name": "geo.area", "description": "Area.", "parameters": {"type": "dict",
            "properties": {"w": {"type": "integer", "description": "Width."}, "h": {"type": "integer", "description": "Height."}},
            "required": ["w", "h"]}}]})
        .to_string()
    };
    let data = dir.join("bfcl_eval/data");
    write(&data, "BFCL_v4_simple_python.json", &format!("{}\n{}\n", entry("simple_python_0"), entry("simple_python_1")));
    write(
        &data,
        "possible_answer/BFCL_v4_simple_python.json",
        "{\"id\": \"simple_python_0\", \"ground_truth\": [{\"geo.area\": {\"w\": [3], \"h\": [4]}}]}\n{\"id\": \"simple_python_1\", \"ground_truth\": [{\"geo.area\": {\"w\": [4], \"h\": [3]}}]}\n",
    );
    write(&data, "BFCL_v4_irrelevance.json", &format!("{}\n", entry("irrelevance_0")));
}

#[test]
fn import_bfcl_writes_canonical_cases() {
    let dir = tempfile::tempdir().unwrap();
    bfcl_fixture(dir.path());
    let out = dir.path().join("bfcl.jsonl");
    let o = fgbench(&[
        "datasets",
        "import",
        "bfcl",
        "--from",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--categories",
        "simple_python,irrelevance",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cases: Vec<serde_json::Value> = std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(cases.len(), 3);
    assert_eq!(cases[0]["schema"], "fgbench.case/1");
    assert_eq!(cases[0]["kind"], "simple");
    assert_eq!(cases[1]["answers"][0]["geo.area"]["w"][0], 4);
    assert_eq!(cases[2]["kind"], "irrelevance");
    assert_eq!(cases[2]["answers"].as_array().unwrap().len(), 0);

    let unsupported = fgbench(&[
        "datasets",
        "import",
        "bfcl",
        "--from",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--categories",
        "simple_java",
    ]);
    assert_eq!(unsupported.status.code(), Some(2));
    assert!(stderr(&unsupported).contains("unsupported BFCL category `simple_java`"));

    let missing = fgbench(&[
        "datasets",
        "import",
        "bfcl",
        "--from",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--categories",
        "parallel",
    ]);
    assert!(stderr(&missing).contains("missing BFCL file") && stderr(&missing).contains("BFCL_v4_parallel.json"));
}

#[test]
fn import_bfcl_errors_name_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    bfcl_fixture(dir.path());
    let data = dir.path().join("bfcl_eval/data");
    let run = || {
        fgbench(&[
            "datasets",
            "import",
            "bfcl",
            "--from",
            dir.path().to_str().unwrap(),
            "--out",
            dir.path().join("o.jsonl").to_str().unwrap(),
            "--categories",
            "simple_python",
        ])
    };

    std::fs::write(
        data.join("possible_answer/BFCL_v4_simple_python.json"),
        "{\"id\": \"simple_python_0\", \"ground_truth\": [{\"geo.area\": {\"w\": [3], \"h\": [4]}}]}\n",
    )
    .unwrap();
    let o = run();
    assert!(stderr(&o).contains("BFCL_v4_simple_python.json:2: case `simple_python_1` has no answer"), "{}", stderr(&o));

    std::fs::write(data.join("possible_answer/BFCL_v4_simple_python.json"), "{\"id\": \"simple_python_0\", \n").unwrap();
    let o = run();
    assert!(stderr(&o).contains("possible_answer/BFCL_v4_simple_python.json:1: malformed line"), "{}", stderr(&o));

    std::fs::remove_file(data.join("possible_answer/BFCL_v4_simple_python.json")).unwrap();
    let o = run();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing answer file"), "{}", stderr(&o));
}

#[test]
fn every_test_the_flake_skips_exists() {
    // flake.nix's offline `checks` skip the tests that need the network by name: a rename
    // must not make them run (and fail) in the sandbox, or skip nothing.
    for skip in flake_skips() {
        let (module, name) = skip.split_once("::").unwrap_or((&skip, ""));
        let source = std::fs::read_to_string(repo_file(&format!("tests/it/{module}.rs")))
            .unwrap_or_else(|_| panic!("--skip={skip}: no tests/it/{module}.rs"));
        assert!(name.is_empty() || source.contains(&format!("fn {name}")), "--skip={skip}: no test `{name}` in tests/it/{module}.rs");
    }
}

// A test needs the network (PyPI, Debian) or a program the sandbox lacks when its body,
// or a helper it calls (in its file, or a `pub` one elsewhere), spells one of these
// (compared without whitespace).
const SANDBOX_LACKS: &[&str] = &[
    "\"fetch-demo\"",
    "\"--model\",\"demo\"",
    "fetch_bfcl(",
    "ensure_wheel(",
    "build-llama-server.sh",
    "setup-train-venv.sh",
    "apt-install.sh",
    "Command::new(\"python3\")",
    "\"ensure-venv\"",
    "clients/haskell/run.sh",
    "\"datasets\",\"fetch\"",
];

#[test]
fn the_flake_skips_every_test_that_needs_what_its_sandbox_lacks() {
    let items = test_items();
    let mut needs: Vec<bool> = items
        .iter()
        .map(|i| {
            let flat: String = i.body.chars().filter(|c| !c.is_whitespace()).collect();
            SANDBOX_LACKS.iter().any(|m| flat.contains(m))
        })
        .collect();
    loop {
        let used: Vec<&TestItem> = items.iter().zip(&needs).filter(|(_, n)| **n).map(|(i, _)| i).collect();
        let before = needs.clone();
        for (i, item) in items.iter().enumerate() {
            needs[i] |= used.iter().any(|u| (u.public || u.module == item.module) && u.name != item.name && uses(&item.body, &u.name));
        }
        if needs == before {
            break;
        }
    }
    let skips = flake_skips();
    let unskipped: Vec<String> = items
        .iter()
        .zip(&needs)
        .filter(|(i, n)| **n && i.is_test)
        .map(|(i, _)| format!("{}::{}", i.module, i.name))
        .filter(|path| {
            !skips
                .iter()
                .any(|s| path.starts_with(s.as_str()) && (path.len() == s.len() || s.ends_with("::") || path[s.len()..].starts_with("::")))
        })
        .collect();
    assert!(
        unskipped.is_empty(),
        "flake.nix's checks should --skip these (they need the network or a program the sandbox lacks): {unskipped:?}"
    );
}

/// Whether `body` calls the function `name` or names the type `name` (`name(`, `name::`).
fn uses(body: &str, name: &str) -> bool {
    body.match_indices(name).any(|(at, _)| {
        let before = body[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = &body[at + name.len()..];
        before && (after.starts_with('(') || after.starts_with("::"))
    })
}

fn flake_skips() -> Vec<String> {
    let flake = std::fs::read_to_string(repo_file("flake.nix")).unwrap();
    let skips: Vec<String> =
        flake.lines().filter_map(|l| l.trim().strip_prefix("\"--skip=")).map(|s| s.trim_end_matches('"').to_string()).collect();
    assert!(skips.len() >= 7, "{skips:?}");
    skips
}

/// One top-level item of a file under tests/it/: a function (a test or a helper) or an `impl`.
struct TestItem {
    module: String,
    name: String,
    public: bool,
    is_test: bool,
    body: String,
}

/// The items of every file under tests/it/, cut at the lines that start one at column 0.
fn test_items() -> Vec<TestItem> {
    let mut items = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(repo_file("tests/it")).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "rs"));
    files.push(PathBuf::from(repo_file("tests/it/support/mod.rs")));
    for path in files {
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut is_test = false;
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let head = line.strip_prefix("pub ").unwrap_or(line);
            let name = head
                .strip_prefix("fn ")
                .or_else(|| head.strip_prefix("impl "))
                .map(|r| r.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("").to_string());
            match name {
                Some(name) => {
                    items.push(TestItem { module: module.clone(), name, public: line.starts_with("pub "), is_test, body: String::new() });
                    is_test = false;
                }
                None if line.starts_with("#[test]") => is_test = true,
                None if !line.starts_with(' ') && !line.starts_with('}') && !line.starts_with("#[") && !line.trim().is_empty() => {
                    // Another kind of item (a struct, a const, a use): not a function's body.
                    items.push(TestItem {
                        module: module.clone(),
                        name: String::new(),
                        public: false,
                        is_test: false,
                        body: String::new(),
                    });
                }
                None => {}
            }
            if let Some(item) = items.last_mut() {
                item.body.push_str(line);
                item.body.push('\n');
            }
        }
    }
    items.retain(|i| !i.name.is_empty());
    items
}
