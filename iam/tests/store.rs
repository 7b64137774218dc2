//! The key store through its public API, on a real data directory: users' and keys' life
//! cycles, secrets sealed at rest, the master key checked, rotated and a rotation finished
//! after a crash, keys imported from earlier versions, and last uses persisted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use cairn_iam::{
    now_secs, rfc3339, Iam, IamConfig, IamError, Imported, ImportedKey, KeyCache, KeyState,
    MasterKey, MasterKeyOutcome, MasterKeySource, GENERATED_FILE,
};
use cairn_storage::BucketInfo;

/// How long a reopen waits for the previous open's lock to go.
const REOPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A data directory and the generated master key file in it.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::Builder::new()
                .prefix("cairn-iam-")
                .tempdir()
                .expect("temporary directory"),
        }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn key_file(&self) -> PathBuf {
        self.data().join(GENERATED_FILE)
    }

    fn staged_file(&self) -> PathBuf {
        self.data().join(format!("{GENERATED_FILE}.new"))
    }

    /// Opens the store. sled releases the previous open's file lock from a background
    /// thread a moment after its last handle is dropped, so an open that finds the database
    /// still locked is tried again, for a bounded time.
    fn try_open(&self, source: MasterKeySource) -> Result<(Arc<Iam>, MasterKeyOutcome), IamError> {
        let deadline = Instant::now() + REOPEN_TIMEOUT;
        loop {
            match Iam::open(self.data(), source.clone(), IamConfig::default()) {
                Err(IamError::Storage(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Opens the store with the data directory's generated key.
    fn open(&self) -> (Arc<Iam>, MasterKeyOutcome) {
        self.try_open(MasterKeySource::Generated(self.key_file()))
            .expect("open the key store")
    }
}

/// A bucket record owned by `owner`.
fn bucket(name: &str, id: u64, owner: &str) -> BucketInfo {
    BucketInfo {
        name: name.to_owned(),
        id,
        owner: owner.to_owned(),
        created_ms: 0,
        region: None,
    }
}

/// The secret an active key resolves to now.
fn secret_of(iam: &Iam, id: &str) -> Option<String> {
    iam.resolve(id, now_secs())
        .map(|k| k.secret.expose().to_owned())
}

/// The encodings a secret could be written in: plain, hex (both cases), base64 (both
/// alphabets, with and without padding).
fn encodings(secret: &str) -> Vec<(&'static str, Vec<u8>)> {
    let b = secret.as_bytes();
    let b64 = base64::engine::general_purpose::STANDARD.encode(b);
    vec![
        ("plain", b.to_vec()),
        ("hex", hex::encode(b).into_bytes()),
        ("HEX", hex::encode_upper(b).into_bytes()),
        ("base64", b64.trim_end_matches('=').as_bytes().to_vec()),
        (
            "base64url",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(b)
                .into_bytes(),
        ),
    ]
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read directory") {
            let entry = entry.expect("directory entry");
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out
}

/// Fails if any file under `dir` holds one of `secrets` in any of its encodings.
#[track_caller]
fn assert_no_secret_under(dir: &Path, secrets: &[String]) {
    let files = files_under(dir);
    assert!(!files.is_empty(), "no files under {}", dir.display());
    for file in files {
        let bytes = std::fs::read(&file).expect("read file");
        for secret in secrets {
            for (form, needle) in encodings(secret) {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "{} holds a secret ({form})",
                    file.display()
                );
            }
        }
    }
}

/// Guards the key life cycle: a new key resolves to its secret; revoked it resolves to
/// nothing, activated again it resolves; only a revoked key can be deleted, and a deleted key
/// never comes back, not through activation and not after a reopen.
#[test]
fn keys_go_active_revoked_deleted_and_never_back() {
    let fx = Fixture::new();
    let (iam, outcome) = fx.open();
    assert_eq!(outcome, MasterKeyOutcome::Initialised { generated: true });
    iam.create_user("app", false).unwrap();
    let a = iam.create_key("app", Some("first"), None).unwrap();
    let b = iam.create_key("app", None, None).unwrap();
    assert_eq!(a.key.state, KeyState::Active);
    assert_eq!(a.key.user, "app");
    assert_eq!(a.key.name, "first");
    assert_eq!(b.key.name, "default");
    assert!(a.key.id.starts_with("CAIRN"), "{}", a.key.id);
    assert_eq!(a.key.last_used, None);
    assert_ne!(a.secret, b.secret);
    assert_eq!(
        secret_of(&iam, &a.key.id).as_deref(),
        Some(a.secret.as_str())
    );

    let listed: Vec<String> = iam
        .keys(Some("app"))
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    let mut expected = vec![a.key.id.clone(), b.key.id.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    assert!(matches!(
        iam.keys(Some("nobody")),
        Err(IamError::NoSuchUser(_))
    ));
    assert!(matches!(
        iam.create_key("nobody", None, None),
        Err(IamError::NoSuchUser(_))
    ));
    assert!(matches!(
        iam.key("CAIRNNOSUCHKEY000000"),
        Err(IamError::NoSuchKey(_))
    ));

    // Active → deleted is refused: a key is revoked first.
    assert!(matches!(
        iam.set_key_state(&a.key.id, KeyState::Deleted),
        Err(IamError::Conflict(_))
    ));
    assert!(secret_of(&iam, &a.key.id).is_some());

    let revoked = iam.set_key_state(&a.key.id, KeyState::Revoked).unwrap();
    assert_eq!(revoked.state, KeyState::Revoked);
    assert!(iam.resolve(&a.key.id, now_secs()).is_none());
    assert!(secret_of(&iam, &b.key.id).is_some(), "revoking A touched B");

    iam.set_key_state(&a.key.id, KeyState::Active).unwrap();
    assert_eq!(
        secret_of(&iam, &a.key.id).as_deref(),
        Some(a.secret.as_str())
    );

    iam.set_key_state(&a.key.id, KeyState::Revoked).unwrap();
    let deleted = iam.set_key_state(&a.key.id, KeyState::Deleted).unwrap();
    assert_eq!(deleted.state, KeyState::Deleted);
    assert!(iam.resolve(&a.key.id, now_secs()).is_none());
    for target in [KeyState::Active, KeyState::Revoked] {
        assert!(
            matches!(
                iam.set_key_state(&a.key.id, target),
                Err(IamError::Conflict(_))
            ),
            "a deleted key moved to {target:?}"
        );
    }
    // Still listed (the id is spent), still deleted.
    assert_eq!(iam.key(&a.key.id).unwrap().state, KeyState::Deleted);

    drop(iam);
    let (iam, outcome) = fx.open();
    assert_eq!(outcome, MasterKeyOutcome::Verified);
    assert_eq!(iam.key(&a.key.id).unwrap().state, KeyState::Deleted);
    assert!(iam.resolve(&a.key.id, now_secs()).is_none());
    assert!(matches!(
        iam.set_key_state(&a.key.id, KeyState::Active),
        Err(IamError::Conflict(_))
    ));
    assert_eq!(
        secret_of(&iam, &b.key.id).as_deref(),
        Some(b.secret.as_str())
    );
}

/// Guards expiry: a key with an expiry resolves before it and not from it on; an expiry in
/// the past is refused at creation.
#[test]
fn an_expired_key_does_not_resolve() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    iam.create_user("app", false).unwrap();
    let now = now_secs();
    let key = iam.create_key("app", None, Some(now + 3600)).unwrap();
    assert_eq!(
        key.key.expires.as_deref(),
        Some(rfc3339(now + 3600).as_str())
    );
    assert!(iam.resolve(&key.key.id, now).is_some());
    assert!(iam.resolve(&key.key.id, now + 3600).is_none());
    assert!(matches!(
        iam.create_key("app", None, Some(now.saturating_sub(1))),
        Err(IamError::Invalid(_))
    ));
}

/// Guards the refusals of deleting a user: while it owns a bucket, while it has an active
/// key, and when it is the last administrator. A user deleted with a revoked key leaves that
/// key deleted.
#[test]
fn deleting_a_user_is_refused_while_it_owns_has_or_rules() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    let root = iam.create_user("root", true).unwrap();
    assert!(root.admin);
    let bob = iam.create_user("bob", false).unwrap();
    assert!(matches!(
        iam.create_user("bob", false),
        Err(IamError::UserExists(_))
    ));
    assert!(matches!(
        iam.create_user("b o b", false),
        Err(IamError::Invalid(_))
    ));
    assert_eq!(
        iam.users().into_iter().map(|u| u.name).collect::<Vec<_>>(),
        ["bob", "root"]
    );

    // Owns a bucket.
    let buckets = [bucket("bobs", 7, &bob.id)];
    assert!(matches!(
        iam.delete_user("bob", &buckets),
        Err(IamError::Conflict(_))
    ));
    assert_eq!(iam.user("bob", &buckets).unwrap().buckets, ["bobs"]);

    // Has an active key.
    let key = iam.create_key("bob", None, None).unwrap();
    assert!(matches!(
        iam.delete_user("bob", &[]),
        Err(IamError::Conflict(_))
    ));
    assert!(iam.user("bob", &[]).is_ok());

    // With the key revoked and no bucket, bob goes, and his key is deleted for good.
    iam.set_key_state(&key.key.id, KeyState::Revoked).unwrap();
    iam.delete_user("bob", &[]).unwrap();
    assert!(matches!(iam.user("bob", &[]), Err(IamError::NoSuchUser(_))));
    assert_eq!(iam.key(&key.key.id).unwrap().state, KeyState::Deleted);
    assert!(iam.resolve(&key.key.id, now_secs()).is_none());

    // The last administrator stays.
    assert!(matches!(
        iam.delete_user("root", &[]),
        Err(IamError::Conflict(_))
    ));
    assert!(iam.has_admin());
    iam.create_user("root2", true).unwrap();
    iam.delete_user("root", &[]).unwrap();
    assert!(matches!(
        iam.delete_user("root2", &[]),
        Err(IamError::Conflict(_))
    ));
    assert!(matches!(
        iam.delete_user("nobody", &[]),
        Err(IamError::NoSuchUser(_))
    ));
}

/// Guards the sealing at rest: no file under the data directory holds a secret, in plain or
/// encoded, after keys are created, imported, used, revoked and the master key rotated.
#[test]
fn no_secret_is_stored_in_the_clear() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    iam.create_user("app", false).unwrap();
    let mut secrets = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let key = iam.create_key("app", None, None).unwrap();
        secrets.push(key.secret);
        ids.push(key.key.id);
    }
    let imported = ImportedKey {
        access_key_id: "OLDSTATICKEY00000001".into(),
        secret: "old-static-secret-value-0000000000000001".into(),
        owner_id: "old-owner".into(),
        display_name: "old".into(),
        admin: false,
    };
    iam.import_key(&imported).unwrap();
    secrets.push(imported.secret.clone());
    ids.push(imported.access_key_id.clone());

    let cache = KeyCache::new(iam.clone());
    for id in &ids {
        cache
            .lookup(id, now_secs())
            .expect("active")
            .touch(now_secs());
    }
    cache.report();
    iam.persist_last_used().unwrap();
    iam.set_key_state(&ids[0], KeyState::Revoked).unwrap();
    // The scan reads what the store wrote: the key ids, stored in the clear, are found.
    assert!(
        files_under(fx.data()).iter().any(|f| {
            let bytes = std::fs::read(f).unwrap();
            bytes.windows(ids[1].len()).any(|w| w == ids[1].as_bytes())
        }),
        "no file holds a key id: the scan sees nothing of the store"
    );
    assert_no_secret_under(fx.data(), &secrets);
    iam.rotate_master_key(None).unwrap();
    assert_no_secret_under(fx.data(), &secrets);
    drop(cache);
    drop(iam);
    assert_no_secret_under(fx.data(), &secrets);

    // The secrets are still there, sealed.
    let (iam, _) = fx.open();
    for (id, secret) in ids.iter().zip(&secrets).skip(1) {
        assert_eq!(secret_of(&iam, id).as_deref(), Some(secret.as_str()));
    }
}

