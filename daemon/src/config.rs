//! Configuration: the TOML file, merged under command-line flags and environment variables,
//! resolved into one checked [`Config`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth_config::{resolve_auth, AuthConfig, AuthFile};
use crate::cli::ServeArgs;
use crate::startup::StartupError;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
pub const DEFAULT_DATA_DIR: &str = "./cairn-data";
pub const DEFAULT_REGION: &str = "us-east-1";
/// The admin socket's file name in the data directory, unless configured elsewhere.
pub const ADMIN_SOCKET_FILE: &str = "admin.sock";

/// The configuration file, as written. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub cores: Option<CoresValue>,
    pub require_tls: Option<bool>,
    pub allow_plain_http: Option<bool>,
    /// One region clients sign for (S3's default: us-east-1); the same as `regions` with one
    /// element.
    pub region: Option<String>,
    /// The regions clients may sign for and create buckets in; the first is the default.
    pub regions: Option<Vec<String>>,
    /// Published endpoint domains: `bucket.<domain>` is virtual-hosted style, and other hosts
    /// are refused when the list is non-empty.
    pub domains: Option<Vec<String>>,
    #[serde(default)]
    pub tls: Option<TlsFile>,
    #[serde(default)]
    pub auth: AuthFile,
    /// The admin API's Unix socket (default: `<data_dir>/admin.sock`).
    pub admin_socket: Option<PathBuf>,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub timeouts: TimeoutsFile,
    #[serde(default)]
    pub log: LogFile,
}

/// `cores = "all"`, `cores = "0,2-3"` or `cores = [0, 2, 3]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum CoresValue {
    Text(String),
    List(Vec<usize>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_head_bytes: Option<usize>,
    pub max_headers: Option<usize>,
    pub max_uri_bytes: Option<usize>,
    pub max_connections_per_core: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsFile {
    pub head_secs: Option<u64>,
    pub idle_secs: Option<u64>,
    pub body_secs: Option<u64>,
    pub drain_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    pub level: Option<String>,
}

/// Which cores to run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreSet {
    All,
    List(Vec<usize>),
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub cores: CoreSet,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub require_tls: bool,
    pub allow_plain_http: bool,
    pub log_filter: String,
    pub limits: cairn_http::proto::HeadLimits,
    pub max_connections_per_core: usize,
    pub timeouts: cairn_http::server::Timeouts,
    pub drain_timeout: Duration,
    /// The regions clients may sign for and create buckets in, each once; the first is the
    /// default (where a bucket created without a LocationConstraint goes).
    pub regions: Vec<String>,
    pub domains: Vec<String>,
    pub auth: AuthConfig,
    /// The admin API's Unix socket.
    pub admin_socket: PathBuf,
}

impl Config {
    /// Reads the config file (if any) and merges flags and environment over it.
    pub fn resolve(args: ServeArgs) -> Result<Config, StartupError> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let listen_text = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = parse_listen(&listen_text)?;
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .or_else(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let cores = match (args.cores, file.cores) {
            (Some(text), _) | (None, Some(CoresValue::Text(text))) => parse_cores(&text)?,
            (None, Some(CoresValue::List(list))) => {
                if list.is_empty() {
                    return Err(StartupError::Config(
                        "cores must name at least one core".into(),
                    ));
                }
                CoreSet::List(list)
            }
            (None, None) => CoreSet::All,
        };
        let tls = match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => file.tls.map(|t| (t.cert, t.key)),
        };
        let defaults = cairn_http::server::ServerConfig::default();
        let limits = resolve_limits(&file.limits, &defaults)?;
        let timeouts = resolve_timeouts(&file.timeouts, &defaults)?;
        let drain_timeout = match args.drain_timeout {
            Some(s) => Duration::from_secs(s),
            None => secs(
                file.timeouts.drain_secs,
                defaults.drain_timeout,
                "drain_secs",
            )?,
        };
        let max_connections_per_core = file
            .limits
            .max_connections_per_core
            .unwrap_or(defaults.max_connections_per_core)
            .max(1);
        let regions = resolve_regions(args.region, file.region, file.regions)?;
        let auth = resolve_auth(file.auth)?;
        let admin_socket = std::env::var_os("CAIRN_ADMIN_SOCKET")
            .map(PathBuf::from)
            .or(file.admin_socket)
            .unwrap_or_else(|| data_dir.join(ADMIN_SOCKET_FILE));
        Ok(Config {
            regions,
            domains: file.domains.unwrap_or_default(),
            auth,
            admin_socket,
            listen,
            data_dir,
            cores,
            tls,
            require_tls: args.require_tls.or(file.require_tls).unwrap_or(false),
            allow_plain_http: args
                .allow_plain_http
                .or(file.allow_plain_http)
                .unwrap_or(false),
            log_filter: args
                .log_level
                .or(file.log.level)
                .unwrap_or_else(|| "info".to_owned()),
            limits,
            max_connections_per_core,
            timeouts,
            drain_timeout,
        })
    }
}

