//! Blob files: one per object body or part, under the writing core's directory, written through
//! glommio's DMA (O_DIRECT) files and fdatasynced before any record refers to them.

use std::path::{Path, PathBuf};

use std::collections::VecDeque;
use std::rc::Rc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use glommio::io::{BufferedFile, DmaBuffer, DmaFile, OpenOptions, ReadResult};
use glommio::Task;

use crate::error::{Error, Result};
use crate::record::BlobRef;

/// Size of a blob's first buffer: small objects do not pin a full buffer.
const FIRST_BUFFER: usize = 64 << 10;
/// Size of the next buffers, up to `LARGE_AFTER` bytes.
const WRITE_BUFFER: usize = 256 << 10;
/// From this many bytes on, a blob is written in `LARGE_BUFFER`s: 256 KiB writes with three in
/// flight reached 0.76-0.96x fio's sequential O_DIRECT rate, 1 MiB writes 1.05-1.14x (storage
/// README). A writer holds at most `(WRITE_BEHIND + 1) * LARGE_BUFFER` (4 MiB), and about 1 MiB
/// below `LARGE_AFTER`.
const LARGE_AFTER: u64 = 4 << 20;
const LARGE_BUFFER: usize = 1 << 20;
/// Buffers in flight behind the writer.
const WRITE_BEHIND: usize = 3;
/// How many bytes a writer writes between two checks of the disk's free space.
const FREE_SPACE_CHECK_EVERY: u64 = 4 << 20;

/// Where blob files live: `<data>/blobs/<core>/<id as 16 hex digits>`, and whether they are
/// opened with O_DIRECT.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
    direct_io: Arc<AtomicBool>,
}

fn is_einval(e: &glommio::GlommioError<()>) -> bool {
    matches!(e, glommio::GlommioError::IoError(io) if io.raw_os_error() == Some(libc::EINVAL))
        || matches!(e, glommio::GlommioError::EnhancedIoError { source, .. } if source.raw_os_error() == Some(libc::EINVAL))
}

impl BlobDir {
    pub fn new(root: PathBuf, direct_io: bool) -> BlobDir {
        if !direct_io {
            tracing::info!("blob files use buffered IO (direct_io = false)");
        }
        BlobDir {
            root,
            direct_io: Arc::new(AtomicBool::new(direct_io)),
        }
    }

    fn direct(&self) -> bool {
        self.direct_io.load(Ordering::Relaxed)
    }

