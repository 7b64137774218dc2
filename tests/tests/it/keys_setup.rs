//! What the key-store tests share: a data directory and config file that outlive daemon
//! restarts, the `cairnd` CLI run against them (online through the daemon's admin socket, or
//! offline on the data directory), SDK clients and raw requests per access key, and scans of
//! files and logs for a secret in any of its encodings.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use base64::Engine as _;
use cairn_tests::{
    cairnd_bin, roundtrip, signed_request_as, temp_dir, Daemon, DaemonOptions, RawResponse,
};

use crate::sdk::{client, Checksums};

/// How long one CLI command may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping daemon gets to drain and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Fresh connections a check opens: the daemon's cores share the port (SO_REUSEPORT), so
/// this many connections reach every core with near certainty.
pub const CONNECTIONS: usize = 16;

/// A data directory and a config file beside it (not in it), kept across daemon restarts.
pub struct Store {
    dir: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
}

/// What a CLI run printed.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// An access key with its secret, as `cairnd key create --json` answers.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

impl Key {
    pub fn pair(&self) -> (&str, &str) {
        (&self.id, &self.secret)
    }
}

impl Store {
    /// A new (empty) data directory and `config` as the config file.
    pub fn new(config: &str) -> Store {
        let dir = temp_dir();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("create the data directory");
        let store = Store {
            config: dir.path().join("cairn.toml"),
            data,
            dir,
        };
        store.set_config(config);
        store
    }

    /// A path beside the data directory (not in it).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Replaces the config file.
    pub fn set_config(&self, config: &str) {
        std::fs::write(&self.config, config).expect("write the config file");
    }

    /// Options for a daemon on this data directory with this config.
    pub fn options(&self) -> DaemonOptions {
        DaemonOptions {
            data_dir: Some(self.data.clone()),
            ..DaemonOptions::default()
        }
        .arg("--config")
        .arg(self.config.display().to_string())
    }

    pub fn start(&self) -> Daemon {
        self.options().start()
    }

    /// Runs `cairnd ARGS --data-dir DATA --config CONFIG`.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        let mut command = Command::new(cairnd_bin());
        command
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config);
        for key in [
            "CAIRN_CONFIG",
            "CAIRN_DATA_DIR",
            "CAIRN_ADMIN_SOCKET",
            "CAIRN_ACCESS_KEY_ID",
            "CAIRN_SECRET_ACCESS_KEY",
            "CREDENTIALS_DIRECTORY",
        ] {
            command.env_remove(key);
        }
        run(command, args)
    }

    /// Runs a CLI command that must succeed; returns its standard output.
    #[track_caller]
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "cairnd {} failed ({}): {}",
            args.join(" "),
            out.status,
            out.stderr
        );
        out.stdout
    }

    /// Runs a CLI command with `--json` that must succeed; returns its answer.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let stdout = self.cli_ok(&all);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("cairnd {} printed no JSON ({e}): {stdout}", all.join(" ")))
    }

    /// Runs a CLI command that must fail as the CLI fails: exit status 1 and
    /// `cairnd: error: <message>` on stderr. Returns stderr.
    #[track_caller]
    pub fn cli_fails(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "cairnd {} should have failed with status 1 ({}); stdout: {}; stderr: {}",
            args.join(" "),
            out.status,
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.contains("cairnd: error: "),
            "cairnd {}: no `cairnd: error:` line: {}",
            args.join(" "),
            out.stderr
        );
        out.stderr
    }

    /// Creates a user (`admin`: an administrator).
    pub fn user(&self, name: &str, admin: bool) {
        let mut args = vec!["user", "create", name];
        if admin {
            args.push("--admin");
        }
        let user = self.json(&args);
        assert_eq!(user["name"], name, "{user}");
        assert_eq!(user["admin"], admin, "{user}");
    }

    /// Creates a key of `user` and checks the answer's shape.
    pub fn key(&self, user: &str, name: &str) -> Key {
        let key = self.json(&["key", "create", "--user", user, "--name", name]);
        for field in [
            "id",
            "user",
            "name",
            "state",
            "created",
            "last_used",
            "expires",
            "secret",
        ] {
            assert!(key.get(field).is_some(), "no {field} in {key}");
        }
        assert_eq!(key["user"], user, "{key}");
        assert_eq!(key["name"], name, "{key}");
        assert_eq!(key["state"], "active", "{key}");
        assert!(key["last_used"].is_null(), "{key}");
        Key {
            id: key["id"].as_str().expect("id").to_owned(),
            secret: key["secret"].as_str().expect("secret").to_owned(),
        }
    }

    /// `cairnd key show ID --json`.
    pub fn show_key(&self, id: &str) -> serde_json::Value {
        self.json(&["key", "show", id])
    }
}

/// Runs a CLI command to its end (bounded), collecting its output.
fn run(mut command: Command, args: &[&str]) -> CliOutput {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the cairnd CLI");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("stdout")));
    let stderr = reader(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + CLI_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the CLI") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "cairnd {} did not finish within {CLI_TIMEOUT:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CliOutput {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Stops a daemon with SIGTERM and waits for a clean exit.
pub fn stop(d: &mut Daemon) {
    d.signal(libc::SIGTERM);
    let status = d.wait_exit(STOP_TIMEOUT);
    assert!(
        status.success(),
        "cairnd exited {status}; log:\n{}",
        d.logs()
    );
}

/// A new SDK client (its own connection pool, so new connections) acting with `key`.
pub fn s3_client(d: &Daemon, key: (&str, &str)) -> Client {
    client(
        &format!("http://{}", d.addr),
        None,
        Checksums::Default,
        key.0,
        key.1,
    )
}

/// A request signed with `key` on a fresh connection.
pub fn send_as(
    d: &Daemon,
    key: (&str, &str),
    method: &str,
    target: &str,
    body: &[u8],
) -> RawResponse {
    roundtrip(
        d.addr,
        &signed_request_as(key, d.addr, method, target, &[], body),
    )
}

/// Lists `bucket` with `key` on [`CONNECTIONS`] fresh connections; returns every answer.
pub fn list_on_fresh_connections(d: &Daemon, key: (&str, &str), bucket: &str) -> Vec<RawResponse> {
    (0..CONNECTIONS)
        .map(|_| send_as(d, key, "GET", &format!("/{bucket}?list-type=2"), b""))
        .collect()
}

/// Calls `probe` until it answers `Some`, at most `timeout`; panics naming `what` if not.
pub fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A secret's forms: plain, hex in both cases, base64 (padding left off: a longer encoding
/// of the same bytes ends differently).
pub fn encodings(secret: &str) -> Vec<(&'static str, Vec<u8>)> {
    let bytes = secret.as_bytes();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    vec![
        ("plain", bytes.to_vec()),
        ("hex", hex::encode(bytes).into_bytes()),
        ("HEX", hex::encode_upper(bytes).into_bytes()),
        ("base64", b64.trim_end_matches('=').as_bytes().to_vec()),
    ]
}

/// Which of `secrets` (and in which form) `haystack` holds.
pub fn secrets_in(haystack: &[u8], secrets: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        for (form, needle) in encodings(secret) {
            if haystack
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
            {
                found.push(format!("secret #{i} ({form})"));
            }
        }
    }
    found
}

/// Every file under `dir`, recursively (symbolic links not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a directory") {
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