/// `[limits]` over the HTTP server's defaults, checked.
fn resolve_limits(
    file: &LimitsFile,
    defaults: &cairn_http::server::ServerConfig,
) -> Result<cairn_http::proto::HeadLimits, StartupError> {
    let limits = cairn_http::proto::HeadLimits {
        max_head_bytes: file
            .max_head_bytes
            .unwrap_or(defaults.limits.max_head_bytes),
        max_headers: file.max_headers.unwrap_or(defaults.limits.max_headers),
        max_uri_bytes: file.max_uri_bytes.unwrap_or(defaults.limits.max_uri_bytes),
    };
    if limits.max_headers == 0 || limits.max_headers > cairn_http::proto::MAX_HEADERS_CAP {
        return Err(StartupError::Config(format!(
            "limits.max_headers must be between 1 and {}",
            cairn_http::proto::MAX_HEADERS_CAP
        )));
    }
    if limits.max_head_bytes < 1024 || limits.max_uri_bytes < 256 {
        return Err(StartupError::Config(
            "limits.max_head_bytes must be at least 1024 and limits.max_uri_bytes at least 256"
                .into(),
        ));
    }
    Ok(limits)
}

/// A `timeouts.*_secs` value: at least 1, else the default.
fn secs(value: Option<u64>, default: Duration, name: &str) -> Result<Duration, StartupError> {
    match value {
        Some(0) => Err(StartupError::Config(format!(
            "timeouts.{name} must be at least 1"
        ))),
        Some(s) => Ok(Duration::from_secs(s)),
        None => Ok(default),
    }
}

/// `[timeouts]` over the HTTP server's defaults.
fn resolve_timeouts(
    file: &TimeoutsFile,
    defaults: &cairn_http::server::ServerConfig,
) -> Result<cairn_http::server::Timeouts, StartupError> {
    Ok(cairn_http::server::Timeouts {
        head: secs(file.head_secs, defaults.timeouts.head, "head_secs")?,
        idle: secs(file.idle_secs, defaults.timeouts.idle, "idle_secs")?,
        body: secs(file.body_secs, defaults.timeouts.body, "body_secs")?,
    })
}

/// The region list: `--region`/`CAIRN_REGION` (comma-separated) over the file's `region` or
/// `regions` (not both), else us-east-1; checked.
fn resolve_regions(
    flag: Option<String>,
    file_region: Option<String>,
    file_regions: Option<Vec<String>>,
) -> Result<Vec<String>, StartupError> {
    let from_file = match (file_region, file_regions) {
        (Some(_), Some(_)) => {
            return Err(StartupError::Config(
                "set either region or regions in the config file, not both".into(),
            ))
        }
        (Some(region), None) => Some(vec![region]),
        (None, regions) => regions,
    };
    let regions = match flag {
        Some(list) => list.split(',').map(|r| r.trim().to_owned()).collect(),
        None => from_file.unwrap_or_else(|| vec![DEFAULT_REGION.to_owned()]),
    };
    check_regions(&regions)?;
    Ok(regions)
}

/// At least one region; each of lower-case letters, digits and '-', and named once.
fn check_regions(regions: &[String]) -> Result<(), StartupError> {
    if regions.is_empty() {
        return Err(StartupError::Config(
            "regions must name at least one region".into(),
        ));
    }
    for (i, region) in regions.iter().enumerate() {
        let valid = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(StartupError::Config(format!(
                "invalid region {region:?}: use lower-case letters, digits and '-', e.g. us-east-1"
            )));
        }
        if regions[..i].contains(region) {
            return Err(StartupError::Config(format!(
                "region {region} is configured twice"
            )));
        }
    }
    Ok(())
}

