//! The admin commands (`cairnd user|key|grant|ungrant|master-key`): each is one admin API
//! request (the table in `cairn_iam::admin`), sent through a [`Session`] to the running
//! daemon or the stopped daemon's data directory, and its answer printed as a table, or with
//! `--json` as it is.

use cairn_iam::admin::{AdminRequest, AdminResponse};
use cairn_iam::{GrantView, KeyView, NewKey, UserView};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::admin_client::{AdminError, Session};
use crate::cli::{
    AdminOptions, GrantArgs, KeyArgs, KeyCommand, MasterKeyArgs, MasterKeyCommand, UngrantArgs,
    UserArgs, UserCommand,
};

/// One admin API request and how to print its answer.
#[derive(Debug)]
struct Call {
    method: &'static str,
    path: String,
    query: String,
    body: Vec<u8>,
    show: Show,
}

/// How an answer is printed without `--json`.
#[derive(Debug)]
enum Show {
    User,
    Users,
    Key,
    Keys,
    NewKey,
    Grant,
    Rotated,
    /// A sentence for an answer without a body.
    Done(String),
}

impl Call {
    fn new(method: &'static str, path: String, show: Show) -> Call {
        Call {
            method,
            path,
            query: String::new(),
            body: Vec::new(),
            show,
        }
    }

    fn query(mut self, pairs: &[(&str, &str)]) -> Call {
        self.query = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
            .collect::<Vec<_>>()
            .join("&");
        self
    }

    fn body(mut self, value: serde_json::Value) -> Call {
        self.body = value.to_string().into_bytes();
        self
    }
}

pub fn user(args: UserArgs) -> Result<(), AdminError> {
    let call = match args.command {
        UserCommand::Create { name, admin } => Call::new("POST", "/v1/users".into(), Show::User)
            .body(serde_json::json!({"name": name, "admin": admin})),
        UserCommand::List => Call::new("GET", "/v1/users".into(), Show::Users),
        UserCommand::Show { name } => Call::new("GET", user_path(&name), Show::User),
        UserCommand::Delete { name } => Call::new(
            "DELETE",
            user_path(&name),
            Show::Done(format!("deleted user {name}")),
        ),
    };
    run(&call, &args.options)
}

pub fn key(args: KeyArgs) -> Result<(), AdminError> {
    let call = match args.command {
        KeyCommand::Create {
            user,
            name,
            expires,
        } => Call::new("POST", "/v1/keys".into(), Show::NewKey)
            .body(serde_json::json!({"user": user, "name": name, "expires": expires})),
        KeyCommand::List { user: Some(user) } => {
            Call::new("GET", "/v1/keys".into(), Show::Keys).query(&[("user", &user)])
        }
        KeyCommand::List { user: None } => Call::new("GET", "/v1/keys".into(), Show::Keys),
        KeyCommand::Show { id } => Call::new("GET", key_path(&id, ""), Show::Key),
        KeyCommand::Revoke { id } => Call::new("POST", key_path(&id, "/revoke"), Show::Key),
        KeyCommand::Activate { id } => Call::new("POST", key_path(&id, "/activate"), Show::Key),
        KeyCommand::Delete { id } => Call::new("DELETE", key_path(&id, ""), Show::Key),
    };
    run(&call, &args.options)
}

pub fn grant(args: GrantArgs) -> Result<(), AdminError> {
    let call = Call::new("PUT", "/v1/grants".into(), Show::Grant).body(serde_json::json!({
        "user": args.user,
        "bucket": args.bucket,
        "permission": args.permission,
    }));
    run(&call, &args.options)
}

pub fn ungrant(args: UngrantArgs) -> Result<(), AdminError> {
    let done = format!(
        "removed the grant of user {} on bucket {}",
        args.user, args.bucket
    );
    let call = Call::new("DELETE", "/v1/grants".into(), Show::Done(done))
        .query(&[("user", &args.user), ("bucket", &args.bucket)]);
    run(&call, &args.options)
}

pub fn master_key(args: MasterKeyArgs) -> Result<(), AdminError> {
    let MasterKeyCommand::Rotate { new_key_file } = args.command;
    // The daemon runs elsewhere than here: a relative path means one from here.
    let new_key_file = match new_key_file {
        Some(path) => Some(std::path::absolute(&path).map_err(|e| {
            AdminError::Config(crate::startup::StartupError::Config(format!(
                "the new key file {} cannot be made absolute: {e}",
                path.display()
            )))
        })?),
        None => None,
    };
    let call = Call::new("POST", "/v1/master-key/rotate".into(), Show::Rotated)
        .body(serde_json::json!({ "new_key_file": new_key_file }));
    run(&call, &args.options)
}

