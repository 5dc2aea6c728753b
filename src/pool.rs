//! A fixed number of worker threads taking items off a shared index: how `eval`, `bench`
//! and the serve load benchmark keep N requests in flight.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Calls `work(worker, i)` for every `i` in `0..n` on `workers` scoped threads, each taking
/// the next index as it finishes the last. When `work` returns `false` (a failure), no
/// further index is handed out; calls already running finish.
pub fn for_each_index(n: usize, workers: usize, work: impl Fn(usize, usize) -> bool + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for w in 0..workers.max(1).min(n.max(1)) {
            let (next, work) = (&next, &work);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    if !work(w, i) {
                        // Past every index: the other workers stop at their next take.
                        next.store(usize::MAX / 2, Ordering::SeqCst);
                        break;
                    }
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_index_runs_once_and_a_failure_stops_the_handing_out() {
        let seen = Mutex::new(Vec::new());
        for_each_index(100, 4, |_, i| {
            seen.lock().unwrap().push(i);
            true
        });
        let mut v = seen.into_inner().unwrap();
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
        let count = AtomicUsize::new(0);
        for_each_index(1000, 1, |_, i| {
            count.fetch_add(1, Ordering::SeqCst);
            i < 9
        });
        assert_eq!(count.load(Ordering::SeqCst), 10);
    }
}
