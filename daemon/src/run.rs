//! `cairnd serve`: start-up checks, one pinned glommio executor per core each serving its
//! own SO_REUSEPORT listener, systemd notifications, signals, and the drain.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cairn_http::server::{
    serve_core, CoreReport, PlainHttp, ServerConfig, ShutdownSignal, TlsConfigHandle,
};
use cairn_iam::Iam;
use cairn_s3::auth::{AuthSetup, Authenticator};
use cairn_s3::router::RouterConfig;
use cairn_s3::S3Service;
use cairn_sigv4::Policy;
use cairn_storage::{Engine, EngineConfig};
use glommio::{CpuSet, LocalExecutorPoolBuilder, PoolPlacement};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::config::{Config, CoreSet};
use crate::notify::{watchdog_interval, Notifier};
use crate::service::CairnService;
use crate::startup::{self, StartupError, IO_MEMORY_PER_CORE};

/// How long start-up waits for every core to bind its listener.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn placement(cores: &CoreSet) -> Result<(PoolPlacement, usize), StartupError> {
    let online = CpuSet::online().map_err(|e| StartupError::Executors(e.to_string()))?;
    match cores {
        CoreSet::All => {
            let n = online.len().max(1);
            Ok((PoolPlacement::MaxSpread(n, Some(online)), n))
        }
        CoreSet::List(list) => {
            let mut sets = Vec::with_capacity(list.len());
            for &cpu in list {
                let set = online.clone().filter(|location| location.cpu == cpu);
                if set.is_empty() {
                    let ids: Vec<String> = online.iter().map(|l| l.cpu.to_string()).collect();
                    return Err(StartupError::Config(format!(
                        "core {cpu} is not an online CPU (online: {})",
                        ids.join(",")
                    )));
                }
                sets.push(set);
            }
            Ok((PoolPlacement::Custom(sets), list.len()))
        }
    }
}

/// What the signal thread controls.
struct Control {
    shutdown: ShutdownSignal,
    tls: Option<TlsConfigHandle>,
    notifier: Arc<Notifier>,
}

fn spawn_signal_thread(control: Control) -> Result<(), StartupError> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| StartupError::Executors(format!("cannot install signal handlers: {e}")))?;
    std::thread::Builder::new()
        .name("cairn-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGHUP => match &control.tls {
                        Some(tls) => match tls.reload() {
                            Ok(()) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
                            Err(e) => tracing::error!(
                                "SIGHUP: TLS reload failed, keeping the previous certificate: {e}"
                            ),
                        },
                        None => tracing::info!("SIGHUP: nothing to reload (no TLS configured)"),
                    },
                    _ if control.shutdown.is_triggered() => {
                        tracing::warn!("second stop signal: exiting without waiting for the drain");
                        std::process::exit(1);
                    }
                    _ => {
                        tracing::info!(
                            signal,
                            "stop signal: draining (stop accepting, finish in-flight requests)"
                        );
                        control.notifier.notify("STOPPING=1\nSTATUS=draining");
                        control.shutdown.trigger();
                    }
                }
            }
        })
        .map_err(|e| StartupError::Executors(format!("cannot start the signal thread: {e}")))?;
    Ok(())
}

/// Pings systemd's watchdog only while every core's heartbeat advances.
fn spawn_watchdog(
    interval: Duration,
    heartbeats: Arc<Vec<AtomicU64>>,
    notifier: Arc<Notifier>,
    shutdown: ShutdownSignal,
) {
    let _ = std::thread::Builder::new()
        .name("cairn-watchdog".into())
        .spawn(move || {
            let mut last: Vec<u64> = heartbeats
                .iter()
                .map(|h| h.load(Ordering::Relaxed))
                .collect();
            loop {
                std::thread::sleep(interval / 2);
                let now: Vec<u64> = heartbeats
                    .iter()
                    .map(|h| h.load(Ordering::Relaxed))
                    .collect();
                let all_alive = now.iter().zip(&last).all(|(n, l)| n != l);
                if all_alive || shutdown.is_triggered() {
                    notifier.notify("WATCHDOG=1");
                } else {
                    tracing::error!(
                        "a core stopped making progress; withholding the watchdog ping"
                    );
                }
                last = now;
            }
        });
}

/// How the listener serves: its address (port 0 resolved), TLS, and plain HTTP's policy.
struct Listening {
    addr: SocketAddr,
    tls: Option<TlsConfigHandle>,
    plain_http: PlainHttp,
}

