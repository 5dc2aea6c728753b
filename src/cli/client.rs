use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::Error;
use crate::serve::client::{Client, ClientError, is_final};

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server's socket.
    #[arg(long, global = true, default_value = "fgbench.sock")]
    pub socket: PathBuf,
    /// One request as JSON (an `id` is added when missing). Without it, requests are read
    /// as JSON lines from stdin. Responses are printed as JSON lines.
    pub request: Option<String>,
    #[command(subcommand)]
    pub command: Option<ClientCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// One case on several loaded models side by side.
    Compare(CompareArgs),
    /// Load benchmark: requests/s and latency percentiles at several concurrency levels
    /// (one connection per concurrent client).
    Bench(LoadBenchArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Loaded model names (two or more).
    #[arg(long, value_delimiter = ',', required = true)]
    pub models: Vec<String>,
    /// A case of the server's --dataset.
    #[arg(long)]
    pub case: String,
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
}

#[derive(Debug, Args)]
pub struct LoadBenchArgs {
    #[arg(long)]
    pub model: String,
    /// Cases of the server's --dataset to send, in turn.
    #[arg(long, value_delimiter = ',', required = true)]
    pub cases: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub concurrency: Vec<usize>,
    /// Requests per level.
    #[arg(long, default_value_t = 32)]
    pub requests: usize,
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
}

fn client_err(e: ClientError) -> Error {
    Error::Usage(e.to_string())
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string(v).expect("json"));
}

pub fn run(a: ClientArgs) -> Result<i32, Error> {
    match a.command {
        Some(ClientCommand::Compare(c)) => compare(&a.socket, c),
        Some(ClientCommand::Bench(b)) => load_bench(&a.socket, b),
        None => match a.request {
            Some(text) => one(&a.socket, &text),
            None => lines(&a.socket),
        },
    }
}

fn one(socket: &std::path::Path, text: &str) -> Result<i32, Error> {
    let mut req: Value = serde_json::from_str(text).map_err(|e| Error::Usage(format!("request is not JSON: {e}")))?;
    if req.get("id").is_none() && req.is_object() {
        req["id"] = json!(1);
    }
    let mut c = Client::connect(socket).map_err(client_err)?;
    let last = c.request(&req, print).map_err(client_err)?;
    print(&last);
    Ok(if last["type"] == "error" { 1 } else { 0 })
}

/// Requests from stdin, sent as they come (many in flight); ends when all are answered.
fn lines(socket: &std::path::Path) -> Result<i32, Error> {
    let mut c = Client::connect(socket).map_err(client_err)?;
    let mut writer = c.try_clone_writer().map_err(client_err)?;
    let sender = std::thread::spawn(move || -> std::io::Result<usize> {
        let mut n = 0;
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            std::io::Write::write_all(&mut writer, format!("{}\n", line.trim()).as_bytes())?;
            n += 1;
        }
        writer.shutdown(std::net::Shutdown::Write)?;
        Ok(n)
    });
    let mut errors = 0;
    // The server closes its side once every request sent has been answered.
    while let Some(v) = c.recv().map_err(client_err)? {
        if is_final(&v) && v["type"] == "error" {
            errors += 1;
        }
        print(&v);
    }
    sender.join().map_err(|_| Error::Usage("stdin reader panicked".into()))?.map_err(|e| Error::Usage(e.to_string()))?;
    Ok(if errors > 0 { 1 } else { 0 })
}

fn compare(socket: &std::path::Path, a: CompareArgs) -> Result<i32, Error> {
    let mut req = json!({"id": "compare", "type": "compare", "models": a.models, "case_id": a.case});
    if let Some(n) = a.max_new_tokens {
        req["settings"] = json!({"max_new_tokens": n});
    }
    let mut c = Client::connect(socket).map_err(client_err)?;
    let v = c.request(&req, |_| {}).map_err(client_err)?;
    if v["type"] == "error" {
        eprintln!("error ({}): {}", v["code"].as_str().unwrap_or("?"), v["message"].as_str().unwrap_or(""));
        return Ok(1);
    }
    println!("case {}  (identical outputs: {})", a.case, v["identical"]);
    for (name, r) in v["results"].as_object().into_iter().flatten() {
        let verdict = match &r["verdict"]["valid"] {
            Value::Bool(true) => "correct".to_string(),
            Value::Bool(false) => format!("wrong ({})", r["verdict"]["error_type"].as_str().unwrap_or("?")),
            _ => "-".into(),
        };
        println!(
            "\n== {name}: {verdict}, {} ms, {} calls",
            r["timings"]["total_ms"].as_f64().map(|t| format!("{t:.0}")).unwrap_or("-".into()),
            r["calls"].as_array().map(|c| c.len()).unwrap_or(0)
        );
        println!("{}", r["text"].as_str().or(r["error"].as_str()).unwrap_or(""));
    }
    Ok(0)
}

fn load_bench(socket: &std::path::Path, a: LoadBenchArgs) -> Result<i32, Error> {
    println!("{:>5} {:>6} {:>9} {:>10} {:>10} {:>10} {:>7}", "conc", "reqs", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors");
    for &conc in &a.concurrency {
        // One connection per concurrent client.
        let clients: Vec<std::sync::Mutex<Client>> =
            (0..conc.max(1)).map(|_| Client::connect(socket).map(std::sync::Mutex::new)).collect::<Result<_, _>>().map_err(client_err)?;
        let results = std::sync::Mutex::new(Vec::new());
        let start = Instant::now();
        crate::pool::for_each_index(a.requests, conc, |w, i| {
            let req = json!({"id": format!("{w}-{i}"), "type": "generate", "model": a.model, "case_id": a.cases[i % a.cases.len()],
                "settings": {"max_new_tokens": a.max_new_tokens}});
            let t = Instant::now();
            let answer = clients[w].lock().unwrap_or_else(|p| p.into_inner()).request(&req, |_| {});
            let ok = answer.is_ok();
            results
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(answer.map(|v| (t.elapsed().as_secs_f64() * 1000.0, v["type"] == "error")).map_err(client_err));
            ok
        });
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        let wall = start.elapsed().as_secs_f64();
        let mut ms = Vec::new();
        let mut errors = 0;
        for r in results {
            let (t, err) = r?;
            ms.push(t);
            errors += err as usize;
        }
        let p = |q| crate::stats::percentile(&ms, q).map(|v| format!("{v:.0}")).unwrap_or("-".into());
        println!(
            "{:>5} {:>6} {:>9.3} {:>10} {:>10} {:>10} {:>7}",
            conc,
            ms.len(),
            ms.len() as f64 / wall,
            p(0.5),
            p(0.95),
            p(0.99),
            errors
        );
    }
    Ok(0)
}