    /// The filesystem refused O_DIRECT: use buffered IO for every blob from now on.
    fn refuse_direct(&self, path: &Path) {
        if self.direct_io.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                path = %path.display(),
                "the filesystem refuses O_DIRECT (EINVAL); falling back to buffered IO for blob files"
            );
        }
    }

    /// Opens a blob for reading, with O_DIRECT where the filesystem allows it.
    pub async fn open_read(&self, path: &Path) -> Result<BlobFile> {
        if self.direct() {
            match DmaFile::open(path).await {
                Ok(f) => return Ok(BlobFile::Direct(f)),
                Err(e) if is_einval(&e) => self.refuse_direct(path),
                Err(e) => return Err(Error::Io(std::io::Error::from(e))),
            }
        }
        BufferedFile::open(path)
            .await
            .map(BlobFile::Buffered)
            .map_err(|e| Error::Io(std::io::Error::from(e)))
    }

    async fn create_new(&self, path: &Path) -> Result<BlobFile> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        if self.direct() {
            match opts.dma_open(path).await {
                Ok(f) => return Ok(BlobFile::Direct(f)),
                Err(e) if is_einval(&e) => {
                    // The file may have been created before O_DIRECT was refused.
                    let _ = std::fs::remove_file(path);
                    self.refuse_direct(path);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(BlobFile::Buffered(opts.buffered_open(path).await?))
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

/// An open blob: O_DIRECT through glommio's DMA file, or buffered where the filesystem
/// refuses O_DIRECT (or it is turned off).
#[derive(Debug)]
pub enum BlobFile {
    Direct(DmaFile),
    Buffered(BufferedFile),
}

/// A write buffer suited to the file.
enum Buffer {
    Dma(DmaBuffer),
    Heap(Vec<u8>),
}

impl Buffer {
    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Buffer::Dma(b) => b.as_bytes_mut(),
            Buffer::Heap(v) => v,
        }
    }

    fn trim(&mut self, len: usize) {
        match self {
            Buffer::Dma(b) => b.trim_to_size(len),
            Buffer::Heap(v) => v.truncate(len),
        }
    }
}

impl BlobFile {
    fn alloc(&self, size: usize) -> Buffer {
        match self {
            BlobFile::Direct(f) => Buffer::Dma(f.alloc_dma_buffer(size)),
            BlobFile::Buffered(_) => Buffer::Heap(vec![0; size]),
        }
    }

    fn align_up(&self, v: u64) -> u64 {
        match self {
            BlobFile::Direct(f) => f.align_up(v),
            BlobFile::Buffered(_) => v,
        }
    }

    async fn write_at(&self, buf: Buffer, pos: u64) -> Result<usize> {
        let res = match (self, buf) {
            (BlobFile::Direct(f), Buffer::Dma(b)) => f.write_at(b, pos).await,
            (BlobFile::Buffered(f), Buffer::Heap(v)) => f.write_at(v, pos).await,
            _ => return Err(Error::Unavailable),
        };
        res.map_err(|e| Error::from_io(std::io::Error::from(e)))
    }

    /// Reads `len` bytes at `pos` (no alignment needed).
    pub async fn read_at(&self, pos: u64, len: usize) -> Result<ReadResult> {
        let res = match self {
            BlobFile::Direct(f) => f.read_at(pos, len).await,
            BlobFile::Buffered(f) => f.read_at(pos, len).await,
        };
        res.map_err(|e| Error::from_io(std::io::Error::from(e)))
    }

    async fn truncate(&self, len: u64) -> Result<()> {
        match self {
            BlobFile::Direct(f) => f.truncate(len).await?,
            BlobFile::Buffered(f) => f.truncate(len).await?,
        }
        Ok(())
    }

    async fn fdatasync(&self) -> Result<()> {
        match self {
            BlobFile::Direct(f) => f.fdatasync().await?,
            BlobFile::Buffered(f) => f.fdatasync().await?,
        }
        Ok(())
    }

    pub async fn close(self) -> Result<()> {
        match self {
            BlobFile::Direct(f) => f.close().await?,
            BlobFile::Buffered(f) => f.close().await?,
        }
        Ok(())
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

/// Writes one blob through aligned DMA buffers, with up to [`WRITE_BEHIND`] buffers in flight.
/// `finish` makes it durable; dropping it without `finish` removes the file.
///
/// (Not glommio's `DmaStreamWriter`: that one takes a short write, which is how a full disk
/// shows up on some filesystems, for a complete one. Here a short write fails the blob.)
pub struct BlobWriter {
    path: PathBuf,
    blob: BlobRef,
    file: Option<Rc<BlobFile>>,
    buffer: Option<Buffer>,
    /// Size of `buffer`.
    capacity: usize,
    filled: usize,
    /// File offset of `buffer`'s first byte.
    buffer_pos: u64,
    in_flight: VecDeque<Task<Result<()>>>,
    since_check: u64,
    min_free: u64,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("path", &self.path)
            .field("len", &self.blob.len)
            .finish_non_exhaustive()
    }
}

/// Writes `buf` (whose first `need` bytes are data) at `pos`; a short write is out of space.
async fn write_buffer(file: Rc<BlobFile>, buf: Buffer, pos: u64, need: usize) -> Result<()> {
    let written = file.write_at(buf, pos).await?;
    if written < need {
        return Err(Error::NoSpace);
    }
    Ok(())
}

impl BlobWriter {
    /// Creates the blob file (it must not exist).
    pub async fn create(dir: &BlobDir, core: u16, id: u64, min_free: u64) -> Result<BlobWriter> {
        let path = dir.path(core, id);
        check_free_space(dir.root(), min_free)?;
        let file = dir.create_new(&path).await?;
        Ok(BlobWriter {
            path,
            blob: BlobRef { core, id, len: 0 },
            file: Some(Rc::new(file)),
            buffer: None,
            capacity: 0,
            filled: 0,
            buffer_pos: 0,
            in_flight: VecDeque::new(),
            since_check: 0,
            min_free,
        })
    }

    fn file(&self) -> Result<&Rc<BlobFile>> {
        self.file.as_ref().ok_or(Error::Unavailable)
    }

    /// Submits the current buffer (padded to the alignment when `last`).
    async fn submit(&mut self, last: bool) -> Result<()> {
        let Some(mut buf) = self.buffer.take() else {
            return Ok(());
        };
        let file = self.file()?.clone();
        let need = self.filled;
        let len = if last {
            let aligned = file.align_up(need as u64) as usize;
            buf.bytes_mut()[need..aligned].fill(0);
            buf.trim(aligned);
            aligned
        } else {
            need
        };
        let pos = self.buffer_pos;
        self.buffer_pos += len as u64;
        self.filled = 0;
        while self.in_flight.len() >= WRITE_BEHIND {
            if let Some(t) = self.in_flight.pop_front() {
                t.await?;
            }
        }
        self.in_flight
            .push_back(glommio::spawn_local(write_buffer(file, buf, pos, need)));
        Ok(())
    }

    /// Appends bytes. On error the blob is unusable: the caller discards it.
    pub async fn write(&mut self, mut data: &[u8]) -> Result<()> {
        self.since_check += data.len() as u64;
        if self.since_check >= FREE_SPACE_CHECK_EVERY {
            self.since_check = 0;
            check_free_space(&self.path, self.min_free)?;
        }
        while !data.is_empty() {
            if self.buffer.is_none() {
                let size = match self.buffer_pos {
                    0 => FIRST_BUFFER,
                    pos if pos < LARGE_AFTER => WRITE_BUFFER,
                    _ => LARGE_BUFFER,
                };
                self.buffer = Some(self.file()?.alloc(size));
                self.capacity = size;
            }
            let filled = self.filled;
            let Some(buf) = self.buffer.as_mut() else {
                return Err(Error::Unavailable);
            };
            let n = (self.capacity - filled).min(data.len());
            buf.bytes_mut()[filled..filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            self.blob.len += n as u64;
            data = &data[n..];
            if self.filled == self.capacity {
                self.submit(false).await?;
            }
        }
        Ok(())
    }

    /// Writes what is buffered, trims the padding, fdatasyncs and closes the blob; on failure
    /// removes it and reports why.
    pub async fn finish(mut self) -> Result<BlobRef> {
        let res = self.finish_inner().await;
        match res {
            Ok(()) => Ok(self.blob),
            Err(e) => {
                self.discard_inner().await;
                Err(e)
            }
        }
    }

    async fn finish_inner(&mut self) -> Result<()> {
        self.submit(true).await?;
        while let Some(t) = self.in_flight.pop_front() {
            t.await?;
        }
        let file = self.file.take().ok_or(Error::Unavailable)?;
        file.truncate(self.blob.len).await?;
        file.fdatasync().await?;
        match Rc::try_unwrap(file) {
            Ok(file) => file.close().await?,
            Err(_) => return Err(Error::Unavailable),
        }
        Ok(())
    }

    async fn discard_inner(&mut self) {
        while let Some(t) = self.in_flight.pop_front() {
            let _ = t.await;
        }
        self.buffer = None;
        if let Some(file) = self.file.take() {
            if let Ok(file) = Rc::try_unwrap(file) {
                let _ = file.close().await;
            }
        }
        let path = std::mem::take(&mut self.path);
        if path.as_os_str().is_empty() {
            return;
        }
        if let Err(e) = glommio::io::remove(&path).await {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a discarded blob; start-up recovery will");
        }
    }

    /// Closes and removes the blob.
    pub async fn discard(mut self) {
        self.discard_inner().await;
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() || !self.in_flight.is_empty() {
            let mut rest = BlobWriter {
                path: std::mem::take(&mut self.path),
                blob: self.blob,
                file: self.file.take(),
                buffer: self.buffer.take(),
                capacity: 0,
                filled: 0,
                buffer_pos: 0,
                in_flight: std::mem::take(&mut self.in_flight),
                since_check: 0,
                min_free: 0,
            };
            glommio::spawn_local(async move { rest.discard_inner().await }).detach();
        }
    }
}
