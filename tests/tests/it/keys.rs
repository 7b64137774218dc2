//! Users, access keys and grants against the real `cairnd`, driven by its CLI (online,
//! through the admin socket) and by aws-sdk-s3: rotating a key without downtime, no secret
//! anywhere on disk or in the log, and what grants allow.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use cairn_tests::{Daemon, SECRET_ACCESS_KEY};

use crate::keys_setup::{
    files_under, list_on_fresh_connections, poll, s3_client, secrets_in, send_as, stop, Key, Store,
};
use crate::s3_errors::assert_error;
use crate::sdk::{describe, s3_error};

/// How long a key's use may take to show in `key show` with `last_used_secs = 1`.
const LAST_USED_WAIT: Duration = Duration::from_secs(10);
/// Fresh SDK clients (each its own connection) a check uses beside the raw requests.
const CLIENTS: usize = 4;

/// Asserts that `key` is refused as an unknown key on many fresh connections (every core),
/// through raw requests and fresh SDK clients.
async fn assert_refused(d: &Daemon, key: &Key, bucket: &str) {
    for response in list_on_fresh_connections(d, key.pair(), bucket) {
        assert_error(&response, 403, "InvalidAccessKeyId");
    }
    for _ in 0..CLIENTS {
        let c = s3_client(d, key.pair());
        let (status, code) = s3_error(c.list_objects_v2().bucket(bucket).send().await);
        assert_eq!((status, code.as_str()), (403, "InvalidAccessKeyId"));
    }
}

/// Asserts that `key` lists `bucket` on many fresh connections (every core), through raw
/// requests and fresh SDK clients.
async fn assert_accepted(d: &Daemon, key: &Key, bucket: &str) {
    for response in list_on_fresh_connections(d, key.pair(), bucket) {
        assert_eq!(response.status, 200, "{}", response.body_text());
    }
    for _ in 0..CLIENTS {
        s3_client(d, key.pair())
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("list {bucket}: {}", describe(&e)));
    }
}

/// `last_used` of a key, once it is set.
fn last_used(store: &Store, id: &str) -> Option<String> {
    store.show_key(id)["last_used"].as_str().map(str::to_owned)
}

/// Guards the zero-downtime rotation story: key B works beside A at once; B's use shows in
/// `key show`; revoking A refuses it on every core at once while B keeps working; A can be
/// activated again; deleted, A is refused for good — also after a restart, which keeps B
/// working and its last use recorded.
#[tokio::test]
async fn a_key_is_rotated_without_downtime() {
    let store = Store::new("[auth]\nlast_used_secs = 1\n");
    let mut d = store.start();
    store.user("app", false);
    let a = store.key("app", "a");
    let client_a = s3_client(&d, a.pair());
    client_a
        .create_bucket()
        .bucket("rotation")
        .send()
        .await
        .unwrap_or_else(|e| panic!("app creates its bucket with A: {}", describe(&e)));
    client_a
        .put_object()
        .bucket("rotation")
        .key("config")
        .body(ByteStream::from_static(b"v1"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put with A: {}", describe(&e)));

    let b = store.key("app", "b");
    assert_ne!(a.id, b.id);
    let client_b = s3_client(&d, b.pair());
    let got = client_b
        .get_object()
        .bucket("rotation")
        .key("config")
        .send()
        .await
        .unwrap_or_else(|e| panic!("get with B: {}", describe(&e)));
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"v1");
    assert_accepted(&d, &a, "rotation").await;
    assert_accepted(&d, &b, "rotation").await;
    let b_used = poll("B's last use shows in `key show`", LAST_USED_WAIT, || {
        last_used(&store, &b.id)
    });
    assert!(b_used.ends_with('Z') && b_used.contains('T'), "{b_used}");

    let revoked = store.json(&["key", "revoke", &a.id]);
    assert_eq!(revoked["state"], "revoked", "{revoked}");
    // The client whose connection was open before the revoke is refused too.
    let (status, code) = s3_error(client_a.list_objects_v2().bucket("rotation").send().await);
    assert_eq!((status, code.as_str()), (403, "InvalidAccessKeyId"));
    assert_refused(&d, &a, "rotation").await;
    assert_accepted(&d, &b, "rotation").await;
    client_b
        .list_objects_v2()
        .bucket("rotation")
        .send()
        .await
        .unwrap_or_else(|e| panic!("B's open connection after the revoke: {}", describe(&e)));

    let activated = store.json(&["key", "activate", &a.id]);
    assert_eq!(activated["state"], "active", "{activated}");
    assert_accepted(&d, &a, "rotation").await;

    store.json(&["key", "revoke", &a.id]);
    let deleted = store.json(&["key", "delete", &a.id]);
    assert_eq!(deleted["state"], "deleted", "{deleted}");
    assert_refused(&d, &a, "rotation").await;
    assert_accepted(&d, &b, "rotation").await;
    store.cli_fails(&["key", "activate", &a.id]);
    assert_eq!(store.show_key(&a.id)["state"], "deleted");

    stop(&mut d);
    let d = store.start();
    let survived = last_used(&store, &b.id).expect("B's last use survives a restart");
    assert!(survived >= b_used, "{survived} < {b_used}");
    assert_eq!(store.show_key(&a.id)["state"], "deleted");
    assert_refused(&d, &a, "rotation").await;
    assert_accepted(&d, &b, "rotation").await;
    let got = s3_client(&d, b.pair())
        .get_object()
        .bucket("rotation")
        .key("config")
        .send()
        .await
        .unwrap_or_else(|e| panic!("get with B after the restart: {}", describe(&e)));
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"v1");
}