/// Guards the master key check: the generated key file is private; a store opened with
/// another key is refused as `WrongMasterKey`, and with its key file gone as
/// `MasterKeyMissing` (never re-initialised under a fresh key).
#[test]
fn the_store_opens_only_with_its_master_key() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    iam.create_user("app", false).unwrap();
    let key = iam.create_key("app", None, None).unwrap();
    drop(iam);
    let mode = std::fs::metadata(fx.key_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "master.key mode {mode:o}");

    let other = fx.data().join("other.key");
    std::fs::write(
        &other,
        MasterKey::generate().unwrap().to_file_text().as_bytes(),
    )
    .unwrap();
    let err = fx
        .try_open(MasterKeySource::File(other.clone()))
        .unwrap_err();
    assert!(matches!(err, IamError::WrongMasterKey { .. }), "{err:?}");
    assert!(err.to_string().contains("does not match"), "{err}");

    let saved = std::fs::read(fx.key_file()).unwrap();
    std::fs::remove_file(fx.key_file()).unwrap();
    let err = fx
        .try_open(MasterKeySource::Generated(fx.key_file()))
        .unwrap_err();
    assert!(matches!(err, IamError::MasterKeyMissing { .. }), "{err:?}");
    assert!(!fx.key_file().exists(), "a new master key was generated");
    let err = fx
        .try_open(MasterKeySource::File(fx.data().join("absent.key")))
        .unwrap_err();
    assert!(matches!(err, IamError::MasterKeyMissing { .. }), "{err:?}");

    std::fs::write(fx.key_file(), &saved).unwrap();
    let (iam, outcome) = fx.open();
    assert_eq!(outcome, MasterKeyOutcome::Verified);
    assert_eq!(
        secret_of(&iam, &key.key.id).as_deref(),
        Some(key.secret.as_str())
    );
}

