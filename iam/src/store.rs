//! The key store: users, keys and grants kept in their own sled database (`<data>/iam`),
//! loaded into memory at open, changed only through [`Iam`]'s operations (each one atomic
//! batch, durable before it answers), and read by every core through [`Iam::resolve`].

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use base64::Engine as _;
use cairn_sigv4::SecretKey;
use cairn_storage::{Change, MetaStore, SledStore};

use crate::error::IamError;
use crate::master::{MasterKey, MasterKeySource};
use crate::model::{GrantRecord, KeyRecord, Permission, UserRecord};

/// The directory of the key store inside the data directory.
pub const STORE_DIR: &str = "iam";
/// Page cache of the key store's sled database.
const CACHE_BYTES: u64 = 8 << 20;
/// What the check value seals: a wrong master key fails to open it.
const CHECK_PLAINTEXT: &[u8] = b"cairn master key check v1";
const CHECK_AAD: &[u8] = b"cairn:check";

pub(crate) const USER: &[u8] = b"u/";
pub(crate) const KEY: &[u8] = b"k/";
pub(crate) const GRANT: &[u8] = b"g/";
pub(crate) const USED: &[u8] = b"l/";
pub(crate) const CHECK: &[u8] = b"m/check";

/// Settings of the key store.
#[derive(Debug, Clone)]
pub struct IamConfig {
    /// What every generated access key id starts with.
    pub key_id_prefix: String,
}

impl Default for IamConfig {
    fn default() -> Self {
        IamConfig {
            key_id_prefix: DEFAULT_KEY_ID_PREFIX.to_owned(),
        }
    }
}

/// The default prefix of access key ids (AWS's start `AKIA`).
pub const DEFAULT_KEY_ID_PREFIX: &str = "CAIRN";

/// Everything the store holds, in memory.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub users: BTreeMap<String, UserRecord>,
    pub keys: BTreeMap<String, KeyRecord>,
    /// By (user name, bucket name).
    pub grants: BTreeMap<(String, String), GrantRecord>,
    /// Last use of each key, unix seconds, as persisted.
    pub last_used: HashMap<String, u64>,
}

/// Who an access key acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The canonical user id (bucket owner).
    pub user_id: String,
    pub user_name: String,
    pub admin: bool,
    /// Grants by bucket id.
    pub grants: HashMap<u64, Permission>,
}

/// An active key with its secret opened.
#[derive(Debug)]
pub struct ResolvedKey {
    pub access_key_id: String,
    pub principal: Principal,
    pub secret: SecretKey,
    pub expires: Option<u64>,
}

