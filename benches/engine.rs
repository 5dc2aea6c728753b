//! One engine step on the tiny fixture model: a demo prompt, 8 new tokens, greedy, through
//! the real mistral.rs engine. For developers; the product's numbers come from `fgbench bench`.

use criterion::{Criterion, criterion_group, criterion_main};
use fgbench::dataset::Dataset;
use fgbench::engine::mistral::{MistralEngine, MistralOptions};
use fgbench::engine::{Engine, GenerationSettings};
use fgbench::models::fixture::{Shape, write_fixture};
use fgbench::prompt::PromptStyle;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(&Shape::tiny(), 7, dir.path()).unwrap();
    let engine = MistralEngine::load(dir.path(), &MistralOptions::default()).unwrap();
    let ds = Dataset::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/demo.jsonl"))).unwrap();
    let prompt = PromptStyle::Official.render(&ds.cases[0].messages, &ds.cases[0].tools);
    let settings = GenerationSettings { max_new_tokens: 8, ..GenerationSettings::default() };
    let mut g = c.benchmark_group("engine");
    g.sample_size(20);
    g.bench_function("fixture_generate_8_tokens", |b| b.iter(|| engine.generate(&prompt, &settings).unwrap().text.len()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
