//! The server's socket file: owner-only from the moment it exists (created under a
//! restrictive umask), a stale socket of a dead server replaced (only when connecting to it
//! is refused), any other file never clobbered, and removed at exit only while it is still
//! the one this server made.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("{0}: a server is already listening there")]
    InUse(PathBuf),
    #[error("{0}: exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A listening socket and the identity of its file.
pub struct Bound {
    pub listener: tokio::net::UnixListener,
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Bound {
    /// Removes the socket file if it is still the one bound here (another server may have
    /// replaced it meanwhile; its file is left alone).
    pub fn remove_if_ours(&self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path)
            && m.dev() == self.dev
            && m.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// umask is per process: binds are serialized so two servers starting in one process (the
/// tests) do not undo each other's mask.
static UMASK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Binds a listener at `path`, mode 0600 from the start.
pub fn bind(path: &Path) -> Result<Bound, SocketError> {
    let io = |source| SocketError::Io { path: path.to_path_buf(), source };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(SocketError::InUse(path.to_path_buf())),
            // Nobody listens: a dead server's socket.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => std::fs::remove_file(path).map_err(io)?,
            // Permission denied and the like: not ours to judge, let alone remove.
            Err(e) => return Err(io(e)),
        },
        Ok(_) => return Err(SocketError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let listener = {
        let _serial = UMASK.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: umask only swaps the process's file-creation mask; restored right after.
        let old = unsafe { libc::umask(0o177) };
        let bound = std::os::unix::net::UnixListener::bind(path);
        unsafe { libc::umask(old) };
        bound.map_err(|e| if e.kind() == std::io::ErrorKind::AddrInUse { SocketError::InUse(path.to_path_buf()) } else { io(e) })?
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    let listener = tokio::net::UnixListener::from_std(listener).map_err(io)?;
    Ok(Bound { listener, path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_socket_is_owner_only_a_stale_one_is_replaced_and_only_ours_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        // A stale socket (bound, then its listener gone) is replaced.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let b = bind(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // A live one is not.
        assert!(matches!(bind(&path), Err(SocketError::InUse(_))));
        // Someone else's file at the path after ours: left alone at exit.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"not ours").unwrap();
        b.remove_if_ours();
        assert!(path.exists());
        assert!(matches!(bind(&path), Err(SocketError::NotASocket(_))));
        std::fs::remove_file(&path).unwrap();
        let b = bind(&path).unwrap();
        b.remove_if_ours();
        assert!(!path.exists());
    }
}
