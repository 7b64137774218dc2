//! What a request asks for: the typed [`Endpoint`] routing makes of it, naming its bucket and
//! key once, and the [`Access`] each operation needs. One table per level lists each
//! operation once, with its name (as AWS's API reference spells it) and its access; the
//! single access decision (`authorize`) reads the access from here.

use std::borrow::Cow;

/// The access an operation needs on the bucket it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated identity may ask: the operation names no existing bucket
    /// (ListBuckets shows only the buckets the identity may read; CreateBucket claims a
    /// name, and storage refuses one that is taken).
    Authenticated,
    /// Read objects, listings and bucket settings.
    Read,
    /// Create, replace and delete objects and multipart uploads.
    Write,
    /// Delete the bucket, read and change its ACLs.
    Owner,
}

/// Defines an operation enum whose every variant states its access, and derives from that
/// one list the enum, `name()` (the variant's name, which is AWS's operation name) and
/// `access()`.
macro_rules! operations {
    (
        $(#[$meta:meta])*
        pub enum $name:ident $(<$lt:lifetime>)? {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $({ $($field:ident: $ty:ty),* $(,)? })? => $access:ident,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name $(<$lt>)? {
            $( $(#[$vmeta])* $variant $({ $($field: $ty),* })?, )*
        }

        impl $(<$lt>)? $name $(<$lt>)? {
            /// The operation's name, as AWS's API reference spells it.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Self::$variant { .. } => stringify!($variant), )*
                }
            }

            /// The access the operation needs on its bucket.
            pub fn access(&self) -> Access {
                match self {
                    $( Self::$variant { .. } => Access::$access, )*
                }
            }
        }
    };
}

operations! {
    /// Operations that name no existing bucket.
    pub enum ServiceOp<'a> {
        ListBuckets => Authenticated,
        CreateBucket { bucket: Cow<'a, str> } => Authenticated,
    }
}

operations! {
    /// Operations on a bucket.
    pub enum BucketOp {
        DeleteBucket => Owner,
        HeadBucket => Read,
        GetBucketLocation => Read,
        GetBucketVersioning => Read,
        GetBucketAcl => Owner,
        PutBucketAcl => Owner,
        GetObjectLockConfiguration => Read,
        ListObjects => Read,
        ListObjectsV2 => Read,
        ListObjectVersions => Read,
        ListMultipartUploads => Read,
        DeleteObjects => Write,
    }
}

operations! {
    /// Operations on one object (or one multipart upload of a key).
    pub enum ObjectOp<'a> {
        PutObject => Write,
        /// `part_number`: the `partNumber` query parameter, 1 to 10,000.
        GetObject { part_number: Option<u16> } => Read,
        HeadObject { part_number: Option<u16> } => Read,
        DeleteObject => Write,
        GetObjectAcl => Owner,
        PutObjectAcl => Owner,
        CreateMultipartUpload => Write,
        UploadPart { upload_id: Cow<'a, str>, part_number: u16 } => Write,
        CompleteMultipartUpload { upload_id: Cow<'a, str> } => Write,
        AbortMultipartUpload { upload_id: Cow<'a, str> } => Write,
        ListParts { upload_id: Cow<'a, str> } => Read,
    }
}

operations! {
    /// Operations that read one object (the copy source) and write another. Their access is
    /// the destination's; the source needs [`Access::Read`].
    pub enum CopyOp<'a> {
        CopyObject => Write,
        UploadPartCopy { upload_id: Cow<'a, str>, part_number: u16 } => Write,
    }
}

/// The object a copy reads (`x-amz-copy-source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource<'a, B = Cow<'a, str>> {
    pub bucket: B,
    pub key: Cow<'a, str>,
}

/// An S3 operation with its decoded bucket and key. `B` is how the bucket is held: by name
/// as routed (`Cow<str>`), or, once access is decided, as the bucket that was decided on
/// (see `authorize::Authorized`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint<'a, B = Cow<'a, str>> {
    Service(ServiceOp<'a>),
    Bucket {
        bucket: B,
        op: BucketOp,
    },
    Object {
        bucket: B,
        key: Cow<'a, str>,
        op: ObjectOp<'a>,
    },
    Copy {
        bucket: B,
        key: Cow<'a, str>,
        source: CopySource<'a, B>,
        op: CopyOp<'a>,
    },
}

impl<B> Endpoint<'_, B> {
    /// The S3 operation's name, as AWS's API reference spells it.
    pub fn operation(&self) -> &'static str {
        match self {
            Endpoint::Service(op) => op.name(),
            Endpoint::Bucket { op, .. } => op.name(),
            Endpoint::Object { op, .. } => op.name(),
            Endpoint::Copy { op, .. } => op.name(),
        }
    }

    /// The access the operation needs on the bucket it names (a copy also needs
    /// [`Access::Read`] on its source).
    pub fn access(&self) -> Access {
        match self {
            Endpoint::Service(op) => op.access(),
            Endpoint::Bucket { op, .. } => op.access(),
            Endpoint::Object { op, .. } => op.access(),
            Endpoint::Copy { op, .. } => op.access(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_aws_operation_names() {
        assert_eq!(ServiceOp::ListBuckets.name(), "ListBuckets");
        assert_eq!(BucketOp::ListObjectsV2.name(), "ListObjectsV2");
        assert_eq!(
            ObjectOp::UploadPart {
                upload_id: "u".into(),
                part_number: 1
            }
            .name(),
            "UploadPart"
        );
        let copy: Endpoint<'_> = Endpoint::Copy {
            bucket: "b".into(),
            key: "k".into(),
            source: CopySource {
                bucket: "s".into(),
                key: "t".into(),
            },
            op: CopyOp::UploadPartCopy {
                upload_id: "u".into(),
                part_number: 2,
            },
        };
        assert_eq!(copy.operation(), "UploadPartCopy");
        assert_eq!(copy.access(), Access::Write);
    }

    #[test]
    fn reads_never_need_more_than_read() {
        for op in [
            BucketOp::HeadBucket,
            BucketOp::ListObjects,
            BucketOp::ListObjectsV2,
            BucketOp::ListObjectVersions,
            BucketOp::GetBucketLocation,
        ] {
            assert_eq!(op.access(), Access::Read, "{op:?}");
        }
        assert_eq!(
            ObjectOp::GetObject { part_number: None }.access(),
            Access::Read
        );
        assert_eq!(ObjectOp::DeleteObject.access(), Access::Write);
        assert_eq!(BucketOp::DeleteBucket.access(), Access::Owner);
        assert_eq!(
            ServiceOp::CreateBucket { bucket: "b".into() }.access(),
            Access::Authenticated
        );
    }
}