/// Puts and reads back one object with `key`, creating `bucket`.
async fn use_key(d: &Daemon, key: (&str, &str), bucket: &str) {
    let c = s3_client(d, key);
    c.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {bucket}: {}", describe(&e)));
    c.put_object()
        .bucket(bucket)
        .key("k")
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put in {bucket}: {}", describe(&e)));
    let got = c
        .get_object()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .unwrap_or_else(|e| panic!("get from {bucket}: {}", describe(&e)));
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"body");
}

/// Guards against a secret reaching the disk or the log: keys made with the CLI and keys
/// imported from `[[auth.keys]]` and `default-credentials.toml` are used, the master key is
/// rotated, and afterwards no file under the data directory and no line the daemon logged
/// holds any secret, in plain, hex or base64. The keys still work after a restart.
#[tokio::test]
async fn no_secret_reaches_the_disk_or_the_log() {
    const CONFIG_KEY: (&str, &str) = (
        "CAIRNCONFIGKEY000001",
        "config-key-secret-00000000000000000000001",
    );
    const DEFAULT_KEY: (&str, &str) = (
        "CAIRNOLDDEFAULT00002",
        "old-default-secret-0000000000000000000002",
    );
    let store = Store::new(&format!(
        "[auth]\nlast_used_secs = 1\n\n[[auth.keys]]\naccess_key_id = \"{}\"\n\
         secret_access_key = \"{}\"\nowner_id = \"config-owner\"\ndisplay_name = \"configured\"\n",
        CONFIG_KEY.0, CONFIG_KEY.1
    ));
    std::fs::write(
        store.data.join("default-credentials.toml"),
        format!(
            "access_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
            DEFAULT_KEY.0, DEFAULT_KEY.1
        ),
    )
    .unwrap();
    let mut d = store.start();
    store.user("scan-one", false);
    store.user("scan-two", true);
    let keys = [
        store.key("scan-one", "first"),
        store.key("scan-one", "second"),
        store.key("scan-two", "only"),
    ];
    let mut pairs: Vec<(&str, &str)> = keys.iter().map(Key::pair).collect();
    pairs.extend([CONFIG_KEY, DEFAULT_KEY]);
    for (i, pair) in pairs.iter().enumerate() {
        use_key(&d, *pair, &format!("scan-{i}")).await;
    }
    // Wait until the uses are recorded (a report, then the write of last uses).
    for key in &keys {
        poll("the key's use is recorded", LAST_USED_WAIT, || {
            last_used(&store, &key.id)
        });
    }
    let rotated = store.json(&["master-key", "rotate"]);
    assert!(rotated.is_object(), "{rotated}");
    for pair in &pairs {
        let response = send_as(&d, *pair, "GET", "/", b"");
        assert_eq!(
            response.status,
            200,
            "after the rotation: {}",
            response.body_text()
        );
    }
    // One key revoked and deleted: its record changes once more.
    store.json(&["key", "revoke", &keys[1].id]);
    store.json(&["key", "delete", &keys[1].id]);
    stop(&mut d);

    let mut secrets: Vec<&str> = pairs.iter().map(|p| p.1).collect();
    secrets.push(SECRET_ACCESS_KEY);
    let files = files_under(&store.data);
    assert!(
        files.iter().any(|f| f.starts_with(store.data.join("iam"))),
        "no key store under the data directory: {files:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).expect("read a data file");
        let found = secrets_in(&bytes, &secrets);
        assert!(found.is_empty(), "{} holds {found:?}", file.display());
    }
    let log = d.logs();
    let found = secrets_in(log.as_bytes(), &secrets);
    assert!(found.is_empty(), "the log holds {found:?}:\n{log}");
    assert!(
        !store.data.join("default-credentials.toml").exists(),
        "default-credentials.toml was not removed"
    );

    let d = store.start();
    for (i, pair) in pairs.iter().enumerate() {
        let response = send_as(&d, *pair, "GET", &format!("/scan-{i}/k"), b"");
        if i == 1 {
            assert_error(&response, 403, "InvalidAccessKeyId");
        } else {
            assert_eq!(response.status, 200, "key #{i}: {}", response.body_text());
            assert_eq!(response.body, b"body");
        }
    }
    let found = secrets_in(d.logs().as_bytes(), &secrets);
    assert!(found.is_empty(), "the restart's log holds {found:?}");
}

