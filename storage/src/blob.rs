//! Blob files: one per object body or part, under the writing core's directory, written through
//! glommio's DMA (O_DIRECT) stream writer and fdatasynced before any record refers to them.

use std::path::{Path, PathBuf};

use futures_lite::AsyncWriteExt;
use glommio::io::{DmaFile, DmaStreamWriter, DmaStreamWriterBuilder, OpenOptions};

use crate::error::{Error, Result};
use crate::record::BlobRef;

/// Size of each DMA buffer of a blob writer.
const WRITE_BUFFER: usize = 512 << 10;
/// Buffers in flight behind the writer.
const WRITE_BEHIND: usize = 4;
/// How many bytes a writer writes between two checks of the disk's free space.
const FREE_SPACE_CHECK_EVERY: u64 = 4 << 20;

/// Where blob files live: `<data>/blobs/<core>/<id as 16 hex digits>`.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    pub fn new(root: PathBuf) -> BlobDir {
        BlobDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn core_dir(&self, core: u16) -> PathBuf {
        self.root.join(core.to_string())
    }

    pub fn path(&self, core: u16, id: u64) -> PathBuf {
        self.core_dir(core).join(format!("{id:016x}"))
    }

    /// Parses a blob file name back into its id.
    pub fn parse_name(name: &str) -> Option<u64> {
        if name.len() != 16 {
            return None;
        }
        u64::from_str_radix(name, 16).ok()
    }

    /// Removes a blob file; a missing file is not an error (a retried free).
    pub async fn remove(&self, blob: &BlobRef) {
        let path = self.path(blob.core, blob.id);
        if let Err(e) = glommio::io::remove(&path).await {
            let e = std::io::Error::from(e);
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a freed blob; start-up recovery will retry");
            }
        }
    }
}

/// Fails with [`Error::NoSpace`] when the disk holding `path` has less than `min_free` bytes free.
pub fn check_free_space(path: &Path, min_free: u64) -> Result<()> {
    if min_free == 0 {
        return Ok(());
    }
    match fs2::available_space(path) {
        Ok(free) if free < min_free => Err(Error::NoSpace),
        Ok(_) => Ok(()),
        Err(e) => Err(Error::from_io(e)),
    }
}

/// Writes one blob. `finish` makes it durable; dropping it without `finish` removes the file.
#[derive(Debug)]
pub struct BlobWriter {
    path: PathBuf,
    blob: BlobRef,
    stream: Option<DmaStreamWriter>,
    since_check: u64,
    min_free: u64,
}

impl BlobWriter {
    /// Creates the blob file (it must not exist).
    pub async fn create(dir: &BlobDir, core: u16, id: u64, min_free: u64) -> Result<BlobWriter> {
        let path = dir.path(core, id);
        check_free_space(dir.root(), min_free)?;
        let file: DmaFile = OpenOptions::new()
            .write(true)
            .create_new(true)
            .dma_open(&path)
            .await?;
        let stream = DmaStreamWriterBuilder::new(file)
            .with_buffer_size(WRITE_BUFFER)
            .with_write_behind(WRITE_BEHIND)
            .build();
        Ok(BlobWriter {
            path,
            blob: BlobRef { core, id, len: 0 },
            stream: Some(stream),
            since_check: 0,
            min_free,
        })
    }

    /// Appends bytes. On error the blob is unusable: the caller discards it.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let stream = self.stream.as_mut().ok_or(Error::Unavailable)?;
        self.since_check += data.len() as u64;
        if self.since_check >= FREE_SPACE_CHECK_EVERY {
            self.since_check = 0;
            check_free_space(&self.path, self.min_free)?;
        }
        stream.write_all(data).await.map_err(Error::from_io)?;
        self.blob.len += data.len() as u64;
        Ok(())
    }

    /// Flushes, fdatasyncs and closes the blob; on failure removes it and reports why.
    pub async fn finish(mut self) -> Result<BlobRef> {
        let mut stream = self.stream.take().ok_or(Error::Unavailable)?;
        match stream.close().await {
            Ok(()) => Ok(self.blob),
            Err(e) => {
                let _ = glommio::io::remove(&self.path).await;
                Err(Error::from_io(e))
            }
        }
    }

    /// Closes and removes the blob.
    pub async fn discard(mut self) {
        if let Some(stream) = self.stream.take() {
            discard(stream, self.path.clone()).await;
        }
    }
}

async fn discard(mut stream: DmaStreamWriter, path: PathBuf) {
    let _ = stream.close().await;
    if let Err(e) = glommio::io::remove(&path).await {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove a discarded blob; start-up recovery will");
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            let path = std::mem::take(&mut self.path);
            glommio::spawn_local(discard(stream, path)).detach();
        }
    }
}
