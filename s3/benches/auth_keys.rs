//! Authentication cost per request against the key store: a store of 10,000 keys (100 users,
//! 1,000 other keys warm in the core's cache) against a store of one key, both with a warm
//! cache, alternated in the same run (goal: within 1 µs of each other); and, for information,
//! the first request of a key after a change to the store, when the core's cache was emptied
//! and the key's secret is opened (AES-256-GCM) again.
//!
//! The figures are the lines printed at the end: medians of requests timed one by one (about
//! 20 ns of clock reads each, the same in both cases). Criterion's means, shown before them,
//! also count the times another process took the core, which on a shared machine is most of
//! their spread.
//!
//! Both stores live on /dev/shm when it exists: each key created is a durable write, and the
//! disk is not what this measures.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use cairn_http::proto::{HeadLimits, RequestHead};
use cairn_iam::{Iam, IamConfig, KeyState, MasterKeySource};
use cairn_s3::auth::{AuthSetup, Authenticator};
use cairn_sigv4::sign::{sign_v4_header, Credentials, SignPayload};
use cairn_sigv4::{Policy, RequestParts};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const USERS: usize = 100;
const MANY_KEYS: usize = 10_000;
/// Other keys authenticated once before measuring, so the core's key cache holds this many
/// more entries than the single-key case (and its 64-entry signing-key cache is full).
const WARM_OTHERS: usize = 1_000;
/// Requests per store and round of the alternating comparison, and rounds.
const PER_ROUND: usize = 1_000;
const ROUNDS: usize = 101;
/// Alternating single requests timed for the first-request-after-a-change figure.
const COLD_ROUNDS: usize = 301;

/// One key store, the authenticator of one core on it, and the keys' secrets.
struct Store {
    iam: Arc<Iam>,
    auth: Authenticator,
    /// (access key id, secret); the first one is the key measured.
    keys: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = tempfile::Builder::new().prefix("cairn-auth-keys").clone();
    if shm.is_dir() {
        builder.tempdir_in(shm).expect("a directory in /dev/shm")
    } else {
        builder.tempdir().expect("a temporary directory")
    }
}

impl Store {
    /// A store holding `keys` keys spread over at most `USERS` users.
    fn build(keys: usize) -> Store {
        let dir = scratch_dir();
        let source = MasterKeySource::Generated(dir.path().join("master.key"));
        let (iam, _) = Iam::open(dir.path(), source, IamConfig::default()).expect("open store");
        let users = USERS.min(keys);
        let started = Instant::now();
        for u in 0..users {
            iam.create_user(&format!("user{u:03}"), false)
                .expect("create user");
        }
        let created: Vec<(String, String)> = (0..keys)
            .map(|k| {
                let new = iam
                    .create_key(
                        &format!("user{:03}", k % users),
                        Some(&format!("k{k}")),
                        None,
                    )
                    .expect("create key");
                (new.key.id, new.secret)
            })
            .collect();
        println!(
            "{keys} key(s) over {users} user(s) created in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        let auth = Authenticator::new(
            AuthSetup {
                keys: Some(iam.clone()),
                static_key: None,
                anonymous: false,
            },
            Policy::default(),
        );
        Store {
            iam,
            auth,
            keys: created,
            _dir: dir,
        }
    }

    /// A GET head for the measured key, signed now.
    fn measured_head(&self) -> RequestHead {
        let (id, secret) = &self.keys[0];
        signed_get(id, secret)
    }

    /// Authenticates one request of each of up to `WARM_OTHERS` other keys, then the measured
    /// key's, so both caches hold it.
    fn warm(&self, head: &RequestHead) {
        for (id, secret) in self.keys.iter().skip(1).take(WARM_OTHERS) {
            assert!(self
                .auth
                .authenticate(&signed_get(id, secret), None)
                .is_ok());
        }
        assert!(self.auth.authenticate(head, None).is_ok());
    }

    /// Changes the store (the measured key revoked and reactivated, so the single-key store
    /// keeps one key): every core's cache is emptied before its next request.
    fn change(&self) {
        let id = &self.keys[0].0;
        for state in [KeyState::Revoked, KeyState::Active] {
            self.iam.set_key_state(id, state).expect("change the store");
        }
    }
}

fn unix_now() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(now.as_secs()).unwrap()
}

