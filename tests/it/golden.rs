//! Golden prompts: each tests/golden/render/NAME.case.json renders to NAME.prompt.txt byte for
//! byte, and so does each NAME.row.jsonl (a Mobile Actions row, developer turn included, read
//! by the importer). FGBENCH_BLESS=1 rewrites the expectations (review the diff before
//! committing).

use std::path::PathBuf;

use fgbench::dataset::{Case, mobile_actions};
use fgbench::prompt::render_prompt;

#[test]
fn prompts_match_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/render");
    let bless = std::env::var_os("FGBENCH_BLESS").is_some();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap().to_string();
        let case: Case = if file_name.ends_with(".case.json") {
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
        } else if file_name.ends_with(".row.jsonl") {
            let rows = mobile_actions::read(&path, &mobile_actions::ImportOptions::default()).unwrap();
            assert_eq!(rows.len(), 1, "{file_name}: one row per golden file");
            rows.into_iter().next().unwrap().case
        } else {
            continue;
        };
        let name = file_name.trim_end_matches(".case.json").trim_end_matches(".row.jsonl");
        let prompt = render_prompt(&case.messages, &case.tools);
        let golden = dir.join(format!("{name}.prompt.txt"));
        if bless {
            std::fs::write(&golden, &prompt).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("missing {}", golden.display()));
        assert_eq!(prompt, expected, "{name}: rendered prompt differs from {}", golden.display());
        checked += 1;
    }
    assert!(checked >= 4, "expected at least 4 golden cases, found {checked}");
}