/// Guards rotation: every secret is re-sealed under a new key that replaces the file in
/// place; the store reopens with the new file, and the old key no longer opens it.
#[test]
fn rotation_reseals_under_a_new_key() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    iam.create_user("app", false).unwrap();
    let a = iam.create_key("app", None, None).unwrap();
    let b = iam.create_key("app", None, None).unwrap();
    iam.set_key_state(&b.key.id, KeyState::Revoked).unwrap();
    let old = std::fs::read(fx.key_file()).unwrap();

    let rotated = iam.rotate_master_key(None).unwrap();
    assert_eq!(rotated.secrets, 2);
    assert!(rotated.in_place);
    assert_eq!(rotated.key_file, fx.key_file());
    assert_ne!(
        std::fs::read(fx.key_file()).unwrap(),
        old,
        "the key file did not change"
    );
    assert!(!fx.staged_file().exists());
    assert_eq!(
        secret_of(&iam, &a.key.id).as_deref(),
        Some(a.secret.as_str())
    );
    drop(iam);

    let (iam, outcome) = fx.open();
    assert_eq!(outcome, MasterKeyOutcome::Verified);
    assert_eq!(
        secret_of(&iam, &a.key.id).as_deref(),
        Some(a.secret.as_str())
    );
    iam.set_key_state(&b.key.id, KeyState::Active).unwrap();
    assert_eq!(
        secret_of(&iam, &b.key.id).as_deref(),
        Some(b.secret.as_str())
    );
    drop(iam);

    let old_file = fx.data().join("old.key");
    std::fs::write(&old_file, &old).unwrap();
    let err = fx.try_open(MasterKeySource::File(old_file)).unwrap_err();
    assert!(matches!(err, IamError::WrongMasterKey { .. }), "{err:?}");

    // To a named file instead: the current file stays until the configuration names it.
    let (iam, _) = fx.open();
    let current = std::fs::read(fx.key_file()).unwrap();
    let named = fx.data().join("next.key");
    let rotated = iam.rotate_master_key(Some(&named)).unwrap();
    assert!(!rotated.in_place);
    assert_eq!(rotated.key_file, named);
    assert_eq!(std::fs::read(fx.key_file()).unwrap(), current);
    drop(iam);
    let (iam, _) = fx
        .try_open(MasterKeySource::File(named))
        .expect("open with the named new key");
    assert_eq!(
        secret_of(&iam, &a.key.id).as_deref(),
        Some(a.secret.as_str())
    );
}

