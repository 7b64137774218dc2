//! Streamed object reads: the body of a GET as an async stream of `Bytes`, across the object's
//! blobs (one per part), limited to the requested byte range.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_lite::Stream;
use glommio::Task;

use crate::blob::{BlobDir, BlobFile};
use crate::error::{Error, Result};
use crate::record::{Body, ObjectRecord};

/// Bytes read from a blob per chunk of the stream.
pub const READ_CHUNK: usize = 256 << 10;

/// One blob's share of a read: the file (opened up front, so a later free cannot pull it away)
/// and the `[pos, end)` to read from it.
struct Segment {
    file: Rc<BlobFile>,
    pos: u64,
    end: u64,
}

/// Reads kept in flight ahead of the consumer.
const READ_AHEAD: usize = 4;

/// The body of a GET.
pub struct ObjectBody {
    inline: Option<Bytes>,
    segments: VecDeque<Segment>,
    /// Reads issued in order; the front one is the next chunk of the stream.
    in_flight: VecDeque<Task<Result<Bytes>>>,
    remaining: u64,
}

impl std::fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBody")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl ObjectBody {
    /// Opens the blobs that hold `[start, end)` of the object.
    pub(crate) async fn open(
        blobs: BlobDir,
        record: &ObjectRecord,
        start: u64,
        end: u64,
    ) -> Result<ObjectBody> {
        let mut body = ObjectBody {
            inline: None,
            segments: VecDeque::new(),
            in_flight: VecDeque::new(),
            remaining: end - start,
        };
        match &record.body {
            Body::Inline(data) => {
                let data = data
                    .get(start as usize..end as usize)
                    .ok_or(Error::Corrupt("inline body shorter than its size"))?;
                if !data.is_empty() {
                    body.inline = Some(Bytes::copy_from_slice(data));
                }
            }
            Body::Blobs(list) => {
                let mut offset = 0u64;
                for blob in list {
                    let (b_start, b_end) = (offset, offset + blob.len);
                    offset = b_end;
                    if b_end <= start || b_start >= end || blob.len == 0 {
                        continue;
                    }
                    let file = blobs.open_read(&blobs.path(blob.core, blob.id)).await?;
                    body.segments.push_back(Segment {
                        file: Rc::new(file),
                        pos: start.max(b_start) - b_start,
                        end: end.min(b_end) - b_start,
                    });
                }
            }
        }
        Ok(body)
    }

    /// Bytes left to stream.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

async fn read_chunk(file: Rc<BlobFile>, pos: u64, len: usize) -> Result<Bytes> {
    let read = file.read_at(pos, len).await?;
    if read.len() < len {
        return Err(Error::Corrupt("blob shorter than its record says"));
    }
    Ok(Bytes::copy_from_slice(&read[..len]))
}

/// Closes a finished blob file in the background (a dropped file would close only at the
/// reactor's next cycle).
fn close_soon(file: Rc<BlobFile>) {
    if let Ok(file) = Rc::try_unwrap(file) {
        glommio::spawn_local(async move {
            let _ = file.close().await;
        })
        .detach();
    }
}

impl Drop for ObjectBody {
    fn drop(&mut self) {
        // Keep the in-flight read (it holds a clone of the file) from outliving the close.
        self.in_flight.clear();
        for seg in self.segments.drain(..) {
            close_soon(seg.file);
        }
    }
}

impl Stream for ObjectBody {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(data) = self.inline.take() {
            self.remaining = 0;
            return Poll::Ready(Some(Ok(data)));
        }
        // Issue reads up to the read-ahead depth, in stream order.
        while self.in_flight.len() < READ_AHEAD {
            let Some(seg) = self.segments.front_mut() else {
                break;
            };
            if seg.pos >= seg.end {
                if let Some(done) = self.segments.pop_front() {
                    close_soon(done.file);
                }
                continue;
            }
            let len = (seg.end - seg.pos).min(READ_CHUNK as u64) as usize;
            let task = glommio::spawn_local(read_chunk(seg.file.clone(), seg.pos, len));
            seg.pos += len as u64;
            self.in_flight.push_back(task);
        }
        let Some(front) = self.in_flight.front_mut() else {
            return Poll::Ready(None);
        };
        let res = std::task::ready!(Pin::new(front).poll(cx));
        self.in_flight.pop_front();
        match res {
            Ok(bytes) => {
                self.remaining -= bytes.len() as u64;
                Poll::Ready(Some(Ok(bytes)))
            }
            Err(e) => {
                self.in_flight.clear();
                for seg in self.segments.drain(..) {
                    close_soon(seg.file);
                }
                self.remaining = 0;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}
