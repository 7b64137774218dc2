//! Cairn's HTTP/1.1: a pure protocol core ([`proto`]) and a thread-per-core server on glommio
//! ([`server`]). It knows nothing of S3.

pub mod proto;
pub mod rlimit;
pub mod server;
pub mod stream;
