//! The S3 API surface. Until the S3 operations land, every request that is not the health
//! check is answered with a well-formed S3 `NotImplemented` error.

pub mod error;
pub mod request_id;
