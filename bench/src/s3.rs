//! S3 requests as the tool sends them: addressed path- or virtual-host style, signed with
//! cairn-sigv4's signer in the run's mode, bodies sent straight from the shared payload
//! (framed as aws-chunked, and inside HTTP chunked for the trailer mode, as the clients that
//! use each mode do), and answers turned into results or [`Failure`]s.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use cairn_http::proto::encode_chunk_prefix;
use cairn_sigv4::sign::{
    sign_v2, sign_v2_for_bucket, sign_v4_header_cached, AwsChunkedEncoder, SignPayload,
};
use cairn_sigv4::time::format_amz_date;
use cairn_sigv4::{ChecksumAlgorithm, RequestParts, SigningKeyCache};

use crate::config::{Addressing, Signing, Target};
use crate::http::{BodyRead, Conn, ResponseHead, Sink};
use crate::payload::{self, Digests};
use crate::stats::Failure;
use crate::xml;

/// Bodies up to this size are copied behind the head and sent in one write.
const COALESCE_BYTES: usize = 64 * 1024;

/// A request body.
#[derive(Debug, Clone)]
pub enum Body<'a> {
    Empty,
    /// A range of the shared payload.
    Payload(Range<usize>),
    /// A small document (XML), sent with its Content-MD5.
    Bytes(&'a [u8]),
}

/// One request: method, object key (none for bucket requests), raw query, body.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'static str,
    pub key: Option<&'a str>,
    /// Already encoded (`uploads`, `partNumber=1&uploadId=…`).
    pub query: &'a str,
    pub body: Body<'a>,
}

