//! The aws-chunked body decoder: a named-state machine fed arbitrary slices, yielding data as
//! ranges of its input without buffering a chunk, verifying each chunk signature against the
//! chained previous one and the signed trailer ("Transferring Payload in Multiple Chunks":
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html>, and
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html>).
//!
//! **Data is provisional until [`AwsChunkedDecoder::finish`] returns `Ok`.** A chunk's signature
//! can only be checked once its last byte has arrived, so the bytes a [`Step`] hands out may
//! belong to a chunk that later fails; the daemon may write them to a temporary blob as they
//! stream but must not commit the object until `finish` succeeds.

use std::ops::Range;

use ring::digest;

use crate::canonical::EMPTY_SHA256;
use crate::checksum::{ChecksumAlgorithm, ChecksumValue};
use crate::key::{Signature, SigningKey};
use crate::AuthError;

/// The longest chunk metadata line (`<hex size>;chunk-signature=<64 hex>\r\n` is 90 bytes or
/// less; extensions may add some).
pub const MAX_CHUNK_META_BYTES: usize = 4096;
/// The largest trailer section (checksum lines, the trailer signature and the final CRLF).
pub const MAX_TRAILER_BYTES: usize = 8192;

/// What signs the chunks of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` body: the request's
/// signing key, time and scope. Shared by the decoder and the signer.
#[derive(Debug, Clone)]
pub struct ChunkSigningContext {
    /// The signing key of the request's scope.
    pub key: SigningKey,
    /// The request time, `YYYYMMDDTHHMMSSZ`.
    pub amz_date: String,
    /// `date/region/s3/aws4_request`.
    pub scope: String,
}

impl ChunkSigningContext {
    /// `AWS4-HMAC-SHA256-PAYLOAD \n date \n scope \n prev \n hash("") \n hash(data)`, in pieces.
    fn chunk_parts<'a>(&'a self, prev: &'a [u8], data_hash_hex: &'a [u8]) -> [&'a [u8]; 11] {
        [
            b"AWS4-HMAC-SHA256-PAYLOAD\n",
            self.amz_date.as_bytes(),
            b"\n",
            self.scope.as_bytes(),
            b"\n",
            prev,
            b"\n",
            EMPTY_SHA256.as_bytes(),
            b"\n",
            data_hash_hex,
            b"",
        ]
    }

    /// `AWS4-HMAC-SHA256-TRAILER \n date \n scope \n prev \n hash(trailer lines)`, in pieces.
    fn trailer_parts<'a>(&'a self, prev: &'a [u8], trailer_hash_hex: &'a [u8]) -> [&'a [u8]; 11] {
        [
            b"AWS4-HMAC-SHA256-TRAILER\n",
            self.amz_date.as_bytes(),
            b"\n",
            self.scope.as_bytes(),
            b"\n",
            prev,
            b"\n",
            trailer_hash_hex,
            b"",
            b"",
            b"",
        ]
    }

    /// The signature of a chunk whose data hashes to `data_hash_hex`, chained to `prev`.
    pub fn chunk_signature(&self, prev: &[u8], data_hash_hex: &[u8]) -> Signature {
        self.key.sign_parts(&self.chunk_parts(prev, data_hash_hex))
    }

    /// The string to sign of a chunk (for error reports; the hot path never builds it).
    pub fn chunk_string_to_sign(&self, prev: &[u8], data_hash_hex: &[u8]) -> String {
        String::from_utf8_lossy(&self.chunk_parts(prev, data_hash_hex).concat()).into_owned()
    }

    /// The signature of a trailer section whose canonical form hashes to `trailer_hash_hex`.
    pub fn trailer_signature(&self, prev: &[u8], trailer_hash_hex: &[u8]) -> Signature {
        self.key
            .sign_parts(&self.trailer_parts(prev, trailer_hash_hex))
    }

    /// The trailer string to sign (for error reports).
    pub fn trailer_string_to_sign(&self, prev: &[u8], trailer_hash_hex: &[u8]) -> String {
        String::from_utf8_lossy(&self.trailer_parts(prev, trailer_hash_hex).concat()).into_owned()
    }
}

