//! The credentials used when none are configured: created on first start in the data
//! directory (mode 0600), and shown once to the terminal that started the daemon — never
//! written to the log, which under systemd is the journal, readable by more people than the
//! data directory.

use std::io::{IsTerminal, Write};
use std::path::Path;

use cairn_s3::auth::KeyPair;
use ring::rand::SecureRandom;

use crate::startup::StartupError;

/// The file in the data directory that holds the credentials generated on first start when
/// none are configured.
pub const DEFAULT_CREDENTIALS_FILE: &str = "default-credentials.toml";

#[derive(serde::Deserialize)]
struct CredentialsFile {
    access_key_id: String,
    secret_access_key: String,
}

fn random_text(alphabet: &[u8], len: usize) -> Result<String, StartupError> {
    let rng = ring::rand::SystemRandom::new();
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes)
        .map_err(|_| StartupError::Config("the system random generator failed".into()))?;
    // Both alphabets have 32 or 64 characters, which divide 256: no modulo bias.
    Ok(bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect())
}

/// The default credentials: read from the data directory, or created there and shown once.
pub fn default_credentials(data_dir: &Path) -> Result<KeyPair, StartupError> {
    let path = data_dir.join(DEFAULT_CREDENTIALS_FILE);
    let fail = |reason: String| StartupError::DataDir {
        path: path.clone(),
        reason,
    };
    let key = |id: String, secret: String| {
        KeyPair::new(id, secret, None, None).map_err(|e| fail(e.to_string()))
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            // toml's own message could quote the line that holds the secret: not shown.
            let file: CredentialsFile = toml::from_str(&text).map_err(|_| {
                fail(format!(
                    "{DEFAULT_CREDENTIALS_FILE} is not valid: it must hold access_key_id and secret_access_key"
                ))
            })?;
            tracing::info!(
                access_key_id = %file.access_key_id,
                "no credentials configured: using the default credentials in {}",
                path.display()
            );
            key(file.access_key_id, file.secret_access_key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
            const SECRET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let id = format!("CAIRN{}", random_text(UPPER, 15)?);
            let secret = random_text(SECRET, 40)?;
            let text = format!(
                "# Created by cairnd on first start because no credentials were configured.\n\
                 access_key_id = \"{id}\"\nsecret_access_key = \"{secret}\"\n"
            );
            write_private(&path, text.as_bytes()).map_err(|e| fail(e.to_string()))?;
            let shown = show_once(&id, &secret, &path);
            tracing::warn!(
                access_key_id = %id,
                "no credentials configured: created default credentials in {} (readable by this user only){}",
                path.display(),
                if shown {
                    "; the secret was shown on the terminal"
                } else {
                    "; read the secret from that file"
                }
            );
            key(id, secret)
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

/// Writes the new key pair to the terminal that started the daemon, if there is one (stdout,
/// else stderr), bypassing the log. Returns whether it was shown.
fn show_once(id: &str, secret: &str, path: &Path) -> bool {
    let text = format!(
        "\ncairnd: created default credentials (kept in {}):\n  AWS_ACCESS_KEY_ID={id}\n  AWS_SECRET_ACCESS_KEY={secret}\n\n",
        path.display()
    );
    if std::io::stdout().is_terminal() {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_ok()
    } else if std::io::stderr().is_terminal() {
        std::io::stderr().lock().write_all(text.as_bytes()).is_ok()
    } else {
        false
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back() {
        let dir = std::env::temp_dir().join(format!("cairn-creds-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = default_credentials(&dir).unwrap();
        let again = default_credentials(&dir).unwrap();
        assert_eq!(first.access_key_id, again.access_key_id);
        assert_eq!(first.access_key_id.len(), 20);
        let path = dir.join(DEFAULT_CREDENTIALS_FILE);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A broken file is refused without quoting it.
        std::fs::write(&path, "secret_access_key = \"abc\ndef\"\n").unwrap();
        let err = default_credentials(&dir).unwrap_err().to_string();
        assert!(!err.contains("abc"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
