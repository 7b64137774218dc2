//! The storage engine's error type: one variant per distinct failure the S3 layer maps to a status.

use std::io;

/// Everything an engine operation can fail with. A closed enum: the S3 layer matches it
/// exhaustively, so a new variant is a compile error there, not a hidden 500.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The disk is full (ENOSPC/EDQUOT, or free space below the configured reserve).
    #[error("not enough space on the data disk")]
    NoSpace,
    /// Another IO error; the operation failed and left nothing behind.
    #[error("io error: {0}")]
    Io(#[source] io::Error),
    /// The metadata store failed.
    #[error("metadata store error: {0}")]
    Meta(String),
    /// A durability failure (fsync or metadata flush) happened earlier; the engine refuses writes.
    #[error("storage refuses writes after a durability failure: {0}")]
    Poisoned(String),
    /// A stored record could not be decoded.
    #[error("corrupt metadata record: {0}")]
    Corrupt(&'static str),
    #[error("the bucket does not exist")]
    NoSuchBucket,
    #[error("the key does not exist")]
    NoSuchKey,
    #[error("the multipart upload does not exist")]
    NoSuchUpload,
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    /// The name is taken by another owner.
    #[error("the bucket name is already taken")]
    BucketAlreadyExists,
    /// The caller already owns a bucket of that name.
    #[error("you already own this bucket")]
    BucketAlreadyOwnedByYou,
    #[error("invalid bucket name: {0}")]
    InvalidBucketName(&'static str),
    /// A conflicting operation on the same bucket is in progress (e.g. a delete of the bucket).
    #[error("a conflicting operation is in progress")]
    OperationAborted,
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("a listed part does not exist or its ETag does not match")]
    InvalidPart,
    #[error("the list of parts is not in ascending order")]
    InvalidPartOrder,
    #[error("a part other than the last is smaller than the minimum part size")]
    EntityTooSmall,
    #[error("invalid part number (1 to 10000)")]
    InvalidPartNumber,
    #[error("the key is longer than 1024 bytes")]
    KeyTooLong,
    #[error("the key is empty")]
    InvalidKey,
    #[error("user metadata is larger than 2 KiB")]
    MetadataTooLarge,
    #[error("the range is not satisfiable")]
    InvalidRange,
    /// The body's MD5 differs from the Content-MD5 the client sent.
    #[error("the body does not match the Content-MD5")]
    BadDigest,
    /// A listing argument is out of range (e.g. max-keys over 1000).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The engine is shutting down or a core is not attached.
    #[error("the storage core is not available")]
    Unavailable,
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Classifies an IO error: out-of-space conditions become [`Error::NoSpace`].
    pub fn from_io(e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => Error::NoSpace,
            _ => Error::Io(e),
        }
    }

    /// Whether this error is the out-of-space condition.
    pub fn is_no_space(&self) -> bool {
        matches!(self, Error::NoSpace)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::from_io(e)
    }
}

impl From<glommio::GlommioError<()>> for Error {
    fn from(e: glommio::GlommioError<()>) -> Self {
        Error::from_io(io::Error::from(e))
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => Error::from_io(io),
            other => Error::Meta(other.to_string()),
        }
    }
}
