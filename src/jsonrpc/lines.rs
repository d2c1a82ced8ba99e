//! Reading messages in bounded memory: a message is kept whole up to
//! [`MAX_MESSAGE_BYTES`]; past that only its head and tail are kept (enough to find its id),
//! so a 10 MB line costs no more memory than the limit however long it is.

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};

use super::{MAX_MESSAGE_BYTES, Refusal};

/// How much of an oversized message's start and end is kept to recover its id.
const KEEP: usize = 4096;

/// A message read whole, or the refusal of one that was too large.
#[derive(Debug)]
pub enum Collected {
    Whole(Vec<u8>),
    Oversized(Refusal),
}

/// Collects one message from chunks.
#[derive(Debug, Default)]
pub struct Collector {
    /// The message, or once it is over the limit its first [`KEEP`] bytes.
    kept: Vec<u8>,
    /// Once over the limit: its last [`KEEP`] bytes so far.
    tail: Vec<u8>,
    bytes: u64,
    over: bool,
}

impl Collector {
    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        if !self.over {
            if self.kept.len() + chunk.len() <= MAX_MESSAGE_BYTES {
                self.kept.extend_from_slice(chunk);
                return;
            }
            self.over = true;
            let head = KEEP.saturating_sub(self.kept.len()).min(chunk.len());
            self.kept.extend_from_slice(&chunk[..head]);
            keep_end(&mut self.tail, &self.kept);
            self.kept.truncate(KEEP);
            self.kept.shrink_to_fit();
        }
        keep_end(&mut self.tail, chunk);
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    pub fn finish(self) -> Collected {
        if self.over {
            Collected::Oversized(Refusal::oversized(&self.kept, &self.tail, self.bytes))
        } else {
            Collected::Whole(self.kept)
        }
    }
}

/// Appends `bytes` to `tail`, keeping only the last [`KEEP`].
fn keep_end(tail: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[bytes.len().saturating_sub(KEEP)..];
    let excess = (tail.len() + bytes.len()).saturating_sub(KEEP);
    tail.drain(..excess);
    tail.extend_from_slice(bytes);
}

/// Newline-delimited messages from a byte stream, any bytes at all: invalid UTF-8 is the
/// checker's to answer, not a reason to stop reading.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: BufReader<R>,
    line: Collector,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(reader: R) -> Self {
        Self { reader: BufReader::new(reader), line: Collector::default() }
    }

    /// The next line without its newline; `None` at the end of the stream (a last line without
    /// a newline still counts).
    ///
    /// Cancel-safe: what was read of a line stays in `self` until the line is complete, so
    /// this can be a branch of `select!`.
    pub async fn next(&mut self) -> std::io::Result<Option<Collected>> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                let line = std::mem::take(&mut self.line);
                return Ok((!line.is_empty()).then(|| line.finish()));
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.line.push(&available[..end]);
                    self.reader.consume(end + 1);
                    return Ok(Some(std::mem::take(&mut self.line).finish()));
                }
                None => {
                    let read = available.len();
                    self.line.push(available);
                    self.reader.consume(read);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_message_keeps_only_its_ends() {
        let mut collector = Collector::default();
        for _ in 0..(10 * 1024 * 1024 / 8192) {
            collector.push(&[b'x'; 8192]);
            assert!(collector.kept.capacity() <= MAX_MESSAGE_BYTES * 2);
        }
        assert!(
            collector.over && collector.kept.capacity() <= 2 * KEEP && collector.tail.len() == KEEP
        );
        assert!(matches!(collector.finish(), Collected::Oversized(_)));
    }
}
