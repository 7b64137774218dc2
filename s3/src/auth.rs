//! Authentication wired into every request: cairn-sigv4's phases around a lookup of the key
//! pairs the configuration names (until users and keys have their own store).

use std::cell::RefCell;
use std::sync::Arc;

use cairn_http::proto::RequestHead;
use cairn_sigv4::key::DEFAULT_KEY_CACHE_ENTRIES;
use cairn_sigv4::{
    parse_auth, verify, AuthError, PayloadVerifier, Policy, RequestParts, SecretKey,
    SigningKeyCache,
};

use crate::authorize::Identity;
use crate::error::{S3Error, S3ErrorCode};

/// Why a configured key pair is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The access key id is not 3 to 128 letters and digits.
    InvalidId(String),
    /// The secret is too short or holds spaces or control characters (the message names the
    /// key id, never the secret).
    InvalidSecret { access_key_id: String },
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::InvalidId(id) => write!(
                f,
                "access key id {id:?} is invalid: use 3 to 128 letters and digits"
            ),
            KeyError::InvalidSecret { access_key_id } => write!(
                f,
                "the secret of access key {access_key_id} is invalid: use at least 8 printable characters without spaces"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

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
    ) -> Result<KeyPair, KeyError> {
        let id_ok = (3..=128).contains(&access_key_id.len())
            && access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_ok {
            return Err(KeyError::InvalidId(access_key_id));
        }
        if secret.len() < 8 || secret.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(KeyError::InvalidSecret { access_key_id });
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

    /// Who requests signed with this key act for.
    pub fn identity(&self) -> Identity<'_> {
        Identity {
            access_key_id: &self.access_key_id,
            user_id: &self.owner_id,
            display_name: &self.display_name,
        }
    }
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

    /// Every region accepted in a credential scope, the default first.
    pub fn regions(&self) -> &[String] {
        &self.policy.regions
    }

    /// Authenticates a head (never the body: that is the returned verifier's job).
    /// `virtual_host_bucket` is the bucket the router took from the Host header, which SigV2
    /// signs.
    pub fn authenticate(
        &self,
        head: &RequestHead,
        virtual_host_bucket: Option<&str>,
    ) -> Result<Authenticated<'_>, S3Error> {
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
            virtual_host_bucket,
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
