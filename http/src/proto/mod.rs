//! The pure HTTP/1.1 core: request heads, body framing and response heads.
//!
//! Follows RFC 9112 (HTTP/1.1 message syntax) with the request-smuggling defences of
//! RFC 9112 §6.3 and §11.2. Nothing here does IO, reads the clock or allocates more than the
//! message it describes: bytes and limits go in, values or "need more bytes" come out.
#![forbid(unsafe_code)]

mod chunked;
mod error;
mod head;
mod response;

pub use chunked::{ChunkedDecoder, ChunkedStep, MAX_CHUNK_EXT_BYTES, MAX_CHUNK_SIZE_DIGITS};
pub use chunked::{MAX_TRAILER_BYTES, MAX_TRAILER_LINES};
pub use error::{ChunkedError, ProtoError};
pub use head::{BodyFraming, HeadLimits, Method, RequestHead};
pub use head::{
    DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_URI_BYTES, MAX_HEADERS_CAP,
};
pub use response::{encode_chunk_prefix, reason_phrase, HttpDate, ResponseFraming};
pub use response::{InvalidHeader, ResponseHeadWriter, CHUNKED_BODY_END, CONTINUE_100};
