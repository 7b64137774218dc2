//! What the key store refuses, and why.

use std::path::PathBuf;

/// An error of the key store or of an admin operation. Messages name users, keys, buckets and
/// files, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("no access key {0}")]
    NoSuchKey(String),
    #[error("no bucket named {0:?}")]
    NoSuchBucket(String),
    #[error("user {0:?} has no grant on that bucket")]
    NoSuchGrant(String),
    #[error("a user named {0:?} already exists")]
    UserExists(String),
    /// An operation refused in the current state (the message says why and what to do).
    #[error("{0}")]
    Conflict(String),
    /// A malformed argument (the message says which and what is accepted).
    #[error("{0}")]
    Invalid(String),
    #[error("the master key file {} is not a master key: it must hold 64 hex digits (or 32 raw bytes)", .0.display())]
    MasterKeyInvalid(PathBuf),
    #[error("cannot read the master key file {}: {reason}", path.display())]
    MasterKeyUnreadable { path: PathBuf, reason: String },
    #[error("the master key {} is missing, but the key store in {} was created with one: restore it, or name it with auth.master_key_file", path.display(), store.display())]
    MasterKeyMissing { path: PathBuf, store: PathBuf },
    #[error("the master key {} does not match the key store in {} (its secrets were sealed under another master key); refusing to start with it", path.display(), store.display())]
    WrongMasterKey { path: PathBuf, store: PathBuf },
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("the system random generator failed")]
    Random,
    #[error("sealing a secret failed")]
    Crypto,
    #[error("the key store is corrupt: {0}")]
    Corrupt(String),
    #[error("key store: {0}")]
    Storage(#[from] cairn_storage::Error),
}

impl IamError {
    /// The HTTP status the admin API answers with.
    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchUser(_)
            | IamError::NoSuchKey(_)
            | IamError::NoSuchBucket(_)
            | IamError::NoSuchGrant(_) => 404,
            IamError::UserExists(_) | IamError::Conflict(_) => 409,
            IamError::Invalid(_) => 400,
            _ => 500,
        }
    }

    /// A stable code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchUser(_) => "NoSuchUser",
            IamError::NoSuchKey(_) => "NoSuchKey",
            IamError::NoSuchBucket(_) => "NoSuchBucket",
            IamError::NoSuchGrant(_) => "NoSuchGrant",
            IamError::UserExists(_) => "UserExists",
            IamError::Conflict(_) => "Conflict",
            IamError::Invalid(_) => "InvalidArgument",
            _ => "InternalError",
        }
    }
}
