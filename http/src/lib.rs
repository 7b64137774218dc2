//! Cairn's HTTP/1.1.
pub mod proto;
