//! Creating the server's socket file safely: owner-only permissions from the first moment,
//! a stale socket of a dead server replaced, a live server's socket or any other file never
//! clobbered.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
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

/// Binds a listener at `path` with mode 0600. The socket is made under a temporary name,
/// restricted, then renamed into place, so no other user can connect in between.
pub fn bind(path: &Path) -> Result<tokio::net::UnixListener, SocketError> {
    let io = |source| SocketError::Io { path: path.to_path_buf(), source };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(SocketError::InUse(path.to_path_buf()));
            }
            // Nobody answers: a dead server's socket.
            std::fs::remove_file(path).map_err(io)?;
        }
        Ok(_) => return Err(SocketError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let tmp = path.with_file_name(format!(".{}.{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let std_listener = std::os::unix::net::UnixListener::bind(&tmp).map_err(io)?;
    let restrict = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = restrict {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std_listener.set_nonblocking(true).map_err(io)?;
    tokio::net::UnixListener::from_std(std_listener).map_err(io)
}
