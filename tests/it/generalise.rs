//! Learned or memorised, through the binary: the leakage report, group-holding splits,
//! export-train's skeleton check, the perturbation suite as datasets and beside an eval.

use std::path::Path;

use crate::cli::{fgbench, repo_file, stderr, stdout};

fn app(name: &str) -> String {
    repo_file(&format!("datasets/app/{name}"))
}

fn rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap()
}

/// A held-out row written from a training row's sentence with new values: new id, new text,
/// no value training has, one skeleton with it.
fn same_skeleton_row(dir: &Path) -> std::path::PathBuf {
    let train = rows(Path::new(&app("train.jsonl")));
    let mut row = train
        .iter()
        .find(|r| {
            let calls = &r["messages"][2]["tool_calls"];
            calls.as_array().is_some_and(|c| c.len() == 1 && c[0]["function"]["name"] == "send_message")
                && r["messages"][0]["content"].as_str().unwrap().ends_with("following functions")
        })
        .expect("a one-call send_message row")
        .clone();
    let args = row["messages"][2]["tool_calls"][0]["function"]["arguments"].clone();
    let (who, body) = (args["recipient"].as_str().unwrap(), args["body"].as_str().unwrap());
    let text = row["messages"][1]["content"].as_str().unwrap().replace(who, "Zebedee").replace(body, "the llama escaped again");
    row["messages"][1]["content"] = text.into();
    row["messages"][2]["tool_calls"][0]["function"]["arguments"] =
        serde_json::json!({"recipient": "Zebedee", "body": "the llama escaped again"});
    row["id"] = "held_out_1".into();
    row["metadata"] = "eval".into();
    let path = dir.join("held_out.jsonl");
    std::fs::write(&path, format!("{row}\n")).unwrap();
    path
}

#[test]
fn the_leakage_report_sees_skeletons_and_export_train_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    // The shipped app split: no test request shares a skeleton with training.
    let out = dir.path().join("leak.json");
    let r = json(&fgbench(&[
        "datasets",
        "leakage",
        "--train",
        &app("train.jsonl"),
        "--test",
        &app("test.jsonl"),
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(r["test_rows"].as_u64().unwrap() as usize, rows(Path::new(&app("test.jsonl"))).len());
    assert_eq!((r["exact_duplicate_rate"].as_f64(), r["skeleton_overlap_rate"].as_f64()), (Some(0.0), Some(0.0)));
    assert_eq!(r["cases"].as_array().unwrap().len(), r["test_rows"].as_u64().unwrap() as usize);
    assert!(r["cases"][0]["nearest_train"].as_str().unwrap().starts_with("app_train_"));
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written["schema"], "fgbench.leakage/1");

    // A row written from a training sentence with fresh values: seen by skeleton, not by text.
    let held_out = same_skeleton_row(dir.path());
    let r =
        json(&fgbench(&["datasets", "leakage", "--train", &app("train.jsonl"), "--test", held_out.to_str().unwrap(), "--format", "json"]));
    assert_eq!((r["exact_duplicate_rate"].as_f64(), r["skeleton_overlap_rate"].as_f64()), (Some(0.0), Some(1.0)));
    assert!(r["cases"][0]["skeleton"].as_str().unwrap().contains("<STR>"), "{}", r["cases"][0]);
    let md =
        fgbench(&["datasets", "leakage", "--train", &app("train.jsonl"), "--test", held_out.to_str().unwrap(), "--format", "markdown"]);
    assert!(stdout(&md).contains("| skeleton seen in training | 1 | 100.0% |"), "{}", stdout(&md));

    // export-train passes the exact checks and is refused on the skeleton, naming the row.
    let train_out = dir.path().join("train.jsonl");
    let export = |max: &str| {
        fgbench(&[
            "datasets",
            "export-train",
            "--from",
            &app("train.jsonl"),
            "--check-against",
            held_out.to_str().unwrap(),
            "--max-skeleton-overlap",
            max,
            "--out",
            train_out.to_str().unwrap(),
        ])
    };
    let o = export("0");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("share a skeleton with 1 of 1 rows") && stderr(&o).contains("held_out_1"), "{}", stderr(&o));
    assert!(!train_out.exists());
    assert!(export("1").status.success());
}

