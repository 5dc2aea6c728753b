//! Scorer throughput on BFCL-shaped predictions: every BFCL single-turn case (from the cache,
//! `fgbench datasets fetch bfcl`; the demo set when absent) with the right answer and its
//! mutations, decoded, parsed and checked exactly as `fgbench score` does.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fgbench::dataset::{Dataset, fetch};
use fgbench::score::{AnswerKey, ScoreOptions, score_output};

#[path = "../tests/support/mutate.rs"]
mod mutate;

fn dataset() -> Dataset {
    let bfcl = fetch::cache_root().join("datasets/bfcl_v4.jsonl");
    let path = if bfcl.is_file() { bfcl } else { concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/demo.jsonl").into() };
    Dataset::load(&path).unwrap()
}

fn bench(c: &mut Criterion) {
    let ds = dataset();
    let keys: Vec<AnswerKey> = ds.cases.iter().map(AnswerKey::from).collect();
    let pairs: Vec<(&AnswerKey, String)> =
        ds.cases.iter().zip(&keys).flat_map(|(c, k)| mutate::outputs_for(c).into_iter().map(move |(_, o)| (k, o))).collect();
    let opts = ScoreOptions::default();
    let mut g = c.benchmark_group("score");
    g.sample_size(10);
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function(format!("score_output/{}_predictions", pairs.len()), |b| {
        b.iter(|| pairs.iter().filter(|(case, out)| score_output(case, out, &opts).check.valid).count())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
