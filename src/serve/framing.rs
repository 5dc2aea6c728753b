//! Request lines off the socket: tokio-util's framing with a decoder that never gives up on
//! a connection. A line longer than the limit is skipped up to its newline and reported
//! once; a line that is not UTF-8 is reported; both leave the connection usable.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

/// One request line as the connection sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    TooLong,
    NotUtf8,
}

/// Newline-delimited lines of at most `max` bytes (without the newline; a trailing `\r`
/// is dropped).
#[derive(Debug)]
pub struct LineCodec {
    max: usize,
    /// Inside an over-long line, dropping bytes until its newline.
    skipping: bool,
}

impl LineCodec {
    pub fn new(max: usize) -> LineCodec {
        LineCodec { max, skipping: false }
    }

    fn line(&self, mut bytes: BytesMut) -> Line {
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.truncate(bytes.len() - 1);
        }
        if bytes.len() > self.max {
            return Line::TooLong;
        }
        match String::from_utf8(bytes.to_vec()) {
            Ok(s) => Line::Text(s),
            Err(_) => Line::NotUtf8,
        }
    }
}

impl Decoder for LineCodec {
    type Item = Line;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Line>, std::io::Error> {
        loop {
            match memchr_newline(buf) {
                Some(at) if self.skipping => {
                    let _ = buf.split_to(at + 1);
                    self.skipping = false;
                    return Ok(Some(Line::TooLong));
                }
                Some(at) => return Ok(Some(self.line(buf.split_to(at + 1)))),
                None if self.skipping => {
                    buf.clear();
                    return Ok(None);
                }
                None if buf.len() > self.max + 1 => {
                    // No newline within the limit: drop what came and the rest of the line.
                    buf.clear();
                    self.skipping = true;
                    continue;
                }
                None => return Ok(None),
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Line>, std::io::Error> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        if self.skipping {
            self.skipping = false;
            buf.clear();
            return Ok(Some(Line::TooLong));
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let rest = buf.split_to(buf.len());
        Ok(Some(self.line(rest)))
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut LineCodec, chunks: &[&[u8]]) -> Vec<Line> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            while let Some(l) = codec.decode(&mut buf).unwrap() {
                out.push(l);
            }
        }
        while let Some(l) = codec.decode_eof(&mut buf).unwrap() {
            out.push(l);
        }
        out
    }

    #[test]
    fn lines_split_across_reads_and_a_last_line_without_newline() {
        let out = decode_all(&mut LineCodec::new(100), &[b"{\"a\"", b":1}\r\n{\"b\":2}\n", b"tail"]);
        assert_eq!(out, vec![Line::Text("{\"a\":1}".into()), Line::Text("{\"b\":2}".into()), Line::Text("tail".into())]);
    }

    #[test]
    fn an_over_long_line_is_reported_once_and_the_next_line_still_reads() {
        let long = vec![b'x'; 50];
        let out = decode_all(&mut LineCodec::new(10), &[&long, &long, b"xx\nok\n"]);
        assert_eq!(out, vec![Line::TooLong, Line::Text("ok".into())]);
        let out = decode_all(&mut LineCodec::new(10), &[b"0123456789abc\nok\n"]);
        assert_eq!(out, vec![Line::TooLong, Line::Text("ok".into())]);
        // Exactly the limit is fine.
        assert_eq!(decode_all(&mut LineCodec::new(10), &[b"0123456789\n"]), vec![Line::Text("0123456789".into())]);
    }

    #[test]
    fn invalid_utf8_is_reported_and_reading_goes_on() {
        let out = decode_all(&mut LineCodec::new(100), &[b"\xff\xfe\n{}\n"]);
        assert_eq!(out, vec![Line::NotUtf8, Line::Text("{}".into())]);
    }
}
