//! `[auth]`: how requests are authenticated (the key store, a static superuser pair, or
//! nobody), where the master key is, and the static `[[auth.keys]]` entries that earlier
//! versions served and start-up now imports into the key store.

use std::path::PathBuf;
use std::time::Duration;

use cairn_s3::auth::KeyPair;
use serde::Deserialize;

use crate::startup::StartupError;

/// How often each core reports its keys' last uses, and the store persists them, unless
/// configured: a use shows within a minute.
pub const DEFAULT_LAST_USED_SECS: u64 = 20;

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    /// `keys` (default), `static` or `none`.
    pub mode: Option<String>,
    /// The master key file (64 hex digits); default: `$CREDENTIALS_DIRECTORY/master-key`
    /// under systemd when present, else `<data_dir>/master.key`, generated on first start.
    pub master_key_file: Option<PathBuf>,
    /// What generated access key ids start with (default `CAIRN`).
    pub key_id_prefix: Option<String>,
    /// Seconds between reports of keys' last uses.
    pub last_used_secs: Option<u64>,
    /// Allow `mode = "none"` on an address that is not loopback.
    pub anonymous_on_any_address: Option<bool>,
    /// Static key pairs of earlier versions: imported into the key store at start-up.
    #[serde(default)]
    pub keys: Vec<KeyFile>,
}

/// One `[[auth.keys]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The canonical user id that owns this key's buckets (default: derived from the key id).
    pub owner_id: Option<String>,
    pub display_name: Option<String>,
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// The key store (users, keys, grants); the static pair, if set, beside it as a fallback
    /// superuser.
    Keys,
    /// Only the static superuser pair.
    Static,
    /// Nobody: anonymous requests have full access.
    None,
}

/// `[auth]` resolved.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// The pair from `CAIRN_ACCESS_KEY_ID`/`CAIRN_SECRET_ACCESS_KEY`: a superuser.
    pub static_key: Option<KeyPair>,
    /// `[[auth.keys]]`, to import into the key store.
    pub imported: Vec<KeyPair>,
    pub master_key_file: Option<PathBuf>,
    pub key_id_prefix: String,
    pub last_used_interval: Duration,
    pub anonymous_on_any_address: bool,
}

/// Resolves `[auth]` and the environment's static pair. Errors name key ids, never secrets.
pub fn resolve_auth(file: AuthFile) -> Result<AuthConfig, StartupError> {
    let mode = match file.mode.as_deref() {
        None | Some("keys") => AuthMode::Keys,
        Some("static") => AuthMode::Static,
        Some("none") => AuthMode::None,
        Some(other) => {
            return Err(StartupError::Config(format!(
                "auth.mode {other:?} is invalid: use \"keys\", \"static\" or \"none\""
            )))
        }
    };
    let invalid_key = |e: cairn_s3::auth::KeyError| StartupError::Config(e.to_string());
    let mut imported = Vec::new();
    for k in file.keys {
        let pair = KeyPair::new(
            k.access_key_id,
            k.secret_access_key,
            k.owner_id,
            k.display_name,
        )
        .map_err(invalid_key)?;
        if imported
            .iter()
            .any(|o: &KeyPair| o.access_key_id == pair.access_key_id)
        {
            return Err(StartupError::Config(format!(
                "access key id {} is configured twice",
                pair.access_key_id
            )));
        }
        imported.push(pair);
    }
    let static_key = match (
        std::env::var("CAIRN_ACCESS_KEY_ID").ok(),
        std::env::var("CAIRN_SECRET_ACCESS_KEY").ok(),
    ) {
        (Some(id), Some(secret)) => {
            Some(KeyPair::new(id, secret, None, None).map_err(invalid_key)?)
        }
        (None, None) => None,
        _ => {
            return Err(StartupError::Config(
                "set both CAIRN_ACCESS_KEY_ID and CAIRN_SECRET_ACCESS_KEY, or neither".into(),
            ))
        }
    };
    if mode == AuthMode::Static && static_key.is_none() {
        return Err(StartupError::Config(
            "auth.mode = \"static\" needs CAIRN_ACCESS_KEY_ID and CAIRN_SECRET_ACCESS_KEY".into(),
        ));
    }
    if let (Some(s), true) = (
        &static_key,
        imported
            .iter()
            .any(|k| Some(&k.access_key_id) == static_key.as_ref().map(|s| &s.access_key_id)),
    ) {
        return Err(StartupError::Config(format!(
            "access key id {} is configured twice",
            s.access_key_id
        )));
    }
    let key_id_prefix = file
        .key_id_prefix
        .unwrap_or_else(|| cairn_iam::DEFAULT_KEY_ID_PREFIX.to_owned());
    cairn_iam::check_prefix(&key_id_prefix).map_err(|e| StartupError::Config(e.to_string()))?;
    let last_used_secs = file.last_used_secs.unwrap_or(DEFAULT_LAST_USED_SECS);
    if !(1..=60).contains(&last_used_secs) {
        return Err(StartupError::Config(
            "auth.last_used_secs must be between 1 and 60".into(),
        ));
    }
    Ok(AuthConfig {
        mode,
        static_key,
        imported,
        master_key_file: file.master_key_file,
        key_id_prefix,
        last_used_interval: Duration::from_secs(last_used_secs),
        anonymous_on_any_address: file.anonymous_on_any_address.unwrap_or(false),
    })
}
