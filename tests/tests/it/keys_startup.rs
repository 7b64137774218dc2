//! The key store at start-up and at its edges, against the real `cairnd`: upgrading a data
//! directory of an earlier version (its default credentials and `[[auth.keys]]` imported),
//! where the master key comes from and refusing a wrong or missing one, the `static` and
//! `none` modes, and what the CLI refuses.

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{roundtrip, signed_request, Daemon};

use crate::keys_setup::{s3_client, send_as, stop, Store};
use crate::s3_errors::assert_error;
use crate::sdk::describe;

/// Two master keys as a key file holds them (64 hex digits).
const MASTER_A: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
const MASTER_B: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n";

/// A key the store holds sealed: imported from [`configured_key`]'s entry at start.
const STORED_KEY: (&str, &str) = (
    "CAIRNSTOREDKEY000001",
    "stored-key-secret-00000000000000000000001",
);

/// A `[[auth.keys]]` entry for [`STORED_KEY`].
fn configured_key() -> String {
    format!(
        "[[auth.keys]]\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n\
         owner_id = \"stored-owner\"\ndisplay_name = \"stored\"\n",
        STORED_KEY.0, STORED_KEY.1
    )
}

/// A TOML basic string holding `path`.
fn toml_path(path: &std::path::Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// Guards the upgrade from the plain-text `default-credentials.toml` of earlier versions:
/// with no static pair in the environment, its key works after the first start, the file is
/// gone, and `key list` shows the key as an administrator's.
#[test]
fn default_credentials_are_imported_and_removed() {
    const KEY: (&str, &str) = (
        "CAIRNOLDDEFAULT00003",
        "old-default-secret-0000000000000000000003",
    );
    let store = Store::new("");
    let file = store.data.join("default-credentials.toml");
    std::fs::write(
        &file,
        format!(
            "access_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
            KEY.0, KEY.1
        ),
    )
    .unwrap();
    let d = store
        .options()
        .env_remove("CAIRN_ACCESS_KEY_ID")
        .env_remove("CAIRN_SECRET_ACCESS_KEY")
        .start();
    assert!(!file.exists(), "default-credentials.toml is still there");
    let put = send_as(&d, KEY, "PUT", "/upgraded", b"");
    assert_eq!(put.status, 200, "{}", put.body_text());
    let get = send_as(&d, KEY, "GET", "/upgraded?list-type=2", b"");
    assert_eq!(get.status, 200, "{}", get.body_text());

    let keys = store.json(&["key", "list"]);
    let listed = keys
        .as_array()
        .expect("an array of keys")
        .iter()
        .find(|k| k["id"] == KEY.0)
        .unwrap_or_else(|| panic!("{} not in `key list`: {keys}", KEY.0));
    assert_eq!(listed["state"], "active", "{listed}");
    assert!(listed.get("secret").is_none(), "{listed}");
    assert!(
        !keys.to_string().contains(KEY.1),
        "key list shows a secret: {keys}"
    );
    let user = listed["user"].as_str().expect("the key's user");
    let shown = store.json(&["user", "show", user]);
    assert_eq!(shown["admin"], true, "{shown}");
}

/// Guards the upgrade from `[[auth.keys]]`: the entry is imported at start, so once it is
/// removed from the config the key still works and its user (found by the owner id, named
/// after the display name) still owns the bucket made with it.
#[tokio::test]
async fn configured_keys_survive_their_removal_from_the_config() {
    const KEY: (&str, &str) = (
        "CAIRNLEGACYKEY000001",
        "legacy-key-secret-00000000000000000000001",
    );
    let store = Store::new(&format!(
        "[[auth.keys]]\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n\
         owner_id = \"legacy-owner\"\ndisplay_name = \"legacy\"\n",
        KEY.0, KEY.1
    ));
    let mut d = store.start();
    let c = s3_client(&d, KEY);
    c.create_bucket()
        .bucket("legacy-bucket")
        .send()
        .await
        .unwrap_or_else(|e| panic!("create with the configured key: {}", describe(&e)));
    c.put_object()
        .bucket("legacy-bucket")
        .key("k")
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put with the configured key: {}", describe(&e)));
    stop(&mut d);

    store.set_config("");
    let d = store.start();
    let c = s3_client(&d, KEY);
    let got = c
        .get_object()
        .bucket("legacy-bucket")
        .key("k")
        .send()
        .await
        .unwrap_or_else(|e| panic!("get after the entry was removed: {}", describe(&e)));
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"kept");
    let listed = c
        .list_buckets()
        .send()
        .await
        .unwrap_or_else(|e| panic!("list buckets: {}", describe(&e)));
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["legacy-bucket"]);
    assert_eq!(listed.owner().and_then(|o| o.id()), Some("legacy-owner"));

    let key = store.show_key(KEY.0);
    assert_eq!(key["user"], "legacy", "{key}");
    let user = store.json(&["user", "show", "legacy"]);
    assert_eq!(user["id"], "legacy-owner", "{user}");
    assert_eq!(
        user["buckets"],
        serde_json::json!(["legacy-bucket"]),
        "{user}"
    );
}