#[test]
fn a_split_by_skeleton_keeps_every_skeleton_on_one_side() {
    let dir = tempfile::tempdir().unwrap();
    let o = fgbench(&[
        "datasets",
        "split",
        "--dataset",
        &app("test.jsonl"),
        "--by",
        "skeleton",
        "--test-fraction",
        "0.3",
        "--validation-fraction",
        "0.2",
        "--seed",
        "4",
        "--out-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let n = |f: &str| rows(&dir.path().join(f)).len();
    let total = rows(Path::new(&app("test.jsonl"))).len();
    assert_eq!(n("train.jsonl") + n("validation.jsonl") + n("test.jsonl"), total);
    assert!(n("test.jsonl") as f64 >= 0.25 * total as f64 && n("validation.jsonl") > 0, "{}", stderr(&o));
    // Rows are copied as written (Mobile Actions rows stay Mobile Actions rows).
    assert!(rows(&dir.path().join("test.jsonl"))[0]["messages"].is_array());
    for held in ["test.jsonl", "validation.jsonl"] {
        let r = json(&fgbench(&[
            "datasets",
            "leakage",
            "--train",
            dir.path().join("train.jsonl").to_str().unwrap(),
            "--test",
            dir.path().join(held).to_str().unwrap(),
            "--format",
            "json",
        ]));
        assert_eq!(r["skeleton_overlap_rate"].as_f64(), Some(0.0), "{held}");
    }
    let bad = fgbench(&[
        "datasets",
        "split",
        "--dataset",
        &app("test.jsonl"),
        "--by",
        "tool",
        "--test-fraction",
        "0.7",
        "--validation-fraction",
        "0.5",
        "--out-dir",
        "x",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn perturb_writes_one_variant_per_case_and_eval_pairs_the_suite_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let original = rows(Path::new(&app("test.jsonl")));
    for kind in ["shuffle-tools", "rename", "distractors", "remove-called-tool", "activation", "date-shift", "surface"] {
        let out = dir.path().join(format!("{kind}.jsonl"));
        let o = fgbench(&["perturb", "--dataset", &app("test.jsonl"), "--kind", kind, "--seed", "1", "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        let variant = rows(&out);
        assert_eq!(variant.len(), original.len(), "{kind}");
        assert!(variant.iter().zip(&original).all(|(v, o)| v["id"] == o["id"]), "{kind}: same ids, same order");
    }
    // remove-called-tool: every row that called now expects no call.
    let removed = rows(&dir.path().join("remove-called-tool.jsonl"));
    assert!(removed.iter().all(|c| c["kind"] == "irrelevance" && c["answers"].as_array().is_none_or(|a| a.is_empty())));

    // The suite beside an eval on the fixture model: a robustness row per perturbation.
    let run = dir.path().join("run");
    let o = fgbench(&[
        "eval",
        "--model",
        crate::engine::fixture().to_str().unwrap(),
        "--dataset",
        &app("test.jsonl"),
        "--scorer",
        "exact",
        "--limit",
        "5",
        "--max-new-tokens",
        "4",
        "--perturb",
        "rename,remove-called-tool",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("robustness (each variant paired with this run)"), "{}", stdout(&o));
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let table = summary["robustness"].as_array().unwrap();
    assert_eq!(table.iter().map(|r| r["perturbation"].as_str().unwrap()).collect::<Vec<_>>(), ["rename", "remove-called-tool"]);
    assert!(table.iter().all(|r| r["n"] == 5));
    assert!(run.join("perturb/rename/results.jsonl").is_file());
    // The fixture writes no call: on the no-call variant every case is right.
    assert_eq!(table[1]["perturbed"]["correct"], 5);
    // The call decisions are in the summary too.
    assert_eq!(
        summary["decisions"]["called_when_not_wanted"].as_u64().unwrap()
            + summary["decisions"]["silent_when_wanted"].as_u64().unwrap()
            + summary["decisions"]["called_when_wanted"].as_u64().unwrap()
            + summary["decisions"]["silent_when_not_wanted"].as_u64().unwrap(),
        5
    );
    // compare and report show the suite when the runs have it.
    let o = fgbench(&["compare", run.to_str().unwrap(), run.to_str().unwrap(), "--format", "markdown"]);
    assert!(stdout(&o).contains("| rename |"), "{}", stdout(&o));
    let report = dir.path().join("report");
    assert!(fgbench(&["report", run.to_str().unwrap(), "--out", report.to_str().unwrap()]).status.success());
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("Robustness under perturbations") && report.join("robustness.png").is_file());
    assert!(html.contains("Generalisation: seen and unseen request skeletons"), "the app test set has a leakage file beside it");
}
