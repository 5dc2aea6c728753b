//! A blocking client for `fgbench serve` (what `fgbench client` uses): one connection, JSON
//! lines out, JSON lines in, responses matched to requests by id.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {path}: {source} (is `fgbench serve --socket {path}` running?)")]
    Connect { path: String, source: std::io::Error },
    #[error("connection to the server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection before answering request {0}")]
    Closed(String),
    #[error("the server sent a line that is not JSON: {0}")]
    BadLine(String),
}

pub struct Client {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

/// True for the response that ends a request (anything but a stream event).
pub fn is_final(v: &Value) -> bool {
    v.get("type").and_then(|t| t.as_str()) != Some("token")
}

impl Client {
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let s = UnixStream::connect(path).map_err(|source| ClientError::Connect { path: path.display().to_string(), source })?;
        Ok(Client { reader: BufReader::new(s.try_clone()?), writer: s })
    }

    pub fn send(&mut self, request: &Value) -> Result<(), ClientError> {
        let mut line = serde_json::to_vec(request).expect("requests serialize");
        line.push(b'\n');
        self.writer.write_all(&line)?;
        Ok(())
    }

    /// The next line from the server; `None` when it closed the connection.
    pub fn recv(&mut self) -> Result<Option<Value>, ClientError> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        serde_json::from_str(&line).map(Some).map_err(|_| ClientError::BadLine(line.trim().to_string()))
    }

    /// Sends one request and returns its final response, handing stream events to `event`.
    pub fn request(&mut self, request: &Value, mut event: impl FnMut(&Value)) -> Result<Value, ClientError> {
        self.send(request)?;
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        loop {
            let v = self.recv()?.ok_or_else(|| ClientError::Closed(id.to_string()))?;
            // An error the server could not tie to an id (our line was unreadable) ends it too.
            let unreadable = v.get("type").and_then(|t| t.as_str()) == Some("error") && v.get("id").is_none_or(Value::is_null);
            if v.get("id") != Some(&id) && !id.is_null() && !unreadable {
                continue;
            }
            if is_final(&v) {
                return Ok(v);
            }
            event(&v);
        }
    }

    pub fn try_clone_writer(&self) -> Result<UnixStream, ClientError> {
        Ok(self.writer.try_clone()?)
    }
}
