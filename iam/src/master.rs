//! The master key: where it comes from (a configured file, systemd's credential directory, or
//! a file generated into the data directory on first start), and sealing secrets under it
//! with AES-256-GCM.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::IamError;

/// Bytes in a master key.
pub const MASTER_KEY_LEN: usize = 32;
/// The credential name under `$CREDENTIALS_DIRECTORY` (`LoadCredential=master-key:…`).
pub const CREDENTIAL_NAME: &str = "master-key";
/// The file generated in the data directory when no master key is configured.
pub const GENERATED_FILE: &str = "master.key";
const NONCE_LEN: usize = 12;

/// A 256-bit master key, wiped from memory when dropped.
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A new key from the OS CSPRNG.
    pub fn generate() -> Result<MasterKey, IamError> {
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        SystemRandom::new()
            .fill(key.as_mut())
            .map_err(|_| IamError::Random)?;
        Ok(MasterKey(key))
    }

    /// A key file's content: 64 hex digits (what cairnd writes; surrounding white space
    /// allowed) or exactly 32 raw bytes (as `systemd-creds` or `head -c 32 /dev/urandom`
    /// make).
    pub fn parse(bytes: &[u8]) -> Option<MasterKey> {
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        let text = std::str::from_utf8(bytes).ok().map(str::trim);
        match text {
            Some(hexed) if hexed.len() == 2 * MASTER_KEY_LEN => {
                hex::decode_to_slice(hexed, key.as_mut()).ok()?;
            }
            _ if bytes.len() == MASTER_KEY_LEN => key.copy_from_slice(bytes),
            _ => return None,
        }
        Some(MasterKey(key))
    }

    /// The key as cairnd writes it to a file: hex and a newline.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{}\n", hex::encode(self.0.as_ref())))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }

    /// Seals `plaintext` with a fresh random nonce; `aad` is authenticated, not stored.
    /// Returns nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, IamError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| IamError::Random)?;
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| IamError::Crypto)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] made with the same `aad`; `None` if it was sealed under
    /// another key or with other associated data, or was altered.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
            .ok()
            .map(Zeroizing::new)
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// A file named in the config (`auth.master_key_file`).
    File(PathBuf),
    /// systemd's credential directory: `$CREDENTIALS_DIRECTORY/master-key` (read-only).
    Credential(PathBuf),
    /// The data directory's `master.key`, generated on first start.
    Generated(PathBuf),
}

impl MasterKeySource {
    /// The configured file, else the credential if systemd passed one, else the data
    /// directory's file.
    pub fn locate(
        configured: Option<&Path>,
        credentials_dir: Option<&Path>,
        data_dir: &Path,
    ) -> MasterKeySource {
        if let Some(path) = configured {
            return MasterKeySource::File(path.to_owned());
        }
        if let Some(dir) = credentials_dir {
            let path = dir.join(CREDENTIAL_NAME);
            if path.exists() {
                return MasterKeySource::Credential(path);
            }
        }
        MasterKeySource::Generated(data_dir.join(GENERATED_FILE))
    }

    pub fn path(&self) -> &Path {
        match self {
            MasterKeySource::File(p)
            | MasterKeySource::Credential(p)
            | MasterKeySource::Generated(p) => p,
        }
    }

    /// Whether a rotation may replace the key in place (systemd's credentials are read-only).
    pub fn writable(&self) -> bool {
        !matches!(self, MasterKeySource::Credential(_))
    }

    /// Where a rotation stages the new key before the store is re-encrypted under it.
    pub(crate) fn staged_path(&self) -> PathBuf {
        let mut name = self.path().as_os_str().to_owned();
        name.push(".new");
        PathBuf::from(name)
    }

    /// Reads the key; `Ok(None)` if the file does not exist.
    pub(crate) fn read(&self) -> Result<Option<MasterKey>, IamError> {
        read_key_file(self.path())
    }
}

/// Reads a key file; `Ok(None)` if it does not exist.
pub(crate) fn read_key_file(path: &Path) -> Result<Option<MasterKey>, IamError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            MasterKey::parse(&bytes)
                .map(Some)
                .ok_or_else(|| IamError::MasterKeyInvalid(path.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(IamError::MasterKeyUnreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Writes `data` to a new file readable by its owner only, durably (`create_new`: an
/// existing file is never overwritten).
pub(crate) fn write_new_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()?;
    sync_parent(path)
}

/// Makes a rename or a new file in `path`'s directory durable.
pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => std::fs::File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_id() {
        let key = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let sealed = key.seal(b"CAIRNKEY", b"the secret").unwrap();
        assert_eq!(
            key.open(b"CAIRNKEY", &sealed).unwrap().as_slice(),
            b"the secret"
        );
        assert!(other.open(b"CAIRNKEY", &sealed).is_none());
        assert!(key.open(b"CAIRNKEY2", &sealed).is_none());
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(key.open(b"CAIRNKEY", &flipped).is_none());
        // A fresh nonce every time.
        assert_ne!(sealed, key.seal(b"CAIRNKEY", b"the secret").unwrap());
        assert!(!sealed.windows(10).any(|w| w == b"the secret"));
    }

    #[test]
    fn key_files_parse_as_hex_or_raw() {
        let key = MasterKey::generate().unwrap();
        let text = key.to_file_text();
        let again = MasterKey::parse(text.as_bytes()).unwrap();
        let sealed = key.seal(b"", b"x").unwrap();
        assert!(again.open(b"", &sealed).is_some());
        assert!(MasterKey::parse(&[7u8; 32]).is_some());
        assert!(MasterKey::parse(b"abc").is_none());
        assert!(MasterKey::parse(&[b'g'; 64]).is_none());
    }
}
