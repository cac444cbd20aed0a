//! Appending whole lines to a shared file.

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Largest piece handed to one write. tokio's `File` splits writes above 2 MiB into several system
/// calls; keeping each piece smaller, and cut at a line end, means a line is written by a single
/// `write` on an `O_APPEND` file, so tasks appending to the same file do not interleave mid-line.
const MAX_WRITE: usize = 1024 * 1024;

/// Writes `text` (whole lines, each ending in `\n`) in line-aligned pieces of at most [`MAX_WRITE`]
/// bytes; a single longer line is written on its own.
pub async fn append_lines<W: AsyncWrite + Unpin>(out: &mut W, text: &[u8]) -> std::io::Result<()> {
    let mut rest = text;
    while !rest.is_empty() {
        let piece_len = if rest.len() <= MAX_WRITE {
            rest.len()
        } else {
            match rest[..MAX_WRITE].iter().rposition(|&b| b == b'\n') {
                Some(last_newline) => last_newline + 1,
                None => rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |end| end + 1),
            }
        };
        let (piece, tail) = rest.split_at(piece_len);
        out.write_all(piece).await?;
        rest = tail;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// Records each write it receives as a separate piece.
    #[derive(Default)]
    struct PieceRecorder(Vec<Vec<u8>>);

    impl AsyncWrite for PieceRecorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.0.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn pieces_end_at_line_ends_and_keep_every_byte() {
        let line = format!("{}\n", "x".repeat(1000));
        let long_line = format!("{}\n", "y".repeat(MAX_WRITE + 10));
        let text = format!("{}{long_line}{}", line.repeat(1500), line.repeat(3));
        let mut out = PieceRecorder::default();
        append_lines(&mut out, text.as_bytes()).await.unwrap();

        assert!(
            out.0.len() >= 3,
            "expected several pieces, got {}",
            out.0.len()
        );
        for piece in &out.0 {
            assert_eq!(piece.last(), Some(&b'\n'));
            assert!(piece.len() <= MAX_WRITE || piece.as_slice() == long_line.as_bytes());
        }
        assert_eq!(out.0.concat(), text.as_bytes());
    }
}