fn load_file(path: &Path) -> Result<FileConfig, StartupError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StartupError::Config(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        StartupError::Config(format!(
            "the config file {} is invalid: {}",
            path.display(),
            describe_toml_error(&text, &e)
        ))
    })
}

/// A TOML error for the log, never quoting a secret: toml's messages quote the offending value
/// ("invalid type: integer `…`"), so an error on a line that names a secret says only where
/// it is.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_owned();
    };
    let start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let end = text[span.end.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i);
    let line = text[..start].matches('\n').count() + 1;
    if text[start..end].to_ascii_lowercase().contains("secret") {
        format!("line {line}: this value is not valid here (not shown: the line holds a secret)")
    } else {
        format!("line {line}: {}", e.message())
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr, StartupError> {
    let invalid = || {
        StartupError::Config(format!(
            "invalid listen address {text:?}: expected ADDR:PORT, e.g. 127.0.0.1:9000"
        ))
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .map_err(|_| invalid())?
        .next()
        .ok_or_else(invalid)
}

/// Parses "all" or a list like "0,2-3".
pub fn parse_cores(text: &str) -> Result<CoreSet, StartupError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok(CoreSet::All);
    }
    let invalid = || {
        StartupError::Config(format!(
            "invalid core list {text:?}: expected \"all\" or a list such as \"0,2-3\""
        ))
    };
    let mut cores = Vec::new();
    for part in text.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.trim().parse().map_err(|_| invalid())?;
                let b: usize = b.trim().parse().map_err(|_| invalid())?;
                if a > b {
                    return Err(invalid());
                }
                cores.extend(a..=b);
            }
            None => cores.push(part.parse().map_err(|_| invalid())?),
        }
    }
    cores.sort_unstable();
    cores.dedup();
    if cores.is_empty() {
        return Err(invalid());
    }
    Ok(CoreSet::List(cores))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_lists() {
        assert_eq!(parse_cores("all").unwrap(), CoreSet::All);
        assert_eq!(parse_cores("0,2-3").unwrap(), CoreSet::List(vec![0, 2, 3]));
        assert_eq!(parse_cores(" 1 , 1 ").unwrap(), CoreSet::List(vec![1]));
        assert!(parse_cores("3-1").is_err());
        assert!(parse_cores("x").is_err());
        assert!(parse_cores("").is_err());
    }

    #[test]
    fn defaults_and_precedence() {
        let config = Config::resolve(ServeArgs::default()).unwrap();
        assert_eq!(config.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(config.cores, CoreSet::All);
        assert!(!config.require_tls);

        let dir = std::env::temp_dir().join(format!("cairn-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cairn.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9100\"\ndata_dir = \"/srv/cairn\"\ncores = [1]\n[timeouts]\nidle_secs = 5\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            listen: Some("127.0.0.1:9200".into()),
            ..ServeArgs::default()
        };
        let config = Config::resolve(args).unwrap();
        assert_eq!(config.listen.port(), 9200, "flag wins over file");
        assert_eq!(config.data_dir, PathBuf::from("/srv/cairn"));
        assert_eq!(config.cores, CoreSet::List(vec![1]));
        assert_eq!(config.timeouts.idle, Duration::from_secs(5));

        std::fs::write(&file, "listen = \"127.0.0.1:9100\"\nunknown_key = 1\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file.clone()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("unknown_key"), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");

        // A value that holds a secret is never quoted back.
        std::fs::write(
            &file,
            "[[auth.keys]]\naccess_key_id = \"AKID\"\nsecret_access_key = 987654321987654321\n",
        )
        .unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file.clone()),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(!err.contains("987654321987654321"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_region_and_domains() {
        let dir = std::env::temp_dir().join(format!("cairn-keys-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cairn.toml");
        let resolve = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Config::resolve(ServeArgs {
                config: Some(file.clone()),
                ..ServeArgs::default()
            })
        };
        let config = resolve(
            "region = \"eu-west-3\"\ndomains = [\"s3.example.com\"]\n\
             [[auth.keys]]\naccess_key_id = \"AKIDALICE\"\nsecret_access_key = \"alice-secret\"\nowner_id = \"alice\"\n\
             [[auth.keys]]\naccess_key_id = \"AKIDBOB\"\nsecret_access_key = \"bob-secret\"\n",
        )
        .unwrap();
        assert_eq!(config.regions, ["eu-west-3"]);
        assert_eq!(config.domains, ["s3.example.com"]);
        let keys = &config.auth.imported;
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].owner_id, "alice");
        // Without owner_id each key is its own user, with a stable id.
        assert_eq!(keys[1].owner_id.len(), 64);
        assert_ne!(keys[0].owner_id, keys[1].owner_id);
        assert_eq!(config.auth.mode, crate::auth_config::AuthMode::Keys);

        for bad in [
            "region = \"US East\"\n",
            "[[auth.keys]]\naccess_key_id = \"A K\"\nsecret_access_key = \"long-enough\"\n",
            "[[auth.keys]]\naccess_key_id = \"AKID\"\nsecret_access_key = \"short\"\n",
            "[[auth.keys]]\naccess_key_id = \"AKID\"\nsecret_access_key = \"long-enough\"\n\
             [[auth.keys]]\naccess_key_id = \"AKID\"\nsecret_access_key = \"long-enough2\"\n",
            "[auth]\nmode = \"open\"\n",
            "[auth]\nkey_id_prefix = \"akia\"\n",
            "[auth]\nlast_used_secs = 0\n",
        ] {
            assert!(resolve(bad).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn region_lists() {
        let dir = std::env::temp_dir().join(format!("cairn-regions-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cairn.toml");
        let resolve = |text: &str, flag: Option<&str>| {
            std::fs::write(&file, text).unwrap();
            Config::resolve(ServeArgs {
                config: Some(file.clone()),
                region: flag.map(str::to_owned),
                ..ServeArgs::default()
            })
        };
        let regions = |text: &str, flag: Option<&str>| resolve(text, flag).unwrap().regions;
        assert_eq!(regions("", None), [DEFAULT_REGION]);
        assert_eq!(
            regions(
                "regions = [\"ap-southeast-1-bkk\", \"ap-southeast-1-sg\"]\n",
                None
            ),
            ["ap-southeast-1-bkk", "ap-southeast-1-sg"]
        );
        assert_eq!(regions("region = \"eu-west-3\"\n", None), ["eu-west-3"]);
        // The flag (and CAIRN_REGION) is a comma-separated list that wins over the file.
        assert_eq!(
            regions(
                "region = \"eu-west-3\"\n",
                Some("ap-southeast-1-bkk, ap-southeast-1-sg")
            ),
            ["ap-southeast-1-bkk", "ap-southeast-1-sg"]
        );
        assert_eq!(regions("", Some("us-west-2")), ["us-west-2"]);

        let both = resolve("region = \"a\"\nregions = [\"b\"]\n", None).unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");
        let twice = resolve("regions = [\"a-1\", \"b-1\", \"a-1\"]\n", None).unwrap_err();
        assert!(
            twice.to_string().contains("a-1 is configured twice"),
            "{twice}"
        );
        for (text, flag) in [
            ("regions = []\n", None),
            ("regions = [\"\"]\n", None),
            ("regions = [\"us-east-1\", \"EU\"]\n", None),
            ("region = \"a,b\"\n", None),
            ("", Some("")),
            ("", Some("a,,b")),
            ("", Some("a,")),
            ("", Some("a,a")),
            ("", Some("us east 1")),
        ] {
            assert!(resolve(text, flag).is_err(), "{text:?} {flag:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_region_flag_is_one_value() {
        use clap::Parser;
        let cli =
            crate::cli::Cli::try_parse_from(["cairnd", "serve", "--region", "a-1,b-2"]).unwrap();
        let crate::cli::Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.region.as_deref(), Some("a-1,b-2"));
    }

    #[test]
    fn example_config_is_valid_and_complete() {
        let example: FileConfig = toml::from_str(include_str!("../../systemd/cairn.toml")).unwrap();
        assert_eq!(example.listen.as_deref(), Some(DEFAULT_LISTEN));
        assert!(example.limits.max_head_bytes.is_some() && example.timeouts.drain_secs.is_some());
        assert!(example.log.level.is_some());
        assert_eq!(example.auth.mode.as_deref(), Some("keys"));
        assert!(example.admin_socket.is_some() && example.auth.key_id_prefix.is_some());
        assert_eq!(example.regions, Some(vec![DEFAULT_REGION.to_owned()]));
    }

    #[test]
    fn bad_listen() {
        let args = ServeArgs {
            listen: Some("not an address".into()),
            ..ServeArgs::default()
        };
        assert!(Config::resolve(args)
            .unwrap_err()
            .to_string()
            .contains("invalid listen address"));
    }
}