/// How an aws-chunked body is framed and signed.
#[derive(Debug, Clone)]
pub struct AwsChunkedConfig {
    /// `Some` for signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`): the context and
    /// the seed (the request's own signature). `None` for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    pub signing: Option<(ChunkSigningContext, Signature)>,
    /// Whether a trailer section (`-TRAILER` modes) is expected; with signed chunks it carries
    /// `x-amz-trailer-signature`.
    pub trailer_mode: bool,
    /// The checksum announced in `x-amz-trailer`.
    pub trailer: Option<ChecksumAlgorithm>,
    /// `x-amz-decoded-content-length`, when sent.
    pub decoded_length: Option<u64>,
    /// The access key id (for `SignatureDoesNotMatch` reports).
    pub access_key_id: String,
}

/// What one [`AwsChunkedDecoder::feed`] did: how many input bytes it consumed, and which of them
/// (a sub-range of `0..consumed`, maybe empty) are payload data — provisional until `finish`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Input bytes consumed; feed the rest again.
    pub consumed: usize,
    /// Payload bytes within the input.
    pub data: Range<usize>,
}

/// What a complete, verified aws-chunked body amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedBody {
    /// Payload bytes.
    pub decoded_length: u64,
    /// The checksum sent in the trailer, if any (the caller compares it with the data).
    pub trailer_checksum: Option<ChecksumValue>,
}

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading `<hex size>[;extensions]\r\n` into the line buffer.
    ChunkHeader,
    /// Inside a chunk's data.
    ChunkData { remaining: u64 },
    /// After a chunk's data, expecting `\r\n`.
    ChunkDataEnd { seen_cr: bool },
    /// After the zero-size chunk: trailer lines (maybe none) up to an empty line.
    Trailer,
    /// The body is complete and verified.
    Done,
    /// An error was returned; every later call fails.
    Failed,
}

/// The aws-chunked decoder. See the module documentation for the provisional-data rule.
pub struct AwsChunkedDecoder {
    config: AwsChunkedConfig,
    state: State,
    /// The previous signature in the chain (hex), starting with the seed.
    prev_signature: [u8; 64],
    /// The `chunk-signature` of the chunk being read, as sent.
    pending_signature: [u8; 64],
    pending_signature_len: usize,
    chunk_hash: digest::Context,
    /// The chunk metadata line, or the trailer section, being accumulated.
    line: Vec<u8>,
    /// In the trailer: the last line ended with a bare `\n`, so a `\r\n` right after it is the
    /// rest of its terminator (minio-go ends trailer lines with `\n\r\n`), not the end.
    absorb_crlf: bool,
    /// In the trailer: where the line being read starts in the buffer.
    trailer_line_start: usize,
    decoded: u64,
    trailer_checksum: Option<ChecksumValue>,
}

impl std::fmt::Debug for AwsChunkedDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsChunkedDecoder")
            .field("state", &self.state)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

fn malformed(reason: &'static str) -> AuthError {
    AuthError::MalformedChunkedEncoding { reason }
}

