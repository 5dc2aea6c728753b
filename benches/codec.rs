//! Codec micro-benchmarks: rendering prompts and parsing outputs (strict and BFCL decoding).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fgbench::codec::{bfcl_decode, parse};
use fgbench::dataset::Dataset;
use fgbench::prompt::render_prompt;

#[path = "../tests/support/mutate.rs"]
mod mutate;

fn demo() -> Dataset {
    Dataset::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/demo.jsonl"))).unwrap()
}

fn bench(c: &mut Criterion) {
    let ds = demo();
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(ds.cases.len() as u64));
    g.bench_function("render_prompt/demo_set", |b| {
        b.iter(|| ds.cases.iter().map(|c| render_prompt(&c.messages, &c.tools).len()).sum::<usize>())
    });
    let outputs: Vec<String> = ds.cases.iter().flat_map(mutate::outputs_for).map(|(_, o)| o).collect();
    g.throughput(Throughput::Elements(outputs.len() as u64));
    g.bench_function("parse_strict/demo_outputs", |b| b.iter(|| outputs.iter().filter(|o| parse(o).is_ok()).count()));
    g.bench_function("decode_bfcl/demo_outputs", |b| b.iter(|| outputs.iter().map(|o| bfcl_decode::decode(o).len()).sum::<usize>()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
