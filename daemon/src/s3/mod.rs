//! The S3 API surface. Requests are routed to typed endpoints; until the operations land,
//! each is answered with a well-formed S3 `NotImplemented` error naming the operation.

pub mod error;
pub mod request_id;
pub mod router;
