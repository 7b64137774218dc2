//! Authentication wired into every request: cairn-sigv4's phases around a look-up of the
//! access key in this core's cache of the key store (or the static superuser pair), and, in
//! `none` mode, anonymous requests.

use std::cell::RefCell;
use std::sync::Arc;

use cairn_http::proto::RequestHead;
use cairn_sigv4::key::DEFAULT_KEY_CACHE_ENTRIES;
use std::rc::Rc;

use cairn_iam::{CachedKey, Iam, KeyCache};
use cairn_sigv4::{
    anonymous_payload, parse_auth, verify, AuthError, PayloadVerifier, Policy, RequestParts,
    SecretKey, SigningKeyCache,
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

    /// Who requests signed with this key act for (not an administrator by itself).
    pub fn identity(&self) -> Identity<'_> {
        Identity {
            access_key_id: &self.access_key_id,
            user_id: &self.owner_id,
            display_name: &self.display_name,
            admin: false,
            grants: None,
        }
    }
}

/// AWS's canonical user id of anonymous requests.
pub const ANONYMOUS_USER_ID: &str = "65a011a29cdf8ec533ec3d1ccaae921c";

/// How a core authenticates: which callers it accepts.
#[derive(Debug, Clone, Default)]
pub struct AuthSetup {
    /// The key store (users, keys, grants), when in `keys` mode.
    pub keys: Option<Arc<Iam>>,
    /// A static superuser pair (`static` mode, or beside the key store as a fallback).
    pub static_key: Option<KeyPair>,
    /// Whether unsigned requests have full access (`none` mode).
    pub anonymous: bool,
}

/// Who signed a request.
#[derive(Debug)]
pub enum Caller<'k> {
    /// A key of the key store.
    Key(Rc<CachedKey>),
    /// The static superuser pair.
    Static(&'k KeyPair),
    /// Nobody (`none` mode).
    Anonymous,
}

impl Caller<'_> {
    /// The secret the caller signs with (anonymous callers have none).
    fn secret(&self) -> Option<&SecretKey> {
        match self {
            Caller::Key(key) => Some(&key.secret),
            Caller::Static(pair) => Some(&pair.secret),
            Caller::Anonymous => None,
        }
    }
}

/// A request whose head authenticated.
#[derive(Debug)]
pub struct Authenticated<'k> {
    pub caller: Caller<'k>,
    /// What the body must still prove.
    pub payload: PayloadVerifier,
}

impl Caller<'_> {
    /// Who the request acts for.
    pub fn identity(&self) -> Identity<'_> {
        match self {
            Caller::Key(key) => Identity {
                access_key_id: &key.access_key_id,
                user_id: &key.principal.user_id,
                display_name: &key.principal.user_name,
                admin: key.principal.admin,
                grants: Some(&key.principal.grants),
            },
            Caller::Static(pair) => Identity {
                admin: true,
                ..pair.identity()
            },
            Caller::Anonymous => Identity {
                access_key_id: "",
                user_id: ANONYMOUS_USER_ID,
                display_name: "anonymous",
                admin: true,
                grants: None,
            },
        }
    }
}

/// One core's authenticator: its cache of the key store, the static pair, the policy and this
/// core's signing-key cache.
#[derive(Debug)]
pub struct Authenticator {
    keys: Option<KeyCache>,
    static_key: Option<KeyPair>,
    anonymous: bool,
    policy: Policy,
    cache: RefCell<SigningKeyCache>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Authenticator {
    pub fn new(setup: AuthSetup, policy: Policy) -> Authenticator {
        Authenticator {
            keys: setup.keys.map(KeyCache::new),
            static_key: setup.static_key,
            anonymous: setup.anonymous,
            policy,
            cache: RefCell::new(SigningKeyCache::new(DEFAULT_KEY_CACHE_ENTRIES)),
        }
    }

    /// Reports this core's keys' last uses to the key store (call periodically).
    pub fn report_last_used(&self) {
        if let Some(keys) = &self.keys {
            keys.report();
        }
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
            if self.anonymous {
                return Ok(Authenticated {
                    caller: Caller::Anonymous,
                    payload: anonymous_payload(&parts)?,
                });
            }
            return Err(AuthError::AnonymousAccessDenied.into());
        };
        let now = now_secs();
        let caller = self.find(access_key_id, now).ok_or_else(|| {
            S3Error::from(AuthError::InvalidAccessKeyId {
                access_key_id: access_key_id.to_owned(),
            })
        })?;
        let Some(secret) = caller.secret() else {
            return Err(AuthError::AnonymousAccessDenied.into());
        };
        let verified = verify(
            &auth,
            &parts,
            virtual_host_bucket,
            secret,
            now as i64,
            &self.policy,
            &mut self.cache.borrow_mut(),
        )?;
        let payload = verified.payload;
        drop(auth);
        if let Caller::Key(key) = &caller {
            key.touch(now);
        }
        Ok(Authenticated { caller, payload })
    }

    /// The caller an access key id names: the static pair, else an active key of the store.
    fn find(&self, access_key_id: &str, now: u64) -> Option<Caller<'_>> {
        if let Some(pair) = self
            .static_key
            .as_ref()
            .filter(|p| p.access_key_id == access_key_id)
        {
            return Some(Caller::Static(pair));
        }
        Some(Caller::Key(self.keys.as_ref()?.lookup(access_key_id, now)?))
    }
}
