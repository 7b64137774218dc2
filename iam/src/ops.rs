//! The key store's operations: users, keys and grants, each checked against the current
//! state, persisted as one atomic batch, then applied in memory.

use cairn_storage::BucketInfo;

use crate::error::IamError;
use crate::ids;
use crate::model::{
    now_secs, rfc3339, GrantRecord, GrantView, KeyRecord, KeyState, KeyView, NewKey, Permission,
    UserRecord, UserView,
};
use crate::store::{grant_key, json, prefixed, Iam, State, KEY, USER};

/// A key pair that existed before the key store (a static `[[auth.keys]]` entry or the old
/// default credentials), to be carried over.
#[derive(Clone)]
pub struct ImportedKey {
    pub access_key_id: String,
    pub secret: String,
    /// The canonical user id its buckets name as owner.
    pub owner_id: String,
    pub display_name: String,
    pub admin: bool,
}

impl std::fmt::Debug for ImportedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedKey")
            .field("access_key_id", &self.access_key_id)
            .field("owner_id", &self.owner_id)
            .finish_non_exhaustive()
    }
}

/// What importing a key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Now a key of `user`.
    Added { user: String },
    /// The store already has (or had) this key id: left as it is (a revoked or deleted key
    /// is never brought back).
    Present,
}

impl Iam {
    fn user_view(&self, state: &State, user: &UserRecord) -> UserView {
        UserView {
            name: user.name.clone(),
            id: user.id.clone(),
            admin: user.admin,
            created: rfc3339(user.created),
            keys: state
                .keys
                .values()
                .filter(|k| k.user == user.name && k.state != KeyState::Deleted)
                .map(|k| k.id.clone())
                .collect(),
            buckets: Vec::new(),
            grants: state
                .grants
                .values()
                .filter(|g| g.user == user.name)
                .map(GrantView::from)
                .collect(),
        }
    }