/// Guards the master-key check at start-up: a configured key file replaced by another key
/// after the first start is refused with a sentence saying it does not match; the right key
/// starts again and opens the sealed secret. No key is generated into the data directory
/// meanwhile.
#[test]
fn a_wrong_master_key_is_refused_at_start() {
    let store = Store::new("");
    let key_file = store.path("master-key");
    std::fs::write(&key_file, MASTER_A).unwrap();
    store.set_config(&format!(
        "[auth]\nmaster_key_file = {}\n\n{}",
        toml_path(&key_file),
        configured_key()
    ));
    let mut d = store.start();
    stop(&mut d);

    std::fs::write(&key_file, MASTER_B).unwrap();
    let (status, stderr) = store.options().run_expecting_failure();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("does not match"), "{stderr}");
    assert!(!store.data.join("master.key").exists());

    // The right key again, the entry gone from the config: the sealed secret opens.
    std::fs::write(&key_file, MASTER_A).unwrap();
    store.set_config(&format!(
        "[auth]\nmaster_key_file = {}\n",
        toml_path(&key_file)
    ));
    let d = store.start();
    let response = send_as(&d, STORED_KEY, "GET", "/", b"");
    assert_eq!(response.status, 200, "{}", response.body_text());
}

/// Guards a configured master key file that is missing or unreadable (a directory here: the
/// tests may run as root, who reads any file): start-up fails naming the file, and no key is
/// generated in its stead.
#[test]
fn a_missing_or_unreadable_master_key_file_is_named() {
    let store = Store::new("");
    let absent = store.path("absent.key");
    let directory = store.path("key-directory");
    std::fs::create_dir(&directory).unwrap();
    for path in [&absent, &directory] {
        store.set_config(&format!("[auth]\nmaster_key_file = {}\n", toml_path(path)));
        let (status, stderr) = store.options().run_expecting_failure();
        assert!(!status.success(), "{stderr}");
        assert!(
            stderr.contains(&path.display().to_string()),
            "the error does not name {}: {stderr}",
            path.display()
        );
        assert!(!absent.exists());
        assert!(!store.data.join("master.key").exists());
    }
}

