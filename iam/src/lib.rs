//! Cairn's users, access keys and grants.
//!
//! Secrets exist at rest only sealed with AES-256-GCM under a master key (the key id as
//! associated data, a fresh random nonce each), and in memory only in each core's cache of
//! opened keys ([`KeyCache`]). A key is active, revoked (refused, can come back) or deleted
//! (its sealed secret erased; never comes back). The admin API ([`admin`]) is the one way to
//! change any of it.

pub mod admin;
mod cache;
mod error;
mod ids;
mod master;
mod model;
mod ops;
mod rotate;
mod store;

pub use cache::{CachedKey, KeyCache, CACHE_ENTRIES};
pub use error::IamError;
pub use ids::{check_prefix, KEY_ID_LEN, SECRET_LEN};
pub use master::{MasterKey, MasterKeySource, CREDENTIAL_NAME, GENERATED_FILE, MASTER_KEY_LEN};
pub use model::{
    now_secs, parse_expiry, rfc3339, GrantView, KeyState, KeyView, NewKey, Permission, UserView,
};
pub use ops::{Imported, ImportedKey};
pub use rotate::Rotated;
pub use store::{
    Iam, IamConfig, MasterKeyOutcome, Principal, ResolvedKey, DEFAULT_KEY_ID_PREFIX, STORE_DIR,
};