/// Loads TLS and decides whether plain HTTP may be served: freely on loopback, elsewhere only
/// when asked for; never with `require_tls`.
fn listening(config: &Config) -> Result<Listening, StartupError> {
    let tls = match &config.tls {
        Some((cert, key)) => Some(TlsConfigHandle::load(cert, key)?),
        None => None,
    };
    let loopback = config.listen.ip().is_loopback();
    if config.require_tls && tls.is_none() {
        return Err(StartupError::Config(
            "require_tls is set but no TLS certificate is configured (set tls.cert and tls.key, or --tls-cert and --tls-key)".into(),
        ));
    }
    if tls.is_none() && !loopback && !config.allow_plain_http {
        return Err(StartupError::Config(format!(
            "refusing to serve plain HTTP on {}, which is not a loopback address: configure TLS (tls.cert and tls.key) or set allow_plain_http = true",
            config.listen
        )));
    }
    let plain_http = if config.require_tls || (!loopback && !config.allow_plain_http) {
        PlainHttp::Refuse
    } else {
        PlainHttp::Serve
    };
    let addr = startup::probe_listen(config.listen)?;
    Ok(Listening {
        addr,
        tls,
        plain_http,
    })
}

/// Warns when the open-files limit is too low for the connections configured.
fn check_open_files(cores: usize, max_connections_per_core: usize) {
    let open_files = cairn_http::rlimit::raise_nofile_limit();
    let wanted_files = (cores * max_connections_per_core) as u64 + 1024;
    if open_files < 4096 {
        tracing::warn!(
            open_files,
            "the open-files limit allows only a few thousand connections; raise LimitNOFILE= (or `ulimit -n`)"
        );
    } else if open_files < wanted_files {
        tracing::debug!(
            open_files,
            wanted_files,
            "the open-files limit bounds concurrent connections"
        );
    }
}

/// What every core is built from, shared read-only.
struct CoreShared {
    engine: Arc<Engine>,
    iam: Arc<Iam>,
    auth: AuthSetup,
    last_used_interval: Duration,
    policy: Policy,
    router: RouterConfig,
    server_config: Arc<ServerConfig>,
    addr: SocketAddr,
    cores: usize,
    shutdown: ShutdownSignal,
    heartbeats: Arc<Vec<AtomicU64>>,
    heartbeat_every: Duration,
    /// Cores that have stopped serving (or failed to start).
    finished: AtomicUsize,
    next_index: AtomicUsize,
}

/// Which callers the cores accept, by the configured mode.
fn auth_setup(config: &Config, iam: &Arc<Iam>) -> Result<AuthSetup, StartupError> {
    use crate::auth_config::AuthMode;
    let static_key = config.auth.static_key.clone();
    match config.auth.mode {
        AuthMode::Keys => {
            if let Some(pair) = &static_key {
                tracing::info!(
                    access_key_id = %pair.access_key_id,
                    "CAIRN_ACCESS_KEY_ID is set: that pair is accepted as a superuser beside the key store"
                );
            }
            Ok(AuthSetup {
                keys: Some(iam.clone()),
                static_key,
                anonymous: false,
            })
        }
        AuthMode::Static => {
            tracing::info!("auth.mode = \"static\": only the CAIRN_ACCESS_KEY_ID pair is accepted");
            Ok(AuthSetup {
                keys: None,
                static_key,
                anonymous: false,
            })
        }
        AuthMode::None => {
            if !config.listen.ip().is_loopback() && !config.auth.anonymous_on_any_address {
                return Err(StartupError::Config(format!(
                    "refusing auth.mode = \"none\" on {}, which is not a loopback address: anyone could read and write everything (set auth.anonymous_on_any_address = true to force it)",
                    config.listen
                )));
            }
            tracing::warn!(
                "auth.mode = \"none\": requests without a signature have full access to every bucket"
            );
            Ok(AuthSetup {
                keys: None,
                static_key,
                anonymous: true,
            })
        }
    }
}

