//! Several replicas driven as one engine: each request goes to the endpoint with the fewest
//! requests outstanding, and a retry prefers another one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub struct Endpoint {
    /// The base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    outstanding: AtomicUsize,
}

pub struct Fleet {
    endpoints: Vec<Endpoint>,
    /// Rotates the start of the search so that ties are spread.
    turn: AtomicUsize,
}

/// An endpoint taken for one request; dropping it gives the slot back.
pub struct Lease<'a> {
    pub endpoint: &'a Endpoint,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.endpoint.outstanding.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The base URL of `--endpoint`: `http://host:port` with or without a trailing `/v1`.
pub fn normalize(url: &str) -> Result<String, String> {
    let u = url.trim().trim_end_matches('/');
    let u = u.strip_suffix("/v1").unwrap_or(u);
    if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() <= "https://".len() {
        return Err(format!("--endpoint `{url}`: expected an http:// or https:// URL such as http://127.0.0.1:8080"));
    }
    Ok(u.to_string())
}

impl Fleet {
    pub fn new(urls: &[String]) -> Result<Fleet, String> {
        if urls.is_empty() {
            return Err("--engine openai needs at least one --endpoint URL".into());
        }
        let endpoints =
            urls.iter().map(|u| Ok(Endpoint { base: normalize(u)?, outstanding: AtomicUsize::new(0) })).collect::<Result<_, String>>()?;
        Ok(Fleet { endpoints, turn: AtomicUsize::new(0) })
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The endpoint with the fewest requests outstanding, other than `avoid` when there is a
    /// choice (the one that just failed).
    pub fn take(&self, avoid: Option<&str>) -> Lease<'_> {
        let n = self.endpoints.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        let best = (0..n)
            .map(|k| &self.endpoints[(start + k) % n])
            .filter(|e| n == 1 || Some(e.base.as_str()) != avoid)
            .min_by_key(|e| e.outstanding.load(Ordering::SeqCst))
            .expect("at least one endpoint");
        best.outstanding.fetch_add(1, Ordering::SeqCst);
        Lease { endpoint: best }
    }
}

/// The wait before retry `attempt` (1-based): a quarter second doubling to 4 s, or what the
/// server asked for in `Retry-After` (at most 30 s).
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    retry_after.map(|d| d.min(Duration::from_secs(30))).unwrap_or_else(|| Duration::from_millis(250u64 << attempt.saturating_sub(1).min(4)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_go_to_the_least_loaded_endpoint_and_retries_elsewhere() {
        let f = Fleet::new(&["http://a:1/v1/".into(), "http://b:2".into()]).unwrap();
        assert_eq!(f.endpoints()[0].base, "http://a:1");
        let first = f.take(None);
        let second = f.take(None);
        assert_ne!(first.endpoint.base, second.endpoint.base, "one outstanding each");
        let held = first.endpoint.base.clone();
        drop(first);
        let third = f.take(None);
        assert_eq!(third.endpoint.base, held, "the idle one");
        drop((second, third));
        for _ in 0..4 {
            assert_eq!(f.take(Some("http://a:1")).endpoint.base, "http://b:2");
        }
        assert!(Fleet::new(&[]).is_err());
        assert!(Fleet::new(&["localhost:8080".into()]).is_err());
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_honours_retry_after() {
        assert_eq!(backoff(1, None), Duration::from_millis(250));
        assert_eq!(backoff(3, None), Duration::from_millis(1000));
        assert_eq!(backoff(9, None), Duration::from_secs(4));
        assert_eq!(backoff(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(backoff(1, Some(Duration::from_secs(600))), Duration::from_secs(30));
    }
}