    fn key_view(&self, state: &State, key: &KeyRecord) -> KeyView {
        KeyView {
            id: key.id.clone(),
            user: key.user.clone(),
            name: key.name.clone(),
            state: key.state,
            created: rfc3339(key.created),
            last_used: self.last_used(state, &key.id).map(rfc3339),
            expires: key.expires.map(rfc3339),
        }
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<UserView> {
        let state = self.read_state();
        state
            .users
            .values()
            .map(|u| self.user_view(&state, u))
            .collect()
    }

    /// One user; `buckets` are every bucket (to name those the user owns).
    pub fn user(&self, name: &str, buckets: &[BucketInfo]) -> Result<UserView, IamError> {
        let state = self.read_state();
        let user = state
            .users
            .get(name)
            .ok_or_else(|| IamError::NoSuchUser(name.to_owned()))?;
        let mut view = self.user_view(&state, user);
        view.buckets = owned_by(buckets, &user.id);
        Ok(view)
    }

    /// Whether some user is an administrator.
    pub fn has_admin(&self) -> bool {
        self.read_state().users.values().any(|u| u.admin)
    }

    /// Whether the store holds no user at all.
    pub fn is_empty(&self) -> bool {
        self.read_state().users.is_empty()
    }

    /// Creates a user.
    pub fn create_user(&self, name: &str, admin: bool) -> Result<UserView, IamError> {
        ids::check_user_name(name)?;
        let _writer = self.write_lock();
        if self.read_state().users.contains_key(name) {
            return Err(IamError::UserExists(name.to_owned()));
        }
        let user = UserRecord {
            id: ids::new_user_id()?,
            name: name.to_owned(),
            admin,
            created: now_secs(),
        };
        self.commit(vec![(prefixed(USER, name), json(&user))], |s| {
            s.users.insert(name.to_owned(), user);
        })?;
        let state = self.read_state();
        Ok(self.user_view(&state, &state.users[name]))
    }

    /// Deletes a user: refused while it owns a bucket (of `buckets`, every bucket), has an
    /// active key, or is the last administrator. Its revoked keys become deleted, its grants
    /// go.
    pub fn delete_user(&self, name: &str, buckets: &[BucketInfo]) -> Result<(), IamError> {
        let _writer = self.write_lock();
        let state = self.read_state();
        let user = state
            .users
            .get(name)
            .ok_or_else(|| IamError::NoSuchUser(name.to_owned()))?;
        let owned = owned_by(buckets, &user.id);
        if !owned.is_empty() {
            return Err(IamError::Conflict(format!(
                "user {name:?} owns buckets {}: delete them first",
                owned.join(", ")
            )));
        }
        let active: Vec<&str> = state
            .keys
            .values()
            .filter(|k| k.user == name && k.state == KeyState::Active)
            .map(|k| k.id.as_str())
            .collect();
        if !active.is_empty() {
            return Err(IamError::Conflict(format!(
                "user {name:?} has active keys {}: revoke them first",
                active.join(", ")
            )));
        }
        if user.admin && state.users.values().filter(|u| u.admin).count() == 1 {
            return Err(IamError::Conflict(format!(
                "user {name:?} is the last administrator: make another administrator first"
            )));
        }
        let mut changes = vec![(prefixed(USER, name), None)];
        let mut deleted = Vec::new();
        for key in state.keys.values().filter(|k| k.user == name) {
            if key.state != KeyState::Deleted {
                let mut key = key.clone();
                key.state = KeyState::Deleted;
                key.sealed = None;
                changes.push((prefixed(KEY, &key.id), json(&key)));
                deleted.push(key);
            }
        }
        let grants: Vec<(String, String)> = state
            .grants
            .keys()
            .filter(|(u, _)| u == name)
            .cloned()
            .collect();
        changes.extend(grants.iter().map(|(u, b)| (grant_key(u, b), None)));
        drop(state);
        self.commit(changes, |s| {
            s.users.remove(name);
            for key in deleted {
                s.keys.insert(key.id.clone(), key);
            }
            for g in &grants {
                s.grants.remove(g);
            }
        })
    }

    /// Creates a key for `user`: the answer is the only place its secret ever appears.
    pub fn create_key(
        &self,
        user: &str,
        name: Option<&str>,
        expires: Option<u64>,
    ) -> Result<NewKey, IamError> {
        let name = name.unwrap_or("default");
        ids::check_key_name(name)?;
        let now = now_secs();
        if expires.is_some_and(|t| t <= now) {
            return Err(IamError::Invalid("the expiry is in the past".into()));
        }
        let _writer = self.write_lock();
        if !self.read_state().users.contains_key(user) {
            return Err(IamError::NoSuchUser(user.to_owned()));
        }
        let id = loop {
            let id = ids::new_key_id(&self.config.key_id_prefix)?;
            if !self.read_state().keys.contains_key(&id) {
                break id;
            }
        };
        let secret = ids::new_secret()?;
        let key = KeyRecord {
            id: id.clone(),
            user: user.to_owned(),
            name: name.to_owned(),
            state: KeyState::Active,
            created: now,
            expires,
            sealed: Some(self.seal_secret(&id, &secret)?),
        };
        self.commit(vec![(prefixed(KEY, &id), json(&key))], |s| {
            s.keys.insert(id.clone(), key);
        })?;
        let state = self.read_state();
        Ok(NewKey {
            key: self.key_view(&state, &state.keys[&id]),
            secret: secret.as_str().to_owned(),
        })
    }

    /// Keys, of one user or of all, by id (deleted ones included: they show the id is
    /// spent).
    pub fn keys(&self, user: Option<&str>) -> Result<Vec<KeyView>, IamError> {
        let state = self.read_state();
        if let Some(user) = user.filter(|u| !state.users.contains_key(*u)) {
            return Err(IamError::NoSuchUser(user.to_owned()));
        }
        Ok(state
            .keys
            .values()
            .filter(|k| user.is_none_or(|u| k.user == u))
            .map(|k| self.key_view(&state, k))
            .collect())
    }

    /// One key.
    pub fn key(&self, id: &str) -> Result<KeyView, IamError> {
        let state = self.read_state();
        let key = state
            .keys
            .get(id)
            .ok_or_else(|| IamError::NoSuchKey(id.to_owned()))?;
        Ok(self.key_view(&state, key))
    }

    /// Moves a key to `target`: active ⇄ revoked, revoked → deleted (its sealed secret is
    /// erased; a deleted key never comes back).
    pub fn set_key_state(&self, id: &str, target: KeyState) -> Result<KeyView, IamError> {
        let _writer = self.write_lock();
        let state = self.read_state();
        let mut key = state
            .keys
            .get(id)
            .ok_or_else(|| IamError::NoSuchKey(id.to_owned()))?
            .clone();
        match (key.state, target) {
            (from, to) if from == to => return Ok(self.key_view(&state, &key)),
            (KeyState::Deleted, _) => {
                return Err(IamError::Conflict(format!(
                    "access key {id} was deleted and cannot be used again"
                )))
            }
            (KeyState::Active, KeyState::Deleted) => {
                return Err(IamError::Conflict(format!(
                    "access key {id} is active: revoke it first"
                )))
            }
            _ => {}
        }
        key.state = target;
        if target == KeyState::Deleted {
            key.sealed = None;
        }
        drop(state);
        let stored = key.clone();
        self.commit(vec![(prefixed(KEY, id), json(&key))], |s| {
            s.keys.insert(id.to_owned(), stored);
        })?;
        Ok(self.key_view(&self.read_state(), &key))
    }

    /// Grants `user` `permission` on `bucket` (replacing an earlier grant there).
    pub fn grant(
        &self,
        user: &str,
        bucket: &BucketInfo,
        permission: Permission,
    ) -> Result<GrantView, IamError> {
        let _writer = self.write_lock();
        let state = self.read_state();
        let record = state
            .users
            .get(user)
            .ok_or_else(|| IamError::NoSuchUser(user.to_owned()))?;
        if record.id == bucket.owner {
            return Err(IamError::Conflict(format!(
                "user {user:?} owns bucket {:?} already",
                bucket.name
            )));
        }
        drop(state);
        let grant = GrantRecord {
            user: user.to_owned(),
            bucket: bucket.name.clone(),
            bucket_id: bucket.id,
            permission,
        };
        let view = GrantView::from(&grant);
        self.commit(vec![(grant_key(user, &bucket.name), json(&grant))], |s| {
            s.grants
                .insert((user.to_owned(), bucket.name.clone()), grant);
        })?;
        Ok(view)
    }

    /// Removes `user`'s grant on bucket `bucket`.
    pub fn ungrant(&self, user: &str, bucket: &str) -> Result<(), IamError> {
        let _writer = self.write_lock();
        let id = (user.to_owned(), bucket.to_owned());
        let state = self.read_state();
        if !state.users.contains_key(user) {
            return Err(IamError::NoSuchUser(user.to_owned()));
        }
        if !state.grants.contains_key(&id) {
            return Err(IamError::NoSuchGrant(user.to_owned()));
        }
        drop(state);
        self.commit(vec![(grant_key(user, bucket), None)], |s| {
            s.grants.remove(&id);
        })
    }

    /// Grants, of one user or of all.
    pub fn grants(&self, user: Option<&str>) -> Result<Vec<GrantView>, IamError> {
        let state = self.read_state();
        if let Some(user) = user.filter(|u| !state.users.contains_key(*u)) {
            return Err(IamError::NoSuchUser(user.to_owned()));
        }
        Ok(state
            .grants
            .values()
            .filter(|g| user.is_none_or(|u| g.user == u))
            .map(GrantView::from)
            .collect())
    }

    /// Carries a pre-existing key pair into the store: its owner becomes a user (found by
    /// canonical id, else created under its display name), the key one of theirs.
    pub fn import_key(&self, import: &ImportedKey) -> Result<Imported, IamError> {
        ids::check_imported(&import.access_key_id, &import.secret)?;
        let _writer = self.write_lock();
        let state = self.read_state();
        if state.keys.contains_key(&import.access_key_id) {
            return Ok(Imported::Present);
        }
        let existing = state.users.values().find(|u| u.id == import.owner_id);
        let (user, new_user) = match existing {
            Some(u) => (u.clone(), false),
            None => {
                let base = sanitize_user_name(&import.display_name);
                let mut name = base.clone();
                let mut n = 2;
                while state.users.contains_key(&name) {
                    name = format!("{base}-{n}");
                    n += 1;
                }
                let user = UserRecord {
                    id: import.owner_id.clone(),
                    name,
                    admin: import.admin,
                    created: now_secs(),
                };
                (user, true)
            }
        };
        drop(state);
        let id = import.access_key_id.clone();
        let key = KeyRecord {
            id: id.clone(),
            user: user.name.clone(),
            name: "imported".into(),
            state: KeyState::Active,
            created: now_secs(),
            expires: None,
            sealed: Some(self.seal_secret(&id, &import.secret)?),
        };
        let mut changes = vec![(prefixed(KEY, &id), json(&key))];
        if new_user {
            changes.push((prefixed(USER, &user.name), json(&user)));
        }
        let name = user.name.clone();
        self.commit(changes, |s| {
            s.keys.insert(id, key);
            s.users.insert(user.name.clone(), user);
        })?;
        Ok(Imported::Added { user: name })
    }

    /// Drops grants on buckets that no longer exist as granted (deleted, or re-created under
    /// another id); returns how many.
    pub fn prune_grants(&self, buckets: &[BucketInfo]) -> Result<usize, IamError> {
        let _writer = self.write_lock();
        let stale: Vec<(String, String)> = self
            .read_state()
            .grants
            .iter()
            .filter(|(_, g)| {
                !buckets
                    .iter()
                    .any(|b| b.name == g.bucket && b.id == g.bucket_id)
            })
            .map(|(k, _)| k.clone())
            .collect();
        if stale.is_empty() {
            return Ok(0);
        }
        let changes = stale.iter().map(|(u, b)| (grant_key(u, b), None)).collect();
        self.commit(changes, |s| {
            for k in &stale {
                s.grants.remove(k);
            }
        })?;
        Ok(stale.len())
    }
}

/// The names of the buckets `user_id` owns.
fn owned_by(buckets: &[BucketInfo], user_id: &str) -> Vec<String> {
    buckets
        .iter()
        .filter(|b| b.owner == user_id)
        .map(|b| b.name.clone())
        .collect()
}

/// A display name made a valid user name.
fn sanitize_user_name(display: &str) -> String {
    let name: String = display
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    if name.is_empty() {
        "user".into()
    } else {
        name
    }
}
