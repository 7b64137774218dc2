//! The command line: `cairnd serve` and its options, each also settable from the
//! environment. Precedence: flag, then environment, then config file, then default.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cairnd",
    version,
    about = "Cairn: an S3-compatible object storage daemon (thread-per-core, io_uring, inline SigV4).",
    long_about = None,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the S3 API until SIGTERM or SIGINT (which drain in-flight requests first).
    ///
    /// With no options it listens on 127.0.0.1:9000 with its data in ./cairn-data, on all
    /// cores. SIGHUP reloads the TLS certificate and key without dropping connections.
    Serve(ServeArgs),
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML configuration file (see systemd/cairn.toml for every key).
    #[arg(short, long, value_name = "FILE", env = "CAIRN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on; port 0 picks a free port (logged at start-up).
    /// [default: 127.0.0.1:9000]
    #[arg(short, long, value_name = "ADDR:PORT", env = "CAIRN_LISTEN")]
    pub listen: Option<String>,

    /// Directory for object data and metadata; created if missing.
    /// [default: $STATE_DIRECTORY under systemd, else ./cairn-data]
    #[arg(short, long, value_name = "DIR", env = "CAIRN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// CPU cores to run on, one pinned executor each: "all", or a list such as "0,2-3".
    /// [default: all]
    #[arg(long, value_name = "LIST", env = "CAIRN_CORES")]
    pub cores: Option<String>,

    /// PEM certificate chain for TLS (needs --tls-key). Reloaded on SIGHUP.
    #[arg(
        long,
        value_name = "FILE",
        env = "CAIRN_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for TLS (needs --tls-cert). Reloaded on SIGHUP.
    #[arg(
        long,
        value_name = "FILE",
        env = "CAIRN_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Refuse plain-HTTP requests: only TLS is served.
    #[arg(long, env = "CAIRN_REQUIRE_TLS", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub require_tls: Option<bool>,

    /// Allow plain HTTP on a non-loopback address (refused unless asked for: credentials
    /// and data would cross the network unencrypted).
    #[arg(long, env = "CAIRN_ALLOW_PLAIN_HTTP", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub allow_plain_http: Option<bool>,

    /// Log filter: a level (error, warn, info, debug, trace) or per-target directives such
    /// as "info,cairn_http=debug". [default: info]
    #[arg(long, value_name = "FILTER", env = "CAIRN_LOG")]
    pub log_level: Option<String>,

    /// The regions clients sign requests for and create buckets in, comma-separated; the
    /// first is the default (buckets created without a LocationConstraint go there).
    /// [default: us-east-1]
    #[arg(long, value_name = "REGION[,REGION...]", env = "CAIRN_REGION")]
    pub region: Option<String>,

    /// Seconds a drain waits for in-flight requests before closing them. [default: 30]
    #[arg(long, value_name = "SECS", env = "CAIRN_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<u64>,
}