/// The names of the buckets `c` is shown.
async fn bucket_names(c: &Client) -> Vec<String> {
    c.list_buckets()
        .send()
        .await
        .unwrap_or_else(|e| panic!("list buckets: {}", describe(&e)))
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect()
}

async fn get_body(c: &Client, bucket: &str, key: &str) -> Vec<u8> {
    c.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {bucket}/{key}: {}", describe(&e)))
        .body
        .collect()
        .await
        .expect("read the body")
        .to_vec()
}

async fn put_status(c: &Client, bucket: &str, key: &str, body: &'static [u8]) -> (u16, String) {
    match c
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
    {
        Ok(_) => (200, String::new()),
        Err(e) => s3_error::<(), _>(Err(e)),
    }
}

/// Guards the access decision: the creator owns a bucket; a read grant reads but does not
/// write or delete (and the refusals change nothing); a user without a grant neither sees
/// the bucket in ListBuckets nor reads it; a write grant writes until it is taken back; an
/// administrator reads everyone's buckets.
#[tokio::test]
async fn grants_decide_what_other_users_may_do() {
    let store = Store::new("");
    let d = store.start();
    for user in ["alice", "bob", "carol"] {
        store.user(user, false);
    }
    store.user("boss", true);
    let alice = s3_client(&d, store.key("alice", "k").pair());
    let bob = s3_client(&d, store.key("bob", "k").pair());
    let carol = s3_client(&d, store.key("carol", "k").pair());
    let boss = s3_client(&d, store.key("boss", "k").pair());

    alice
        .create_bucket()
        .bucket("alices")
        .send()
        .await
        .unwrap_or_else(|e| panic!("alice creates a bucket: {}", describe(&e)));
    assert_eq!(
        put_status(&alice, "alices", "doc", b"original").await.0,
        200
    );
    let shown = store.json(&["user", "show", "alice"]);
    assert_eq!(shown["buckets"], serde_json::json!(["alices"]), "{shown}");

    // bob: read.
    store.cli_ok(&[
        "grant",
        "--user",
        "bob",
        "--bucket",
        "alices",
        "--permission",
        "read",
    ]);
    assert_eq!(get_body(&bob, "alices", "doc").await, b"original");
    assert!(bucket_names(&bob).await.contains(&"alices".to_owned()));
    let (status, code) = put_status(&bob, "alices", "doc", b"bob was here").await;
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    let (status, code) = put_status(&bob, "alices", "new", b"bob was here").await;
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    let (status, code) = s3_error(bob.delete_object().bucket("alices").key("doc").send().await);
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    assert_eq!(get_body(&alice, "alices", "doc").await, b"original");
    let listed = alice
        .list_objects_v2()
        .bucket("alices")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["doc"]);

    // carol: nothing, then write, then nothing again.
    assert!(!bucket_names(&carol).await.contains(&"alices".to_owned()));
    let (status, code) = s3_error(carol.get_object().bucket("alices").key("doc").send().await);
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    let (status, code) = put_status(&carol, "alices", "carols", b"carol").await;
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    store.cli_ok(&[
        "grant",
        "--user",
        "carol",
        "--bucket",
        "alices",
        "--permission",
        "write",
    ]);
    assert_eq!(
        put_status(&carol, "alices", "carols", b"carol").await.0,
        200
    );
    assert_eq!(get_body(&alice, "alices", "carols").await, b"carol");
    store.cli_ok(&["ungrant", "--user", "carol", "--bucket", "alices"]);
    let (status, code) = put_status(&carol, "alices", "carols2", b"carol").await;
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    let (status, code) = s3_error(carol.get_object().bucket("alices").key("doc").send().await);
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    assert!(!bucket_names(&carol).await.contains(&"alices".to_owned()));

    // An administrator reads every bucket.
    assert_eq!(get_body(&boss, "alices", "doc").await, b"original");
    assert!(bucket_names(&boss).await.contains(&"alices".to_owned()));
    assert_eq!(get_body(&alice, "alices", "doc").await, b"original");
}
