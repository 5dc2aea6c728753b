//! `fgbench serve` through the real binary and a real Unix socket: many connections, streaming,
//! cancel, malformed input, disconnects, shutdown, stale sockets, permissions, and a live
//! answer equal to the batch one. The echo engine (`mock:echo`) stands in where the engine is
//! not the point; the fixture model runs where it is.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fgbench::serve::client::Client;
use serde_json::{Value, json};

use crate::cli::repo_file;
use crate::engine::fixture;

pub struct Server {
    pub child: Child,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("fg.sock");
        Server::start_at(dir, socket, extra)
    }

    pub fn start_at(dir: tempfile::TempDir, socket: PathBuf, extra: &[&str]) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_fgbench"))
            .args(["serve", "--socket", socket.to_str().unwrap(), "--dataset", &repo_file("datasets/demo.jsonl")])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let s = Server { child, socket, _dir: dir };
        let t = Instant::now();
        while UnixStream::connect(&s.socket).is_err() {
            assert!(t.elapsed() < Duration::from_secs(60), "server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    /// A server started by the caller (with its own environment), once it listens.
    pub fn adopt(child: Child, socket: PathBuf) -> Server {
        let s = Server { child, socket, _dir: tempfile::tempdir().unwrap() };
        let t = Instant::now();
        while UnixStream::connect(&s.socket).is_err() {
            assert!(t.elapsed() < Duration::from_secs(60), "server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket).unwrap()
    }

    pub fn ask(&self, req: Value) -> Value {
        self.client().request(&req, |_| {}).unwrap()
    }

    /// Waits for the process to exit; its exit code and stderr.
    pub fn wait(mut self) -> (Option<i32>, String) {
        let t = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
                return (status.code(), err);
            }
            assert!(t.elapsed() < Duration::from_secs(60), "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn in_flight(s: &Server) -> u64 {
    s.ask(json!({"id": "s", "type": "stats"}))["in_flight"].as_u64().unwrap()
}

#[test]
fn fifty_connections_of_twenty_requests_lose_and_mix_nothing() {
    let s = Server::start(&["--model", "echo=mock:echo:1", "--max-queue", "1000"]);
    std::thread::scope(|scope| {
        for c in 0..50 {
            let s = &s;
            scope.spawn(move || {
                let mut client = s.client();
                // All twenty pipelined on one connection, answered in any order.
                for r in 0..20 {
                    client
                        .send(
                            &json!({"id": format!("c{c}-r{r}"), "type": "generate", "model": "echo", "prompt": format!("prompt {c}/{r}")}),
                        )
                        .unwrap();
                }
                let mut seen = std::collections::HashSet::new();
                while seen.len() < 20 {
                    let v = client.recv().unwrap().expect("server closed early");
                    assert_eq!(v["type"], "result", "{v}");
                    let id = v["id"].as_str().unwrap().to_string();
                    let (cc, rr) = id[1..].split_once("-r").unwrap();
                    assert_eq!(cc, c.to_string(), "a response for another connection: {v}");
                    assert_eq!(v["text"], format!("prompt {c}/{rr}"), "mixed-up text: {v}");
                    assert!(seen.insert(id), "answered twice");
                }
            });
        }
    });
    let stats = s.ask(json!({"type": "stats"}));
    assert_eq!(stats["served"], 1000);
    assert_eq!(stats["in_flight"], 0);
    let m = &stats["models"]["echo"];
    assert_eq!(m["requests"], 1000);
    let (p50, p95, p99) = (m["e2e_ms_p50"].as_f64().unwrap(), m["e2e_ms_p95"].as_f64().unwrap(), m["e2e_ms_p99"].as_f64().unwrap());
    assert!(p50 > 0.0 && p50 <= p95 && p95 <= p99 && p50 < p99, "{m}");
}

#[test]
fn streams_tokens_in_order_then_the_result() {
    let s = Server::start(&["--model", "echo=mock:echo:1"]);
    let prompt = "one two three four five six seven eight nine ten";
    let mut pieces = String::new();
    let last = s.client().request(&json!({"id": 9, "type": "generate", "model": "echo", "prompt": prompt, "stream": true}), |e| {
        assert_eq!(e["id"], 9);
        pieces.push_str(e["text"].as_str().unwrap());
    });
    let last = last.unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(pieces, prompt, "pieces arrive in order and add up to the text");
    assert_eq!(last["text"], prompt);
    // Without stream: no token events, only the result.
    let mut events = 0;
    let v = s.client().request(&json!({"id": 10, "type": "generate", "model": "echo", "prompt": "x"}), |_| events += 1).unwrap();
    assert_eq!((events, v["text"].as_str()), (0, Some("x")));
}

#[test]
fn cancel_stops_a_request_and_frees_it() {
    let s = Server::start(&["--model", "slow=mock:echo:20"]);
    let mut c = s.client();
    let long = "z".repeat(8 * 500); // 500 pieces x 20 ms = 10 s uncanceled
    c.send(&json!({"id": "long", "type": "generate", "model": "slow", "prompt": long, "stream": true})).unwrap();
    let first = c.recv().unwrap().unwrap();
    assert_eq!(first["type"], "token");
    let t = Instant::now();
    c.send(&json!({"id": "stop-it", "type": "cancel", "target": "long"})).unwrap();
    let mut ack = None;
    let mut end = None;
    while ack.is_none() || end.is_none() {
        let v = c.recv().unwrap().unwrap();
        match (v["id"].as_str(), v["type"].as_str()) {
            (Some("stop-it"), _) => ack = Some(v),
            (Some("long"), Some("token")) => {}
            (Some("long"), _) => end = Some(v),
            _ => panic!("unexpected {v}"),
        }
    }
    assert_eq!(ack.unwrap()["found"], true);
    let end = end.unwrap();
    assert_eq!((end["type"].as_str(), end["code"].as_str()), (Some("error"), Some("canceled")), "{end}");
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(in_flight(&s), 0);
    let v = s.ask(json!({"id": 1, "type": "cancel", "target": "nothing"}));
    assert_eq!(v["code"], "unknown_request");
}

#[test]
fn malformed_input_gets_typed_errors_and_the_connection_goes_on() {
    let s = Server::start(&["--model", "echo=mock:echo", "--max-line", "1000"]);
    let mut raw = UnixStream::connect(&s.socket).unwrap();
    let mut lines: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        br#"{"id":1,"type":"teleport"}"#.to_vec(),
        br#"{"id":2,"type":"generate","prompt":"x"}"#.to_vec(),
        br#"{"id":3}"#.to_vec(),
        br#"{"id":4,"type":"generate","model":"nope","prompt":"x"}"#.to_vec(),
        br#"{"id":5,"type":"call","model":"echo","case_id":"no_such_case"}"#.to_vec(),
        br#"{"id":6,"type":"generate","model":"echo","prompt":"a","case_id":"demo_simple_0"}"#.to_vec(),
        br#"{"id":7,"type":"hello","protocol":"fgbench.serve/2"}"#.to_vec(),
    ];
    lines.push(format!(r#"{{"id":8,"type":"generate","model":"echo","prompt":"{}"}}"#, "x".repeat(5000)).into_bytes());
    lines.push(vec![b'{', 0xff, 0xfe, b'}']);
    lines.push(br#"{"id":"ok","type":"generate","model":"echo","prompt":"still here"}"#.to_vec());
    for l in &lines {
        raw.write_all(l).unwrap();
        raw.write_all(b"\n").unwrap();
    }
    raw.shutdown(std::net::Shutdown::Write).unwrap();
    let out: Vec<Value> =
        std::io::BufRead::lines(std::io::BufReader::new(raw)).map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    let code = |id: Value| out.iter().find(|v| v["id"] == id).map(|v| v["code"].as_str().unwrap_or("").to_string()).unwrap_or_default();
    let by_code = |c: &str| out.iter().filter(|v| v["code"] == c).count();
    assert_eq!(by_code("malformed_json"), 1, "{out:?}");
    assert_eq!(code(json!(1)), "unknown_type");
    assert_eq!(code(json!(2)), "bad_request");
    assert!(out.iter().find(|v| v["id"] == 2).unwrap()["message"].as_str().unwrap().contains("model"));
    assert_eq!(code(json!(3)), "bad_request");
    assert_eq!(code(json!(4)), "unknown_model");
    assert_eq!(code(json!(5)), "unknown_case");
    assert_eq!(code(json!(6)), "bad_request");
    assert_eq!(code(json!(7)), "unsupported_protocol");
    assert_eq!(by_code("line_too_long"), 1, "{out:?}");
    assert_eq!(by_code("invalid_utf8"), 1, "{out:?}");
    let ok = out.iter().find(|v| v["id"] == "ok").unwrap();
    assert_eq!(ok["text"], "still here");
    assert_eq!(out.len(), lines.len(), "one answer per line");
}

#[test]
fn a_client_that_disconnects_mid_stream_frees_its_work() {
    let s = Server::start(&["--model", "slow=mock:echo:20"]);
    {
        let mut c = s.client();
        c.send(&json!({"id": 1, "type": "generate", "model": "slow", "prompt": "y".repeat(8 * 500), "stream": true})).unwrap();
        assert_eq!(c.recv().unwrap().unwrap()["type"], "token");
        assert_eq!(in_flight(&s), 1);
    } // dropped: the connection closes mid-stream
    let t = Instant::now();
    while in_flight(&s) > 0 {
        assert!(t.elapsed() < Duration::from_secs(3), "the abandoned request was not freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The server is fine.
    assert_eq!(s.ask(json!({"id": 2, "type": "generate", "model": "slow", "prompt": "ok"}))["text"], "ok");
}

#[test]
fn shutdown_lets_requests_finish_then_removes_the_socket() {
    let s = Server::start(&["--model", "slow=mock:echo:10", "--allow-shutdown"]);
    let mut c = s.client();
    c.send(&json!({"id": "busy", "type": "generate", "model": "slow", "prompt": "w".repeat(8 * 30)})).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let ack = s.ask(json!({"id": "bye", "type": "shutdown"}));
    assert_eq!(ack["type"], "shutdown");
    assert_eq!(ack["in_flight"], 1);
    let done = c.recv().unwrap().unwrap();
    assert_eq!(done["type"], "result", "the request in flight finishes: {done}");
    let socket = s.socket.clone();
    let (code, err) = s.wait();
    assert_eq!(code, Some(0), "{err}");
    assert!(!socket.exists(), "socket removed");
}

#[test]
fn sigterm_past_the_drain_deadline_cancels_what_is_left() {
    let s = Server::start(&["--model", "slow=mock:echo:20", "--drain-s", "0.3"]);
    let mut c = s.client();
    c.send(&json!({"id": "long", "type": "generate", "model": "slow", "prompt": "v".repeat(8 * 500)})).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    Command::new("kill").args(["-TERM", &s.child.id().to_string()]).status().unwrap();
    let end = c.recv().unwrap().unwrap();
    assert_eq!(end["code"], "canceled", "{end}");
    let socket = s.socket.clone();
    let (code, err) = s.wait();
    assert_eq!(code, Some(0), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(!socket.exists());
    assert!(err.contains("drain deadline passed"), "{err}");
}

#[test]
fn socket_is_private_stale_ones_are_replaced_and_other_files_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    // A dead server's socket: a socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let s = Server::start_at(tempfile::tempdir().unwrap(), path.clone(), &["--model", "echo=mock:echo"]);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A live server's socket is not taken over.
    let o = crate::cli::fgbench(&["serve", "--socket", path.to_str().unwrap(), "--model", "e=mock:echo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::cli::stderr(&o).contains("already listening"), "{}", crate::cli::stderr(&o));
    drop(s);
    // A path that is not a socket is never clobbered.
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let o = crate::cli::fgbench(&["serve", "--socket", file.to_str().unwrap(), "--model", "e=mock:echo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::cli::stderr(&o).contains("not a socket"), "{}", crate::cli::stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[test]
fn a_full_queue_answers_busy() {
    let s = Server::start(&["--model", "slow=mock:echo:20", "--max-queue", "2"]);
    let mut c = s.client();
    for i in 0..6 {
        c.send(&json!({"id": i, "type": "generate", "model": "slow", "prompt": "q".repeat(40)})).unwrap();
    }
    let out: Vec<Value> = (0..6).map(|_| c.recv().unwrap().unwrap()).collect();
    let busy = out.iter().filter(|v| v["code"] == "busy").count();
    let ok = out.iter().filter(|v| v["type"] == "result").count();
    assert_eq!(ok + busy, 6, "{out:?}");
    assert_eq!(ok, 2, "two fit the queue: {out:?}");
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn live_answers_equal_batch_answers_and_models_compare_side_by_side() {
    let gguf = fixture().join("model.gguf");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("batch");
    let o = crate::cli::fgbench(&[
        "eval",
        "--engine",
        "llamacpp",
        "--model",
        gguf.to_str().unwrap(),
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--out",
        out.to_str().unwrap(),
        "--limit",
        "4",
        "--max-new-tokens",
        "12",
    ]);
    assert!(o.status.success(), "{}", crate::cli::stderr(&o));
    let s = Server::start(&[
        "--engine",
        "llamacpp",
        "--model",
        &format!("a={}", gguf.display()),
        "--max-new-tokens",
        "12",
        "--model-dir",
        fixture().to_str().unwrap(),
    ]);
    let results = lines(&out.join("results.jsonl"));
    for r in &results {
        let v = s.ask(json!({"id": r["id"], "type": "call", "model": "a", "case_id": r["id"]}));
        assert_eq!(v["type"], "call", "{v}");
        assert_eq!(v["text"], r["output"], "live vs batch, {}", r["id"]);
        assert_eq!(v["verdict"]["valid"], r["valid"]);
        assert_eq!(v["shape"], r["shape"]);
    }
    // Load a second model at run time (mistral.rs on the same weights) and compare.
    let v = s.ask(json!({"id": "l", "type": "load", "name": "b", "source": fixture().to_str().unwrap(), "engine": "mistralrs"}));
    assert_eq!(v["type"], "load", "{v}");
    assert_eq!(v["model"]["engine"]["engine"], "mistralrs");
    let models = s.ask(json!({"type": "models"}));
    assert_eq!(models["models"].as_array().unwrap().len(), 2);
    let v = s.ask(json!({"id": "c", "type": "compare", "models": ["a", "b"], "case_id": "demo_simple_0"}));
    assert_eq!(v["type"], "compare", "{v}");
    assert_eq!(v["results"]["a"]["text"], results[0]["output"]);
    // `identical` says whether the two texts are the same, not just that there are two.
    let (ta, tb) = (v["results"]["a"]["text"].as_str().unwrap(), v["results"]["b"]["text"].as_str().unwrap());
    assert_eq!(v["identical"], json!(ta == tb), "{v}");
    assert!(v["results"]["b"]["verdict"]["valid"].is_boolean());
    let v = s.ask(json!({"id": "cc", "type": "compare", "models": ["a", "a"], "case_id": "demo_simple_0"}));
    assert_eq!(v["code"], "bad_request", "a model named twice: {v}");
    // A bare case (tools + messages) is rendered by the codec; no verdict without answers.
    let case: Value =
        serde_json::from_str(std::fs::read_to_string(repo_file("datasets/demo.jsonl")).unwrap().lines().next().unwrap()).unwrap();
    let v = s.ask(json!({"id": "bare", "type": "generate", "model": "a", "case": {"tools": case["tools"], "messages": case["messages"]}}));
    assert_eq!(v["text"], results[0]["output"]);
    assert!(v.get("verdict").is_none());
    assert_eq!(s.ask(json!({"type": "unload", "name": "b"}))["type"], "unload");
    assert_eq!(s.ask(json!({"id": 1, "type": "call", "model": "b", "case_id": "demo_simple_0"}))["code"], "unknown_model");
}

#[test]
fn the_python_client_example_runs_against_a_live_server() {
    let gguf = fixture().join("model.gguf");
    let s = Server::start(&["--model", &format!("a={}", gguf.display()), "--model", "b=mock:echo", "--max-new-tokens", "8"]);
    let o = Command::new("python3")
        .arg(repo_file("clients/python/example.py"))
        .args([s.socket.to_str().unwrap(), "a", "b", "demo_simple_0", "demo_irrelevance_0"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("server: fgbench"), "{out}");
    assert!(out.contains("demo_simple_0 a: valid=False"), "{out}");
    assert!(out.contains("typed error: unknown_model"), "{out}");
    assert!(out.contains("finish: length"), "{out}");
}

#[test]
fn the_haskell_client_builds_with_debian_ghc_and_runs_against_a_live_server() {
    let gguf = fixture().join("model.gguf");
    let s = Server::start(&["--model", &format!("a={}", gguf.display()), "--model", "b=mock:echo", "--max-new-tokens", "8"]);
    let build = tempfile::tempdir().unwrap();
    let o = Command::new("bash")
        .arg(repo_file("clients/haskell/run.sh"))
        .args([s.socket.to_str().unwrap(), "a", "b", "demo_simple_0"])
        .env("FGBENCH_HS_BUILD", build.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("server: String \"fgbench"), "{out}");
    assert!(out.contains("demo_simple_0 a: valid=Bool False"), "{out}");
    assert!(out.contains("typed error: unknown_model"), "{out}");
    assert!(out.contains("finish: String \"length\""), "{out}");
}

#[test]
fn the_client_command_sends_one_request_lines_from_stdin_compare_and_bench() {
    let s = Server::start(&["--model", "a=mock:echo", "--model", "b=mock:echo:1"]);
    let sock = s.socket.to_str().unwrap();
    // One request: an id is added, the response printed, exit 0.
    let o = crate::cli::fgbench(&["client", "--socket", sock, r#"{"type":"generate","model":"a","prompt":"hi"}"#]);
    assert!(o.status.success(), "{}", crate::cli::stderr(&o));
    let v: Value = serde_json::from_str(crate::cli::stdout(&o).trim()).unwrap();
    assert_eq!((v["id"].as_i64(), v["text"].as_str()), (Some(1), Some("hi")));
    // JSON lines from stdin, pipelined: every answer printed; an error answer makes exit 1.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fgbench"))
        .args(["client", "--socket", sock])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{\"id\":1,\"type\":\"generate\",\"model\":\"a\",\"prompt\":\"x\"}\n{\"id\":2,\"type\":\"generate\",\"model\":\"nope\",\"prompt\":\"y\"}\n{\"id\":3,\"type\":\"stats\"}\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().any(|v| v["id"] == 2 && v["code"] == "unknown_model"));
    // compare: a side-by-side view of one case of the server's dataset.
    let o = crate::cli::fgbench(&["client", "--socket", sock, "compare", "--models", "a,b", "--case", "demo_simple_0"]);
    assert!(o.status.success(), "{}", crate::cli::stderr(&o));
    let text = crate::cli::stdout(&o);
    assert!(text.contains("identical outputs: true") && text.contains("== a:") && text.contains("== b:"), "{text}");
    // bench: one row per concurrency level, every request answered.
    let o = crate::cli::fgbench(&[
        "client",
        "--socket",
        sock,
        "bench",
        "--model",
        "a",
        "--cases",
        "demo_simple_0,demo_simple_1",
        "--concurrency",
        "1,3",
        "--requests",
        "6",
    ]);
    assert!(o.status.success(), "{}", crate::cli::stderr(&o));
    let rows: Vec<Vec<String>> = crate::cli::stdout(&o).lines().skip(1).map(|l| l.split_whitespace().map(String::from).collect()).collect();
    assert_eq!(rows.len(), 2);
    for (row, conc) in rows.iter().zip(["1", "3"]) {
        assert_eq!((row[0].as_str(), row[1].as_str(), row[6].as_str()), (conc, "6", "0"), "{row:?}");
    }
    // A socket nobody serves: a clear error.
    let o = crate::cli::fgbench(&["client", "--socket", "/nonexistent/fg.sock", r#"{"type":"stats"}"#]);
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::cli::stderr(&o).contains("cannot connect to /nonexistent/fg.sock"), "{}", crate::cli::stderr(&o));
}
