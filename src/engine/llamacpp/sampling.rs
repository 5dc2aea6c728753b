//! Picking the next token from a sequence's logits on the host.

use rand::Rng;

use crate::engine::GenerationSettings;

/// Greedy (no temperature, or 0) picks the highest logit (the lowest id on ties, like
/// llama.cpp's greedy sampler). With a temperature, as Hugging Face's samplers do it: the
/// logits are divided by the temperature, cut to the `top_k` largest, the softmax cut to the
/// smallest most-likely set reaching `top_p` and to the tokens at least `min_p` times as
/// likely as the best, then one is drawn with the sequence's seeded generator.
pub(super) fn sample(logits: &[f32], settings: &GenerationSettings, rng: &mut rand_chacha::ChaCha8Rng) -> usize {
    let t = match settings.temperature {
        Some(t) if t > 0.0 => t,
        _ => return argmax(logits),
    };
    // Candidates: (id, logit), the top-k first when asked (a partial sort of 262,144 values).
    let mut cand: Vec<(usize, f32)> = logits.iter().copied().enumerate().collect();
    if let Some(k) = settings.top_k.filter(|&k| k < cand.len()) {
        cand.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1));
        cand.truncate(k);
    }
    let max = cand.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(usize, f64)> = cand.iter().map(|&(i, l)| (i, (((l - max) as f64) / t).exp())).collect();
    if settings.top_p.is_some() || settings.min_p.is_some() {
        probs.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: f64 = probs.iter().map(|p| p.1).sum();
        if let Some(p) = settings.top_p {
            let mut acc = 0.0;
            let keep = probs.iter().position(|x| {
                acc += x.1 / total;
                acc >= p
            });
            probs.truncate(keep.map_or(probs.len(), |k| k + 1));
        }
        if let Some(m) = settings.min_p {
            let best = probs.first().map_or(0.0, |p| p.1);
            probs.retain(|x| x.1 >= m * best);
        }
    }
    let total: f64 = probs.iter().map(|p| p.1).sum();
    let mut r = rng.random::<f64>() * total;
    for &(i, w) in &probs {
        r -= w;
        if r <= 0.0 {
            return i;
        }
    }
    probs.last().map_or(0, |p| p.0)
}

/// The softmax probability of token `id` (temperature 1, the whole vocabulary).
pub(super) fn probability(logits: &[f32], id: usize) -> Option<f64> {
    let target = *logits.get(id)? as f64;
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let total: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    (total > 0.0).then(|| (target - max).exp() / total)
}

/// Index of the largest value, the first one on ties (NaNs are skipped). argminmax picks
/// its SIMD kernel (AVX-512, AVX2, NEON...) when it runs, so this is fast even where Rust
/// is built for the baseline CPU; at 262,144 logits per token, per sequence, per step, it
/// is most of what the host does between two decodes.
fn argmax(values: &[f32]) -> usize {
    use argminmax::ArgMinMax;
    values.argmax()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn greedy() -> GenerationSettings {
        GenerationSettings::default()
    }

    fn temp(t: f64) -> GenerationSettings {
        GenerationSettings { temperature: Some(t), ..GenerationSettings::default() }
    }

    #[test]
    fn a_tokens_probability_is_its_softmax_share() {
        let logits = [0.0f32, (3.0f32).ln(), 0.0];
        assert!((probability(&logits, 1).unwrap() - 0.6).abs() < 1e-6);
        assert!((probability(&logits, 0).unwrap() - 0.2).abs() < 1e-6);
        assert_eq!(probability(&logits, 7), None);
    }

    #[test]
    fn top_k_top_p_and_min_p_keep_only_the_likely_tokens() {
        // Probabilities at temperature 1: 0.334, 0.302, 0.045, 0.027, 0.274, 0.017.
        let logits = [3.0, 2.9, 1.0, 0.5, 2.8, 0.0];
        let draws = |s: &GenerationSettings| {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            let mut seen: Vec<usize> = (0..2000).map(|_| sample(&logits, s, &mut r)).collect();
            seen.sort();
            seen.dedup();
            seen
        };
        assert_eq!(draws(&temp(1.0)), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(draws(&GenerationSettings { top_k: Some(2), ..temp(1.0) }), vec![0, 1]);
        // The three likely tokens hold 91% of the mass: top-p 0.9 keeps exactly them, and
        // min-p 0.5 (at least half the top probability) too.
        assert_eq!(draws(&GenerationSettings { top_p: Some(0.9), ..temp(1.0) }), vec![0, 1, 4]);
        assert_eq!(draws(&GenerationSettings { top_p: Some(0.0), ..temp(1.0) }), vec![0]);
        assert_eq!(draws(&GenerationSettings { min_p: Some(0.5), ..temp(1.0) }), vec![0, 1, 4]);
    }

    #[test]
    fn greedy_takes_the_first_maximum_and_sampling_follows_the_seed() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert_eq!(sample(&[0.1, 3.0, 3.0, -1.0], &greedy(), &mut rng), 1);
        let draw = |seed| {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            (0..20).map(|_| sample(&[1.0, 1.0, 1.0, 1.0], &temp(1.0), &mut r)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // The SIMD argmax agrees with a plain scan, remainder lanes included, and keeps the
        // first of equal maxima far apart (in different SIMD lanes and blocks).
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for n in [1, 15, 16, 17, 1000, 262_144] {
            let v: Vec<f32> = (0..n).map(|_| r.random_range(-10.0..10.0)).collect();
            let plain = (0..n).fold(0, |b, i| if v[i] > v[b] { i } else { b });
            assert_eq!(argmax(&v), plain, "n={n}");
        }
        assert_eq!(argmax(&[1.0, 5.0, 2.0, 5.0]), 1);
        let mut ties = vec![0.0f32; 262_144];
        for i in [200_001, 70_003, 1_002] {
            ties[i] = 5.0;
        }
        assert_eq!(argmax(&ties), 1_002);
        assert_eq!(argmax(&[0.0, f32::NAN, 1.0, f32::NAN]), 2, "NaNs are never the maximum");
        // A very low temperature is greedy in effect.
        assert_eq!(sample(&[0.0, 5.0, 1.0], &temp(1e-3), &mut rng), 1);
    }
}
