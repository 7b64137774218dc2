//! Integration tests against the real `cairnd` binary, one module per area.

mod lifecycle;
mod raw_http;
mod tls;