/// Opens the engine and gathers what the cores share.
fn core_shared(
    config: &Config,
    data_dir: &std::path::Path,
    cores: usize,
    listening: &Listening,
) -> Result<CoreShared, StartupError> {
    let iam = crate::keystore::open_key_store(config, data_dir)?;
    let auth = auth_setup(config, &iam)?;
    let engine = Engine::open(EngineConfig::new(data_dir, cores))
        .map_err(|e| StartupError::Storage(e.to_string()))?;
    tracing::info!("storage recovery: {:?}", engine.recovery_report());
    // Grants on buckets deleted since (a grant is bound to its bucket's id) are dead weight.
    let buckets = engine
        .buckets()
        .map_err(|e| StartupError::Storage(e.to_string()))?;
    let pruned = iam.prune_grants(&buckets)?;
    if pruned > 0 {
        tracing::info!(pruned, "removed grants on buckets that no longer exist");
    }
    Ok(CoreShared {
        engine: Arc::new(engine),
        iam,
        auth,
        last_used_interval: config.auth.last_used_interval,
        policy: Policy::new(config.regions.iter().cloned()),
        router: RouterConfig::new(&config.domains),
        server_config: Arc::new(ServerConfig {
            limits: config.limits,
            timeouts: config.timeouts,
            max_connections_per_core: config.max_connections_per_core,
            drain_timeout: config.drain_timeout,
            tls: listening.tls.clone(),
            plain_http: listening.plain_http,
        }),
        addr: listening.addr,
        cores,
        shutdown: ShutdownSignal::new(),
        heartbeats: Arc::new((0..cores).map(|_| AtomicU64::new(0)).collect()),
        heartbeat_every: watchdog_interval().map_or(Duration::from_secs(1), |w| {
            (w / 4).min(Duration::from_secs(1))
        }),
        finished: AtomicUsize::new(0),
        next_index: AtomicUsize::new(0),
    })
}

/// One core: attach to storage, bind the listener, report ready, serve until the drain ends,
/// then keep this core's storage tasks alive until every core has finished serving.
async fn run_core(
    shared: Arc<CoreShared>,
    ready: mpsc::Sender<Result<usize, StartupError>>,
) -> CoreReport {
    let index = shared.next_index.fetch_add(1, Ordering::Relaxed);
    let started = async {
        // Every core attaches (attach waits for all of them) before any binds.
        let store = shared
            .engine
            .attach(index)
            .await
            .map_err(|e| StartupError::Storage(e.to_string()))?;
        let listener =
            glommio::net::TcpListener::bind(shared.addr).map_err(|e| StartupError::Listen {
                addr: shared.addr,
                reason: e.to_string(),
            })?;
        Ok((store, listener))
    };
    let (store, listener) = match started.await {
        Ok(started) => started,
        Err(error) => {
            let _ = ready.send(Err(error));
            shared.finished.fetch_add(1, Ordering::AcqRel);
            return CoreReport::default();
        }
    };
    spawn_heartbeat(&shared, index);
    // Held until every core has finished serving (see below).
    let owner_tasks = store.clone();
    let s3 = S3Service {
        store,
        auth: Authenticator::new(shared.auth.clone(), shared.policy.clone()),
        router: Rc::new(shared.router.clone()),
    };
    let _ = ready.send(Ok(index));
    drop(ready);
    let handler = Rc::new(CairnService::new(index, s3));
    spawn_last_used_reports(&handler, shared.last_used_interval);
    let report = serve_core(
        listener,
        shared.server_config.clone(),
        handler.clone(),
        shared.shutdown.clone(),
    )
    .await;
    handler.report_last_used();
    // This core's storage tasks own index shards that the others' in-flight requests may
    // still commit to: keep them (they live while a `CoreStore` does) and the executor until
    // every core has finished serving.
    shared.finished.fetch_add(1, Ordering::AcqRel);
    while shared.finished.load(Ordering::Acquire) < shared.cores {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    drop(owner_tasks);
    report
}

/// Reports this core's keys' last uses to the key store every `interval`.
fn spawn_last_used_reports(handler: &Rc<CairnService>, interval: Duration) {
    let handler = Rc::downgrade(handler);
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(interval).await;
            match handler.upgrade() {
                Some(handler) => handler.report_last_used(),
                None => break,
            }
        }
    })
    .detach();
}

/// Persists the cores' reports of last uses every `interval` (off the cores: a sled write and
/// an fsync).
fn spawn_last_used_writer(iam: Arc<Iam>, interval: Duration, shutdown: ShutdownSignal) {
    let _ = std::thread::Builder::new()
        .name("cairn-last-used".into())
        .spawn(move || {
            while !shutdown.is_triggered() {
                std::thread::sleep(interval);
                if let Err(e) = iam.persist_last_used() {
                    tracing::error!("cannot record when access keys were last used: {e}");
                }
            }
        });
}

