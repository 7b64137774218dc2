//! The one place where access is decided: every routed request passes [`authorize`] after
//! authentication and before any operation runs, and nothing else in the S3 layer checks a
//! permission.
//!
//! Deciding also *binds* the buckets decided on: the [`Authorized`] endpoint holds each
//! bucket as it was (its internal id), and storage refuses an operation on it with
//! `NoSuchBucket` once it is gone, even if a new bucket of the same name exists by then. A
//! slow request body cannot carry a decision over to another bucket.

use std::borrow::Cow;
use std::collections::HashMap;

use cairn_iam::Permission;

use cairn_storage::BucketInfo;

use crate::endpoint::{Access, CopySource, Endpoint};
use crate::error::{S3Error, S3ErrorCode};

/// Who a request acts for, once authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// The key that signed the request.
    pub access_key_id: &'a str,
    /// The canonical user id: owner of the buckets it creates.
    pub user_id: &'a str,
    pub display_name: &'a str,
    /// Administrators may do everything.
    pub admin: bool,
    /// The user's grants on others' buckets, by bucket id.
    pub grants: Option<&'a HashMap<u64, Permission>>,
}

/// An endpoint whose access was decided, its buckets bound.
pub type Authorized<'a> = Endpoint<'a, BucketInfo>;

/// Whether `identity` has `access` to `bucket`: administrators and the bucket's owner have
/// every access; another user what a grant on this very bucket (its id) gives.
pub fn permits(identity: &Identity<'_>, bucket: &BucketInfo, access: Access) -> bool {
    if identity.admin || bucket.owner == identity.user_id {
        return true;
    }
    let needed = match access {
        Access::Authenticated | Access::Read => Permission::Read,
        Access::Write => Permission::Write,
        Access::Owner => Permission::Owner,
    };
    identity
        .grants
        .and_then(|g| g.get(&bucket.id))
        .is_some_and(|granted| *granted >= needed)
}

/// Whether ListBuckets shows `bucket` to `identity`: those it may read.
pub fn lists(identity: &Identity<'_>, bucket: &BucketInfo) -> bool {
    permits(identity, bucket, Access::Read)
}

