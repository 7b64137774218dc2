//! The command line: `cairnd serve` and its options, each also settable from the
//! environment (precedence: flag, then environment, then config file, then default), and the
//! admin commands (`user`, `key`, `grant`, `ungrant`, `master-key`), which talk to the running
//! daemon's admin socket or, while it is stopped, work on its data directory.

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
    /// Manage users: create, list, show, delete.
    User(UserArgs),
    /// Manage access keys: create, list, show, revoke, activate, delete.
    Key(KeyArgs),
    /// Grant a user read, write or owner permission on a bucket.
    Grant(GrantArgs),
    /// Remove a user's grant on a bucket.
    Ungrant(UngrantArgs),
    /// Rotate the master key that seals the secrets at rest.
    MasterKey(MasterKeyArgs),
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

/// Options every admin command takes: where the daemon's configuration, data directory and
/// admin socket are, and how to print the answer.
#[derive(Debug, Args, Clone, Default)]
pub struct AdminOptions {
    /// The daemon's TOML configuration file (names the data directory, the admin socket and
    /// the master key).
    #[arg(short, long, value_name = "FILE", env = "CAIRN_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// The daemon's data directory, worked on directly while cairnd is stopped.
    /// [default: as for `cairnd serve`]
    #[arg(short, long, value_name = "DIR", env = "CAIRN_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// The running daemon's admin socket.
    /// [default: admin_socket in the config file, else <DIR>/admin.sock]
    #[arg(long, value_name = "PATH", env = "CAIRN_ADMIN_SOCKET", global = true)]
    pub socket: Option<PathBuf>,

    /// Print the admin API's JSON answer as it is, for scripts.
    #[arg(long, global = true)]
    pub json: bool,

    /// Say on stderr whether the running daemon or the data directory answered.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
    #[command(flatten)]
    pub options: AdminOptions,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// Letters, digits and _+=,.@- (at most 64).
        name: String,
        /// Make the user an administrator (every bucket, every operation).
        #[arg(long)]
        admin: bool,
    },
    /// List the users.
    List,
    /// Show a user: its keys, the buckets it owns and its grants.
    Show { name: String },
    /// Delete a user (refused while it owns a bucket, has an active key, or is the last
    /// administrator).
    Delete { name: String },
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
    #[command(flatten)]
    pub options: AdminOptions,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an access key for a user; its secret is printed once and never again.
    Create {
        /// The user the key acts for.
        #[arg(long)]
        user: String,
        /// A name to tell the user's keys apart. [default: default]
        #[arg(long)]
        name: Option<String>,
        /// When the key stops working: a date (2027-01-31), a UTC time
        /// (2027-01-31T12:00:00Z) or a span from now (90d, 12h, 30m).
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
    },
    /// List the access keys (never their secrets).
    List {
        /// Only this user's keys.
        #[arg(long)]
        user: Option<String>,
    },
    /// Show an access key.
    Show { id: String },
    /// Revoke an access key: requests signed with it are refused until it is activated.
    Revoke { id: String },
    /// Activate a revoked access key again.
    Activate { id: String },
    /// Delete a revoked access key for good (its secret is erased).
    Delete { id: String },
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The user to grant the permission to.
    #[arg(long)]
    pub user: String,
    /// The bucket.
    #[arg(long)]
    pub bucket: String,
    /// read: list and read objects; write: also write and delete them; owner: everything
    /// the bucket's owner may do.
    #[arg(long, value_parser = ["read", "write", "owner"])]
    pub permission: String,
    #[command(flatten)]
    pub options: AdminOptions,
}

#[derive(Debug, Args)]
pub struct UngrantArgs {
    /// The user whose grant goes.
    #[arg(long)]
    pub user: String,
    /// The bucket.
    #[arg(long)]
    pub bucket: String,
    #[command(flatten)]
    pub options: AdminOptions,
}

#[derive(Debug, Args)]
pub struct MasterKeyArgs {
    #[command(subcommand)]
    pub command: MasterKeyCommand,
    #[command(flatten)]
    pub options: AdminOptions,
}

#[derive(Debug, Subcommand)]
pub enum MasterKeyCommand {
    /// Re-seal every secret under a new master key, which replaces the current key file
    /// (the old key stops working).
    Rotate {
        /// Write the new key here instead (it must not exist yet); needed when the key
        /// comes from systemd's credential directory, which cairnd cannot replace.
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
}