/// Percent-encodes `raw` as S3 wants it in a path (`/` kept) or query value.
pub fn encode_into(out: &mut String, raw: &str, keep_slash: bool) {
    for &b in raw.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else if b == b'/' && keep_slash {
            out.push('/');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The unix time now.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The S3 client of one target, shared by a core's connections.
#[derive(Debug)]
pub struct Client {
    pub target: Arc<Target>,
    pub bucket: String,
    pub signing: Signing,
    pub chunk_size: usize,
    pub payload: Arc<[u8]>,
    pub digests: Arc<Digests>,
    /// Hash bodies as they are sent, ignoring the precomputed digests.
    pub live_hash: bool,
    /// Signing keys, derived once per day.
    pub keys: RefCell<SigningKeyCache>,
}

impl Client {
    fn sha256_hex(&self, range: Range<usize>) -> [u8; 64] {
        if self.live_hash {
            payload::sha256_hex(&self.payload[range])
        } else {
            self.digests.sha256_hex(&self.payload, range)
        }
    }

    fn md5(&self, range: Range<usize>) -> [u8; 16] {
        if self.live_hash {
            payload::md5(&self.payload[range])
        } else {
            self.digests.md5(&self.payload, range)
        }
    }

    /// Writes the request head into `conn.out` and returns how the body must be framed.
    fn head(&self, conn: &mut Conn, req: &Request<'_>) -> Framing {
        let target = &*self.target;
        let virtual_host = target.addressing == Addressing::VirtualHost;
        let mut path = String::with_capacity(64);
        if !virtual_host {
            path.push('/');
            path.push_str(&self.bucket);
            if req.key.is_some() {
                path.push('/');
            }
        } else {
            path.push('/');
        }
        if let Some(key) = req.key {
            encode_into(&mut path, key, true);
        }
        let host = if virtual_host {
            format!("{}.{}", self.bucket, target.host)
        } else {
            target.host.clone()
        };
        let now = unix_now();
        let body_len = match &req.body {
            Body::Empty => 0,
            Body::Payload(r) => r.len(),
            Body::Bytes(b) => b.len(),
        };
        let streaming = matches!(req.body, Body::Payload(_))
            && matches!(self.signing, Signing::Streaming | Signing::Trailer);
        let mut headers: Vec<(&str, String)> = vec![("host", host)];
        let mut framing = Framing::Plain;
        let mut content_md5 = None;
        match &req.body {
            Body::Bytes(b) => content_md5 = Some(B64.encode(payload::md5(b))),
            Body::Payload(r) if self.signing == Signing::V2 => {
                content_md5 = Some(B64.encode(self.md5(r.clone())));
            }
            _ => {}
        }
        if let Some(md5) = content_md5 {
            headers.push(("content-md5", md5));
        }
        if streaming {
            headers.push(("content-encoding", "aws-chunked".into()));
            headers.push(("x-amz-decoded-content-length", body_len.to_string()));
            if self.signing == Signing::Trailer {
                headers.push(("x-amz-trailer", "x-amz-checksum-crc32".into()));
                headers.push(("x-amz-sdk-checksum-algorithm", "CRC32".into()));
                headers.push(("transfer-encoding", "chunked".into()));
            }
        } else if body_len > 0 || matches!(req.method, "PUT" | "POST") {
            headers.push(("content-length", body_len.to_string()));
        }

        let sha;
        let payload_mode = match (&req.body, self.signing) {
            (_, Signing::V2) => None,
            (Body::Payload(_), Signing::Streaming) => Some(SignPayload::StreamingSigned),
            (Body::Payload(_), Signing::Trailer) => Some(SignPayload::StreamingUnsignedTrailer),
            (_, Signing::Unsigned) => Some(SignPayload::Unsigned),
            (Body::Payload(r), Signing::Signed) => {
                sha = self.sha256_hex(r.clone());
                Some(SignPayload::Sha256Hex(
                    std::str::from_utf8(&sha).expect("hex is ASCII"),
                ))
            }
            (Body::Bytes(b), _) => Some(SignPayload::Bytes(b)),
            (Body::Empty, _) => Some(SignPayload::Bytes(&[])),
        };
        let borrowed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let parts = RequestParts {
            method: req.method,
            path: &path,
            query: req.query,
            headers: &borrowed,
        };
        let mut extra: Vec<(String, String)> = Vec::with_capacity(3);
        match payload_mode {
            Some(mode) => {
                let signed = sign_v4_header_cached(
                    &parts,
                    &target.credentials,
                    &target.region,
                    now,
                    mode,
                    &mut self.keys.borrow_mut(),
                );
                if streaming {
                    let encoder = match self.signing {
                        Signing::Trailer => {
                            AwsChunkedEncoder::unsigned(Some(ChecksumAlgorithm::Crc32))
                        }
                        _ => AwsChunkedEncoder::signed(
                            signed.chunk_context.clone(),
                            signed.signature,
                            None,
                        ),
                    };
                    if self.signing == Signing::Streaming {
                        let len = encoder.encoded_len(body_len as u64, self.chunk_size);
                        extra.push(("content-length".into(), len.to_string()));
                    }
                    framing = match self.signing {
                        Signing::Trailer => Framing::AwsChunkedInHttpChunked(encoder),
                        _ => Framing::AwsChunked(encoder),
                    };
                }
                extra.extend(signed.headers);
            }
            None => {
                let date = format_amz_date(now);
                let mut with_date = borrowed.clone();
                with_date.push(("x-amz-date", &date));
                let parts = RequestParts {
                    headers: &with_date,
                    ..parts
                };
                let authz = if virtual_host {
                    sign_v2_for_bucket(&parts, Some(&self.bucket), &target.credentials)
                } else {
                    sign_v2(&parts, &target.credentials)
                };
                extra.push(("x-amz-date".into(), date));
                extra.push(("authorization".into(), authz));
            }
        }
        let out = &mut conn.out;
        out.clear();
        out.extend_from_slice(req.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(path.as_bytes());
        if !req.query.is_empty() {
            out.push(b'?');
            out.extend_from_slice(req.query.as_bytes());
        }
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in headers
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .chain(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        framing
    }

    /// Sends `req` whole on `conn`.
    async fn send(&self, conn: &mut Conn, req: &Request<'_>) -> Result<(), Failure> {
        let framing = self.head(conn, req);
        match (&req.body, framing) {
            (Body::Empty, _) => conn.send_out().await?,
            (Body::Bytes(b), _) => {
                conn.out.extend_from_slice(b);
                conn.send_out().await?;
            }
            (Body::Payload(r), Framing::Plain) => {
                if r.len() <= COALESCE_BYTES {
                    conn.out.extend_from_slice(&self.payload[r.clone()]);
                    conn.send_out().await?;
                } else {
                    conn.send_out().await?;
                    conn.send(&self.payload[r.clone()]).await?;
                }
            }
            (Body::Payload(r), Framing::AwsChunked(mut encoder)) => {
                let mut at = r.start;
                while at < r.end {
                    let end = (at + self.chunk_size).min(r.end);
                    let data = &self.payload[at..end];
                    let known = (!self.live_hash)
                        .then(|| self.digests.known_sha256_hex(&(at..end)))
                        .flatten();
                    encoder.chunk_head(data, known, &mut conn.out);
                    self.send_data(conn, data).await?;
                    conn.out.extend_from_slice(b"\r\n");
                    at = end;
                }
                encoder.finish(&mut conn.out);
                conn.send_out().await?;
            }
            (Body::Payload(r), Framing::AwsChunkedInHttpChunked(mut encoder)) => {
                let mut meta = Vec::with_capacity(128);
                let mut at = r.start;
                while at < r.end {
                    let end = (at + self.chunk_size).min(r.end);
                    let data = &self.payload[at..end];
                    meta.clear();
                    encoder.chunk_head(data, None, &mut meta);
                    encode_chunk_prefix(meta.len() + data.len() + 2, &mut conn.out);
                    conn.out.extend_from_slice(&meta);
                    self.send_data(conn, data).await?;
                    // The aws-chunked CRLF, then the HTTP chunk's.
                    conn.out.extend_from_slice(b"\r\n\r\n");
                    at = end;
                }
                meta.clear();
                encoder.finish(&mut meta);
                encode_chunk_prefix(meta.len(), &mut conn.out);
                conn.out.extend_from_slice(&meta);
                conn.out.extend_from_slice(b"\r\n0\r\n\r\n");
                conn.send_out().await?;
            }
        }
        conn.flush().await
    }

    /// Appends `data` to the pending bytes, or sends both if `data` is large.
    async fn send_data(&self, conn: &mut Conn, data: &[u8]) -> Result<(), Failure> {
        if data.len() <= COALESCE_BYTES / 4 {
            conn.out.extend_from_slice(data);
            Ok(())
        } else {
            conn.send_out().await?;
            conn.send(data).await
        }
    }

    /// Sends `req` and reads the answer's head; an error status becomes a [`Failure`] (with
    /// the S3 code from its body).
    pub async fn exchange(
        &self,
        conn: &mut Conn,
        req: &Request<'_>,
    ) -> Result<ResponseHead, Failure> {
        let head_request = req.method == "HEAD";
        if let Err(send_failure) = self.send(conn, req).await {
            // The server may have answered (and stopped reading) before the body was sent.
            return match conn.read_head(head_request).await {
                Ok(head) if head.status >= 300 => Err(self.failure(conn, &head).await),
                _ => Err(send_failure),
            };
        }
        let head = conn.read_head(head_request).await?;
        if head.status >= 300 {
            return Err(self.failure(conn, &head).await);
        }
        Ok(head)
    }

    async fn failure(&self, conn: &mut Conn, head: &ResponseHead) -> Failure {
        if conn.read_body(head, Sink::Collect).await.is_err() {
            conn.broken = true;
        }
        match xml::error_code(&conn.body) {
            Some(code) => Failure::S3 {
                status: head.status,
                code,
            },
            None => Failure::Status(head.status),
        }
    }

    /// PutObject of `payload[range]`; returns the bytes sent.
    pub async fn put_object(
        &self,
        conn: &mut Conn,
        key: &str,
        range: Range<usize>,
    ) -> Result<u64, Failure> {
        let len = range.len() as u64;
        let req = Request {
            method: "PUT",
            key: Some(key),
            query: "",
            body: Body::Payload(range),
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Discard).await?;
        expect_status(&head, &[200])?;
        Ok(len)
    }

    /// GetObject, the body compared with `payload[expected]`.
    pub async fn get_object(
        &self,
        conn: &mut Conn,
        key: &str,
        expected: Range<usize>,
    ) -> Result<BodyRead, Failure> {
        let req = Request {
            method: "GET",
            key: Some(key),
            query: "",
            body: Body::Empty,
        };
        let head = self.exchange(conn, &req).await?;
        let read = conn
            .read_body(&head, Sink::Verify(&self.payload[expected]))
            .await?;
        expect_status(&head, &[200])?;
        Ok(read)
    }

    /// HeadObject; checks the length.
    pub async fn head_object(
        &self,
        conn: &mut Conn,
        key: &str,
        expected_len: u64,
    ) -> Result<(), Failure> {
        let req = Request {
            method: "HEAD",
            key: Some(key),
            query: "",
            body: Body::Empty,
        };
        let head = self.exchange(conn, &req).await?;
        expect_status(&head, &[200])?;
        if head.content_length != Some(expected_len) {
            return Err(Failure::LengthMismatch);
        }
        Ok(())
    }

    /// DeleteObject.
    pub async fn delete_object(&self, conn: &mut Conn, key: &str) -> Result<(), Failure> {
        let req = Request {
            method: "DELETE",
            key: Some(key),
            query: "",
            body: Body::Empty,
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Discard).await?;
        expect_status(&head, &[204, 200])
    }

    /// DeleteObjects of `keys` (quiet); a key the answer reports as failed is an error.
    pub async fn delete_objects(&self, conn: &mut Conn, keys: &[String]) -> Result<(), Failure> {
        let doc = xml::delete_objects(keys);
        let req = Request {
            method: "POST",
            key: None,
            query: "delete",
            body: Body::Bytes(doc.as_bytes()),
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Collect).await?;
        expect_status(&head, &[200])?;
        match xml::outcome(&conn.body).map_err(|_| Failure::BadXml)? {
            xml::Outcome::Error(code) => Err(Failure::S3 { status: 200, code }),
            xml::Outcome::Ok(root) => match root.children_named("Error").next() {
                Some(e) => Err(Failure::S3 {
                    status: 200,
                    code: e.child_text("Code").unwrap_or("").to_owned(),
                }),
                None => Ok(()),
            },
        }
    }

    /// One ListObjectsV2 page.
    pub async fn list_objects(
        &self,
        conn: &mut Conn,
        prefix: &str,
        start_after: Option<&str>,
        token: Option<&str>,
        max_keys: u32,
    ) -> Result<xml::ListPage, Failure> {
        let mut query = format!("list-type=2&max-keys={max_keys}&prefix=");
        encode_into(&mut query, prefix, false);
        if let Some(s) = start_after {
            query.push_str("&start-after=");
            encode_into(&mut query, s, false);
        }
        if let Some(t) = token {
            query.push_str("&continuation-token=");
            encode_into(&mut query, t, false);
        }
        let req = Request {
            method: "GET",
            key: None,
            query: &query,
            body: Body::Empty,
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Collect).await?;
        expect_status(&head, &[200])?;
        xml::list_page(&conn.body).map_err(|_| Failure::BadXml)
    }

    /// CreateMultipartUpload; returns the upload id.
    pub async fn create_multipart(&self, conn: &mut Conn, key: &str) -> Result<String, Failure> {
        let req = Request {
            method: "POST",
            key: Some(key),
            query: "uploads",
            body: Body::Empty,
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Collect).await?;
        expect_status(&head, &[200])?;
        xml::upload_id(&conn.body).ok_or(Failure::MissingField("UploadId"))
    }

    /// UploadPart of `payload[range]`; returns the part's ETag.
    pub async fn upload_part(
        &self,
        conn: &mut Conn,
        key: &str,
        upload_id: &str,
        part_number: u32,
        range: Range<usize>,
    ) -> Result<String, Failure> {
        let mut query = format!("partNumber={part_number}&uploadId=");
        encode_into(&mut query, upload_id, false);
        let req = Request {
            method: "PUT",
            key: Some(key),
            query: &query,
            body: Body::Payload(range),
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Discard).await?;
        expect_status(&head, &[200])?;
        head.etag.ok_or(Failure::MissingField("ETag"))
    }

    /// CompleteMultipartUpload of parts 1..=n with these ETags.
    pub async fn complete_multipart(
        &self,
        conn: &mut Conn,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), Failure> {
        let mut query = String::from("uploadId=");
        encode_into(&mut query, upload_id, false);
        let doc = xml::complete_multipart(etags);
        let req = Request {
            method: "POST",
            key: Some(key),
            query: &query,
            body: Body::Bytes(doc.as_bytes()),
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Collect).await?;
        expect_status(&head, &[200])?;
        match xml::outcome(&conn.body).map_err(|_| Failure::BadXml)? {
            xml::Outcome::Error(code) => Err(Failure::S3 { status: 200, code }),
            xml::Outcome::Ok(_) => Ok(()),
        }
    }

    /// AbortMultipartUpload.
    pub async fn abort_multipart(
        &self,
        conn: &mut Conn,
        key: &str,
        upload_id: &str,
    ) -> Result<(), Failure> {
        let mut query = String::from("uploadId=");
        encode_into(&mut query, upload_id, false);
        let req = Request {
            method: "DELETE",
            key: Some(key),
            query: &query,
            body: Body::Empty,
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Discard).await?;
        expect_status(&head, &[204, 200])
    }

    /// CreateBucket; `Ok(false)` if this key already owns it.
    pub async fn create_bucket(&self, conn: &mut Conn) -> Result<bool, Failure> {
        let req = Request {
            method: "PUT",
            key: None,
            query: "",
            body: Body::Empty,
        };
        match self.exchange(conn, &req).await {
            Ok(head) => {
                conn.read_body(&head, Sink::Discard).await?;
                expect_status(&head, &[200])?;
                Ok(true)
            }
            Err(Failure::S3 { code, .. }) if code == "BucketAlreadyOwnedByYou" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// DeleteBucket.
    pub async fn delete_bucket(&self, conn: &mut Conn) -> Result<(), Failure> {
        let req = Request {
            method: "DELETE",
            key: None,
            query: "",
            body: Body::Empty,
        };
        let head = self.exchange(conn, &req).await?;
        conn.read_body(&head, Sink::Discard).await?;
        expect_status(&head, &[204, 200])
    }
}

/// How a request body is framed on the wire.
#[derive(Debug)]
enum Framing {
    /// As is, `Content-Length` bytes.
    Plain,
    /// aws-chunked, `Content-Length` being the encoded length.
    AwsChunked(AwsChunkedEncoder),
    /// aws-chunked inside `Transfer-Encoding: chunked` (no `Content-Length`).
    AwsChunkedInHttpChunked(AwsChunkedEncoder),
}

fn expect_status(head: &ResponseHead, ok: &[u16]) -> Result<(), Failure> {
    if ok.contains(&head.status) {
        Ok(())
    } else {
        Err(Failure::UnexpectedStatus(head.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_once_with_slashes_kept_in_paths() {
        let mut out = String::new();
        encode_into(&mut out, "a b/c%41+ü", true);
        assert_eq!(out, "a%20b/c%2541%2B%C3%BC");
        out.clear();
        encode_into(&mut out, "p/", false);
        assert_eq!(out, "p%2F");
    }
}
