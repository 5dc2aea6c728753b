use std::path::PathBuf;

use clap::Args;

use super::engine_args::{EngineArgs, ModelArgs};
use crate::Error;
use crate::dataset::Dataset;
use crate::engine::EngineKind;
use crate::engine::mistral::Isq;
use crate::parity::{compare_variant, render_table};
use crate::prompt::PromptStyle;
use crate::run::{EvalSettings, PREDICTIONS, load_existing, result_record, run_eval};

#[derive(Debug, Args)]
pub struct ParityArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, default_value = "datasets/demo.jsonl")]
    pub dataset: PathBuf,
    #[arg(long)]
    pub limit: Option<usize>,
    /// Variants to run, the first being the reference: `base` (the engine flags as given),
    /// `engine:mistralrs`, `engine:llamacpp`, `isq:q8_0`, `dtype:bf16`, `concurrency:4`,
    /// `gpu-layers:0` (llama.cpp on the CPU), `kv-layout:unified`, `ubatch-tokens:512`,
    /// `prefix-cache:off`, `model:SOURCE` (another file of the same model,
    /// e.g. a Q8_0 GGUF against the f32 one), or
    /// several joined by `+` (`engine:llamacpp+concurrency:8`). Repeat the flag.
    #[arg(long = "variant", required = true, num_args = 1)]
    pub variants: Vec<String>,
    #[arg(long, value_enum, default_value_t = PromptStyle::Official)]
    pub prompt_style: PromptStyle,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep each variant's run records here (a temporary folder otherwise).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A variant: engine flags, concurrency, and the model when it overrides --model.
struct Variant {
    engine: EngineArgs,
    concurrency: usize,
    model: Option<String>,
}

fn variant(spec: &str, base: &EngineArgs) -> Result<Variant, Error> {
    let mut e = base.clone();
    let bad = || {
        Error::Usage(format!(
            "--variant `{spec}`: expected base, engine:NAME, model:SOURCE, isq:TYPE, dtype:TYPE, concurrency:N, gpu-layers:N, kv-layout:LAYOUT, ubatch-tokens:N or prefix-cache:on|off|N (joined by +)"
        ))
    };
    let mut concurrency = 1;
    let mut model = None;
    for part in spec.split('+') {
        if part == "base" {
            continue;
        }
        let (k, v) = part.split_once(':').ok_or_else(bad)?;
        match k {
            "engine" => e.engine = <EngineKind as clap::ValueEnum>::from_str(v, true).map_err(|_| bad())?,
            "isq" => e.isq = Some(<Isq as clap::ValueEnum>::from_str(v, true).map_err(|_| bad())?),
            "dtype" => e.dtype = Some(<crate::engine::mistral::Dtype as clap::ValueEnum>::from_str(v, true).map_err(|_| bad())?),
            "concurrency" => concurrency = v.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            "gpu-layers" => e.gpu_layers = v.parse().map_err(|_| bad())?,
            "kv-layout" => e.kv_layout = <crate::engine::KvLayout as clap::ValueEnum>::from_str(v, true).map_err(|_| bad())?,
            "ubatch-tokens" => e.ubatch_tokens = Some(v.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?),
            "prefix-cache" => e.prefix_cache = Some(v.parse().map_err(|_| bad())?),
            "model" => model = Some(v.to_string()),
            _ => return Err(bad()),
        }
    }
    if e.engine != EngineKind::Openai {
        // --endpoint is for the variants that name the served deployment.
        e.endpoints.clear();
    }
    Ok(Variant { engine: e, concurrency, model })
}