/// Sends `call` and prints its answer.
fn run(call: &Call, options: &AdminOptions) -> Result<(), AdminError> {
    let session = Session::open(options)?;
    let response = session.call(&AdminRequest {
        method: call.method,
        path: &call.path,
        query: &call.query,
        body: &call.body,
    })?;
    drop(session);
    let response = refused(response)?;
    if options.json {
        let text = String::from_utf8_lossy(&response.body);
        if !text.is_empty() {
            println!("{}", text.trim_end());
        }
        return Ok(());
    }
    print!("{}", render(&call.show, &response.body)?);
    Ok(())
}

/// The admin API's error, for an answer that is one.
fn refused(response: AdminResponse) -> Result<AdminResponse, AdminError> {
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    #[derive(Deserialize)]
    struct Body {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        code: String,
        message: String,
    }
    match serde_json::from_slice::<Body>(&response.body) {
        Ok(body) => Err(AdminError::Api {
            status: response.status,
            code: body.error.code,
            message: body.error.message,
        }),
        Err(_) => Err(AdminError::Response(format!(
            "it is status {} without an error message",
            response.status
        ))),
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| AdminError::Response(e.to_string()))
}

/// What the new master key rotation answers.
#[derive(Deserialize)]
struct Rotated {
    secrets: usize,
    key_file: std::path::PathBuf,
    in_place: bool,
}

/// The answer as text for people.
fn render(show: &Show, body: &[u8]) -> Result<String, AdminError> {
    Ok(match show {
        Show::User => user_fields(&decode::<UserView>(body)?),
        Show::Users => users_table(&decode::<Vec<UserView>>(body)?),
        Show::Key => keys_table(&[decode::<KeyView>(body)?]),
        Show::Keys => keys_table(&decode::<Vec<KeyView>>(body)?),
        Show::NewKey => new_key_fields(&decode::<NewKey>(body)?),
        Show::Grant => {
            let grant: GrantView = decode(body)?;
            format!(
                "user {} may now {} on bucket {}\n",
                grant.user,
                match grant.permission {
                    cairn_iam::Permission::Read => "read",
                    cairn_iam::Permission::Write => "read and write",
                    cairn_iam::Permission::Owner => "do everything the owner may",
                },
                grant.bucket
            )
        }
        Show::Rotated => {
            let rotated: Rotated = decode(body)?;
            let mut text = format!(
                "re-sealed {} secrets under a new master key, in {}\n",
                rotated.secrets,
                rotated.key_file.display()
            );
            if !rotated.in_place {
                text.push_str(&format!(
                    "point auth.master_key_file (or the systemd credential) at {} before cairnd starts again: the old key no longer opens the key store\n",
                    rotated.key_file.display()
                ));
            }
            text
        }
        Show::Done(sentence) => format!("{sentence}\n"),
    })
}

fn dash(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => "-".to_owned(),
    }
}

fn list_or_dash(items: &[String]) -> String {
    dash(Some(&items.join(", ")))
}

/// Rows under headers, each column as wide as its widest cell, two spaces apart, with no
/// trailing spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Labelled lines, the values aligned.
fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:width$}  {v}\n"))
        .collect()
}

pub fn keys_table(keys: &[KeyView]) -> String {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                k.user.clone(),
                dash(Some(&k.name)),
                k.state.as_str().to_owned(),
                k.created.clone(),
                dash(k.last_used.as_deref()),
                dash(k.expires.as_deref()),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "USER",
            "NAME",
            "STATE",
            "CREATED",
            "LAST USED",
            "EXPIRES",
        ],
        &rows,
    )
}

fn users_table(users: &[UserView]) -> String {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.name.clone(),
                if u.admin { "yes" } else { "no" }.to_owned(),
                u.keys.len().to_string(),
                u.grants.len().to_string(),
                u.created.clone(),
            ]
        })
        .collect();
    table(&["NAME", "ADMIN", "KEYS", "GRANTS", "CREATED"], &rows)
}