/// Guards a rotation cut short after the store was re-sealed but before the new key replaced
/// the old file: the next open finds the staged key, finishes the rotation and serves.
#[test]
fn an_interrupted_rotation_is_finished_at_open() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    iam.create_user("app", false).unwrap();
    let key = iam.create_key("app", None, None).unwrap();
    let old = std::fs::read(fx.key_file()).unwrap();
    iam.rotate_master_key(None).unwrap();
    drop(iam);
    let new = std::fs::read(fx.key_file()).unwrap();

    // The state a crash between re-sealing and the rename leaves: the new key staged, the
    // old one in place.
    std::fs::rename(fx.key_file(), fx.staged_file()).unwrap();
    std::fs::write(fx.key_file(), &old).unwrap();

    let (iam, outcome) = fx.open();
    assert_eq!(outcome, MasterKeyOutcome::FinishedRotation);
    assert_eq!(std::fs::read(fx.key_file()).unwrap(), new);
    assert!(!fx.staged_file().exists());
    assert_eq!(
        secret_of(&iam, &key.key.id).as_deref(),
        Some(key.secret.as_str())
    );
    drop(iam);
    let (_, outcome) = fx.open();
    assert_eq!(outcome, MasterKeyOutcome::Verified);
}

/// Guards against a stale staged key (a rotation that failed before re-sealing) being taken
/// for the master key: it is ignored at open, never used, and the next rotation replaces it.
#[test]
fn a_stale_staged_key_is_ignored() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    iam.create_user("app", false).unwrap();
    let key = iam.create_key("app", None, None).unwrap();
    drop(iam);
    let current = std::fs::read(fx.key_file()).unwrap();
    let stale = MasterKey::generate().unwrap().to_file_text();
    std::fs::write(fx.staged_file(), stale.as_bytes()).unwrap();

    let (iam, outcome) = fx.open();
    assert_eq!(outcome, MasterKeyOutcome::Verified);
    assert_eq!(std::fs::read(fx.key_file()).unwrap(), current);
    assert_eq!(
        secret_of(&iam, &key.key.id).as_deref(),
        Some(key.secret.as_str())
    );

    iam.rotate_master_key(None).unwrap();
    assert!(!fx.staged_file().exists());
    let rotated = std::fs::read(fx.key_file()).unwrap();
    assert_ne!(rotated, current);
    assert_ne!(rotated, stale.as_bytes());
    drop(iam);
    let (iam, _) = fx.open();
    assert_eq!(
        secret_of(&iam, &key.key.id).as_deref(),
        Some(key.secret.as_str())
    );
    drop(iam);

    // With the wrong key in place, a stale staged key does not rescue the open either.
    std::fs::write(fx.staged_file(), stale.as_bytes()).unwrap();
    let wrong = fx.data().join("wrong.key");
    std::fs::write(
        &wrong,
        MasterKey::generate().unwrap().to_file_text().as_bytes(),
    )
    .unwrap();
    let err = fx.try_open(MasterKeySource::File(wrong)).unwrap_err();
    assert!(matches!(err, IamError::WrongMasterKey { .. }), "{err:?}");
}

