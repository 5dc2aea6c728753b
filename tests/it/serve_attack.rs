//! `fgbench serve` attacked as a hostile or careless client would: requests that used to
//! wedge or crash it, its load policy, slow readers, a protocol fuzz and a soak. Every
//! request line gets exactly one final answer, the server stays up, nothing stays in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::cli::{fgbench, repo_file, stderr};
use crate::engine::fixture;
use crate::serve::{Server, in_flight};

/// The first demo case, as a client would send it whole.
fn demo_case() -> Value {
    serde_json::from_str(std::fs::read_to_string(repo_file("datasets/demo.jsonl")).unwrap().lines().nth(16).unwrap()).unwrap()
}

/// Waits until the server has nothing in flight (requests end asynchronously).
fn settles(s: &Server) {
    let t = Instant::now();
    while in_flight(s) != 0 {
        assert!(t.elapsed() < Duration::from_secs(20), "requests stay in flight");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_case_with_broken_answers_is_refused_and_a_crashing_engine_is_answered() {
    let s = Server::start(&["--model", "echo=mock:echo", "--drain-s", "2", "--allow-shutdown"]);
    let mut case = demo_case();
    case["kind"] = json!("multiple");
    case["answers"] = json!([{}]);
    case["messages"][0]["content"] = json!("<start_function_call>call:x{}<end_function_call>");
    for kind in ["call", "generate"] {
        let v = s.ask(json!({"id": "broken", "type": kind, "model": "echo", "case": case}));
        assert_eq!(v["code"], "bad_request", "{v}");
        assert!(v["message"].as_str().unwrap().contains("exactly one function"), "{v}");
    }
    // The id is free again and nothing is left in flight.
    let v = s.ask(json!({"id": "broken", "type": "generate", "model": "echo", "prompt": "fine"}));
    assert_eq!(v["text"], "fine");
    // An engine that panics: the request is answered, the server goes on.
    let v = s.ask(json!({"id": "boom", "type": "generate", "model": "echo", "prompt": fgbench::engine::mock::EchoEngine::CRASH}));
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(in_flight(&s), 0);
    assert_eq!(s.ask(json!({"id": 2, "type": "generate", "model": "echo", "prompt": "still here"}))["text"], "still here");
    // Shutdown does not wait for a drain: nothing is stuck.
    let t = Instant::now();
    assert_eq!(s.ask(json!({"type": "shutdown"}))["type"], "shutdown");
    let (code, err) = s.wait();
    assert_eq!(code, Some(0), "{err}");
    assert!(t.elapsed() < Duration::from_secs(2), "shutdown waited for a stuck request");
}

#[test]
fn mistral_engines_unload_and_reload_under_a_name_and_shutdown_exits_cleanly() {
    let dir = fixture().to_str().unwrap();
    let s = Server::start(&["--engine", "mistralrs", "--model", &format!("m={dir}"), "--model-dir", dir, "--max-new-tokens", "4"]);
    let generate = |s: &Server| s.ask(json!({"id": "g", "type": "generate", "model": "m", "prompt": "<bos>hello"}));
    assert_eq!(generate(&s)["type"], "result");
    // Reloading under the same name drops the old engine off the runtime, outside the lock.
    let v = s.ask(json!({"id": "l", "type": "load", "name": "m", "source": dir, "engine": "mistralrs"}));
    assert_eq!(v["type"], "load", "{v}");
    assert_eq!(generate(&s)["type"], "result");
    // Unloading an idle model keeps the connection and the server alive.
    let mut c = s.client();
    let v = c.request(&json!({"id": "u", "type": "unload", "name": "m"}), |_| {}).unwrap();
    assert_eq!(v["type"], "unload", "{v}");
    let v = c.request(&json!({"id": "st", "type": "stats"}), |_| {}).unwrap();
    assert_eq!(v["type"], "stats");
    let v = s.ask(json!({"id": "l2", "type": "load", "name": "m", "source": dir, "engine": "mistralrs"}));
    assert_eq!(v["type"], "load", "{v}");
    Command::new("kill").args(["-TERM", &s.child.id().to_string()]).status().unwrap();
    let (code, err) = s.wait();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn max_new_tokens_is_bounded_by_the_context_and_zero_generates_nothing() {
    let gguf = fixture().join("model.gguf");
    let s =
        Server::start(&["--engine", "llamacpp", "--model", &format!("a={}", gguf.display()), "--ctx-per-seq", "512", "--max-queue", "8"]);
    // Another client's request runs alongside the hostile ones and is not hurt.
    let fine = s.ask(json!({"id": "f", "type": "generate", "model": "a", "prompt": "<bos>hello", "settings": {"max_new_tokens": 8}}));
    assert_eq!(fine["type"], "result");
    for n in [u64::MAX, 1 << 40, 600] {
        let v = s.ask(json!({"id": "huge", "type": "generate", "model": "a", "prompt": "<bos>hello", "settings": {"max_new_tokens": n}}));
        assert_eq!(v["code"], "bad_request", "{n}: {v}");
        assert!(v["message"].as_str().unwrap().contains("exceeds the context"), "{v}");
    }
    let v = s.ask(json!({"id": "zero", "type": "generate", "model": "a", "prompt": "<bos>hello", "settings": {"max_new_tokens": 0}}));
    assert_eq!((v["text"].as_str(), v["timings"]["completion_tokens"].as_u64()), (Some(""), Some(0)), "{v}");
    let again = s.ask(json!({"id": "f2", "type": "generate", "model": "a", "prompt": "<bos>hello", "settings": {"max_new_tokens": 8}}));
    assert_eq!(again["text"], fine["text"], "the model still answers as before");
    // Sampling settings that mean nothing are refused, not ignored.
    let v = s.ask(json!({"id": "k", "type": "generate", "model": "a", "prompt": "<bos>hi", "settings": {"top_k": 5}}));
    assert_eq!(v["code"], "bad_request", "{v}");
}

#[test]
fn the_load_policy_is_enforced_over_the_socket() {
    let allowed = tempfile::tempdir().unwrap();
    let gguf = allowed.path().join("m.gguf");
    std::fs::copy(fixture().join("model.gguf"), &gguf).unwrap();
    let outside = fixture().join("model.gguf");
    let cache = tempfile::tempdir().unwrap();
    // An empty cache: `demo` is not there, so loading it would download it.
    let child = Command::new(env!("CARGO_BIN_EXE_fgbench"))
        .args([
            "serve",
            "--socket",
            allowed.path().join("s.sock").to_str().unwrap(),
            "--model",
            "echo=mock:echo:20",
            "--model-dir",
            allowed.path().to_str().unwrap(),
            "--max-models",
            "2",
            "--max-queue",
            "2",
            "--max-connections",
            "3",
        ])
        .env("FGBENCH_CACHE", cache.path())
        .env("HF_HUB_OFFLINE", "0")
        .env("HF_HOME", cache.path().join("hf"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let s = crate::serve::Server::adopt(child, allowed.path().join("s.sock"));
    let load = |name: &str, source: &str| s.ask(json!({"id": name, "type": "load", "name": name, "source": source}));
    let code = |v: &Value| v["code"].as_str().unwrap_or("").to_string();
    assert_eq!(code(&load("out", outside.to_str().unwrap())), "forbidden");
    let climb = format!("{}/../{}", allowed.path().display(), outside.display());
    assert_eq!(code(&load("climb", &climb)), "forbidden");
    assert_eq!(code(&load("demo", "demo")), "forbidden");
    // A hub id resolves from the cache only: nothing is downloaded, the load fails.
    assert_eq!(code(&load("hub", "google/functiongemma-270m-it")), "load");
    assert_eq!(load("in", gguf.to_str().unwrap())["type"], "load");
    // --max-models 2: echo and `in` are loaded.
    assert_eq!(code(&load("third", gguf.to_str().unwrap())), "forbidden");
    // Shutdown needs --allow-shutdown.
    assert_eq!(code(&s.ask(json!({"type": "shutdown"}))), "forbidden");
    // Loads and each model of a compare count against --max-queue 2.
    let mut busy = s.client();
    busy.send(&json!({"id": "slow", "type": "generate", "model": "echo", "prompt": "s".repeat(8 * 50)})).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let v = s.ask(json!({"id": "cmp", "type": "compare", "models": ["echo", "in"], "prompt": "<bos>x"}));
    assert_eq!(code(&v), "busy", "{v}");
    // A second slow request takes the last place: a load now waits for one like any request.
    busy.send(&json!({"id": "slow2", "type": "generate", "model": "echo", "prompt": "s".repeat(8 * 50)})).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let v = s.ask(json!({"id": "ld", "type": "load", "name": "in", "source": gguf.to_str().unwrap()}));
    assert_eq!(code(&v), "busy", "a load takes a queue place too: {v}");
    for _ in 0..2 {
        assert_eq!(busy.recv().unwrap().unwrap()["type"], "result");
    }
    drop(busy);
    std::thread::sleep(Duration::from_millis(200));
    // --max-connections 3: a fourth client is told so and closed.
    let held: Vec<UnixStream> = (0..3).map(|_| UnixStream::connect(&s.socket).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut fourth = UnixStream::connect(&s.socket).unwrap();
    let mut line = String::new();
    fourth.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = fourth.read_to_string(&mut line);
    assert!(line.contains("\"code\":\"busy\"") && line.contains("--max-connections"), "{line}");
    drop(held);
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_slows_no_one() {
    let s = Server::start(&["--model", "fast=mock:echo", "--write-timeout-s", "1", "--max-line", "4000000"]);
    let mut slow = UnixStream::connect(&s.socket).unwrap();
    // A stream of ~250,000 token events that this client never reads.
    let req = json!({"id": "flood", "type": "generate", "model": "fast", "prompt": "x".repeat(2_000_000), "stream": true});
    writeln!(slow, "{req}").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Others are answered promptly meanwhile.
    let t = Instant::now();
    for i in 0..5 {
        assert_eq!(s.ask(json!({"id": i, "type": "generate", "model": "fast", "prompt": "hi"}))["text"], "hi");
    }
    assert!(t.elapsed() < Duration::from_secs(5));
    settles(&s);
    // The slow client's connection was closed: reading drains what was sent, then ends.
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = Vec::new();
    let r = slow.read_to_end(&mut sink);
    assert!(r.is_ok(), "the server closed the connection: {r:?}");
    assert!(!String::from_utf8_lossy(&sink).contains("\"type\":\"result\""), "the flood never finished");
}

#[test]
fn the_client_command_ends_on_an_error_without_an_id() {
    let s = Server::start(&["--model", "echo=mock:echo", "--max-line", "100"]);
    let long = format!(r#"{{"id":5,"type":"generate","model":"echo","prompt":"{}"}}"#, "y".repeat(300));
    let mut child = Command::new(env!("CARGO_BIN_EXE_fgbench"))
        .args(["client", "--socket", s.socket.to_str().unwrap(), &long])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "fgbench client hangs on an error without an id");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains("line_too_long"), "{out}");
}

#[test]
fn start_up_refuses_settings_it_cannot_honour_and_hello_checks_the_major_version() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    for bad in [vec!["--drain-s", "inf"], vec!["--drain-s", "-1"], vec!["--max-queue", "18446744073709551615"], vec!["--max-queue", "0"]] {
        let mut args = vec!["serve", "--socket", sock.to_str().unwrap(), "--model", "e=mock:echo"];
        args.extend(bad.iter().copied());
        let o = fgbench(&args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
    }
    let s = Server::start(&["--model", "e=mock:echo"]);
    assert_eq!(s.ask(json!({"id": 1, "type": "hello", "protocol": "fgbench.serve/1.7"}))["type"], "hello");
    assert_eq!(s.ask(json!({"id": 2, "type": "hello", "protocol": "fgbench.serve/2"}))["code"], "unsupported_protocol");
}

/// A random request line: valid, wrong, huge or nested, and sometimes not JSON at all.
fn random_line(rng: &mut rand_chacha::ChaCha8Rng, k: usize, models: &[&str]) -> String {
    let id = json!(format!("r{k}"));
    let model = models[rng.random_range(0..models.len())];
    let prompt: String = (0..rng.random_range(0..40)).map(|_| rng.random_range(b'a'..=b'z') as char).collect();
    let numbers = [json!(0), json!(1), json!(3), json!(-1), json!(u64::MAX), json!(1e308), json!("8"), json!(null), json!([1])];
    let num = numbers[rng.random_range(0..numbers.len())].clone();
    let mut case = demo_case();
    match rng.random_range(0..18) {
        0 => json!({"id": id, "type": "generate", "model": model, "prompt": format!("<bos>{prompt}"), "settings": {"max_new_tokens": num}})
            .to_string(),
        1 => json!({"id": id, "type": "generate", "model": model, "prompt": prompt, "stream": true, "settings": {"max_new_tokens": 3}})
            .to_string(),
        2 => json!({"id": id, "type": "call", "model": model, "case_id": "demo_simple_0", "settings": {"max_new_tokens": 3}}).to_string(),
        3 => {
            // A whole case with broken answers, kinds or tools.
            match rng.random_range(0..4) {
                0 => case["answers"] = json!([{}]),
                1 => case["answers"] = json!([]),
                2 => case["tools"] = json!([{"description": "no name"}]),
                _ => case["kind"] = json!("parallel"),
            }
            json!({"id": id, "type": "call", "model": model, "case": case, "settings": {"max_new_tokens": 3}}).to_string()
        }
        4 => json!({"id": id, "type": "compare", "models": [models[0], model], "prompt": prompt, "settings": {"max_new_tokens": 2}})
            .to_string(),
        5 => json!({"id": id, "type": "cancel", "target": format!("r{}", k.saturating_sub(rng.random_range(1..4)))}).to_string(),
        6 => json!({"id": id, "type": "stats"}).to_string(),
        7 => json!({"id": id, "type": "models"}).to_string(),
        8 => json!({"id": id, "type": "hello", "protocol": num}).to_string(),
        9 => json!({"id": id, "type": "generate", "model": num, "prompt": num}).to_string(),
        10 => json!({"id": id, "type": "generate", "model": model, "prompt": "x", "case_id": "demo_simple_0"}).to_string(),
        11 => json!({"id": id, "type": "load", "name": "x", "source": "/etc/passwd"}).to_string(),
        12 => json!({"id": id, "type": "unload", "name": "not-loaded"}).to_string(),
        13 => format!("{}{}", "[".repeat(rng.random_range(1..5000)), "]".repeat(rng.random_range(0..3))),
        14 => json!({"id": id, "type": "shutdown"}).to_string(),
        15 => json!({"id": id, "type": ["generate"], "model": model}).to_string(),
        16 => {
            // A valid request with a byte flipped.
            let mut b = json!({"id": id, "type": "generate", "model": model, "prompt": prompt}).to_string().into_bytes();
            let at = rng.random_range(0..b.len());
            b[at] = rng.random_range(b' '..=b'~');
            String::from_utf8(b).unwrap()
        }
        _ => json!({"id": id, "type": "call", "model": model, "case_id": format!("no_such_{k}")}).to_string(),
    }
}

#[test]
fn protocol_fuzz_every_line_gets_exactly_one_final_answer() {
    let gguf = fixture().join("model.gguf");
    let s = Server::start(&[
        "--engine",
        "llamacpp",
        "--model",
        "echo=mock:echo",
        "--model",
        &format!("fix={}", gguf.display()),
        "--ctx-per-seq",
        "1024",
        "--max-queue",
        "64",
        "--max-line",
        "65536",
    ]);
    let lines_per_conn = 500;
    std::thread::scope(|scope| {
        for conn in 0..4u64 {
            let s = &s;
            scope.spawn(move || {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(conn);
                let lines: Vec<String> = (0..lines_per_conn).map(|k| random_line(&mut rng, k, &["echo", "fix"])).collect();
                let stream = UnixStream::connect(&s.socket).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let sender = std::thread::spawn(move || {
                    for l in &lines {
                        writer.write_all(l.replace('\n', " ").as_bytes()).unwrap();
                        writer.write_all(b"\n").unwrap();
                    }
                    writer.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut finals = 0;
                let mut ids = std::collections::HashMap::<String, usize>::new();
                for line in BufReader::new(stream).lines() {
                    let v: Value = serde_json::from_str(&line.unwrap()).expect("every response is JSON");
                    if v["type"] == "token" {
                        continue;
                    }
                    finals += 1;
                    if let Some(id) = v["id"].as_str() {
                        *ids.entry(id.to_string()).or_default() += 1;
                    }
                }
                sender.join().unwrap();
                assert_eq!(finals, lines_per_conn, "connection {conn}: one final answer per line");
                assert!(ids.values().all(|&n| n <= 2), "an id answered more than its lines: {ids:?}");
            });
        }
    });
    settles(&s);
    let stats = s.ask(json!({"type": "stats"}));
    assert_eq!(stats["in_flight"], 0, "{stats}");
    assert_eq!(stats["queue_free"], stats["queue_capacity"], "{stats}");
    assert_eq!(s.ask(json!({"id": "alive", "type": "generate", "model": "echo", "prompt": "ok"}))["text"], "ok");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).unwrap().parse().unwrap()
}

#[test]
fn soak_64_clients_with_cancels_disconnects_slow_readers_and_a_reload_lose_nothing() {
    let dir = fixture().to_str().unwrap();
    let gguf = fixture().join("model.gguf");
    let s = Server::start(&[
        "--engine",
        "llamacpp",
        "--model",
        &format!("l={}", gguf.display()),
        "--model",
        "e=mock:echo:1",
        "--model-dir",
        dir,
        "--max-queue",
        "256",
        "--max-new-tokens",
        "6",
        "--allow-shutdown",
    ]);
    let pid = s.child.id();
    // A mistral.rs model next to the llama.cpp one (start-up models share --engine).
    let v = s.ask(json!({"id": "lm", "type": "load", "name": "m", "source": dir, "engine": "mistralrs"}));
    assert_eq!(v["type"], "load", "{v}");
    // Warm the three models, then take the memory baseline.
    for m in ["l", "e", "m"] {
        s.ask(json!({"id": "w", "type": "generate", "model": m, "prompt": "<bos>warm"}));
    }
    let rss_before = rss_kib(pid);
    let answered = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for c in 0..64u64 {
            let (s, answered) = (&s, &answered);
            scope.spawn(move || {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(100 + c);
                let mut client = s.client();
                for r in 0..20 {
                    let id = format!("c{c}-{r}");
                    let model = ["l", "e", "m"][rng.random_range(0..3)];
                    let req = json!({"id": id, "type": "generate", "model": model, "prompt": format!("<bos>client {c} request {r}"), "stream": rng.random_bool(0.3)});
                    match rng.random_range(0..10) {
                        // Disconnect mid-stream: a fresh connection, dropped after the first event.
                        0 => {
                            let mut raw = UnixStream::connect(&s.socket).unwrap();
                            writeln!(raw, "{}", json!({"id": id, "type": "generate", "model": "e", "prompt": "d".repeat(400), "stream": true})).unwrap();
                            let mut first = String::new();
                            BufReader::new(&raw).read_line(&mut first).unwrap();
                            drop(raw);
                        }
                        // Cancel right after sending.
                        1 => {
                            client.send(&json!({"id": id, "type": "generate", "model": "e", "prompt": "c".repeat(200)})).unwrap();
                            client.send(&json!({"id": format!("{id}-x"), "type": "cancel", "target": id})).unwrap();
                            let mut finals = 0;
                            while finals < 2 {
                                let v = client.recv().unwrap().expect("server closed");
                                if v["type"] != "token" {
                                    finals += 1;
                                }
                            }
                        }
                        // A slow reader: reads its answer late, after another request.
                        2 => {
                            client.send(&req).unwrap();
                            std::thread::sleep(Duration::from_millis(50));
                            client.send(&json!({"id": format!("{id}-s"), "type": "stats"})).unwrap();
                            let mut got = Vec::new();
                            while got.len() < 2 {
                                let v = client.recv().unwrap().expect("server closed");
                                if v["type"] != "token" {
                                    got.push(v["id"].as_str().unwrap().to_string());
                                }
                            }
                            got.sort();
                            assert_eq!(got, [id.clone(), format!("{id}-s")]);
                        }
                        _ => {
                            let v = client.request(&req, |_| {}).unwrap();
                            assert_eq!(v["type"], "result", "{v}");
                            assert_eq!(v["id"], json!(id));
                        }
                    }
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // A load/unload cycle of a third model in the middle.
                    if c == 0 && r == 10 {
                        let v = client.request(&json!({"id": "load", "type": "load", "name": "m2", "source": dir, "engine": "mistralrs"}), |_| {}).unwrap();
                        assert_eq!(v["type"], "load", "{v}");
                        let v = client.request(&json!({"id": "gm", "type": "generate", "model": "m2", "prompt": "<bos>hi"}), |_| {}).unwrap();
                        assert_eq!(v["type"], "result", "{v}");
                        let v = client.request(&json!({"id": "unload", "type": "unload", "name": "m2"}), |_| {}).unwrap();
                        assert_eq!(v["type"], "unload", "{v}");
                    }
                }
            });
        }
    });
    assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 64 * 20);
    settles(&s);
    let rss_after = rss_kib(pid);
    // Bounded memory: what 1,280 requests left behind (latency windows, allocator slack).
    assert!(rss_after < rss_before + 256 * 1024, "RSS grew from {rss_before} KiB to {rss_after} KiB");
    eprintln!("soak: 1280 requests, RSS {rss_before} -> {rss_after} KiB");
    assert_eq!(s.ask(json!({"type": "shutdown"}))["type"], "shutdown");
    let (code, err) = s.wait();
    assert_eq!(code, Some(0), "{err}");
}