fn parse_hex_size(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        n = n.checked_mul(16)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

impl AwsChunkedDecoder {
    /// A decoder for one body.
    pub fn new(config: AwsChunkedConfig) -> AwsChunkedDecoder {
        let mut prev_signature = [0u8; 64];
        if let Some((_, seed)) = &config.signing {
            prev_signature = seed.to_hex();
        }
        AwsChunkedDecoder {
            config,
            state: State::ChunkHeader,
            prev_signature,
            pending_signature: [0u8; 64],
            pending_signature_len: 0,
            chunk_hash: digest::Context::new(&digest::SHA256),
            line: Vec::with_capacity(128),
            absorb_crlf: false,
            trailer_line_start: 0,
            decoded: 0,
            trailer_checksum: None,
        }
    }

    /// Whether the final chunk (and trailer) has been read and verified.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Payload bytes handed out so far.
    pub fn decoded_so_far(&self) -> u64 {
        self.decoded
    }

    /// Consumes a prefix of `input`. Call again with the rest until all is consumed; a step
    /// with data stops at the end of that data. Boundaries of `input` need not align with
    /// chunks in any way.
    pub fn feed(&mut self, input: &[u8]) -> Result<Step, AuthError> {
        let r = self.feed_inner(input);
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn feed_inner(&mut self, input: &[u8]) -> Result<Step, AuthError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Failed => return Err(malformed("the body already failed to decode")),
                State::Done if !rest.is_empty() => {
                    return Err(malformed("data after the final chunk"))
                }
                _ if rest.is_empty() => {
                    return Ok(Step {
                        consumed: pos,
                        data: pos..pos,
                    })
                }
                State::ChunkHeader => match rest.iter().position(|&b| b == b'\n') {
                    None => {
                        self.push_line(rest, MAX_CHUNK_META_BYTES)?;
                        pos = input.len();
                    }
                    Some(i) => {
                        self.push_line(&rest[..=i], MAX_CHUNK_META_BYTES)?;
                        pos += i + 1;
                        self.chunk_header_complete()?;
                    }
                },
                State::ChunkData { remaining } => {
                    let n = rest
                        .len()
                        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    let data = &rest[..n];
                    if self.config.signing.is_some() {
                        self.chunk_hash.update(data);
                    }
                    self.decoded += n as u64;
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::ChunkDataEnd { seen_cr: false }
                    } else {
                        State::ChunkData { remaining }
                    };
                    return Ok(Step {
                        consumed: pos + n,
                        data: pos..pos + n,
                    });
                }
                State::ChunkDataEnd { seen_cr } => {
                    match (seen_cr, rest[0]) {
                        (false, b'\r') => self.state = State::ChunkDataEnd { seen_cr: true },
                        (true, b'\n') => {
                            self.verify_chunk()?;
                            self.state = State::ChunkHeader;
                        }
                        _ => return Err(malformed("chunk data not followed by CRLF")),
                    }
                    pos += 1;
                }
                State::Trailer => match rest.iter().position(|&b| b == b'\n') {
                    None => {
                        self.push_line(rest, MAX_TRAILER_BYTES)?;
                        pos = input.len();
                    }
                    Some(i) => {
                        self.push_line(&rest[..=i], MAX_TRAILER_BYTES)?;
                        pos += i + 1;
                        self.trailer_line_complete()?;
                    }
                },
                State::Done => unreachable!("handled above"),
            }
        }
    }

    fn push_line(&mut self, bytes: &[u8], limit: usize) -> Result<(), AuthError> {
        if self.line.len() + bytes.len() > limit {
            return Err(if self.state == State::Trailer {
                AuthError::TrailerTooLarge { limit }
            } else {
                AuthError::ChunkMetaTooLong { limit }
            });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn chunk_header_complete(&mut self) -> Result<(), AuthError> {
        let mut line = &self.line[..self.line.len() - 1];
        line = line.strip_suffix(b"\r").unwrap_or(line);
        let (size, extensions) = match line.iter().position(|&b| b == b';') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let size = parse_hex_size(size).ok_or(malformed("invalid chunk size"))?;
        if self.config.signing.is_some() {
            let sig = extensions
                .and_then(|e| e.strip_prefix(b"chunk-signature="))
                .ok_or(malformed("missing chunk-signature"))?;
            self.pending_signature_len = sig.len();
            let n = sig.len().min(64);
            self.pending_signature[..n].copy_from_slice(&sig[..n]);
        }
        self.line.clear();
        if let Some(expected) = self.config.decoded_length {
            if self.decoded.saturating_add(size) > expected {
                return Err(AuthError::DecodedLengthExceeded { expected });
            }
        }
        if size == 0 {
            self.verify_chunk()?;
            self.state = State::Trailer;
        } else {
            self.state = State::ChunkData { remaining: size };
        }
        Ok(())
    }

    /// Checks the signature of the chunk just read and advances the chain.
    fn verify_chunk(&mut self) -> Result<(), AuthError> {
        let Some((ctx, _)) = &self.config.signing else {
            return Ok(());
        };
        let hash =
            std::mem::replace(&mut self.chunk_hash, digest::Context::new(&digest::SHA256)).finish();
        let mut hash_hex = [0u8; 64];
        hex::encode_to_slice(hash.as_ref(), &mut hash_hex).expect("64 bytes hold 32 as hex");
        let computed = ctx.chunk_signature(&self.prev_signature, &hash_hex);
        let provided = &self.pending_signature[..self.pending_signature_len.min(64)];
        if self.pending_signature_len > 64 || !computed.matches_hex(provided) {
            return Err(AuthError::mismatch(
                ctx.chunk_string_to_sign(&self.prev_signature, &hash_hex),
                String::new(),
                &String::from_utf8_lossy(provided),
                &self.config.access_key_id,
            ));
        }
        self.prev_signature = computed.to_hex();
        Ok(())
    }

    /// A trailer line has its `\n`: decide whether it ends the trailer section.
    fn trailer_line_complete(&mut self) -> Result<(), AuthError> {
        let line = &self.line[self.trailer_line_start..self.line.len() - 1];
        self.trailer_line_start = self.line.len();
        let (content, crlf) = match line.strip_suffix(b"\r") {
            Some(c) => (c, true),
            None => (line, false),
        };
        if !content.is_empty() {
            self.absorb_crlf = !crlf;
            return Ok(());
        }
        if crlf && self.absorb_crlf {
            self.absorb_crlf = false;
            return Ok(());
        }
        self.trailer_section_complete()?;
        self.state = State::Done;
        Ok(())
    }

    /// Parses and verifies the buffered trailer section.
    fn trailer_section_complete(&mut self) -> Result<(), AuthError> {
        let section = std::mem::take(&mut self.line);
        let signed = self.config.signing.is_some() && self.config.trailer_mode;
        let mut canonical = Vec::new();
        let mut signature: Option<&[u8]> = None;
        for line in section.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            if !self.config.trailer_mode {
                return Err(AuthError::MalformedTrailer);
            }
            let colon = line.iter().position(|&b| b == b':');
            let (name, value) = match colon {
                Some(i) => (&line[..i], trim(&line[i + 1..])),
                None => return Err(AuthError::MalformedTrailer),
            };
            let name = std::str::from_utf8(trim(name)).map_err(|_| AuthError::MalformedTrailer)?;
            if name.eq_ignore_ascii_case("x-amz-trailer-signature") {
                if signature.replace(value).is_some() {
                    return Err(AuthError::MalformedTrailer);
                }
                continue;
            }
            let algorithm =
                ChecksumAlgorithm::from_header_name(name).ok_or(AuthError::MalformedTrailer)?;
            if self.config.trailer != Some(algorithm) || self.trailer_checksum.is_some() {
                return Err(AuthError::MalformedTrailer);
            }
            let value =
                std::str::from_utf8(value).map_err(|_| AuthError::InvalidChecksum { algorithm })?;
            self.trailer_checksum = Some(ChecksumValue::parse(algorithm, value)?);
            canonical.extend_from_slice(algorithm.header_name().as_bytes());
            canonical.push(b':');
            canonical.extend_from_slice(value.as_bytes());
            canonical.push(b'\n');
        }
        if self.config.trailer.is_some() && self.trailer_checksum.is_none() {
            // An announced trailer that never came.
            return Err(AuthError::IncompleteBody);
        }
        if let (true, Some((ctx, _))) = (signed, &self.config.signing) {
            let provided = signature.ok_or(AuthError::MalformedTrailer)?;
            let hash_hex = crate::canonical::sha256_hex(&canonical);
            let computed = ctx.trailer_signature(&self.prev_signature, hash_hex.as_bytes());
            if !computed.matches_hex(provided) {
                return Err(AuthError::mismatch(
                    ctx.trailer_string_to_sign(&self.prev_signature, hash_hex.as_bytes()),
                    String::new(),
                    &String::from_utf8_lossy(provided),
                    &self.config.access_key_id,
                ));
            }
            self.prev_signature = computed.to_hex();
        }
        self.line = section;
        self.line.clear();
        Ok(())
    }

    /// Ends the body: `Ok` only when every chunk and the trailer were received and verified and
    /// the decoded length is the announced one. Only then may the daemon commit the data.
    pub fn finish(&mut self) -> Result<DecodedBody, AuthError> {
        let r = self.finish_inner();
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn finish_inner(&mut self) -> Result<DecodedBody, AuthError> {
        match self.state {
            State::Done => {}
            // Lenient end: the input stopped after the zero-size chunk or after complete
            // trailer lines, without the final empty line. The zero chunk's signature already
            // authenticates the end of the data; trailers are checked as usual.
            State::Trailer if self.line.last().is_none_or(|&b| b == b'\n') => {
                self.trailer_section_complete()?;
                self.state = State::Done;
            }
            State::Failed => return Err(malformed("the body already failed to decode")),
            _ => return Err(AuthError::IncompleteBody),
        }
        if self.config.trailer.is_some() && self.trailer_checksum.is_none() {
            return Err(AuthError::IncompleteBody);
        }
        if let Some(expected) = self.config.decoded_length {
            if self.decoded != expected {
                return Err(AuthError::IncompleteBody);
            }
        }
        Ok(DecodedBody {
            decoded_length: self.decoded,
            trailer_checksum: self.trailer_checksum,
        })
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
