//! What `stats` reports: requests served and in flight, queue room, and per model the
//! latency percentiles of a sliding window and the prefix-cache reuse.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::engine::Completion;

/// Latencies kept per model (the oldest go first).
const WINDOW: usize = 10_000;

#[derive(Default)]
struct ModelStats {
    e2e_ms: VecDeque<f64>,
    ttft_ms: VecDeque<f64>,
    prefix_hits: u64,
    prefix_tokens_saved: u64,
}

#[derive(Default)]
pub struct Stats {
    pub served: AtomicU64,
    pub in_flight: AtomicUsize,
    pub connections: AtomicUsize,
    models: Mutex<HashMap<String, ModelStats>>,
}

fn push(q: &mut VecDeque<f64>, v: f64) {
    if q.len() == WINDOW {
        q.pop_front();
    }
    q.push_back(v);
}

impl Stats {
    /// Records one finished generation of `model`.
    pub fn record(&self, model: &str, c: &Completion) {
        let mut all = self.models.lock().unwrap_or_else(|p| p.into_inner());
        let m = all.entry(model.to_string()).or_default();
        if let Some(ms) = c.timings.total_ms {
            push(&mut m.e2e_ms, ms);
        }
        if let Some(ms) = c.timings.ttft_ms {
            push(&mut m.ttft_ms, ms);
        }
        if let Some(n) = c.timings.cached_tokens.filter(|n| *n > 0) {
            m.prefix_hits += 1;
            m.prefix_tokens_saved += n;
        }
    }

    pub fn response(&self, id: Option<&Value>, queue_capacity: usize, queue_free: usize) -> Value {
        let all = self.models.lock().unwrap_or_else(|p| p.into_inner());
        let mut per_model = serde_json::Map::new();
        for (name, m) in all.iter() {
            let e2e: Vec<f64> = m.e2e_ms.iter().copied().collect();
            let ttft: Vec<f64> = m.ttft_ms.iter().copied().collect();
            let p = |v: &[f64], x| crate::stats::percentile(v, x);
            per_model.insert(
                name.clone(),
                json!({"requests": e2e.len(), "e2e_ms_p50": p(&e2e, 0.5), "e2e_ms_p95": p(&e2e, 0.95), "e2e_ms_p99": p(&e2e, 0.99),
                    "ttft_ms_p50": p(&ttft, 0.5), "ttft_ms_p95": p(&ttft, 0.95),
                    "prefix_hits": m.prefix_hits, "prefix_tokens_saved": m.prefix_tokens_saved}),
            );
        }
        json!({"id": id, "type": "stats", "served": self.served.load(Ordering::SeqCst), "in_flight": self.in_flight.load(Ordering::SeqCst),
            "connections": self.connections.load(Ordering::SeqCst), "queue_capacity": queue_capacity, "queue_free": queue_free, "models": per_model})
    }
}