/// A GET of one object, signed in the Authorization header as an SDK sends it.
fn signed_get(access_key_id: &str, secret: &str) -> RequestHead {
    let head: Vec<(&str, &str)> = vec![
        ("Host", "localhost:9000"),
        ("User-Agent", "aws-sdk-rust/1.0 os/linux lang/rust"),
        ("Accept", "*/*"),
    ];
    let parts = RequestParts {
        method: "GET",
        path: "/bench-bucket/some/object.bin",
        query: "",
        headers: &head,
    };
    let signed = sign_v4_header(
        &parts,
        &Credentials::new(access_key_id, secret),
        "us-east-1",
        unix_now(),
        SignPayload::Unsigned,
    );
    let mut raw = format!("GET {} HTTP/1.1\r\n", parts.path);
    for (name, value) in head
        .iter()
        .copied()
        .chain(signed.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let mut buf = BytesMut::from(raw.as_bytes());
    RequestHead::parse(&mut buf, &HeadLimits::default())
        .expect("a valid head")
        .expect("a whole head")
}

fn authenticate_once(store: &Store, head: &RequestHead) {
    let authenticated = store.auth.authenticate(black_box(head), None);
    assert!(authenticated.is_ok());
}

/// Median of individually timed requests, A and B alternating in rounds of `PER_ROUND` so
/// both see the same background load. Medians of single requests, not means of rounds: on a
/// shared machine a round's mean mostly measures how often another process took the core.
fn alternating_warm(a: &Store, b: &Store) -> (Duration, Duration) {
    let heads = [a.measured_head(), b.measured_head()];
    a.warm(&heads[0]);
    b.warm(&heads[1]);
    let mut times: [Vec<Duration>; 2] = Default::default();
    for _ in 0..ROUNDS {
        for (i, store) in [a, b].into_iter().enumerate() {
            for _ in 0..PER_ROUND {
                times[i].push(timed(store, &heads[i]));
            }
        }
    }
    let [ta, tb] = times;
    (median(ta), median(tb))
}

/// One request, timed alone.
fn timed(store: &Store, head: &RequestHead) -> Duration {
    let t = Instant::now();
    authenticate_once(store, head);
    t.elapsed()
}

/// Medians of the first request after a change to the store and of the request after it,
/// each timed alone (so the two compare like for like), A and B alternating.
fn alternating_cold(a: &Store, b: &Store) -> [(Duration, Duration); 2] {
    let heads = [a.measured_head(), b.measured_head()];
    let mut times: [[Vec<Duration>; 2]; 2] = Default::default();
    for _ in 0..COLD_ROUNDS {
        for (i, store) in [a, b].into_iter().enumerate() {
            store.change();
            times[i][0].push(timed(store, &heads[i]));
            times[i][1].push(timed(store, &heads[i]));
        }
    }
    times.map(|[first, next]| (median(first), median(next)))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

fn auth_keys(c: &mut Criterion) {
    let many = Store::build(MANY_KEYS);
    let one = Store::build(1);

    let mut g = c.benchmark_group("authenticate_warm");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for (name, store) in [("10000_keys", &many), ("1_key", &one)] {
        let head = store.measured_head();
        store.warm(&head);
        g.bench_function(name, |b| b.iter(|| authenticate_once(store, &head)));
    }
    g.finish();

    let mut g = c.benchmark_group("authenticate_first_after_change");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(200));
    for (name, store) in [("10000_keys", &many), ("1_key", &one)] {
        let head = store.measured_head();
        // The store changes in the untimed setup; the timed request finds the cache emptied.
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || store.change(),
                |_| authenticate_once(store, &head),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();

    let (warm_many, warm_one) = alternating_warm(&many, &one);
    let [(first_many, next_many), (first_one, next_one)] = alternating_cold(&many, &one);
    println!(
        "warm cache, median of {} requests each, timed alone, in {ROUNDS} alternating rounds: \
         10,000 keys: {:.0} ns, 1 key: {:.0} ns, difference {:.0} ns (goal: within 1 µs), ratio {:.3}",
        ROUNDS * PER_ROUND,
        ns(warm_many),
        ns(warm_one),
        ns(warm_many) - ns(warm_one),
        warm_many.as_secs_f64() / warm_one.as_secs_f64()
    );
    println!(
        "first request after a change (cache emptied, secret opened again) and the request \
         after it, each timed alone, medians of {COLD_ROUNDS} alternating rounds: \
         10,000 keys: {:.0} ns then {:.0} ns, 1 key: {:.0} ns then {:.0} ns",
        ns(first_many),
        ns(next_many),
        ns(first_one),
        ns(next_one)
    );
}

criterion_group!(benches, auth_keys);
criterion_main!(benches);