/// Guards the master key from systemd's credential directory: the daemon starts with
/// `$CREDENTIALS_DIRECTORY/master-key`, writes no `master.key` into the data directory, and
/// after a restart the secret it sealed still opens; without the credential the store is not
/// opened (and no key is generated in its stead).
#[test]
fn the_master_key_comes_from_the_credential_directory() {
    let store = Store::new(&configured_key());
    let credentials = store.path("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("master-key"), MASTER_A).unwrap();
    let options = || {
        store
            .options()
            .env("CREDENTIALS_DIRECTORY", credentials.display().to_string())
    };
    let mut d = options().start();
    let response = send_as(&d, STORED_KEY, "PUT", "/credential", b"");
    assert_eq!(response.status, 200, "{}", response.body_text());
    assert!(!store.data.join("master.key").exists());
    stop(&mut d);

    store.set_config("");
    let mut d = options().start();
    let response = send_as(&d, STORED_KEY, "GET", "/credential?list-type=2", b"");
    assert_eq!(response.status, 200, "{}", response.body_text());
    stop(&mut d);
    assert!(!store.data.join("master.key").exists());

    let (status, stderr) = store.options().run_expecting_failure();
    assert!(
        !status.success(),
        "started without its master key: {stderr}"
    );
    assert!(!store.data.join("master.key").exists());
}

/// An unsigned request on a fresh connection.
fn unsigned(d: &Daemon, method: &str, target: &str, body: &[u8]) -> cairn_tests::RawResponse {
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        d.addr,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    roundtrip(d.addr, &request)
}

/// Guards `mode = "none"`: unsigned requests have full access, and every start warns so.
#[test]
fn mode_none_serves_unsigned_requests_and_warns() {
    let store = Store::new("[auth]\nmode = \"none\"\n");
    let d = store.start();
    let created = unsigned(&d, "PUT", "/open", b"");
    assert_eq!(created.status, 200, "{}", created.body_text());
    let put = unsigned(&d, "PUT", "/open/k", b"hello");
    assert_eq!(put.status, 200, "{}", put.body_text());
    let get = unsigned(&d, "GET", "/open/k", b"");
    assert_eq!(get.status, 200, "{}", get.body_text());
    assert_eq!(get.body, b"hello");
    let log = d.logs();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("none")),
        "no warning about mode none:\n{log}"
    );
}

/// Guards `mode = "static"`: only the environment's pair is accepted; a key the store holds
/// (made offline with the CLI before the start) is refused as unknown — and works again
/// once the mode is back to `keys`.
#[test]
fn mode_static_accepts_only_the_environment_pair() {
    let store = Store::new("");
    store.user("app", false);
    let key = store.key("app", "offline");

    store.set_config("[auth]\nmode = \"static\"\n");
    let mut d = store.start();
    let created = roundtrip(d.addr, &signed_request(d.addr, "PUT", "/static", &[], b""));
    assert_eq!(created.status, 200, "{}", created.body_text());
    assert_error(
        &send_as(&d, key.pair(), "GET", "/", b""),
        403,
        "InvalidAccessKeyId",
    );
    stop(&mut d);

    store.set_config("");
    let d = store.start();
    let listed = send_as(&d, key.pair(), "GET", "/", b"");
    assert_eq!(listed.status, 200, "{}", listed.body_text());
}

/// Guards the CLI's refusals against a running daemon: an unknown user, deleting an active
/// key, and removing the last administrator (the `admin` a fresh store makes) each exit 1
/// with an error line, and change nothing.
#[test]
fn the_cli_refuses_what_the_store_refuses() {
    let store = Store::new("");
    let _d = store.start();
    let users = store.json(&["user", "list"]);
    let admins: Vec<&serde_json::Value> = users
        .as_array()
        .expect("an array of users")
        .iter()
        .filter(|u| u["admin"] == true)
        .collect();
    assert_eq!(admins.len(), 1, "{users}");
    assert_eq!(admins[0]["name"], "admin", "{users}");

    let stderr = store.cli_fails(&["key", "create", "--user", "nobody"]);
    assert!(stderr.contains("nobody"), "{stderr}");
    store.cli_fails(&["user", "show", "nobody"]);
    store.cli_fails(&[
        "grant",
        "--user",
        "nobody",
        "--bucket",
        "none-such",
        "--permission",
        "read",
    ]);

    store.user("app", false);
    let key = store.key("app", "k");
    store.cli_fails(&["key", "delete", &key.id]);
    assert_eq!(store.show_key(&key.id)["state"], "active");

    // admin's key revoked so that only its being the last administrator stands in the way.
    let keys = store.json(&["key", "list", "--user", "admin"]);
    for k in keys.as_array().expect("an array of keys") {
        store.json(&["key", "revoke", k["id"].as_str().expect("id")]);
    }
    let stderr = store.cli_fails(&["user", "delete", "admin"]);
    assert!(stderr.contains("administrator"), "{stderr}");
    let admin = store.json(&["user", "show", "admin"]);
    assert_eq!(admin["admin"], true, "{admin}");
}