fn user_fields(user: &UserView) -> String {
    let grants: Vec<String> = user
        .grants
        .iter()
        .map(|g| format!("{} ({})", g.bucket, g.permission.as_str()))
        .collect();
    fields(&[
        ("Name", user.name.clone()),
        ("ID", user.id.clone()),
        (
            "Administrator",
            if user.admin { "yes" } else { "no" }.into(),
        ),
        ("Created", user.created.clone()),
        ("Keys", list_or_dash(&user.keys)),
        ("Buckets", list_or_dash(&user.buckets)),
        ("Grants", list_or_dash(&grants)),
    ])
}

fn new_key_fields(new: &NewKey) -> String {
    let mut text = fields(&[
        ("Access key ID", new.key.id.clone()),
        ("Secret access key", new.secret.clone()),
        ("User", new.key.user.clone()),
        ("Name", new.key.name.clone()),
        ("Expires", dash(new.key.expires.as_deref())),
    ]);
    text.push_str("The secret cannot be shown again: store it now.\n");
    text
}

/// `/v1/users/{name}`. The admin API matches path segments as they are, so a character that
/// no user name has is escaped (and then names no user) rather than changing the path.
fn user_path(name: &str) -> String {
    format!("/v1/users/{}", encode_segment(name))
}

/// `/v1/keys/{id}{suffix}`.
fn key_path(id: &str, suffix: &str) -> String {
    format!("/v1/keys/{}{suffix}", encode_segment(id))
}

fn encode_segment(text: &str) -> String {
    percent_encode(text, b"-._~+=,@")
}

/// A query value, decoded by the admin API (`+` would be a space there).
fn encode_query_value(text: &str) -> String {
    percent_encode(text, b"-._~")
}

fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, name: &str, last_used: Option<&str>) -> KeyView {
        KeyView {
            id: id.into(),
            user: "alice".into(),
            name: name.into(),
            state: cairn_iam::KeyState::Active,
            created: "2026-01-02T03:04:05Z".into(),
            last_used: last_used.map(Into::into),
            expires: None,
        }
    }

    #[test]
    fn table_aligns_columns_without_trailing_spaces() {
        let text = table(
            &["A", "LONG HEADER", "C"],
            &[
                vec!["wide cell".into(), "x".into(), "last".into()],
                vec!["y".into(), "z".into(), "".into()],
            ],
        );
        assert_eq!(
            text,
            "A          LONG HEADER  C\n\
             wide cell  x            last\n\
             y          z\n"
        );
    }

    #[test]
    fn key_table_has_every_column_and_dashes_for_none() {
        let text = keys_table(&[
            key("CAIRNAAAAAAAAAAAAAAA", "default", None),
            key("CAIRNBBBBBBBBBBBBBBB", "ci", Some("2026-02-03T04:05:06Z")),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0].split("  ").filter(|c| !c.is_empty()).count(),
            7,
            "{text}"
        );
        assert!(lines[0].starts_with("ID") && lines[0].contains("LAST USED"));
        let first: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(first[5..], ["-", "-"], "{text}");
        assert!(lines[2].contains("2026-02-03T04:05:06Z"), "{text}");
        // Every row's STATE starts where its header does.
        let at = lines[0].find("STATE").unwrap();
        assert!(lines[1..].iter().all(|l| l[at..].starts_with("active")));
    }

    #[test]
    fn new_key_says_the_secret_is_shown_once() {
        let new = NewKey {
            key: key("CAIRNAAAAAAAAAAAAAAA", "default", None),
            secret: "s".repeat(40),
        };
        let text = new_key_fields(&new);
        assert!(text.contains(&"s".repeat(40)));
        assert!(text.contains("cannot be shown again"));
    }

    #[test]
    fn names_are_escaped_where_the_api_would_misread_them() {
        assert_eq!(user_path("a.b@c+d"), "/v1/users/a.b@c+d");
        assert_eq!(user_path("a/b c"), "/v1/users/a%2Fb%20c");
        assert_eq!(encode_query_value("a+b&c"), "a%2Bb%26c");
    }

    #[test]
    fn errors_carry_the_api_message() {
        let response = AdminResponse {
            status: 404,
            body: br#"{"error": {"code": "NoSuchUser", "message": "no user named \"bob\""}}"#
                .to_vec(),
        };
        let err = refused(response).unwrap_err();
        assert!(matches!(err, AdminError::Api { status: 404, .. }));
        assert_eq!(err.to_string(), "no user named \"bob\"");
    }
}
