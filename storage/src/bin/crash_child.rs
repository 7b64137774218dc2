//! Crash-test child: drives concurrent PUTs, overwrites, deletes and multipart completions on
//! an engine in `<data dir>` until it is killed, printing `BEGIN <key> <nonce>` before each
//! write and `ACK <key> <nonce>` only after the write returned (nonce 0 is a delete).
//! Bodies are `body(nonce, len)`: self-describing, so a reader can tell a torn or mixed body.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cairn_storage::{CoreStore, Engine, EngineConfig, ObjectMeta, PutOptions, WriteCondition};
use glommio::{LocalExecutorPoolBuilder, PoolPlacement};

/// Bucket the child writes to.
const BUCKET: &str = "crash-test";
const CORES: usize = 2;
const WORKERS_PER_CORE: usize = 3;
const KEYS_PER_WORKER: usize = 4;
/// Minimum part size the child configures (and uses for all but the last part).
const MIN_PART: usize = 4096;

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// The body of write `nonce`: 16 header bytes (nonce, length) then a stream seeded by nonce.
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

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn worker(store: CoreStore, name: String, seed: u64) {
    let mut rng = seed | 1;
    let sizes = [16usize, 200, 8192, 9000, 100_000, 600_000];
    loop {
        let key = format!("{name}/k{}", xorshift(&mut rng) as usize % KEYS_PER_WORKER);
        let roll = xorshift(&mut rng) % 100;
        let nonce = xorshift(&mut rng) | 1;
        let result = if roll < 15 {
            say(format!("BEGIN {key} 0"));
            store.delete_object(BUCKET, &key).await.map(|_| 0)
        } else if roll < 35 {
            say(format!("BEGIN {key} {nonce}"));
            let last = sizes[xorshift(&mut rng) as usize % sizes.len()];
            let data = body(nonce, 2 * MIN_PART + last);
            async {
                let id = store
                    .create_multipart_upload(BUCKET, &key, ObjectMeta::default())
                    .await?;
                let mut parts = Vec::new();
                let chunks = [
                    &data[..MIN_PART],
                    &data[MIN_PART..2 * MIN_PART],
                    &data[2 * MIN_PART..],
                ];
                for (i, chunk) in chunks.iter().enumerate() {
                    let mut w = store.upload_part(BUCKET, &key, &id, i as u16 + 1).await?;
                    w.write(chunk).await?;
                    parts.push((i as u16 + 1, w.commit().await?.etag));
                }
                store
                    .complete_multipart_upload(BUCKET, &key, &id, parts, WriteCondition::Always)
                    .await?;
                Ok(nonce)
            }
            .await
        } else {
            say(format!("BEGIN {key} {nonce}"));
            let data = body(nonce, sizes[xorshift(&mut rng) as usize % sizes.len()]);
            async {
                let mut w = store
                    .put_object(BUCKET, &key, PutOptions::default())
                    .await?;
                for c in data.chunks(65_536) {
                    w.write(c).await?;
                }
                w.commit().await?;
                Ok(nonce)
            }
            .await
        };
        match result {
            Ok(n) => say(format!("ACK {key} {n}")),
            Err(e) => {
                say(format!("ERR {key} {e}"));
                std::process::exit(3);
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: crash_child <data dir> <seed>");
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut config = EngineConfig::new(dir, CORES);
    config.shards_per_bucket = 8;
    config.min_part_size = MIN_PART as u64;
    config.min_free_bytes = 0;
    let engine = Engine::open(config).expect("open");
    let next = Arc::new(AtomicUsize::new(0));
    let handles = LocalExecutorPoolBuilder::new(PoolPlacement::Unbound(CORES))
        .io_memory(2 << 20)
        .on_all_shards(move || {
            let engine = engine.clone();
            let next = next.clone();
            async move {
                let core = next.fetch_add(1, Ordering::SeqCst);
                let store = engine.attach(core).await.expect("attach");
                if core == 0 {
                    match store.create_bucket(BUCKET, "crash", "us-east-1").await {
                        Ok(()) | Err(cairn_storage::Error::BucketAlreadyOwnedByYou) => {}
                        Err(e) => panic!("create bucket: {e}"),
                    }
                }
                while store.head_bucket(BUCKET).await.is_err() {
                    glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                }
                if core == 0 {
                    say("READY".into());
                }
                let mut tasks = Vec::new();
                for w in 0..WORKERS_PER_CORE {
                    tasks.push(glommio::spawn_local(worker(
                        store.clone(),
                        format!("c{core}w{w}"),
                        seed.wrapping_mul(31)
                            .wrapping_add((core * 10 + w) as u64 + 1),
                    )));
                }
                for t in tasks {
                    t.await;
                }
            }
        })
        .expect("executors");
    let _ = handles.join_all();
}
