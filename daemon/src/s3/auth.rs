//! Authentication wired into every request: cairn-sigv4's phases around a lookup of the key
//! pairs the configuration names (until users and keys have their own store).

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use cairn_http::proto::RequestHead;
use cairn_sigv4::key::DEFAULT_KEY_CACHE_ENTRIES;
use cairn_sigv4::{
    parse_auth, verify, AuthError, PayloadVerifier, Policy, RequestParts, SecretKey,
    SigningKeyCache,
};
use ring::rand::SecureRandom;

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::startup::StartupError;

/// One access key and the user it acts for.
#[derive(Clone)]
pub struct KeyPair {
    pub access_key_id: String,
    pub secret: SecretKey,
    /// The canonical user id that owns the buckets this key creates.
    pub owner_id: String,
    pub display_name: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("access_key_id", &self.access_key_id)
            .field("owner_id", &self.owner_id)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Checks a configured pair; the owner id defaults to a stable hash of the key id.
    pub fn new(
        access_key_id: String,
        secret: String,
        owner_id: Option<String>,
        display_name: Option<String>,
    ) -> Result<KeyPair, StartupError> {
        let id_ok = (3..=128).contains(&access_key_id.len())
            && access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_ok {
            return Err(StartupError::Config(format!(
                "access key id {access_key_id:?} is invalid: use 3 to 128 letters and digits"
            )));
        }
        if secret.len() < 8 || secret.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(StartupError::Config(format!(
                "the secret of access key {access_key_id} is invalid: use at least 8 printable characters without spaces"
            )));
        }
        let owner_id = owner_id.unwrap_or_else(|| {
            let digest = ring::digest::digest(
                &ring::digest::SHA256,
                format!("cairn-owner:{access_key_id}").as_bytes(),
            );
            hex::encode(digest.as_ref())
        });
        let display_name = display_name.unwrap_or_else(|| access_key_id.to_ascii_lowercase());
        Ok(KeyPair {
            access_key_id,
            secret: SecretKey::new(secret),
            owner_id,
            display_name,
        })
    }
}

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
    // 256 is a multiple of neither alphabet size; the bias (< 1%) does not matter for a key
    // with this much entropy, but keep it small anyway by using 64-character alphabets.
    Ok(bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect())
}

/// The credentials used when none are configured: read from the data directory, or created
/// there (mode 0600) and announced once on first start.
pub fn default_credentials(data_dir: &Path) -> Result<KeyPair, StartupError> {
    let path = data_dir.join(DEFAULT_CREDENTIALS_FILE);
    let fail = |reason: String| StartupError::DataDir {
        path: path.clone(),
        reason,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let file: CredentialsFile =
                toml::from_str(&text).map_err(|e| fail(format!("unreadable credentials: {e}")))?;
            tracing::info!(
                access_key_id = %file.access_key_id,
                "no credentials configured: using the default credentials in {}",
                path.display()
            );
            KeyPair::new(file.access_key_id, file.secret_access_key, None, None)
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
            tracing::warn!(
                "no credentials configured: created default credentials (stored in {}):\n  AWS_ACCESS_KEY_ID={id}\n  AWS_SECRET_ACCESS_KEY={secret}",
                path.display()
            );
            KeyPair::new(id, secret, None, None)
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
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

/// The configured keys, shared by every core.
#[derive(Debug)]
pub struct Credentials {
    keys: Vec<KeyPair>,
}

impl Credentials {
    pub fn new(keys: Vec<KeyPair>) -> Credentials {
        Credentials { keys }
    }

    pub fn lookup(&self, access_key_id: &str) -> Option<&KeyPair> {
        self.keys.iter().find(|k| k.access_key_id == access_key_id)
    }
}

/// A request whose head authenticated.
#[derive(Debug)]
pub struct Authenticated<'k> {
    pub key: &'k KeyPair,
    /// What the body must still prove.
    pub payload: PayloadVerifier,
}

/// One core's authenticator: the shared keys, the policy and this core's signing-key cache.
#[derive(Debug)]
pub struct Authenticator {
    credentials: Arc<Credentials>,
    policy: Policy,
    cache: RefCell<SigningKeyCache>,
}

impl Authenticator {
    pub fn new(credentials: Arc<Credentials>, policy: Policy) -> Authenticator {
        Authenticator {
            credentials,
            policy,
            cache: RefCell::new(SigningKeyCache::new(DEFAULT_KEY_CACHE_ENTRIES)),
        }
    }

    pub fn region(&self) -> &str {
        self.policy
            .regions
            .first()
            .map_or("us-east-1", |r| r.as_str())
    }

    /// Authenticates a head (never the body: that is the returned verifier's job).
    pub fn authenticate(&self, head: &RequestHead) -> Result<Authenticated<'_>, S3Error> {
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(head.header_count());
        for (name, value) in head.headers() {
            let value = std::str::from_utf8(value).map_err(|_| {
                S3Error::code(S3ErrorCode::InvalidArgument)
                    .with_message(format!("The value of header {name} is not valid UTF-8."))
            })?;
            headers.push((name, value));
        }
        let parts = RequestParts {
            method: head.method_str(),
            path: head.path(),
            query: head.query(),
            headers: &headers,
        };
        let auth = parse_auth(&parts)?;
        let Some(access_key_id) = auth.access_key_id() else {
            return Err(AuthError::AnonymousAccessDenied.into());
        };
        let Some(key) = self.credentials.lookup(access_key_id) else {
            return Err(AuthError::InvalidAccessKeyId {
                access_key_id: access_key_id.to_owned(),
            }
            .into());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let verified = verify(
            &auth,
            &parts,
            &key.secret,
            now,
            &self.policy,
            &mut self.cache.borrow_mut(),
        )?;
        let payload = verified.payload;
        drop(auth);
        Ok(Authenticated { key, payload })
    }
}
