//! The key store at start-up: the master key found (or generated on a fresh data directory),
//! keys of earlier versions imported (static `[[auth.keys]]`, the plain-text
//! `default-credentials.toml`, which is then removed), and a first administrator created and
//! shown once to the terminal — never written to the log, which under systemd is the journal,
//! readable by more people than the data directory.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_iam::{Iam, IamConfig, Imported, ImportedKey, MasterKeyOutcome, MasterKeySource};
use cairn_s3::auth::KeyPair;

use crate::auth_config::AuthMode;
use crate::config::Config;
use crate::startup::StartupError;

/// The file in the data directory where earlier versions kept the credentials they generated
/// on first start: imported, then removed.
pub const DEFAULT_CREDENTIALS_FILE: &str = "default-credentials.toml";

/// The name of the administrator created on a fresh data directory.
const FIRST_ADMIN: &str = "admin";

#[derive(serde::Deserialize)]
struct CredentialsFile {
    access_key_id: String,
    secret_access_key: String,
}

/// Where the master key comes from under this configuration.
pub fn master_key_source(config: &Config, data_dir: &Path) -> MasterKeySource {
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    MasterKeySource::locate(
        config.auth.master_key_file.as_deref(),
        credentials.as_deref(),
        data_dir,
    )
}

/// Opens the key store as `cairnd serve` does: imports, and the first administrator.
pub fn open_key_store(config: &Config, data_dir: &Path) -> Result<Arc<Iam>, StartupError> {
    let source = master_key_source(config, data_dir);
    let iam_config = IamConfig {
        key_id_prefix: config.auth.key_id_prefix.clone(),
    };
    let (iam, outcome) = Iam::open(data_dir, source.clone(), iam_config)?;
    let path = source.path().display();
    match outcome {
        MasterKeyOutcome::Initialised { generated: true } => tracing::warn!(
            "generated a master key in {path} (readable by this user only); it seals every access key's secret. \
             Keep it apart from the data: move it (e.g. to /etc/cairn/master.key, or into a systemd credential with \
             LoadCredentialEncrypted=master-key:…) and name it with auth.master_key_file"
        ),
        MasterKeyOutcome::Initialised { generated: false } => {
            tracing::info!("new key store sealed under the master key {path}")
        }
        MasterKeyOutcome::FinishedRotation => {
            tracing::warn!("finished an interrupted master-key rotation: {path} is the new key")
        }
        MasterKeyOutcome::Verified => tracing::debug!("master key {path} verified"),
    }
    for pair in &config.auth.imported {
        import(&iam, pair, false, "the config's [[auth.keys]]")?;
    }
    if !config.auth.imported.is_empty() {
        tracing::warn!(
            "the [[auth.keys]] entries are in the key store now: remove them (and their secrets) from the config file"
        );
    }
    import_default_credentials(&iam, data_dir)?;
    if config.auth.mode == AuthMode::Keys && !iam.has_admin() {
        create_first_admin(&iam)?;
    }
    Ok(iam)
}

fn import(iam: &Iam, pair: &KeyPair, admin: bool, from: &str) -> Result<(), StartupError> {
    let outcome = iam.import_key(&ImportedKey {
        access_key_id: pair.access_key_id.clone(),
        secret: pair.secret.expose().to_owned(),
        owner_id: pair.owner_id.clone(),
        display_name: pair.display_name.clone(),
        admin,
    })?;
    if let Imported::Added { user } = outcome {
        tracing::info!(
            access_key_id = %pair.access_key_id,
            user = %user,
            "imported an access key from {from} into the key store"
        );
    }
    Ok(())
}

/// Imports the plain-text credentials of earlier versions as an administrator's key, then
/// removes the file (only once the store holds the key durably).
fn import_default_credentials(iam: &Iam, data_dir: &Path) -> Result<(), StartupError> {
    let path = data_dir.join(DEFAULT_CREDENTIALS_FILE);
    let fail = |reason: String| StartupError::DataDir {
        path: path.clone(),
        reason,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => zeroize::Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(e.to_string())),
    };
    // toml's own message could quote the line that holds the secret: not shown.
    let file: CredentialsFile = toml::from_str(&text).map_err(|_| {
        fail(format!(
            "{DEFAULT_CREDENTIALS_FILE} is not valid: it must hold access_key_id and secret_access_key"
        ))
    })?;
    let pair = KeyPair::new(file.access_key_id, file.secret_access_key, None, None)
        .map_err(|e| fail(e.to_string()))?;
    import(iam, &pair, true, DEFAULT_CREDENTIALS_FILE)?;
    std::fs::remove_file(&path)
        .and_then(|()| std::fs::File::open(data_dir)?.sync_all())
        .map_err(|e| fail(format!("imported, but cannot remove it: {e}")))?;
    tracing::info!("removed {} (its key is in the key store)", path.display());
    Ok(())
}

/// Creates an administrator with one key, shown once to the terminal that started the
/// daemon.
fn create_first_admin(iam: &Iam) -> Result<(), StartupError> {
    let mut name = FIRST_ADMIN.to_owned();
    let mut n = 2;
    while iam.user(&name, &[]).is_ok() {
        name = format!("{FIRST_ADMIN}-{n}");
        n += 1;
    }
    iam.create_user(&name, true)?;
    let key = iam.create_key(&name, Some("first"), None)?;
    let shown = show_once(&name, &key.key.id, &key.secret);
    tracing::warn!(
        access_key_id = %key.key.id,
        "created the administrator {name:?} with one access key{}",
        if shown {
            "; its secret was shown on the terminal, once"
        } else {
            "; no terminal to show its secret on: create another key with `cairnd key create --user admin`"
        }
    );
    Ok(())
}

/// Writes the new key to the terminal that started the daemon, if there is one (stdout, else
/// stderr), bypassing the log. Returns whether it was shown.
fn show_once(user: &str, id: &str, secret: &str) -> bool {
    let text = format!(
        "\ncairnd: created the administrator {user:?} with an access key (the secret is not shown again):\n  AWS_ACCESS_KEY_ID={id}\n  AWS_SECRET_ACCESS_KEY={secret}\n\n"
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
