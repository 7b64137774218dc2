//! Rotating the master key: every sealed secret re-sealed under a new key in one atomic batch,
//! the new key staged on disk first so that no crash can leave the store sealed under a key
//! that exists nowhere.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;

use crate::error::IamError;
use crate::master::{write_new_private, MasterKey};
use crate::store::{json, prefixed, Iam, CHECK, KEY};

/// What a rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct Rotated {
    /// Secrets re-sealed.
    pub secrets: usize,
    /// Where the new master key is.
    pub key_file: PathBuf,
    /// Whether the new key replaced the old one where cairnd reads it; when not, the
    /// configuration must name `key_file` before the next start.
    pub in_place: bool,
}

impl Iam {
    /// Re-seals every secret under a new master key. The new key replaces the current key
    /// file in place (staged as `<file>.new` first); a key from systemd's credential
    /// directory cannot be replaced, so it goes to `new_key_file`, which must not exist yet.
    pub fn rotate_master_key(&self, new_key_file: Option<&Path>) -> Result<Rotated, IamError> {
        let _writer = self.write_lock();
        let new = MasterKey::generate()?;
        let (written, in_place) = match new_key_file {
            Some(path) => (path.to_owned(), false),
            None if self.source.writable() => (self.source.staged_path(), true),
            None => {
                return Err(IamError::Invalid(format!(
                    "the master key comes from systemd's credential directory ({}), which cairnd cannot replace: name a new key file (it must not exist yet) and point the unit's credential at it afterwards",
                    self.source.path().display()
                )))
            }
        };
        if in_place {
            // A stale staged key from an earlier failed rotation: never used (it opens nothing).
            let _ = std::fs::remove_file(&written);
        }
        write_new_private(&written, new.to_file_text().as_bytes()).map_err(|e| {
            IamError::Write {
                path: written.clone(),
                reason: e.to_string(),
            }
        })?;
        let (changes, secrets) = self.resealed(&new)?;
        self.commit(changes, |s| {
            for key in &secrets {
                s.keys.insert(key.id.clone(), key.clone());
            }
        })?;
        *self.master.write().unwrap_or_else(|p| p.into_inner()) = new;
        let key_file = if in_place {
            let target = self.source.path();
            std::fs::rename(&written, target)
                .and_then(|()| crate::master::sync_parent(target))
                .map_err(|e| IamError::Write {
                    path: target.to_owned(),
                    reason: e.to_string(),
                })?;
            target.to_owned()
        } else {
            written
        };
        Ok(Rotated {
            secrets: secrets.len(),
            key_file,
            in_place,
        })
    }

    /// Every sealed secret re-sealed under `new`, and the new check value, as one batch.
    fn resealed(
        &self,
        new: &MasterKey,
    ) -> Result<(Vec<cairn_storage::Change>, Vec<crate::model::KeyRecord>), IamError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let state = self.read_state();
        let old = self.master.read().unwrap_or_else(|p| p.into_inner());
        let mut changes = Vec::new();
        let mut keys = Vec::new();
        for key in state.keys.values() {
            let Some(sealed) = &key.sealed else { continue };
            let opened = b64
                .decode(sealed)
                .ok()
                .and_then(|s| old.open(key.id.as_bytes(), &s))
                .ok_or_else(|| {
                    IamError::Corrupt(format!("the secret of {} does not open", key.id))
                })?;
            let mut key = key.clone();
            key.sealed = Some(b64.encode(new.seal(key.id.as_bytes(), &opened)?));
            changes.push((prefixed(KEY, &key.id), json(&key)));
            keys.push(key);
        }
        changes.push((CHECK.to_vec(), Some(crate::store::check_value(new)?)));
        Ok((changes, keys))
    }
}
