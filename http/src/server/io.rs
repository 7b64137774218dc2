//! The connection's byte stream (plain TCP or TLS) and the reads and writes the server makes
//! on it, each under a timeout.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::io::{AsyncRead, AsyncWriteExt};
use glommio::net::TcpStream;

use super::clock::ConnTimer;

/// Bytes read from a socket in one call; also the size of the per-core scratch buffer.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// A connection's stream: the server is generic over neither, so handlers are not either.
pub(crate) type Stream = crate::stream::MaybeTls<futures_rustls::server::TlsStream<TcpStream>>;

/// Reads what the socket has into the end of `out`, through the core's scratch buffer.
///
/// The scratch buffer is borrowed only inside `poll`, never across a suspension, so every
/// connection of a core can share it: an idle connection holds no read buffer at all.
pub(crate) struct ScratchRead<'a> {
    pub(crate) stream: &'a mut Stream,
    pub(crate) scratch: &'a RefCell<Box<[u8]>>,
    pub(crate) out: &'a mut BytesMut,
    pub(crate) max: usize,
}

impl Future for ScratchRead<'_> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut scratch = this.scratch.borrow_mut();
        let len = this.max.min(scratch.len());
        match Pin::new(&mut *this.stream).poll_read(cx, &mut scratch[..len]) {
            Poll::Ready(Ok(n)) => {
                this.out.extend_from_slice(&scratch[..n]);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }
}

/// Writes all of `data` and flushes, failing if the peer stops reading for `limit`.
pub(crate) async fn write_all_timeout(
    timer: &ConnTimer,
    stream: &mut Stream,
    data: &[u8],
    limit: Duration,
) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    timer
        .run(limit, async {
            stream.write_all(data).await?;
            stream.flush().await
        })
        .await
}