/// Guards the import of keys from earlier versions: the owner id finds its user again (two
/// keys of one owner are one user's), the secret resolves, and a key id the store already
/// has — even deleted — is left alone (`Present`), never brought back.
#[test]
fn imported_keys_keep_their_owner_and_never_return() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    let first = ImportedKey {
        access_key_id: "IMPORTEDKEY000000001".into(),
        secret: "imported-secret-000000000000000000000001".into(),
        owner_id: "owner-one".into(),
        display_name: "legacy user".into(),
        admin: false,
    };
    let Imported::Added { user } = iam.import_key(&first).unwrap() else {
        panic!("the first import added nothing");
    };
    let view = iam.user(&user, &[]).unwrap();
    assert_eq!(view.id, "owner-one");
    assert!(!view.admin);
    let resolved = iam.resolve(&first.access_key_id, now_secs()).unwrap();
    assert_eq!(resolved.secret.expose(), first.secret);
    assert_eq!(resolved.principal.user_id, "owner-one");

    let second = ImportedKey {
        access_key_id: "IMPORTEDKEY000000002".into(),
        secret: "imported-secret-000000000000000000000002".into(),
        display_name: "another name".into(),
        ..first.clone()
    };
    assert_eq!(
        iam.import_key(&second).unwrap(),
        Imported::Added { user: user.clone() }
    );
    assert_eq!(iam.users().len(), 1);

    // Present, whatever its state, and its secret not replaced.
    let changed = ImportedKey {
        secret: "a-different-secret-00000000000000000001".into(),
        ..first.clone()
    };
    assert_eq!(iam.import_key(&changed).unwrap(), Imported::Present);
    assert_eq!(
        secret_of(&iam, &first.access_key_id).as_deref(),
        Some(first.secret.as_str())
    );
    iam.set_key_state(&first.access_key_id, KeyState::Revoked)
        .unwrap();
    assert_eq!(iam.import_key(&first).unwrap(), Imported::Present);
    assert!(iam.resolve(&first.access_key_id, now_secs()).is_none());
    iam.set_key_state(&first.access_key_id, KeyState::Deleted)
        .unwrap();
    drop(iam);
    let (iam, _) = fx.open();
    assert_eq!(iam.import_key(&first).unwrap(), Imported::Present);
    assert!(iam.resolve(&first.access_key_id, now_secs()).is_none());
    assert_eq!(
        iam.key(&first.access_key_id).unwrap().state,
        KeyState::Deleted
    );

    // An administrator's key (the old default credentials) makes an administrator.
    let admin = ImportedKey {
        access_key_id: "IMPORTEDADMIN0000001".into(),
        secret: "imported-admin-secret-000000000000000001".into(),
        owner_id: "owner-admin".into(),
        display_name: "admin".into(),
        admin: true,
    };
    iam.import_key(&admin).unwrap();
    assert!(
        iam.resolve(&admin.access_key_id, now_secs())
            .unwrap()
            .principal
            .admin
    );
}

