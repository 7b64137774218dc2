//! The admin API: JSON requests and answers over the key store. The daemon serves it on its
//! Unix socket, the CLI runs it in-process on a stopped daemon's data directory, and the key
//! console calls it; all three go through [`handle`].
//!
//! | Method and path                | Body                                   | Answer          |
//! |--------------------------------|----------------------------------------|-----------------|
//! | `GET /v1/users`                |                                        | `[user]`        |
//! | `POST /v1/users`               | `{"name", "admin"?}`                   | 201 `user`      |
//! | `GET /v1/users/{name}`         |                                        | `user`          |
//! | `DELETE /v1/users/{name}`      |                                        | 204             |
//! | `GET /v1/keys[?user=U]`        |                                        | `[key]`         |
//! | `POST /v1/keys`                | `{"user", "name"?, "expires"?}`        | 201 key+secret  |
//! | `GET /v1/keys/{id}`            |                                        | `key`           |
//! | `POST /v1/keys/{id}/revoke`    |                                        | `key`           |
//! | `POST /v1/keys/{id}/activate`  |                                        | `key`           |
//! | `DELETE /v1/keys/{id}`         |                                        | `key` (deleted) |
//! | `GET /v1/grants[?user=U]`      |                                        | `[grant]`       |
//! | `PUT /v1/grants`               | `{"user", "bucket", "permission"}`     | `grant`         |
//! | `DELETE /v1/grants?user=U&bucket=B` |                                   | 204             |
//! | `POST /v1/master-key/rotate`   | `{"new_key_file"?}`                    | `rotated`       |
//!
//! Errors answer `{"error": {"code", "message"}}` with 400, 404, 409 or 500.

use std::path::PathBuf;

use cairn_storage::BucketInfo;
use serde::Deserialize;

use crate::error::IamError;
use crate::model::{now_secs, parse_expiry, KeyState, Permission};
use crate::store::Iam;

/// The largest request body the admin API reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An admin request.
#[derive(Debug, Clone, Copy)]
pub struct AdminRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: &'a str,
    pub body: &'a [u8],
}

/// An admin answer: a status and a JSON body (empty for 204).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Where the admin API reads the buckets (ownership, grants): the running engine, or a
/// stopped daemon's metadata store.
pub trait Buckets {
    fn buckets(&self) -> Result<Vec<BucketInfo>, IamError>;
}

impl<F: Fn() -> Result<Vec<BucketInfo>, IamError>> Buckets for F {
    fn buckets(&self) -> Result<Vec<BucketInfo>, IamError> {
        self()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    #[serde(default)]
    admin: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyRequest {
    user: String,
    name: Option<String>,
    expires: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    user: String,
    bucket: String,
    permission: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    new_key_file: Option<PathBuf>,
}

fn ok<T: serde::Serialize>(status: u16, value: &T) -> Result<AdminResponse, IamError> {
    Ok(AdminResponse {
        status,
        body: serde_json::to_vec_pretty(value).expect("views serialise"),
    })
}

fn no_content() -> Result<AdminResponse, IamError> {
    Ok(AdminResponse {
        status: 204,
        body: Vec::new(),
    })
}

fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, IamError> {
    serde_json::from_slice(body).map_err(|e| IamError::Invalid(format!("invalid JSON body: {e}")))
}

/// The decoded value of query parameter `name`.
fn query_param(query: &str, name: &str) -> Result<Option<String>, IamError> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            return percent_decode(v)
                .map(Some)
                .ok_or_else(|| IamError::Invalid(format!("query parameter {name} is malformed")));
        }
    }
    Ok(None)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn find_bucket(buckets: &dyn Buckets, name: &str) -> Result<BucketInfo, IamError> {
    buckets
        .buckets()?
        .into_iter()
        .find(|b| b.name == name)
        .ok_or_else(|| IamError::NoSuchBucket(name.to_owned()))
}

/// Answers one admin request.
pub fn handle(iam: &Iam, buckets: &dyn Buckets, request: &AdminRequest<'_>) -> AdminResponse {
    match route(iam, buckets, request) {
        Ok(response) => response,
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(path = request.path, "admin API: {e}");
            }
            let body = serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}});
            AdminResponse {
                status: e.status(),
                body: serde_json::to_vec_pretty(&body).expect("json"),
            }
        }
    }
}

fn route(
    iam: &Iam,
    buckets: &dyn Buckets,
    request: &AdminRequest<'_>,
) -> Result<AdminResponse, IamError> {
    let segments: Vec<&str> = request
        .path
        .strip_prefix("/v1/")
        .ok_or_else(|| not_found(request.path))?
        .split('/')
        .collect();
    let query = request.query;
    match (request.method, segments.as_slice()) {
        ("GET", ["users"]) => ok(200, &iam.users()),
        ("POST", ["users"]) => {
            let new: NewUser = parse_body(request.body)?;
            ok(201, &iam.create_user(&new.name, new.admin)?)
        }
        ("GET", ["users", name]) => ok(200, &iam.user(name, &buckets.buckets()?)?),
        ("DELETE", ["users", name]) => {
            iam.delete_user(name, &buckets.buckets()?)?;
            no_content()
        }
        ("GET", ["keys"]) => ok(200, &iam.keys(query_param(query, "user")?.as_deref())?),
        ("POST", ["keys"]) => {
            let new: NewKeyRequest = parse_body(request.body)?;
            let expires = match new.expires.as_deref() {
                Some(text) => Some(parse_expiry(text, now_secs()).ok_or_else(|| {
                    IamError::Invalid(format!(
                        "expiry {text:?} is invalid: use a date (2027-01-31), a UTC time (2027-01-31T12:00:00Z) or a span (90d, 12h)"
                    ))
                })?),
                None => None,
            };
            ok(
                201,
                &iam.create_key(&new.user, new.name.as_deref(), expires)?,
            )
        }
        ("GET", ["keys", id]) => ok(200, &iam.key(id)?),
        ("POST", ["keys", id, "revoke"]) => ok(200, &iam.set_key_state(id, KeyState::Revoked)?),
        ("POST", ["keys", id, "activate"]) => ok(200, &iam.set_key_state(id, KeyState::Active)?),
        ("DELETE", ["keys", id]) => ok(200, &iam.set_key_state(id, KeyState::Deleted)?),
        ("GET", ["grants"]) => ok(200, &iam.grants(query_param(query, "user")?.as_deref())?),
        ("PUT", ["grants"]) => {
            let grant: GrantRequest = parse_body(request.body)?;
            let permission = Permission::parse(&grant.permission).ok_or_else(|| {
                IamError::Invalid(format!(
                    "permission {:?} is invalid: use read, write or owner",
                    grant.permission
                ))
            })?;
            let bucket = find_bucket(buckets, &grant.bucket)?;
            ok(200, &iam.grant(&grant.user, &bucket, permission)?)
        }
        ("DELETE", ["grants"]) => {
            let need = |name| {
                query_param(query, name)?
                    .ok_or_else(|| IamError::Invalid(format!("query parameter {name} is missing")))
            };
            iam.ungrant(&need("user")?, &need("bucket")?)?;
            no_content()
        }
        ("POST", ["master-key", "rotate"]) => {
            let rotate: RotateRequest = if request.body.is_empty() {
                RotateRequest::default()
            } else {
                parse_body(request.body)?
            };
            ok(200, &iam.rotate_master_key(rotate.new_key_file.as_deref())?)
        }
        _ => Err(not_found(request.path)),
    }
}

fn not_found(path: &str) -> IamError {
    IamError::Invalid(format!("no admin API operation at {path} with this method"))
}
