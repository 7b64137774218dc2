//! How the engine is laid out and tuned (`EngineConfig`), with the measured defaults.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Default size up to which objects are stored inline in their metadata record. Measured (the
/// bench's inline sweep, storage README; medians of per-round ratios in three runs): inline
/// PUTs are 2.1x a blob's at 4 KiB and 1.5-1.7x at 8 KiB, but 0.4-0.7x from 16 KiB, where
/// sled's leaf nodes (17 records) far outgrow its ~128 KiB log message and go to separate files
/// that each flush must sync. Inline GETs are 5-10x faster at every size; inline bodies take
/// about twice their size on disk (sled's log) at 4 and 8 KiB alike.
pub const DEFAULT_INLINE_THRESHOLD: usize = 8 << 10;
/// S3's minimum size of every part but the last.
pub const DEFAULT_MIN_PART_SIZE: u64 = 5 << 20;
/// Default shards per bucket index.
pub const DEFAULT_SHARDS_PER_BUCKET: u16 = 16;
/// Default free space kept on the data disk so metadata can still be written when blobs fill it.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;
/// Default size of sled's page cache.
pub const DEFAULT_META_CACHE_BYTES: u64 = 256 << 20;

/// How the engine is laid out and tuned.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of the data: `meta/` (sled) and `blobs/<core>/`.
    pub data_dir: PathBuf,
    /// Number of cores (executors) that will attach.
    pub cores: usize,
    /// Index shards of a new bucket (stored with the bucket; later changes affect new buckets).
    pub shards_per_bucket: u16,
    /// Objects up to this size are stored inside their metadata record.
    pub inline_threshold: usize,
    /// Minimum size of every part but the last of a multipart upload.
    pub min_part_size: u64,
    /// Blob writes fail with `NoSpace` when the disk has less free space than this.
    pub min_free_bytes: u64,
    /// Memory sled may use for its page cache.
    pub meta_cache_bytes: u64,
    /// Open blob files with O_DIRECT (the engine falls back to buffered IO by itself when the
    /// filesystem refuses it; glommio always uses buffered IO on tmpfs).
    pub direct_io: bool,
}

impl EngineConfig {
    /// Production defaults for `cores` cores storing under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>, cores: usize) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            cores,
            shards_per_bucket: DEFAULT_SHARDS_PER_BUCKET,
            inline_threshold: DEFAULT_INLINE_THRESHOLD,
            min_part_size: DEFAULT_MIN_PART_SIZE,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            meta_cache_bytes: DEFAULT_META_CACHE_BYTES,
            direct_io: true,
        }
    }
}

/// Refuses a configuration the engine cannot run with.
pub(crate) fn validate(config: &EngineConfig) -> Result<()> {
    if config.cores == 0 || config.cores > usize::from(u16::MAX) {
        return Err(Error::InvalidArgument("cores must be between 1 and 65535"));
    }
    if config.shards_per_bucket == 0 {
        return Err(Error::InvalidArgument(
            "shards_per_bucket must be at least 1",
        ));
    }
    Ok(())
}