/// Guards last-used tracking: a use touched in a core's cache, reported and persisted, shows
/// in the key's view and survives a reopen.
#[test]
fn last_use_is_reported_persisted_and_reopened() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    iam.create_user("app", false).unwrap();
    let used = iam.create_key("app", None, None).unwrap();
    let idle = iam.create_key("app", None, None).unwrap();
    let cache = KeyCache::new(iam.clone());
    let at = now_secs();
    cache
        .lookup(&used.key.id, at)
        .expect("active key")
        .touch(at);
    assert!(cache.lookup(&idle.key.id, at).is_some());
    cache.report();
    // Reported: visible before it is persisted.
    assert_eq!(iam.key(&used.key.id).unwrap().last_used, Some(rfc3339(at)));
    assert_eq!(iam.persist_last_used().unwrap(), 1);
    assert_eq!(iam.key(&idle.key.id).unwrap().last_used, None);
    drop(cache);
    drop(iam);

    let (iam, _) = fx.open();
    assert_eq!(iam.key(&used.key.id).unwrap().last_used, Some(rfc3339(at)));
    assert_eq!(iam.key(&idle.key.id).unwrap().last_used, None);
}

/// Guards the cache against serving a key the store no longer accepts: a lookup right after
/// a revoke misses, and one after the activation hits again.
#[test]
fn the_cache_follows_a_revoke_at_once() {
    let fx = Fixture::new();
    let (iam, _) = fx.open();
    iam.create_user("app", false).unwrap();
    let key = iam.create_key("app", None, None).unwrap();
    let cache = KeyCache::new(iam.clone());
    let now = now_secs();
    let hit = cache.lookup(&key.key.id, now).expect("active key");
    assert_eq!(hit.secret.expose(), key.secret);
    assert_eq!(hit.principal.user_name, "app");
    assert!(cache.lookup(&key.key.id, now).is_some());

    iam.set_key_state(&key.key.id, KeyState::Revoked).unwrap();
    assert!(cache.lookup(&key.key.id, now).is_none());
    iam.set_key_state(&key.key.id, KeyState::Active).unwrap();
    assert!(cache.lookup(&key.key.id, now).is_some());
    assert!(cache.lookup("CAIRNNOSUCHKEY000000", now).is_none());
}