pub fn run(a: ParityArgs) -> Result<i32, Error> {
    if a.variants.len() < 2 {
        return Err(Error::Usage("parity needs at least two --variant (the first is the reference)".into()));
    }
    let specs: Vec<Variant> = a.variants.iter().map(|s| variant(s, &a.engine)).collect::<Result<_, _>>()?;
    let ds = Dataset::load(&a.dataset)?;
    let cases = super::eval::select_cases(&ds, &[], a.limit, None)?;
    let tmp = tempfile_dir()?;
    let root = a.out.clone().unwrap_or_else(|| tmp.clone());
    let mut results = Vec::new();
    // Where each variant ran: greedy outputs depend on the device and the kernels' ISA.
    let mut builds: Vec<(String, String)> = Vec::new();
    // The reference engine stays loaded: its tokenizer locates the first diverging token.
    let mut reference: Option<Box<dyn crate::engine::Engine>> = None;
    for (i, (spec, Variant { engine: engine_args, concurrency, model })) in a.variants.iter().zip(&specs).enumerate() {
        let mut model_args = a.model.clone();
        if let Some(m) = model {
            model_args.model = m.clone();
        }
        let model = model_args.resolve(engine_args)?;
        let engine = engine_args.load(&model, *concurrency)?;
        let out = root.join(variant_dir(i, spec));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).map_err(|source| Error::Write { path: out.clone(), source })?;
        let run = EvalSettings {
            generation: engine_args.generation(),
            style: a.prompt_style,
            concurrency: *concurrency,
            scoring: Default::default(),
            repeats: 1,
            leakage: None,
        };
        run_eval(engine.as_ref(), &cases, &out, Vec::new(), &run)?;
        let preds = load_existing(&out.join(PREDICTIONS))?;
        let by_id: std::collections::HashMap<&str, crate::score::AnswerKey> = cases.iter().map(|c| (c.id.as_str(), c.into())).collect();
        results.push(preds.iter().map(|p| result_record(&by_id[p.id.as_str()], p, &run.scoring)).collect::<Vec<_>>());
        let info = engine.info();
        builds.push((spec.clone(), format!("{} on {}, kernels {}", info.engine, info.device, info.kernels.as_deref().unwrap_or("-"))));
        eprintln!("fgbench: variant {spec} ({}) done", info.engine);
        if reference.is_none() {
            reference = Some(engine);
        }
    }
    let reference = reference.expect("at least two variants ran");
    // Completion text without the prompt's <bos>.
    let encode = |text: &str| -> Vec<u32> {
        let mut ids = reference.encode(text).unwrap_or_default();
        if !ids.is_empty() {
            ids.remove(0);
        }
        ids
    };
    let variants: Vec<_> =
        a.variants.iter().zip(&results).skip(1).map(|(label, r)| compare_variant(label, &results[0], r, &encode)).collect();
    let differ: Vec<String> =
        builds.iter().skip(1).filter(|(_, b)| *b != builds[0].1).map(|(s, b)| format!("{s}: {b} (reference: {})", builds[0].1)).collect();
    if a.json {
        let builds: serde_json::Map<String, serde_json::Value> = builds.iter().map(|(s, b)| (s.clone(), b.clone().into())).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"reference": a.variants[0], "variants": variants, "builds": builds, "builds_differ": differ})
            )
            .expect("json")
        );
    } else {
        print!("{}", render_table(&a.variants[0], &variants));
        for d in &differ {
            println!("note: runs on other kernels or another device, so outputs may differ for that reason alone: {d}");
        }
    }
    if a.out.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(0)
}

/// The folder of variant `i` inside --out: one path component made of the spec's safe
/// characters, so no spec (`model:a/../../x`) can point outside --out or at another
/// variant's folder.
fn variant_dir(i: usize, spec: &str) -> String {
    let safe: String = spec.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    format!("{i:02}-{}", safe.trim_start_matches('.'))
}

fn tempfile_dir() -> Result<PathBuf, Error> {
    let d = std::env::temp_dir().join(format!("fgbench-parity-{}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|source| Error::Write { path: d.clone(), source })?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::variant_dir;

    #[test]
    fn variant_folders_stay_inside_out_and_apart() {
        let d = variant_dir(1, "model:a/../../x");
        assert!(!d.contains('/') && std::path::Path::new(&d).components().count() == 1, "{d}");
        assert_ne!(variant_dir(0, "engine:x"), variant_dir(1, "engine_x"));
        assert!(!variant_dir(2, "..").starts_with(".."));
    }
}
