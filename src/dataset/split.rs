//! Train / validation / test splits that hold out whole groups: every skeleton, tool, tool
//! set or argument value lands on one side only, so a test score measures what must
//! generalise. A row goes to the side all its group keys went to; a row whose keys went to
//! different sides (a two-call row joining a held-out tool and a training one) is dropped and
//! counted. Rows without a key (no call, for `tool` and `value`) are dealt by the fractions.

use std::collections::{BTreeMap, HashMap};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Case;
use super::skeleton::{answer_values, skeleton};

/// What a group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// The request's skeleton (values, numbers, dates and times as placeholders).
    Skeleton,
    /// Each called function: a held-out tool is never called in training.
    Tool,
    /// The declared tool set (names, any order).
    Toolset,
    /// Each free-form argument value (per function and parameter).
    Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    Train,
    Validation,
    Test,
}

impl Side {
    pub const ALL: [Side; 3] = [Side::Train, Side::Validation, Side::Test];

    pub fn name(self) -> &'static str {
        match self {
            Side::Train => "train",
            Side::Validation => "validation",
            Side::Test => "test",
        }
    }
}

/// Where each row went (`None`: dropped), and how many groups each side holds.
#[derive(Debug)]
pub struct Split {
    pub sides: Vec<Option<Side>>,
    pub groups: BTreeMap<Side, usize>,
}

impl Split {
    pub fn rows(&self, side: Side) -> usize {
        self.sides.iter().filter(|s| **s == Some(side)).count()
    }

    pub fn dropped(&self) -> usize {
        self.sides.iter().filter(|s| s.is_none()).count()
    }
}

fn keys(case: &Case, by: GroupBy) -> Vec<String> {
    match by {
        GroupBy::Skeleton => {
            let values = answer_values(case.answers.iter().flat_map(|a| a.values()).flat_map(|p| p.values()).flatten());
            let text: Vec<&str> = case.messages.iter().filter(|m| m.role == super::Role::User).map(|m| m.content.as_str()).collect();
            vec![skeleton(&text.join("\n"), &values)]
        }
        GroupBy::Tool => case.answers.iter().filter_map(|a| a.keys().next().cloned()).collect(),
        GroupBy::Toolset => {
            let mut names: Vec<&str> = case.tools.iter().filter_map(super::case::tool_name).collect();
            names.sort_unstable();
            vec![names.join(",")]
        }
        GroupBy::Value => case.free_values().into_iter().map(|(f, p, v)| format!("{f}.{p}={v}")).collect(),
    }
}

