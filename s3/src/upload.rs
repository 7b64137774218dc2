//! Receiving an upload, as PutObject and UploadPart share it: the length rules, the body
//! streamed through its verifier into the writer, the verified checksum kept, the commit,
//! and the answer's headers.

use cairn_http::server::Response;
use cairn_storage::{ObjectInfo, ObjectWriter};

use crate::body::stream_into;
use crate::checksum::checksum_headers;
use crate::error::{S3Error, S3ErrorCode};
use crate::headers::{quoted, MAX_PUT_SIZE};
use crate::Call;

/// Refuses a request without body framing, and a declared size over [`MAX_PUT_SIZE`] (before
/// anything is written).
pub(crate) fn check_upload_length(c: &Call<'_, '_>) -> Result<(), S3Error> {
    // Without framing HTTP reads an empty body; S3 wants the length said.
    if c.header("content-length").is_none() && !c.body.is_chunked() {
        return Err(S3Error::code(S3ErrorCode::MissingContentLength));
    }
    let declared = match c.header("x-amz-decoded-content-length") {
        Some(v) => v.parse::<u64>().ok(),
        None => c.body.content_length(),
    };
    if let Some(size) = declared.filter(|&n| n > MAX_PUT_SIZE) {
        return Err(S3Error::code(S3ErrorCode::EntityTooLarge)
            .with_field("ProposedSize", size.to_string())
            .with_field("MaxSizeAllowed", MAX_PUT_SIZE.to_string()));
    }
    Ok(())
}

/// Streams the request body into `writer` and commits it; on any failure the writer is
/// aborted and nothing becomes visible.
pub(crate) async fn receive(
    c: &mut Call<'_, '_>,
    mut writer: ObjectWriter,
) -> Result<ObjectInfo, S3Error> {
    let payload = c.payload()?;
    match stream_into(c.body, payload, &mut writer, MAX_PUT_SIZE).await {
        Ok(summary) => {
            if let Some(sum) = summary.checksum {
                writer.set_verified_checksum(sum.algorithm().s3_name(), sum.to_base64());
            }
        }
        Err(e) => {
            writer.abort().await;
            return Err(e);
        }
    }
    Ok(writer.commit().await?)
}

/// The answer to a stored upload: its ETag and checksums.
pub(crate) fn stored(info: &ObjectInfo) -> Response {
    let response = Response::new(200).header("ETag", quoted(&info.etag));
    checksum_headers(response, &info.meta.checksums)
}