fn spawn_heartbeat(shared: &Arc<CoreShared>, index: usize) {
    let shared = shared.clone();
    glommio::spawn_local(async move {
        loop {
            shared.heartbeats[index].fetch_add(1, Ordering::Relaxed);
            glommio::timer::sleep(shared.heartbeat_every).await;
        }
    })
    .detach();
}

/// Waits until every core serves; on a failure, stops the others and returns it.
fn wait_until_ready(
    ready: &mpsc::Receiver<Result<usize, StartupError>>,
    shared: &CoreShared,
    handles: glommio::PoolThreadHandles<CoreReport>,
) -> Result<glommio::PoolThreadHandles<CoreReport>, StartupError> {
    for _ in 0..shared.cores {
        match ready.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                shared.shutdown.trigger();
                let _ = handles.join_all();
                return Err(error);
            }
            Err(_) => {
                shared.shutdown.trigger();
                return Err(StartupError::Executors(
                    "a core did not start within 30 seconds".into(),
                ));
            }
        }
    }
    Ok(handles)
}

/// Collects every core's report once the drain has ended.
fn join_cores(handles: glommio::PoolThreadHandles<CoreReport>) {
    let mut cut = 0;
    for (core, result) in handles.join_all().into_iter().enumerate() {
        match result {
            Ok(report) => {
                cut += report.cut_at_deadline;
                tracing::debug!(
                    core,
                    accepted = report.accepted,
                    refused = report.refused,
                    "core stopped"
                );
            }
            Err(e) => tracing::error!(core, "core failed: {e:?}"),
        }
    }
    if cut > 0 {
        tracing::warn!(
            connections = cut,
            "drain deadline passed; closed connections that were still busy"
        );
    }
}

/// The data directory as an absolute path: glommio opens directories by absolute path only.
fn absolute_data_dir(config: &Config) -> Result<PathBuf, StartupError> {
    std::fs::canonicalize(&config.data_dir).map_err(|e| StartupError::DataDir {
        path: config.data_dir.clone(),
        reason: e.to_string(),
    })
}

/// Runs the daemon until it has drained after a stop signal.
pub fn serve(config: Config) -> Result<(), StartupError> {
    let (placement, cores) = placement(&config.cores)?;
    startup::check_memlock(cores)?;
    let _data_lock = startup::prepare_data_dir(&config.data_dir)?;
    let data_dir = absolute_data_dir(&config)?;
    let listening = listening(&config)?;
    let shared = Arc::new(core_shared(&config, &data_dir, cores, &listening)?);
    check_open_files(cores, config.max_connections_per_core);
    spawn_last_used_writer(
        shared.iam.clone(),
        config.auth.last_used_interval,
        shared.shutdown.clone(),
    );
    let notifier = Arc::new(Notifier::from_env());
    spawn_signal_thread(Control {
        shutdown: shared.shutdown.clone(),
        tls: listening.tls.clone(),
        notifier: notifier.clone(),
    })?;

    let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, StartupError>>();
    let handles = LocalExecutorPoolBuilder::new(placement)
        .name("cairn-core")
        .io_memory(IO_MEMORY_PER_CORE)
        .on_all_shards({
            let shared = shared.clone();
            move || run_core(shared, ready_tx)
        })
        .map_err(|e| StartupError::Executors(e.to_string()))?;
    let handles = wait_until_ready(&ready_rx, &shared, handles)?;
    let admin = match crate::admin_server::spawn_admin_server(
        &config.admin_socket,
        shared.iam.clone(),
        (*shared.engine).clone(),
    ) {
        Ok(admin) => admin,
        Err(error) => {
            shared.shutdown.trigger();
            join_cores(handles);
            return Err(error);
        }
    };

    let addr = listening.addr;
    let scheme = if listening.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        address = %addr,
        cores,
        data_dir = %config.data_dir.display(),
        tls = listening.tls.is_some(),
        "cairnd serving on {scheme}://{addr} (health: {scheme}://{addr}{})",
        crate::service::HEALTH_PATH
    );
    notifier.notify(&format!(
        "READY=1\nSTATUS=serving on {addr} with {cores} cores"
    ));
    if let Some(interval) = watchdog_interval() {
        spawn_watchdog(
            interval,
            shared.heartbeats.clone(),
            notifier.clone(),
            shared.shutdown.clone(),
        );
    }
    join_cores(handles);
    admin.stop();
    if let Err(e) = shared.iam.persist_last_used() {
        tracing::error!("cannot record when access keys were last used: {e}");
    }
    tracing::info!("cairnd stopped");
    Ok(())
}