/// Splits `cases` by `by`: groups in a seeded random order fill the test side to
/// `test_fraction` of the rows, then validation to `validation_fraction`; the rest train.
pub fn split(cases: &[Case], by: GroupBy, test_fraction: f64, validation_fraction: f64, seed: u64) -> Split {
    let row_keys: Vec<Vec<String>> = cases.iter().map(|c| keys(c, by)).collect();
    let mut rows_of: BTreeMap<&str, usize> = BTreeMap::new();
    for k in row_keys.iter().flatten() {
        *rows_of.entry(k.as_str()).or_default() += 1;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<(&str, usize)> = rows_of.into_iter().collect();
    order.shuffle(&mut rng);
    let n = cases.len() as f64;
    let (test_goal, val_goal) = (test_fraction * n, validation_fraction * n);
    let (mut test_rows, mut val_rows) = (0.0, 0.0);
    let mut side_of: HashMap<&str, Side> = HashMap::new();
    let mut groups: BTreeMap<Side, usize> = BTreeMap::new();
    for (key, rows) in order {
        let side = if test_rows < test_goal {
            test_rows += rows as f64;
            Side::Test
        } else if val_rows < val_goal {
            val_rows += rows as f64;
            Side::Validation
        } else {
            Side::Train
        };
        side_of.insert(key, side);
        *groups.entry(side).or_default() += 1;
    }
    let sides = row_keys
        .iter()
        .map(|ks| {
            let mut sides = ks.iter().map(|k| side_of[k.as_str()]);
            match sides.next() {
                None => {
                    let r: f64 = rng.random();
                    Some(if r < test_fraction {
                        Side::Test
                    } else if r < test_fraction + validation_fraction {
                        Side::Validation
                    } else {
                        Side::Train
                    })
                }
                Some(first) => sides.all(|s| s == first).then_some(first),
            }
        })
        .collect();
    Split { sides, groups }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Value;
    use crate::dataset::{CASE_SCHEMA, CheckKind, ExpectedCall, Message, Role};

    fn case(id: usize, text: &str, calls: &[(&str, &str)]) -> Case {
        let answers: Vec<ExpectedCall> = calls
            .iter()
            .map(|(f, v)| {
                [(f.to_string(), [("x".to_string(), vec![Value::Str(v.to_string())])].into_iter().collect())].into_iter().collect()
            })
            .collect();
        Case {
            schema: CASE_SCHEMA.into(),
            id: format!("c{id}"),
            category: "t".into(),
            kind: if answers.is_empty() { CheckKind::Irrelevance } else { CheckKind::Parallel },
            messages: vec![Message { role: Role::User, content: text.into(), tool_calls: vec![], name: None }],
            tools: vec![serde_json::json!({"name": "a"}), serde_json::json!({"name": "b"})],
            answers,
            source: None,
        }
    }

    /// 200 rows from 20 sentence patterns, values all different, calling tools a, b and c.
    fn rows() -> Vec<Case> {
        (0..200)
            .map(|i| {
                let tool = ["a", "b", "c"][i % 3];
                let value = format!("v{i}");
                let pattern = "x ".repeat(i % 20 + 1);
                let no_call = i % 10 == 9;
                let text = if no_call { format!("tell me a joke {pattern}") } else { format!("please do {value} {pattern}") };
                let calls: Vec<(&str, &str)> = if no_call { vec![] } else { vec![(tool, value.as_str())] };
                case(i, &text, &calls)
            })
            .collect()
    }

    #[test]
    fn no_group_is_on_two_sides_and_fractions_are_near() {
        let cases = rows();
        for by in [GroupBy::Skeleton, GroupBy::Tool, GroupBy::Value, GroupBy::Toolset] {
            let s = split(&cases, by, 0.25, 0.15, 7);
            let mut side_of_key: HashMap<String, Side> = HashMap::new();
            for (c, side) in cases.iter().zip(&s.sides) {
                let Some(side) = side else { continue };
                for k in keys(c, by) {
                    let prev = side_of_key.insert(k.clone(), *side);
                    assert!(prev.is_none_or(|p| p == *side), "{by:?}: group {k} on two sides");
                }
            }
            assert_eq!(s.rows(Side::Train) + s.rows(Side::Validation) + s.rows(Side::Test) + s.dropped(), cases.len());
        }
        let s = split(&cases, GroupBy::Skeleton, 0.25, 0.15, 7);
        let skeletons: std::collections::HashSet<String> = cases.iter().flat_map(|c| keys(c, GroupBy::Skeleton)).collect();
        assert_eq!(s.groups.values().sum::<usize>(), skeletons.len());
        assert_eq!(skeletons.len(), 20, "18 patterns with a value, 2 without (the no-call rows)");
        assert!((40..=70).contains(&s.rows(Side::Test)), "{}", s.rows(Side::Test));
        assert!(s.rows(Side::Validation) >= 20 && s.dropped() == 0);
        // One toolset: everything lands on the side the one group went to.
        let t = split(&cases, GroupBy::Toolset, 0.25, 0.15, 7);
        assert_eq!(t.groups.values().sum::<usize>(), 1);
    }

    #[test]
    fn a_row_joining_two_sides_is_dropped_and_the_seed_decides() {
        let mut cases = rows();
        cases.push(case(900, "both", &[("a", "p"), ("b", "q")]));
        let s = split(&cases, GroupBy::Tool, 0.3, 0.0, 1);
        let last = s.sides.last().unwrap();
        let (a, b) = (s.sides[0], s.sides[1]);
        if a != b {
            assert_eq!(*last, None);
        }
        assert_eq!(split(&cases, GroupBy::Value, 0.3, 0.1, 5).sides, split(&cases, GroupBy::Value, 0.3, 0.1, 5).sides);
    }
}
