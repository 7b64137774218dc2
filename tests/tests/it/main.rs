//! Integration tests against the real `cairnd` binary, one module per area.

mod admin_cli;
mod buckets;
mod ca;
mod keys;
mod keys_setup;
mod keys_startup;
mod large;
mod lifecycle;
mod listing;
mod multipart;
mod objects;
mod presigned;
mod raw_http;
mod regions;
mod s3_errors;
mod s3_errors_bodies;
mod sdk;
mod security_auth;
mod security_s3;
mod tls;
mod virtual_host;