/// The key store, shared by every core and the admin API.
pub struct Iam {
    pub(crate) meta: SledStore,
    pub(crate) dir: PathBuf,
    pub(crate) state: RwLock<State>,
    pub(crate) master: RwLock<MasterKey>,
    pub(crate) source: MasterKeySource,
    /// Serialises changes (reads go on while one is made durable).
    pub(crate) writer: Mutex<()>,
    /// Bumped after every change; cores drop their caches when it moves.
    generation: AtomicU64,
    /// Last uses reported by the cores, not yet persisted.
    used: Mutex<HashMap<String, u64>>,
    pub(crate) config: IamConfig,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam")
            .field("dir", &self.dir)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// How [`Iam::open`] found the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeyOutcome {
    /// The key matched the store's check value.
    Verified,
    /// The store was new; the key (read or generated) now seals it.
    Initialised { generated: bool },
    /// A rotation was interrupted after the store was re-sealed: the staged key was put in
    /// place.
    FinishedRotation,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Iam {
    /// Opens (or creates) the key store under `data_dir` with the master key from `source`,
    /// checking the key against the store: a store sealed under another key is refused.
    pub fn open(
        data_dir: &Path,
        source: MasterKeySource,
        config: IamConfig,
    ) -> Result<(Arc<Iam>, MasterKeyOutcome), IamError> {
        crate::ids::check_prefix(&config.key_id_prefix)?;
        let dir = data_dir.join(STORE_DIR);
        // Only sealed secrets are in it, but nobody else has business there either.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| IamError::Write {
                path: dir.clone(),
                reason: e.to_string(),
            })?;
        let meta = SledStore::open(&dir, CACHE_BYTES)?;
        let check = meta.get(CHECK)?;
        let (master, outcome) = match check {
            None => Self::initialise(&meta, &source)?,
            Some(check) => {
                let (key, finished) = verify_master(&source, &check, &dir)?;
                let outcome = if finished {
                    MasterKeyOutcome::FinishedRotation
                } else {
                    MasterKeyOutcome::Verified
                };
                (key, outcome)
            }
        };
        let state = load_state(&meta)?;
        let iam = Iam {
            meta,
            dir,
            state: RwLock::new(state),
            master: RwLock::new(master),
            source,
            writer: Mutex::new(()),
            generation: AtomicU64::new(1),
            used: Mutex::new(HashMap::new()),
            config,
        };
        Ok((Arc::new(iam), outcome))
    }

    /// A new store: the configured key, or one generated into the data directory.
    fn initialise(
        meta: &SledStore,
        source: &MasterKeySource,
    ) -> Result<(MasterKey, MasterKeyOutcome), IamError> {
        let (key, generated) = match source.read()? {
            Some(key) => (key, false),
            None if matches!(source, MasterKeySource::Generated(_)) => {
                let key = MasterKey::generate()?;
                crate::master::write_new_private(source.path(), key.to_file_text().as_bytes())
                    .map_err(|e| IamError::Write {
                        path: source.path().to_owned(),
                        reason: e.to_string(),
                    })?;
                (key, true)
            }
            None => {
                return Err(IamError::MasterKeyUnreadable {
                    path: source.path().to_owned(),
                    reason: "no such file".into(),
                })
            }
        };
        persist(meta, vec![(CHECK.to_vec(), Some(check_value(&key)?))])?;
        Ok((key, MasterKeyOutcome::Initialised { generated }))
    }

    /// The change counter cores compare their caches against.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `changes` durably, then `update` to the in-memory state, then tells the cores.
    /// Call with the writer lock held.
    pub(crate) fn commit(
        &self,
        changes: Vec<Change>,
        update: impl FnOnce(&mut State),
    ) -> Result<(), IamError> {
        persist(&self.meta, changes)?;
        update(&mut self.state.write().unwrap_or_else(|p| p.into_inner()));
        self.changed();
        Ok(())
    }

    pub(crate) fn write_lock(&self) -> MutexGuard<'_, ()> {
        lock(&self.writer)
    }

    /// Where the master key comes from.
    pub fn master_key_source(&self) -> &MasterKeySource {
        &self.source
    }

    /// Seals a secret for key `id`, as stored.
    pub(crate) fn seal_secret(&self, id: &str, secret: &str) -> Result<String, IamError> {
        let master = self.master.read().unwrap_or_else(|p| p.into_inner());
        let sealed = master.seal(id.as_bytes(), secret.as_bytes())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    /// The active, unexpired key `access_key_id` with its secret opened, or `None`.
    pub fn resolve(&self, access_key_id: &str, now: u64) -> Option<ResolvedKey> {
        let state = self.read_state();
        let key = state.keys.get(access_key_id)?;
        if !key.usable_at(now) {
            return None;
        }
        let user = state.users.get(&key.user)?;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(key.sealed.as_deref()?)
            .ok()?;
        let master = self.master.read().unwrap_or_else(|p| p.into_inner());
        let Some(plain) = master.open(access_key_id.as_bytes(), &sealed) else {
            tracing::error!(
                access_key_id,
                "the sealed secret of an access key does not open under the master key"
            );
            return None;
        };
        let secret = String::from_utf8(plain.to_vec()).ok()?;
        let grants = state
            .grants
            .values()
            .filter(|g| g.user == user.name)
            .map(|g| (g.bucket_id, g.permission))
            .collect();
        Some(ResolvedKey {
            access_key_id: access_key_id.to_owned(),
            principal: Principal {
                user_id: user.id.clone(),
                user_name: user.name.clone(),
                admin: user.admin,
                grants,
            },
            secret: SecretKey::new(secret),
            expires: key.expires,
        })
    }

    /// Takes the cores' reports of when keys were last used (merged, newest wins).
    pub fn record_last_used(&self, used: impl IntoIterator<Item = (String, u64)>) {
        let mut pending = lock(&self.used);
        for (id, at) in used {
            let slot = pending.entry(id).or_insert(0);
            *slot = (*slot).max(at);
        }
    }

    /// When key `id` was last used, as far as reported (persisted or not).
    pub(crate) fn last_used(&self, state: &State, id: &str) -> Option<u64> {
        let pending = lock(&self.used).get(id).copied();
        match (state.last_used.get(id).copied(), pending) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Writes the reported last uses to the store (one batch; nothing when none changed).
    pub fn persist_last_used(&self) -> Result<usize, IamError> {
        let pending: Vec<(String, u64)> = lock(&self.used).drain().collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let _writer = self.write_lock();
        let state = self.read_state();
        let fresh: Vec<(String, u64)> = pending
            .into_iter()
            .filter(|(id, at)| {
                state.keys.contains_key(id) && state.last_used.get(id).is_none_or(|p| p < at)
            })
            .collect();
        drop(state);
        let changes = fresh
            .iter()
            .map(|(id, at)| (prefixed(USED, id), Some(at.to_be_bytes().to_vec())))
            .collect();
        persist(&self.meta, changes)?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for (id, at) in &fresh {
            state.last_used.insert(id.clone(), *at);
        }
        Ok(fresh.len())
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Opens the check value with the source's key — or, after an interrupted rotation, with the
/// staged key, which is then put in place. Returns the key and whether a rotation was
/// finished.
fn verify_master(
    source: &MasterKeySource,
    check: &[u8],
    store: &Path,
) -> Result<(MasterKey, bool), IamError> {
    let opens = |key: &MasterKey| {
        key.open(CHECK_AAD, check)
            .is_some_and(|p| p.as_slice() == CHECK_PLAINTEXT)
    };
    let key = source.read()?;
    let present = key.is_some();
    if let Some(key) = key {
        if opens(&key) {
            return Ok((key, false));
        }
    }
    if source.writable() {
        let staged = source.staged_path();
        if let Some(new) = crate::master::read_key_file(&staged)?.filter(|k| opens(k)) {
            std::fs::rename(&staged, source.path())
                .and_then(|()| crate::master::sync_parent(source.path()))
                .map_err(|e| IamError::Write {
                    path: source.path().to_owned(),
                    reason: e.to_string(),
                })?;
            return Ok((new, true));
        }
    }
    if present {
        Err(IamError::WrongMasterKey {
            path: source.path().to_owned(),
            store: store.to_owned(),
        })
    } else {
        Err(IamError::MasterKeyMissing {
            path: source.path().to_owned(),
            store: store.to_owned(),
        })
    }
}

/// The check value a master key is recognised by.
pub(crate) fn check_value(key: &MasterKey) -> Result<Vec<u8>, IamError> {
    key.seal(CHECK_AAD, CHECK_PLAINTEXT)
}

pub(crate) fn prefixed(family: &[u8], name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(family.len() + name.len());
    key.extend_from_slice(family);
    key.extend_from_slice(name.as_bytes());
    key
}

pub(crate) fn grant_key(user: &str, bucket: &str) -> Vec<u8> {
    let mut key = prefixed(GRANT, user);
    key.push(0);
    key.extend_from_slice(bucket.as_bytes());
    key
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(value).expect("records serialise"))
}

/// Applies a batch and makes it durable before returning.
pub(crate) fn persist(meta: &SledStore, changes: Vec<Change>) -> Result<(), IamError> {
    if changes.is_empty() {
        return Ok(());
    }
    meta.apply(changes)?;
    meta.flush()?;
    meta.sync()?;
    Ok(())
}

fn family_range(family: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut end = family.to_vec();
    *end.last_mut().expect("non-empty") += 1;
    (family.to_vec(), end)
}

fn load_family<T: serde::de::DeserializeOwned>(
    meta: &SledStore,
    family: &[u8],
) -> Result<Vec<T>, IamError> {
    let (start, end) = family_range(family);
    let mut out = Vec::new();
    for entry in meta.range(&start, &end) {
        let (k, v) = entry?;
        out.push(serde_json::from_slice(&v).map_err(|e| {
            IamError::Corrupt(format!("record {}: {e}", String::from_utf8_lossy(&k)))
        })?);
    }
    Ok(out)
}

fn load_state(meta: &SledStore) -> Result<State, IamError> {
    let mut state = State::default();
    for user in load_family::<UserRecord>(meta, USER)? {
        state.users.insert(user.name.clone(), user);
    }
    for key in load_family::<KeyRecord>(meta, KEY)? {
        state.keys.insert(key.id.clone(), key);
    }
    for grant in load_family::<GrantRecord>(meta, GRANT)? {
        state
            .grants
            .insert((grant.user.clone(), grant.bucket.clone()), grant);
    }
    let (start, end) = family_range(USED);
    for entry in meta.range(&start, &end) {
        let (k, v) = entry?;
        let id = String::from_utf8_lossy(&k[USED.len()..]).into_owned();
        let at = <[u8; 8]>::try_from(v.as_slice())
            .map_err(|_| IamError::Corrupt(format!("last use of {id}")))?;
        state.last_used.insert(id, u64::from_be_bytes(at));
    }
    Ok(state)
}
