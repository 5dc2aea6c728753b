//! Golden prompts: each tests/golden/render/NAME.case.json renders to NAME.prompt.txt byte for
//! byte. FGBENCH_BLESS=1 rewrites the expectations (review the diff before committing).

use std::path::PathBuf;

use fgbench::codec::render_prompt;
use fgbench::dataset::Case;

#[test]
fn prompts_match_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/render");
    let bless = std::env::var_os("FGBENCH_BLESS").is_some();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".case.json")) else {
            continue;
        };
        let case: Case = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let prompt = render_prompt(&case.messages, &case.tools);
        let golden = dir.join(format!("{name}.prompt.txt"));
        if bless {
            std::fs::write(&golden, &prompt).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("missing {}", golden.display()));
        assert_eq!(prompt, expected, "{name}: rendered prompt differs from {}", golden.display());
        checked += 1;
    }
    assert!(checked >= 3, "expected at least 3 golden cases, found {checked}");
}
