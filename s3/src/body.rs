//! Request bodies: streamed through the payload verifier into an object writer, or read whole
//! (bounded) for XML requests. Nothing is committed before the verifier's `finish` succeeds.

use cairn_http::server::{Body, BodyError};
use cairn_sigv4::{PayloadSummary, PayloadVerifier};
use cairn_storage::ObjectWriter;

use crate::error::{S3Error, S3ErrorCode};

/// Largest XML request body (DeleteObjects of 1000 keys of 1024 bytes, with room to spare).
pub const MAX_XML_BODY: usize = 4 * 1024 * 1024;

pub fn body_error(e: BodyError) -> S3Error {
    match e {
        BodyError::Timeout => S3Error::code(S3ErrorCode::RequestTimeout),
        BodyError::Incomplete => S3Error::code(S3ErrorCode::IncompleteBody),
        BodyError::Framing(e) => S3Error::code(S3ErrorCode::InvalidRequest)
            .with_message(format!("Malformed chunked request body: {e}.")),
        BodyError::Io(e) => {
            tracing::debug!("reading a request body failed: {e}");
            S3Error::code(S3ErrorCode::IncompleteBody)
        }
    }
}

/// Streams the whole body through `payload` into `writer`, at most `max_len` decoded bytes.
/// On error the caller aborts the writer.
pub async fn stream_into(
    body: &mut Body<'_>,
    mut payload: PayloadVerifier,
    writer: &mut ObjectWriter,
    max_len: u64,
) -> Result<PayloadSummary, S3Error> {
    while let Some(chunk) = body.chunk().await.map_err(body_error)? {
        let mut input = &chunk[..];
        while !input.is_empty() {
            let step = payload.feed(input)?;
            if !step.data.is_empty() {
                if writer.len() + step.data.len() as u64 > max_len {
                    return Err(S3Error::code(S3ErrorCode::EntityTooLarge)
                        .with_field("MaxSizeAllowed", max_len.to_string()));
                }
                writer.write(&input[step.data.clone()]).await?;
            }
            input = &input[step.consumed..];
        }
    }
    Ok(payload.finish()?)
}

/// Reads and verifies a whole body of at most `limit` decoded bytes.
pub async fn read_all(
    body: &mut Body<'_>,
    mut payload: PayloadVerifier,
    limit: usize,
) -> Result<(Vec<u8>, PayloadSummary), S3Error> {
    let mut out = Vec::new();
    while let Some(chunk) = body.chunk().await.map_err(body_error)? {
        let mut input = &chunk[..];
        while !input.is_empty() {
            let step = payload.feed(input)?;
            if out.len() + step.data.len() > limit {
                return Err(S3Error::code(S3ErrorCode::MaxMessageLengthExceeded));
            }
            out.extend_from_slice(&input[step.data.clone()]);
            input = &input[step.consumed..];
        }
    }
    let summary = payload.finish()?;
    Ok((out, summary))
}
