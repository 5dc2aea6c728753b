//! The remote engine (`--engine openai`) against a real llama-server built from the same
//! llama.cpp source as the engine (scripts/build-llama-server.sh, cached): raw mode against
//! the local engine, chat mode through the server's template, the faults a deployment has
//! (down, dying, 429/500, stalling) with `--resume`, open-loop load, and shard + merge.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::cli::{fgbench, repo_file, stderr, stdout};
use crate::engine::fixture;

/// llama-server, built once (the script holds a lock, so parallel tests wait for one build).
fn llama_server() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let o = Command::new("bash").arg(repo_file("scripts/build-llama-server.sh")).output().expect("run the build script");
        assert!(o.status.success(), "building llama-server failed:\n{}", stderr(&o));
        PathBuf::from(stdout(&o).trim())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running llama-server; killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(model: &Path, port: u16, slots: usize) -> Server {
        let child = Command::new(llama_server())
            .args(["-m", model.to_str().unwrap(), "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-np", &slots.to_string(), "-c", &(4096 * slots).to_string(), "-t", "2", "--no-webui"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama-server");
        let s = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !health(port) {
            assert!(Instant::now() < deadline, "llama-server did not come up on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn health(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut r = String::new();
    let _ = s.read_to_string(&mut r);
    r.starts_with("HTTP/1.1 200")
}

fn gguf() -> PathBuf {
    fixture().join("model.gguf")
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn eval(engine: &[&str], out: &Path, extra: &[&str]) -> std::process::Output {
    let ds = repo_file("datasets/demo.jsonl");
    let mut args = vec!["eval", "--dataset", &ds, "--out", out.to_str().unwrap(), "--max-new-tokens", "12"];
    args.extend_from_slice(engine);
    args.extend_from_slice(extra);
    fgbench(&args)
}

fn remote(url: &str) -> Vec<&str> {
    vec!["--engine", "openai", "--endpoint", url]
}

/// The latest record of each case, by id.
fn by_id(out: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    lines(&out.join("predictions.jsonl")).into_iter().map(|p| (p["id"].as_str().unwrap().to_string(), p)).collect()
}

/// The local llama.cpp engine's outputs on the fixture, once per test process.
fn local_outputs() -> &'static std::collections::BTreeMap<String, serde_json::Value> {
    static OUT: OnceLock<std::collections::BTreeMap<String, serde_json::Value>> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("local");
        let o = eval(&["--engine", "llamacpp", "--model", gguf().to_str().unwrap()], &out, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        by_id(&out)
    })
}

fn assert_same_as_local(out: &Path) {
    let remote = by_id(out);
    let local = local_outputs();
    assert_eq!(remote.len(), local.len());
    for (id, p) in &remote {
        assert!(p.get("failure").is_none(), "{id}: {p}");
        assert_eq!(p["output"], local[id]["output"], "{id}");
        assert_eq!(p["prompt_tokens"], local[id]["prompt_tokens"], "{id}: the server saw other tokens");
    }
}

#[test]
fn raw_mode_gives_the_local_engines_outputs_and_verdicts_on_every_demo_case() {
    let server = Server::start(&gguf(), free_port(), 4);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("remote");
    let url = server.url();
    let o = eval(&remote(&url), &out, &["--concurrency", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_as_local(&out);
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["engine"]["engine"], "openai");
    assert_eq!(m["engine"]["remote"]["mode"], "raw");
    assert_eq!(m["engine"]["remote"]["prompt_form"], "token ids", "llama-server tokenizes: fgbench sends ids");
    assert_eq!(m["engine"]["remote"]["endpoints"][0], url);
    assert!(m["engine"]["remote"]["timings"].as_str().unwrap().contains("network"));
    assert!(m["engine"]["build"].as_str().unwrap().starts_with("llama.cpp"), "{}", m["engine"]);
    for p in by_id(&out).values() {
        assert!(p["ttft_ms"].as_f64().unwrap() <= p["total_ms"].as_f64().unwrap(), "{p}");
        assert_eq!(p["completion_tokens"], 12, "counted by the server's usage: {p}");
    }
    // Two replicas driven as one engine; the verdicts are the same.
    let second = Server::start(&gguf(), free_port(), 2);
    let url2 = second.url();
    let both = dir.path().join("fleet");
    let o = eval(&["--engine", "openai", "--endpoint", &url, "--endpoint", &url2], &both, &["--concurrency", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_as_local(&both);

    // A compare of the served run against the local one needs the engine mix allowed.
    let local_dir = dir.path().join("local");
    let o = eval(&["--engine", "llamacpp", "--model", gguf().to_str().unwrap()], &local_dir, &[]);
    assert!(o.status.success());
    let o = fgbench(&["compare", local_dir.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(!o.status.success(), "engines differ: {}", stdout(&o));
    assert!(stderr(&o).contains("engine"), "{}", stderr(&o));
}

#[test]
fn a_wrong_model_name_or_a_non_server_is_a_clear_error_naming_the_endpoint() {
    let server = Server::start(&gguf(), free_port(), 1);
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let o = eval(&remote(&url), &dir.path().join("a"), &["--served-model", "no-such-model", "--limit", "2"]);
    assert_eq!(o.status.code(), Some(2), "bad input: {}", stderr(&o));
    assert!(stderr(&o).contains(&url) && stderr(&o).contains("no model named `no-such-model`"), "{}", stderr(&o));
    let o = eval(&remote("localhost:1"), &dir.path().join("b"), &["--limit", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected an http:// or https:// URL"), "{}", stderr(&o));
}

#[test]
fn chat_mode_goes_through_the_servers_template_and_pins_what_comes_back() {
    let server = Server::start(&gguf(), free_port(), 2);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chat");
    let url = server.url();
    let o = eval(&remote(&url), &out, &["--remote-mode", "chat", "--limit", "6", "--concurrency", "2"]);
    let preds = lines(&out.join("predictions.jsonl"));
    assert_eq!(preds.len(), 6, "every case recorded: {}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["engine"]["remote"]["mode"], "chat");
    // llama.cpp has no FunctionGemma tool parser: what the server answers is recorded per
    // case, either as an answer scored like any other or as a failure of its own type.
    let results = lines(&out.join("results.jsonl"));
    for (p, r) in preds.iter().zip(&results) {
        match p.get("failure") {
            Some(f) => {
                assert!(["server_parser", "server_unavailable"].contains(&f["kind"].as_str().unwrap()), "{f}");
                assert_eq!(r["error_type"], f["kind"]);
            }
            None => assert!(r["valid"].is_boolean()),
        }
    }
    eprintln!("chat mode on llama-server: {}", std::fs::read_to_string(out.join("predictions.jsonl")).unwrap());
}

#[test]
fn a_server_down_at_start_fails_every_case_and_resume_completes_the_run_once_it_is_up() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = eval(&remote(&url), &out, &["--retries", "1", "--concurrency", "8"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("unreachable at start"), "{}", stderr(&o));
    let preds = lines(&out.join("predictions.jsonl"));
    assert_eq!(preds.len(), 48, "every case is recorded, failed");
    assert!(preds.iter().all(|p| p["failure"]["kind"] == "server_unavailable"), "{}", preds[0]);
    assert!(preds[0]["failure"]["message"].as_str().unwrap().contains(&url), "{}", preds[0]);

    let _server = Server::start(&gguf(), port, 4);
    let o = eval(&remote(&url), &out, &["--retries", "1", "--concurrency", "8", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("48 generated"), "{}", stdout(&o));
    assert_same_as_local(&out);
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scored"], 48);
}

#[test]
fn a_server_that_dies_mid_run_loses_nothing_and_resume_finishes_on_its_replacement() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let server = Server::start(&gguf(), port, 1);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let ds = repo_file("datasets/demo.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fgbench"))
        .args(["eval", "--dataset", &ds, "--out", out.to_str().unwrap(), "--max-new-tokens", "48", "--ignore-eos"])
        .args(["--engine", "openai", "--endpoint", &url, "--retries", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let preds = out.join("predictions.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&preds).map(|t| t.lines().count()).unwrap_or(0) < 5 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let recorded = lines(&preds);
    assert_eq!(recorded.len(), 48, "every case has a record");
    let failed = recorded.iter().filter(|p| p.get("failure").is_some()).count();
    assert!((1..48).contains(&failed), "{failed} failed: the cases after the kill, not the ones before");

    let _replacement = Server::start(&gguf(), port, 2);
    let o = fgbench(&[
        "eval",
        "--dataset",
        &ds,
        "--out",
        out.to_str().unwrap(),
        "--max-new-tokens",
        "48",
        "--ignore-eos",
        "--engine",
        "openai",
        "--endpoint",
        &url,
        "--resume",
        "--concurrency",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("{failed} generated ({} resumed)", 48 - failed)), "{}", stdout(&o));
    let latest = by_id(&out);
    assert_eq!(latest.len(), 48);
    assert!(latest.values().all(|p| p.get("failure").is_none() && p["completion_tokens"] == 48));
    let results = lines(&out.join("results.jsonl"));
    assert_eq!(results.len(), 48, "one result per case, the failed records replaced");
}

/// A proxy in front of the server that answers the first completions requests with the
/// given statuses, then passes everything through (one request per connection).
fn fault_proxy(upstream: u16, faults: Vec<u16>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let (faults, count) = (faults.clone(), count.clone());
            std::thread::spawn(move || {
                let Some((head, body)) = read_request(&mut client) else { return };
                let n = if head.starts_with("POST /v1/completions") { count.fetch_add(1, Ordering::SeqCst) } else { usize::MAX };
                if let Some(status) = faults.get(n) {
                    let reply = format!(
                        "HTTP/1.1 {status} Fault\r\nContent-Type: application/json\r\nRetry-After: 0\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{{\"error\":\"injected fault\"}}"
                    );
                    let _ = client.write_all(reply.as_bytes());
                    return;
                }
                let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
                let head: String =
                    head.lines().filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).map(|l| format!("{l}\r\n")).collect();
                let _ = up.write_all(format!("{}Connection: close\r\n\r\n", head.trim_end_matches("\r\n").to_string() + "\r\n").as_bytes());
                let _ = up.write_all(&body);
                let _ = std::io::copy(&mut up, &mut client);
            });
        }
    });
    (port, seen)
}

fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((head, body))
}

#[test]
fn rate_limits_and_server_errors_are_retried_then_recorded_and_resume_completes() {
    let server = Server::start(&gguf(), free_port(), 1);
    // Case 1: 429 twice (out of retries); case 2: 500 twice; case 3: 500 then through.
    let (port, seen) = fault_proxy(server.port, vec![429, 429, 500, 500, 500]);
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = eval(&remote(&url), &out, &["--retries", "1", "--limit", "6"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let preds = lines(&out.join("predictions.jsonl"));
    assert_eq!(preds.len(), 6);
    let failures: Vec<&str> = preds.iter().filter_map(|p| p["failure"]["message"].as_str()).collect();
    assert_eq!(failures.len(), 2, "{preds:?}");
    assert!(failures[0].contains("HTTP 429") && failures[1].contains("HTTP 500"), "{failures:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 6 + 3, "each failed attempt was retried once");
    let o = eval(&remote(&url), &out, &["--retries", "1", "--limit", "6", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 generated (4 resumed)"), "{}", stdout(&o));
    assert!(by_id(&out).values().all(|p| p.get("failure").is_none()));
}

#[test]
fn a_stalled_server_times_out_per_case_and_resume_completes_when_it_wakes() {
    let server = Server::start(&gguf(), free_port(), 1);
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    server.signal("-STOP");
    let o = eval(&remote(&url), &out, &["--retries", "0", "--read-timeout-s", "0.5", "--limit", "3"]);
    server.signal("-CONT");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let preds = lines(&out.join("predictions.jsonl"));
    assert_eq!(preds.len(), 3);
    assert!(preds.iter().all(|p| p["failure"]["message"].as_str().unwrap().contains("read timeout")), "{preds:?}");
    // Awake again, the server gets a read timeout and retries that a loaded test machine
    // cannot exhaust.
    let o = eval(&remote(&url), &out, &["--limit", "3", "--retries", "3", "--read-timeout-s", "60", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(by_id(&out).values().all(|p| p.get("failure").is_none()));
}

#[test]
fn open_loop_load_against_the_server_and_the_max_rate_search() {
    let server = Server::start(&gguf(), free_port(), 4);
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let ds = repo_file("datasets/demo.jsonl");
    let out = dir.path().join("b");
    let o = fgbench(&[
        "bench",
        "--engine",
        "openai",
        "--endpoint",
        &url,
        "--dataset",
        &ds,
        "--max-new-tokens",
        "8",
        "--request-rate",
        "20",
        "--requests",
        "16",
        "--slo-e2e-ms",
        "60000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    let levels = b["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 1, "no closed-loop level unless asked: {levels:?}");
    assert_eq!(levels[0]["request_rate"], 20.0);
    assert_eq!(levels[0]["requests"], 16);
    assert_eq!(levels[0]["goodput"], 1.0);
    assert_eq!(b["manifest"]["engine"]["engine"], "openai");

    // The search on the local engine: a generous SLO passes every doubling; an impossible
    // one fails the first rate.
    let gguf = gguf();
    let model = gguf.to_str().unwrap();
    let common = [
        "bench",
        "--model",
        model,
        "--dataset",
        &ds,
        "--max-new-tokens",
        "4",
        "--find-max-rate",
        "--request-rate",
        "50",
        "--requests",
        "6",
    ];
    let o = fgbench(&[&common[..], &["--slo-e2e-ms", "60000"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    // Every doubling passed: the cap is a lower bound, and says so.
    assert!(stdout(&o).contains("max rate meeting the SLOs (goodput >= 95%): at least 6400.000 requests/s"), "{}", stdout(&o));
    let o = fgbench(&[&common[..], &["--slo-e2e-ms", "0.0001"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("even the first rate missed the SLOs"), "{}", stdout(&o));
    let o = fgbench(&common);
    assert_eq!(o.status.code(), Some(2), "the search needs an SLO");
}

#[test]
fn three_shards_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = gguf();
    let local = ["--engine", "llamacpp", "--model", gguf.to_str().unwrap()];
    let single = dir.path().join("single");
    assert!(eval(&local, &single, &[]).status.success());
    let shards: Vec<PathBuf> = (1..=3).map(|k| dir.path().join(format!("s{k}"))).collect();
    for (k, s) in shards.iter().enumerate() {
        let o = eval(&local, s, &["--shard", &format!("{}/3", k + 1)]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let sizes: Vec<usize> = shards.iter().map(|s| lines(&s.join("predictions.jsonl")).len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 48, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n > 0 && n < 48), "{sizes:?}");
    let merged = dir.path().join("merged");
    let args = |out: &Path, runs: &[&PathBuf]| {
        let mut a: Vec<String> = vec!["merge".into()];
        a.extend(runs.iter().map(|r| r.to_str().unwrap().to_string()));
        a.extend(["--out".into(), out.to_str().unwrap().to_string()]);
        a
    };
    let run = |a: Vec<String>| fgbench(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(args(&merged, &[&shards[2], &shards[0], &shards[1]]));
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = |d: &Path| {
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("timing");
        v
    };
    assert_eq!(summary(&merged), summary(&single));
    let ids = |d: &Path| lines(&d.join("predictions.jsonl")).iter().map(|p| p["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&merged), ids(&single), "dataset order");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(merged.join("manifest.json")).unwrap()).unwrap();
    assert!(m.get("shard").is_none());
    assert_eq!(m["merged_from"].as_array().unwrap().len(), 3);

    // A missing shard, a shard given twice, and a shard made with other settings are refused.
    let o = run(args(&dir.path().join("x"), &[&shards[0], &shards[1]]));
    assert!(stderr(&o).contains("shard(s) 3/3 missing"), "{}", stderr(&o));
    let o = run(args(&dir.path().join("x"), &[&shards[0], &shards[0], &shards[1]]));
    assert!(stderr(&o).contains("given twice"), "{}", stderr(&o));
    let other = dir.path().join("other3");
    assert!(eval(&local, &other, &["--shard", "3/3", "--prompt-style", "bfcl"]).status.success());
    let o = run(args(&dir.path().join("x"), &[&shards[0], &shards[1], &other]));
    assert!(stderr(&o).contains("not a shard of the same run") && stderr(&o).contains("prompt_style"), "{}", stderr(&o));
    assert!(!dir.path().join("x").join("summary.json").exists());
}

#[test]
fn serve_puts_a_served_deployment_next_to_the_local_checkpoint() {
    let http = Server::start(&gguf(), free_port(), 2);
    let url = http.url();
    let local = format!("local={}", gguf().to_str().unwrap());
    let served = format!("served={url}");
    let s = crate::serve::Server::start(&["--model", &local, "--model", &served, "--max-new-tokens", "12"]);
    let v = s.ask(serde_json::json!({"id": "c", "type": "compare", "models": ["local", "served"], "case_id": "demo_simple_0"}));
    assert_eq!(v["type"], "compare", "{v}");
    assert_eq!(v["results"]["served"]["text"], local_outputs()["demo_simple_0"]["output"]);
    assert_eq!(v["identical"], true, "{v}");
    let models = s.ask(serde_json::json!({"type": "models"}));
    let served = models["models"].as_array().unwrap().iter().find(|m| m["name"] == "served").cloned().unwrap();
    assert_eq!(served["model"]["engine"]["engine"], "openai", "{models}");
    // A client cannot point the server at a URL of its choosing.
    let v = s.ask(serde_json::json!({"id": "l", "type": "load", "name": "x", "source": "http://127.0.0.1:9"}));
    assert_eq!(v["type"], "error", "{v}");
    assert!(v["message"].as_str().unwrap().contains("named at start-up"), "{v}");
}

#[test]
fn on_the_demo_model_raw_mode_is_token_for_token_the_local_engine() {
    let fetch = fgbench(&["models", "fetch-demo"]);
    assert!(fetch.status.success(), "{}", stderr(&fetch));
    let gguf = PathBuf::from(stdout(&fetch).trim()).parent().unwrap().join("gemma-3-270m-q4_k_m.gguf");
    // One slot, and the local engine without its prefix cache: the same computation on both
    // sides (prefix reuse and batching change the micro-batches, and near-ties with them).
    let server = Server::start(&gguf, free_port(), 1);
    let url = server.url();
    let ds = repo_file("datasets/app/test.jsonl");
    let o = fgbench(&[
        "parity",
        "--model",
        "demo",
        "--dataset",
        &ds,
        "--limit",
        "3",
        "--max-new-tokens",
        "48",
        "--variant",
        "engine:llamacpp+prefix-cache:off",
        "--variant",
        "engine:openai",
        "--endpoint",
        &url,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let served = &v["variants"][0];
    assert_eq!(served["identical"], 3, "{v}");
}

#[test]
fn gate_interleaved_measures_a_local_checkpoint_against_its_deployment() {
    let server = Server::start(&gguf(), free_port(), 1);
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let gguf = gguf();
    let o = fgbench(&[
        "gate",
        "--interleaved",
        "--baseline-model",
        gguf.to_str().unwrap(),
        "--current-model",
        &url,
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--limit",
        "6",
        "--max-new-tokens",
        "12",
        "--json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    // The same weights on both sides: the accuracy check cannot fail, whatever the timing does.
    let checks = v["checks"].as_array().unwrap();
    let accuracy = checks.iter().find(|c| c["metric"].as_str().is_some_and(|m| m.contains("accuracy"))).unwrap_or_else(|| panic!("{v}"));
    assert_eq!(accuracy["baseline"], accuracy["current"], "{v}");
    assert_ne!(accuracy["decision"], "fail", "{v}");
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<testsuite"));
    // And `eval --model URL` is the openai engine on that endpoint.
    let out = dir.path().join("r");
    let o = eval(&["--model", &url], &out, &["--limit", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["engine"]["engine"], "openai");
}

#[test]
fn replicas_share_the_requests() {
    let server = Server::start(&gguf(), free_port(), 4);
    // Two counting proxies in front of one server stand for two replicas.
    let (a, seen_a) = fault_proxy(server.port, Vec::new());
    let (b, seen_b) = fault_proxy(server.port, Vec::new());
    let (url_a, url_b) = (format!("http://127.0.0.1:{a}"), format!("http://127.0.0.1:{b}"));
    let dir = tempfile::tempdir().unwrap();
    let o = eval(
        &["--engine", "openai", "--endpoint", &url_a, "--endpoint", &url_b],
        &dir.path().join("r"),
        &["--limit", "12", "--concurrency", "4"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (na, nb) = (seen_a.load(Ordering::SeqCst), seen_b.load(Ordering::SeqCst));
    assert_eq!(na + nb, 12, "one completion request per case");
    assert!(na >= 3 && nb >= 3, "least outstanding first spreads them: {na} and {nb}");
}
