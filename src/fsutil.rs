//! File helpers: atomic writes, cache-entry locks and content hashes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// Writes `bytes` to a temporary file beside `path`, syncs it, then renames it into place, so
/// readers never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes records as JSON lines to `path` atomically: a few thousand records at a time are
/// serialized on all cores, then written in order.
pub fn write_jsonl<T: serde::Serialize + Sync>(path: &Path, records: &[T]) -> std::io::Result<()> {
    use rayon::prelude::*;
    write_atomic_with(path, |w| {
        for group in records.chunks(8192) {
            let parts = group
                .par_chunks(256)
                .map(|chunk| {
                    let mut buf = Vec::with_capacity(256 * chunk.len());
                    for r in chunk {
                        serde_json::to_writer(&mut buf, r)?;
                        buf.push(b'\n');
                    }
                    Ok(buf)
                })
                .collect::<Result<Vec<_>, serde_json::Error>>()?;
            for part in parts {
                w.write_all(&part)?;
            }
        }
        Ok(())
    })
}

/// Like [`write_atomic`], for content produced by a writer (buffered, seekable): nothing
/// appears at `path` unless `write` succeeds; a failed write leaves no temporary file.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = temp_sibling(path);
    let written = (|| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

/// A temporary name beside `path` that no other writer uses, in this process or another
/// (process id and a per-process counter), so concurrent writers never share one.
pub fn temp_sibling(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    dir.join(format!(".{name}.tmp.{}.{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// An exclusive lock on a cache entry while it is being made: the OS's advisory lock on
/// `<entry>.lock` beside it, released when dropped (or when the process dies).
pub struct EntryLock {
    _file: std::fs::File,
}

/// Waits for the lock of the cache entry at `entry` (a file or folder, present or not).
/// Callers check for the entry again once they hold it: whoever held it before may have
/// made it meanwhile, so two processes asking at once make it once.
pub fn lock_entry(entry: &Path) -> std::io::Result<EntryLock> {
    let dir = entry.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(format!(".{name}.lock")))?;
    file.lock()?;
    Ok(EntryLock { _file: file })
}

/// Makes the cache entry at `entry` with `make` unless `ready` says it is there, under its
/// lock: one maker at a time, and none when another already made it.
pub fn ensure_entry<E>(
    entry: &Path,
    ready: impl Fn() -> bool,
    make: impl FnOnce() -> Result<(), E>,
    lock_err: impl FnOnce(std::io::Error) -> E,
) -> Result<(), E> {
    if ready() {
        return Ok(());
    }
    let _lock = lock_entry(entry).map_err(lock_err)?;
    if ready() {
        return Ok(());
    }
    make()
}

/// Hex sha256 of a file's bytes.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_makers_of_one_entry_make_it_once_and_never_see_it_half_made() {
        let dir = tempfile::tempdir().unwrap();
        let entry = dir.path().join("entry.txt");
        let made = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    ensure_entry(
                        &entry,
                        || entry.is_file(),
                        || {
                            made.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            write_atomic(&entry, b"done")
                        },
                        |e| e,
                    )
                    .unwrap();
                    assert_eq!(std::fs::read(&entry).unwrap(), b"done");
                });
            }
        });
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn temporary_names_differ_between_writers() {
        let p = Path::new("/tmp/x/file.json");
        assert_ne!(temp_sibling(p), temp_sibling(p));
    }
}
