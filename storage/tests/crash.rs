//! Crash test: a child process drives concurrent PUTs, overwrites, deletes and multipart
//! completions and is killed with SIGKILL at random moments, again and again on the same data
//! directory. After each kill, recovery runs and every acknowledged write must read back
//! byte-identical, no body may be torn or mixed, and no unreferenced blob may remain.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_storage::{Engine, EngineConfig, Error, ListQuery};
use common::*;

const BUCKET: &str = "crash-test";
const KILLS: usize = 50;

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Same as the child's `body`.
fn body(nonce: u64, len: usize) -> Vec<u8> {
    let len = len.max(16);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&nonce.to_le_bytes());
    out.extend_from_slice(&(len as u64).to_le_bytes());
    let mut s = nonce | 1;
    while out.len() < len {
        out.extend_from_slice(&xorshift(&mut s).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Which nonce a stored body carries, if it is a whole, untorn body.
fn whole_body_nonce(data: &[u8]) -> Option<u64> {
    if data.len() < 16 {
        return None;
    }
    let nonce = u64::from_le_bytes(data[..8].try_into().ok()?);
    let len = u64::from_le_bytes(data[8..16].try_into().ok()?) as usize;
    (len == data.len() && body(nonce, len) == data).then_some(nonce)
}

/// Per key: the durable value (nonce, 0 = absent) and a write that began but was not acked.
#[derive(Debug, Default, Clone)]
struct KeyState {
    acked: u64,
    in_flight: Option<u64>,
}

fn child_config(dir: &std::path::Path) -> EngineConfig {
    let mut c = EngineConfig::new(dir, 2);
    c.shards_per_bucket = 8;
    c.min_part_size = 4096;
    c.min_free_bytes = 0;
    c
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys: BTreeMap<String, KeyState> = BTreeMap::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let mut acks_total = 0usize;
    let started = Instant::now();
    for round in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-storage-crash-child"))
            .arg(dir.path())
            .arg((round as u64 + 1).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        // Kill at a random moment: early (during start-up or the first writes) or later.
        let delay = Duration::from_millis(20 + xorshift(&mut rng) % 280);
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let lines = reader.join().unwrap();
        for line in &lines {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("BEGIN"), Some(key), Some(n)) => {
                    keys.entry(key.to_string()).or_default().in_flight = Some(n.parse().unwrap());
                }
                (Some("ACK"), Some(key), Some(n)) => {
                    let k = keys.entry(key.to_string()).or_default();
                    k.acked = n.parse().unwrap();
                    k.in_flight = None;
                    acks_total += 1;
                }
                (Some("ERR"), _, _) => panic!("child failed a write: {line}"),
                _ => {}
            }
        }

        // Recovery, then check every key and every blob.
        let engine = Engine::open(child_config(dir.path())).unwrap();
        let report = engine.recovery_report().clone();
        assert_eq!(report.missing_blobs, 0, "round {round}: {report:?}");
        let on_disk = blob_files(dir.path()).len();
        assert_eq!(
            on_disk, report.referenced_blobs,
            "round {round}: blob files left that no record references"
        );
        let expected = keys.clone();
        let found: BTreeMap<String, u64> = run(&engine, move |s| async move {
            let mut found = BTreeMap::new();
            let bucket_exists = s.head_bucket(BUCKET).await.is_ok();
            for key in expected.keys() {
                if !bucket_exists {
                    found.insert(key.clone(), 0);
                    continue;
                }
                match read_all(&s, BUCKET, key).await {
                    Ok(data) => {
                        let nonce = whole_body_nonce(&data)
                            .unwrap_or_else(|| panic!("torn or mixed body under {key}"));
                        found.insert(key.clone(), nonce);
                    }
                    Err(Error::NoSuchKey) => {
                        found.insert(key.clone(), 0);
                    }
                    Err(e) => panic!("reading {key}: {e}"),
                }
            }
            // The listing agrees with the point reads.
            if bucket_exists {
                let page = s
                    .list_objects(
                        BUCKET,
                        &ListQuery {
                            max_keys: 1000,
                            ..ListQuery::default()
                        },
                    )
                    .await
                    .unwrap();
                for o in &page.objects {
                    assert_ne!(found.get(&o.key), Some(&0), "listed but absent: {}", o.key);
                }
            }
            found
        });
        for (key, state) in keys.iter_mut() {
            let got = found[key];
            let allowed = got == state.acked || state.in_flight == Some(got);
            assert!(
                allowed,
                "round {round}: {key} holds {got}, acknowledged {} (in flight {:?})",
                state.acked, state.in_flight
            );
            state.acked = got;
            state.in_flight = None;
        }
        drop(engine);
    }
    assert!(
        acks_total > KILLS,
        "the child acknowledged only {acks_total} writes"
    );
    eprintln!(
        "{KILLS} kills, {acks_total} acknowledged writes checked, {} keys, {:?}",
        keys.len(),
        started.elapsed()
    );
}
