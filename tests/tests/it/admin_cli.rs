//! `cairnd user|key|grant|ungrant|master-key`: the admin commands, run as the real binary on
//! a stopped daemon's data directory (offline) and, through its admin socket, on a running
//! one.

use std::path::Path;
use std::process::Command;

use cairn_tests::{cairnd_bin, temp_dir, DaemonOptions};

/// What one run of the CLI printed and how it exited.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "the command failed: {}", self.stderr);
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `cairnd ARGS --data-dir DIR` with no configuration from the environment.
fn cairnd(data_dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(cairnd_bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("CAIRN_CONFIG")
        .env_remove("CAIRN_DATA_DIR")
        .env_remove("CAIRN_ADMIN_SOCKET")
        .env_remove("CAIRN_ACCESS_KEY_ID")
        .env_remove("CAIRN_SECRET_ACCESS_KEY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("STATE_DIRECTORY")
        .output()
        .expect("run cairnd");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Creates a key for `user` and returns its id and secret.
fn create_key(data_dir: &Path, user: &str) -> (String, String) {
    let created = cairnd(data_dir, &["key", "create", "--user", user, "--json"]).ok();
    let json = created.json();
    (
        json["id"].as_str().expect("id").to_owned(),
        json["secret"].as_str().expect("secret").to_owned(),
    )
}

#[test]
fn users_are_created_listed_and_shown_offline() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let admin = cairnd(&data, &["user", "create", "root", "--admin"]).ok();
    assert!(admin.stdout.contains("root"), "{}", admin.stdout);
    cairnd(&data, &["user", "create", "alice"]).ok();

    let list = cairnd(&data, &["user", "list"]).ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("ADMIN"),
        "{}",
        list.stdout
    );
    assert!(lines[1].starts_with("alice") && lines[2].starts_with("root"));
    assert_eq!(lines.len(), 3);

    let json = cairnd(&data, &["user", "show", "root", "--json"])
        .ok()
        .json();
    assert_eq!(json["name"], "root");
    assert_eq!(json["admin"], true);
    let shown = cairnd(&data, &["user", "show", "alice"]).ok();
    assert!(
        shown.stdout.contains("Administrator  no"),
        "{}",
        shown.stdout
    );

    let again = cairnd(&data, &["user", "create", "alice"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn keys_are_created_listed_revoked_activated_and_deleted_offline() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    cairnd(&data, &["user", "create", "alice"]).ok();
    let (id, secret) = create_key(&data, "alice");
    assert_eq!(id.len(), 20, "{id}");
    assert!(id.starts_with("CAIRN"), "{id}");
    assert!(secret.len() >= 40, "{secret}");

    let table = cairnd(&data, &["key", "create", "--user", "alice", "--name", "ci"]).ok();
    assert!(
        table.stdout.contains("cannot be shown again"),
        "{}",
        table.stdout
    );

    let list = cairnd(&data, &["key", "list"]).ok();
    let header: Vec<&str> = list
        .stdout
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "ID",
            "USER",
            "NAME",
            "STATE",
            "CREATED",
            "LAST USED",
            "EXPIRES"
        ]
    );
    assert_eq!(list.stdout.lines().count(), 3, "{}", list.stdout);
    assert!(list.stdout.contains(&id));
    assert!(!list.stdout.contains(&secret), "a key list shows a secret");
    let json = cairnd(&data, &["key", "list", "--user", "alice", "--json"]).ok();
    assert!(!json.stdout.contains(&secret), "a key list shows a secret");
    assert_eq!(json.json().as_array().map(Vec::len), Some(2));
    let shown = cairnd(&data, &["key", "show", &id, "--json"]).ok().json();
    assert_eq!(shown["user"], "alice");
    assert!(shown.get("secret").is_none());

    let refused = cairnd(&data, &["key", "delete", &id]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("revoke it first"),
        "{}",
        refused.stderr
    );
    let state = |args: &[&str]| cairnd(&data, args).ok().json()["state"].clone();
    assert_eq!(state(&["key", "revoke", &id, "--json"]), "revoked");
    assert_eq!(state(&["key", "activate", &id, "--json"]), "active");
    assert_eq!(state(&["key", "revoke", &id, "--json"]), "revoked");
    assert_eq!(state(&["key", "delete", &id, "--json"]), "deleted");
    let dead = cairnd(&data, &["key", "activate", &id]);
    assert_eq!(dead.code, 1);
    assert!(
        dead.stderr.contains("cannot be used again"),
        "{}",
        dead.stderr
    );
}

#[test]
fn refusals_are_one_line_on_stderr_with_exit_code_1() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    cairnd(&data, &["user", "create", "root", "--admin"]).ok();
    cairnd(&data, &["user", "create", "alice"]).ok();

    let unknown = cairnd(&data, &["key", "create", "--user", "nobody"]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stdout.is_empty());
    assert_eq!(
        unknown.stderr.trim_end(),
        "cairnd: error: no user named \"nobody\""
    );

    let last_admin = cairnd(&data, &["user", "delete", "root"]);
    assert_eq!(last_admin.code, 1);
    assert!(
        last_admin.stderr.contains("last administrator"),
        "{}",
        last_admin.stderr
    );

    let (id, _) = create_key(&data, "alice");
    let with_key = cairnd(&data, &["user", "delete", "alice"]);
    assert_eq!(with_key.code, 1);
    assert!(
        with_key.stderr.contains("active keys") && with_key.stderr.contains(&id),
        "{}",
        with_key.stderr
    );
    cairnd(&data, &["key", "revoke", &id]).ok();
    let deleted = cairnd(&data, &["user", "delete", "alice"]).ok();
    assert!(deleted.stdout.contains("deleted user alice"));

    let usage = cairnd(&data, &["key", "create"]);
    assert_eq!(usage.code, 2, "a usage error: {}", usage.stderr);
}

#[test]
fn offline_is_refused_while_a_daemon_holds_the_data_directory() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let _daemon = DaemonOptions {
        data_dir: Some(data.clone()),
        ..DaemonOptions::default()
    }
    .start();
    let missing = dir.path().join("no-such.sock");
    let run = cairnd(
        &data,
        &["user", "list", "--socket", missing.to_str().unwrap()],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cairnd is running") && run.stderr.contains("does not answer"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(missing.to_str().unwrap()));
}

/// Needs run.rs to start the admin server (`spawn_admin_server`).
#[test]
fn cli_talks_to_the_running_daemon() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let _daemon = DaemonOptions {
        data_dir: Some(data.clone()),
        ..DaemonOptions::default()
    }
    .start();
    let created = cairnd(&data, &["user", "create", "carol", "--verbose"]).ok();
    assert!(
        created.stderr.contains("running daemon"),
        "not through the socket: {}",
        created.stderr
    );
    let (id, secret) = create_key(&data, "carol");
    assert!(id.starts_with("CAIRN") && secret.len() >= 40);
    let list = cairnd(&data, &["key", "list", "--user", "carol"]).ok();
    assert!(list.stdout.contains(&id) && !list.stdout.contains(&secret));
}
