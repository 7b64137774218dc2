//! The admin API's routes through [`admin::handle`]: what creation, reads and grants answer,
//! and the `{"error": {code, message}}` answers of refusals.

use cairn_iam::admin::{self, AdminRequest, AdminResponse};
use cairn_iam::{now_secs, Iam, IamConfig, IamError, MasterKeySource, GENERATED_FILE};
use cairn_storage::BucketInfo;

/// A bucket record owned by `owner`.
fn bucket(name: &str, id: u64, owner: &str) -> BucketInfo {
    BucketInfo {
        name: name.to_owned(),
        id,
        owner: owner.to_owned(),
        created_ms: 0,
        region: None,
    }
}

/// The secret an active key resolves to now.
fn secret_of(iam: &Iam, id: &str) -> Option<String> {
    iam.resolve(id, now_secs())
        .map(|k| k.secret.expose().to_owned())
}

/// Calls the admin API.
fn call(
    iam: &Iam,
    buckets: &[BucketInfo],
    method: &str,
    target: &str,
    body: &str,
) -> AdminResponse {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let list = buckets.to_vec();
    let source = move || -> Result<Vec<BucketInfo>, IamError> { Ok(list.clone()) };
    admin::handle(
        iam,
        &source,
        &AdminRequest {
            method,
            path,
            query,
            body: body.as_bytes(),
        },
    )
}

fn json(response: &AdminResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&response.body)
        )
    })
}

/// Asserts an admin error answer with `status` and `code`, with a message.
#[track_caller]
fn assert_admin_error(response: &AdminResponse, status: u16, code: &str) {
    let body = json(response);
    assert_eq!(response.status, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Guards the admin API's answers: creation returns 201 with the secret once, reads never
/// show it, grants need an existing bucket, and refusals answer `{"error": {code, message}}`
/// with the status of their kind.
#[test]
fn the_admin_api_answers_json() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (iam, _) = Iam::open(
        dir.path(),
        MasterKeySource::Generated(dir.path().join(GENERATED_FILE)),
        IamConfig::default(),
    )
    .expect("open the key store");
    let buckets = [bucket("photos", 3, "someone-else")];

    let created = call(&iam, &buckets, "POST", "/v1/users", r#"{"name":"app"}"#);
    assert_eq!(created.status, 201);
    assert_eq!(json(&created)["name"], "app");
    assert_eq!(json(&created)["admin"], false);

    let key = call(
        &iam,
        &buckets,
        "POST",
        "/v1/keys",
        r#"{"user":"app","name":"ci"}"#,
    );
    assert_eq!(key.status, 201);
    let key = json(&key);
    for field in [
        "id",
        "user",
        "name",
        "state",
        "created",
        "last_used",
        "expires",
        "secret",
    ] {
        assert!(key.get(field).is_some(), "no {field} in {key}");
    }
    assert_eq!(key["state"], "active");
    assert!(key["last_used"].is_null());
    let id = key["id"].as_str().unwrap();
    let secret = key["secret"].as_str().unwrap();
    assert_eq!(secret_of(&iam, id).as_deref(), Some(secret));

    let shown = call(&iam, &buckets, "GET", &format!("/v1/keys/{id}"), "");
    assert_eq!(shown.status, 200);
    assert!(json(&shown).get("secret").is_none());
    let listed = call(&iam, &buckets, "GET", "/v1/keys?user=app", "");
    assert_eq!(listed.status, 200);
    assert_eq!(json(&listed).as_array().map(Vec::len), Some(1));
    for response in [&shown, &listed] {
        let text = String::from_utf8_lossy(&response.body);
        assert!(!text.contains(secret), "the secret is shown again: {text}");
    }

    let granted = call(
        &iam,
        &buckets,
        "PUT",
        "/v1/grants",
        r#"{"user":"app","bucket":"photos","permission":"read"}"#,
    );
    assert_eq!(granted.status, 200, "{}", json(&granted));
    assert_eq!(json(&granted)["permission"], "read");
    let ungranted = call(
        &iam,
        &buckets,
        "DELETE",
        "/v1/grants?user=app&bucket=photos",
        "",
    );
    assert_eq!(ungranted.status, 204);
    assert!(ungranted.body.is_empty());

    assert_admin_error(
        &call(&iam, &buckets, "GET", "/v1/users/nobody", ""),
        404,
        "NoSuchUser",
    );
    assert_admin_error(
        &call(&iam, &buckets, "DELETE", &format!("/v1/keys/{id}"), ""),
        409,
        "Conflict",
    );
    assert_admin_error(
        &call(&iam, &buckets, "POST", "/v1/users", r#"{"name":"app"}"#),
        409,
        "UserExists",
    );
    assert_admin_error(
        &call(&iam, &buckets, "POST", "/v1/users", "{not json"),
        400,
        "InvalidArgument",
    );
    assert_admin_error(
        &call(
            &iam,
            &buckets,
            "PUT",
            "/v1/grants",
            r#"{"user":"app","bucket":"photos","permission":"admin"}"#,
        ),
        400,
        "InvalidArgument",
    );
    assert_admin_error(
        &call(
            &iam,
            &buckets,
            "PUT",
            "/v1/grants",
            r#"{"user":"app","bucket":"nothere","permission":"read"}"#,
        ),
        404,
        "NoSuchBucket",
    );
    assert_admin_error(
        &call(
            &iam,
            &buckets,
            "POST",
            "/v1/keys",
            r#"{"user":"app","expires":"soon"}"#,
        ),
        400,
        "InvalidArgument",
    );
    assert_admin_error(
        &call(&iam, &buckets, "GET", "/v2/users", ""),
        400,
        "InvalidArgument",
    );
    assert_eq!(
        secret_of(&iam, id).as_deref(),
        Some(secret),
        "a refusal changed the key"
    );
}