/// Decides a request: `Ok` with its buckets bound, or the error to answer — `NoSuchBucket`
/// for a bucket that does not exist, `AccessDenied` for one the identity may not use as the
/// operation needs. `lookup` reads a bucket by name.
pub fn authorize<'a>(
    identity: &Identity<'_>,
    endpoint: Endpoint<'a>,
    lookup: impl Fn(&str) -> Result<BucketInfo, cairn_storage::Error>,
) -> Result<Authorized<'a>, S3Error> {
    let access = endpoint.access();
    let bind = |name: Cow<'_, str>, access: Access| -> Result<BucketInfo, S3Error> {
        let bucket = lookup(&name)?;
        if permits(identity, &bucket, access) {
            Ok(bucket)
        } else {
            Err(S3Error::code(S3ErrorCode::AccessDenied))
        }
    };
    Ok(match endpoint {
        // No existing bucket to decide on: any authenticated identity may ask.
        Endpoint::Service(op) => Endpoint::Service(op),
        Endpoint::Bucket { bucket, op } => Endpoint::Bucket {
            bucket: bind(bucket, access)?,
            op,
        },
        Endpoint::Object { bucket, key, op } => Endpoint::Object {
            bucket: bind(bucket, access)?,
            key,
            op,
        },
        Endpoint::Copy {
            bucket,
            key,
            source,
            op,
        } => Endpoint::Copy {
            bucket: bind(bucket, access)?,
            key,
            source: CopySource {
                bucket: bind(source.bucket, Access::Read)?,
                key: source.key,
            },
            op,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{BucketOp, CopyOp, ObjectOp, ServiceOp};

    const ALICE: Identity<'static> = Identity {
        access_key_id: "AKALICE",
        user_id: "alice",
        display_name: "alice",
        admin: false,
        grants: None,
    };

    fn lookup(name: &str) -> Result<BucketInfo, cairn_storage::Error> {
        let owner = match name {
            "alices" => "alice",
            "bobs" => "bob",
            _ => return Err(cairn_storage::Error::NoSuchBucket),
        };
        Ok(BucketInfo {
            name: name.to_owned(),
            owner: owner.to_owned(),
            created_ms: 1,
            id: owner.len() as u64,
            region: None,
        })
    }

    fn decide(endpoint: Endpoint<'static>) -> Result<Authorized<'static>, S3ErrorCode> {
        authorize(&ALICE, endpoint, lookup).map_err(|e| e.code)
    }

    fn object(bucket: &'static str, op: ObjectOp<'static>) -> Endpoint<'static> {
        Endpoint::Object {
            bucket: bucket.into(),
            key: "k".into(),
            op,
        }
    }

    fn copy(bucket: &'static str, source: &'static str) -> Endpoint<'static> {
        Endpoint::Copy {
            bucket: bucket.into(),
            key: "k".into(),
            source: CopySource {
                bucket: source.into(),
                key: "s".into(),
            },
            op: CopyOp::CopyObject,
        }
    }

    #[test]
    fn owners_may_everything_others_nothing() {
        for op in [
            ObjectOp::PutObject,
            ObjectOp::GetObject { part_number: None },
            ObjectOp::DeleteObject,
            ObjectOp::PutObjectAcl,
        ] {
            let bound = decide(object("alices", op.clone())).unwrap();
            assert!(
                matches!(&bound, Endpoint::Object { bucket, .. } if bucket.name == "alices" && bucket.id == 5),
                "{op:?}"
            );
            assert_eq!(
                decide(object("bobs", op.clone())).unwrap_err(),
                S3ErrorCode::AccessDenied
            );
            assert_eq!(
                decide(object("nobodys", op)).unwrap_err(),
                S3ErrorCode::NoSuchBucket
            );
        }
        let bucket = |name: &'static str, op| Endpoint::Bucket {
            bucket: name.into(),
            op,
        };
        assert!(decide(bucket("alices", BucketOp::DeleteBucket)).is_ok());
        assert_eq!(
            decide(bucket("bobs", BucketOp::ListObjects)).unwrap_err(),
            S3ErrorCode::AccessDenied
        );
    }

    #[test]
    fn service_operations_need_only_an_identity() {
        assert!(decide(Endpoint::Service(ServiceOp::ListBuckets)).is_ok());
        // Whether the name is free is storage's answer (BucketAlreadyExists), not a permission.
        assert!(decide(Endpoint::Service(ServiceOp::CreateBucket {
            bucket: "bobs".into()
        }))
        .is_ok());
    }

    #[test]
    fn copies_need_both_buckets() {
        let bound = decide(copy("alices", "alices")).unwrap();
        assert!(matches!(
            bound,
            Endpoint::Copy { bucket, source, .. } if bucket.id == 5 && source.bucket.id == 5
        ));
        assert_eq!(
            decide(copy("alices", "bobs")).unwrap_err(),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            decide(copy("bobs", "alices")).unwrap_err(),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            decide(copy("alices", "nobodys")).unwrap_err(),
            S3ErrorCode::NoSuchBucket
        );
    }

    #[test]
    fn grants_give_their_level_on_their_bucket_only() {
        let bobs = lookup("bobs").unwrap();
        let mut grants = HashMap::new();
        let with = |grants: &HashMap<u64, Permission>, access| {
            let carol = Identity {
                user_id: "carol",
                grants: Some(grants),
                ..ALICE
            };
            permits(&carol, &bobs, access)
        };
        assert!(!with(&grants, Access::Read));
        grants.insert(bobs.id, Permission::Read);
        assert!(with(&grants, Access::Read) && with(&grants, Access::Authenticated));
        assert!(!with(&grants, Access::Write) && !with(&grants, Access::Owner));
        grants.insert(bobs.id, Permission::Write);
        assert!(with(&grants, Access::Write) && !with(&grants, Access::Owner));
        grants.insert(bobs.id, Permission::Owner);
        assert!(with(&grants, Access::Owner));
        // A grant on another id (the bucket deleted and created again) gives nothing.
        let mut stale = HashMap::new();
        stale.insert(bobs.id + 1, Permission::Owner);
        assert!(!with(&stale, Access::Read));
        let admin = Identity {
            admin: true,
            ..ALICE
        };
        assert!(permits(&admin, &bobs, Access::Owner));
    }

    #[test]
    fn listing_shows_what_may_be_read() {
        assert!(lists(&ALICE, &lookup("alices").unwrap()));
        assert!(!lists(&ALICE, &lookup("bobs").unwrap()));
    }
}
