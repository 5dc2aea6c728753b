//! Prompt tokenization in the llama.cpp engine, on the demo model's vocabulary (Gemma 3's,
//! with 6,414 special tokens): an app prompt (nine tool declarations, about 1,380 tokens)
//! seen before, and with a new request each time (the tool block's text remembered).
//! For developers; the product's numbers come from `fgbench bench`.

use criterion::{Criterion, criterion_group, criterion_main};
use fgbench::dataset::Dataset;
use fgbench::dataset::fetch::cache_root;
use fgbench::engine::Engine;
use fgbench::engine::llamacpp::{LlamaEngine, LlamaOptions};
use fgbench::models::demo::ensure_demo_gguf;
use fgbench::prompt::PromptStyle;

fn bench(c: &mut Criterion) {
    let gguf = ensure_demo_gguf(&cache_root()).unwrap();
    let engine = LlamaEngine::load(&gguf, &LlamaOptions { max_sequences: 1, prefix_cache: 0, ..LlamaOptions::default() }).unwrap();
    let ds = Dataset::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/app/test.jsonl"))).unwrap();
    let case = &ds.cases[0];
    let prompt = PromptStyle::Official.render(&case.messages, &case.tools);
    let mut g = c.benchmark_group("tokenize");
    g.bench_function("app_prompt_again", |b| b.iter(|| engine.encode(&prompt).unwrap().len()));
    let mut n = 0u64;
    g.bench_function("app_prompt_new_request", |b| {
        b.iter(|| {
            n += 1;
            let mut messages = case.messages.clone();
            if let Some(last) = messages.last_mut() {
                last.content = format!("{} (request {n})", last.content);
            }
            engine.encode(&PromptStyle::Official.render(&messages, &case.tools)).unwrap().len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
