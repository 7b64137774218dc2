//! Cairn's storage engine: buckets, objects and multipart uploads on disk, with sled metadata,
//! index shards owned by cores, and crash safety. It knows nothing of HTTP or S3 XML.
//!
//! Promise: an acknowledged write survives any crash, and a crash never exposes a partial body.
//! Open an [`Engine`] on the main thread, then [`Engine::attach`] every glommio executor to get
//! its [`CoreStore`].

// Each module imports only from modules listed before it here (bottom up): error; record, meta,
// commit, config; blob, flusher, op; recovery, reader; shared; store; bucket, writer; shard,
// object; engine, multipart; list.
mod blob;
mod bucket;
mod commit;
mod config;
mod engine;
mod error;
mod flusher;
mod list;
mod meta;
mod multipart;
mod object;
mod op;
mod reader;
mod record;
mod recovery;
mod shard;
mod shared;
mod store;
mod writer;

pub use bucket::{buckets_in, validate_bucket_name, BucketInfo, BucketRef};
pub use config::{
    EngineConfig, DEFAULT_INLINE_THRESHOLD, DEFAULT_META_CACHE_BYTES, DEFAULT_MIN_FREE_BYTES,
    DEFAULT_MIN_PART_SIZE, DEFAULT_SHARDS_PER_BUCKET,
};
pub use error::{Error, Result};
pub use list::{ListPage, ListQuery, ObjectSummary, UploadInfo, UploadPage, UploadQuery, MAX_KEYS};
pub use meta::{Change, MetaStore, RangeIter, SledStore};
pub use multipart::{CompleteOptions, PartInfo, PartOptions, PartsPage, MAX_PART_NUMBER};
pub use object::{ByteRange, GetObject, PutOptions, MAX_KEY_LEN};
pub use op::WriteCondition;
pub use reader::ObjectBody;
pub use record::{ObjectInfo, ObjectMeta, MAX_USER_METADATA};
pub use recovery::RecoveryReport;
pub use shared::Engine;
pub use store::CoreStore;
pub use writer::{BodyChecksum, ObjectWriter};
