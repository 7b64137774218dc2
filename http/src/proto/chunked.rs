//! The `Transfer-Encoding: chunked` decoder (RFC 9112 §7.1) as a named-state machine.
//!
//! It is fed whatever bytes have arrived and hands back ranges of those same bytes that are
//! chunk data, so a body streams through without being copied or buffered here. Chunk data
//! has no size limit; the size line, its extensions and the trailer section do.

use std::ops::Range;

use super::error::ChunkedError;

/// Hex digits in a chunk size: 16 fill a u64.
pub const MAX_CHUNK_SIZE_DIGITS: usize = 16;
/// Bytes of chunk extensions on one size line (aws-chunked's `;chunk-signature=…` is 81).
pub const MAX_CHUNK_EXT_BYTES: usize = 4096;
/// Bytes in the whole trailer section.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Fields in the trailer section.
pub const MAX_TRAILER_LINES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of the chunk size.
    Size,
    /// Whitespace after the size, before `;` or CR.
    SizeWhitespace,
    /// Chunk extensions, up to CR.
    Extension,
    /// CR seen at the end of the size line.
    SizeLf,
    /// Inside chunk data.
    Data,
    /// Chunk data done; CR expected.
    DataCr,
    /// LF expected after chunk data.
    DataLf,
    /// At the start of a trailer line or of the final CRLF.
    TrailerStart,
    /// Inside a trailer field name.
    TrailerName,
    /// Inside a trailer field value.
    TrailerValue,
    /// LF expected at the end of a trailer line.
    TrailerLf,
    /// LF expected at the end of the body.
    EndLf,
    /// The body is complete.
    Done,
}

/// What one call to [`ChunkedDecoder::decode`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedStep {
    /// Bytes of the input used; the caller drops them before the next call.
    pub consumed: usize,
    /// Chunk data inside the consumed bytes, as a range of the input.
    pub data: Option<Range<usize>>,
}

/// Decodes one chunked body. Feed it with [`decode`](Self::decode) until [`is_done`](Self::is_done).
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Data bytes left in the current chunk, or the size being read.
    remaining: u64,
    size_digits: usize,
    ext_bytes: usize,
    trailer_bytes: usize,
    trailer_lines: usize,
    decoded: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size,
            remaining: 0,
            size_digits: 0,
            ext_bytes: 0,
            trailer_bytes: 0,
            trailer_lines: 0,
            decoded: 0,
        }
    }

    /// Whether the final chunk and trailer section have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Data bytes decoded so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Decodes from the front of `input`.
    ///
    /// Returns as soon as it has a run of chunk data (which ends the consumed bytes), when the
    /// body is complete (bytes after it are not consumed: they are the next request), or when
    /// `input` is used up.
    pub fn decode(&mut self, input: &[u8]) -> Result<ChunkedStep, ChunkedError> {
        let mut pos = 0;
        while pos < input.len() {
            if self.state == State::Done {
                break;
            }
            if self.state == State::Data {
                let available = (input.len() - pos) as u64;
                let take = available.min(self.remaining) as usize;
                self.remaining -= take as u64;
                self.decoded += take as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                return Ok(ChunkedStep {
                    consumed: pos + take,
                    data: Some(pos..pos + take),
                });
            }
            self.step(input[pos])?;
            pos += 1;
        }
        Ok(ChunkedStep {
            consumed: pos,
            data: None,
        })
    }

    /// Advances over one framing byte.
    fn step(&mut self, b: u8) -> Result<(), ChunkedError> {
        self.state = match self.state {
            State::Size => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    self.size_digits += 1;
                    if self.size_digits > MAX_CHUNK_SIZE_DIGITS {
                        return Err(ChunkedError::SizeTooLong {
                            limit: MAX_CHUNK_SIZE_DIGITS,
                        });
                    }
                    let digit = (b as char).to_digit(16).unwrap_or(0);
                    self.remaining = (self.remaining << 4) | u64::from(digit);
                    State::Size
                }
                _ if self.size_digits == 0 => return Err(ChunkedError::InvalidSize),
                b' ' | b'\t' => State::SizeWhitespace,
                b';' => State::Extension,
                b'\r' => State::SizeLf,
                b'\n' => return Err(ChunkedError::BareLf),
                _ => return Err(ChunkedError::InvalidSize),
            },
            State::SizeWhitespace => match b {
                b' ' | b'\t' => State::SizeWhitespace,
                b';' => State::Extension,
                b'\r' => State::SizeLf,
                b'\n' => return Err(ChunkedError::BareLf),
                _ => return Err(ChunkedError::InvalidSize),
            },
            State::Extension => match b {
                b'\r' => State::SizeLf,
                b'\n' => return Err(ChunkedError::BareLf),
                _ if is_ctl(b) => return Err(ChunkedError::InvalidExtension),
                _ => {
                    self.ext_bytes += 1;
                    if self.ext_bytes > MAX_CHUNK_EXT_BYTES {
                        return Err(ChunkedError::ExtensionTooLong {
                            limit: MAX_CHUNK_EXT_BYTES,
                        });
                    }
                    State::Extension
                }
            },
            State::SizeLf => {
                if b != b'\n' {
                    return Err(ChunkedError::MissingCrlf);
                }
                self.size_digits = 0;
                self.ext_bytes = 0;
                if self.remaining == 0 {
                    State::TrailerStart
                } else {
                    State::Data
                }
            }
            // Data is consumed in bulk by `decode`, never byte by byte.
            State::Data => State::Data,
            State::DataCr => match b {
                b'\r' => State::DataLf,
                b'\n' => return Err(ChunkedError::BareLf),
                _ => return Err(ChunkedError::MissingCrlf),
            },
            State::DataLf => match b {
                b'\n' => State::Size,
                _ => return Err(ChunkedError::MissingCrlf),
            },
            State::TrailerStart => match b {
                b'\r' => State::EndLf,
                b'\n' => return Err(ChunkedError::BareLf),
                _ if is_tchar(b) => {
                    self.trailer_lines += 1;
                    if self.trailer_lines > MAX_TRAILER_LINES {
                        return Err(ChunkedError::TooManyTrailers {
                            limit: MAX_TRAILER_LINES,
                        });
                    }
                    self.count_trailer_byte()?;
                    State::TrailerName
                }
                // Includes obsolete line folding (a line starting with whitespace).
                _ => return Err(ChunkedError::InvalidTrailer),
            },
            State::TrailerName => {
                self.count_trailer_byte()?;
                match b {
                    b':' => State::TrailerValue,
                    _ if is_tchar(b) => State::TrailerName,
                    _ => return Err(ChunkedError::InvalidTrailer),
                }
            }
            State::TrailerValue => match b {
                b'\r' => State::TrailerLf,
                b'\n' => return Err(ChunkedError::BareLf),
                _ if is_ctl(b) => return Err(ChunkedError::InvalidTrailer),
                _ => {
                    self.count_trailer_byte()?;
                    State::TrailerValue
                }
            },
            State::TrailerLf => match b {
                b'\n' => State::TrailerStart,
                _ => return Err(ChunkedError::MissingCrlf),
            },
            State::EndLf => match b {
                b'\n' => State::Done,
                _ => return Err(ChunkedError::MissingCrlf),
            },
            State::Done => State::Done,
        };
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), ChunkedError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > MAX_TRAILER_BYTES {
            return Err(ChunkedError::TrailerTooLarge {
                limit: MAX_TRAILER_BYTES,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of the given sizes (cycled) and returns the data and the bytes
    /// left after the body.
    fn decode_split(input: &[u8], pieces: &[usize]) -> Result<(Vec<u8>, Vec<u8>), ChunkedError> {
        let mut decoder = ChunkedDecoder::new();
        let mut data = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut offset = 0;
        let mut piece = 0;
        loop {
            if !decoder.is_done() && offset < input.len() {
                let n = pieces[piece % pieces.len()]
                    .max(1)
                    .min(input.len() - offset);
                piece += 1;
                pending.extend_from_slice(&input[offset..offset + n]);
                offset += n;
            }
            let step = decoder.decode(&pending)?;
            if let Some(range) = step.data.clone() {
                data.extend_from_slice(&pending[range]);
            }
            pending.drain(..step.consumed);
            if decoder.is_done() {
                pending.extend_from_slice(&input[offset..]);
                return Ok((data, pending));
            }
            if offset == input.len() && step.consumed == 0 {
                return Err(ChunkedError::MissingCrlf);
            }
        }
    }

    const BODY: &[u8] =
        b"5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nX-Sum: abc\r\n\r\nNEXT";

    #[test]
    fn whole_body() {
        let (data, rest) = decode_split(BODY, &[BODY.len()]).unwrap();
        assert_eq!(data, b"hello 0123456789");
        assert_eq!(rest, b"NEXT");
    }

    #[test]
    fn every_split_point_and_bytewise() {
        for cut in 1..BODY.len() {
            let (data, rest) = decode_split(BODY, &[cut, BODY.len()]).unwrap();
            assert_eq!(data, b"hello 0123456789", "cut at {cut}");
            assert_eq!(rest, b"NEXT", "cut at {cut}");
        }
        let (data, _) = decode_split(BODY, &[1]).unwrap();
        assert_eq!(data, b"hello 0123456789");
    }

    #[test]
    fn upper_and_lower_hex() {
        let (data, _) =
            decode_split(b"a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", &[64]).unwrap();
        assert_eq!(data.len(), 20);
    }

    #[test]
    fn data_is_returned_in_place() {
        let mut decoder = ChunkedDecoder::new();
        let input = b"4\r\nabcd\r\n";
        let step = decoder.decode(input).unwrap();
        assert_eq!(
            step,
            ChunkedStep {
                consumed: 7,
                data: Some(3..7)
            }
        );
        assert_eq!(decoder.decoded_len(), 4);
    }

    #[test]
    fn size_limits() {
        let ok = b"00000000000000a\r\n0123456789\r\n0\r\n\r\n";
        assert!(decode_split(ok, &[64]).is_ok());
        let too_long = b"00000000000000000a\r\n";
        assert_eq!(
            decode_split(too_long, &[64]).unwrap_err(),
            ChunkedError::SizeTooLong {
                limit: MAX_CHUNK_SIZE_DIGITS
            }
        );
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b";ext\r\n",
            b"-1\r\n",
            b"+1\r\n",
            b"0x1\r\n",
        ] {
            assert_eq!(
                decode_split(bad, &[64]).unwrap_err(),
                ChunkedError::InvalidSize,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn extension_limits() {
        let mut long = b"1;".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_CHUNK_EXT_BYTES));
        long.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        assert!(decode_split(&long, &[100]).is_ok());
        let mut over = b"1;".to_vec();
        over.extend(std::iter::repeat_n(b'a', MAX_CHUNK_EXT_BYTES + 1));
        assert_eq!(
            decode_split(&over, &[100]).unwrap_err(),
            ChunkedError::ExtensionTooLong {
                limit: MAX_CHUNK_EXT_BYTES
            }
        );
        assert_eq!(
            decode_split(b"1;a\x01b\r\n", &[64]).unwrap_err(),
            ChunkedError::InvalidExtension
        );
    }

    #[test]
    fn framing_errors() {
        assert_eq!(
            decode_split(b"1\nx\r\n0\r\n\r\n", &[64]).unwrap_err(),
            ChunkedError::BareLf
        );
        assert_eq!(
            decode_split(b"1\r\nx\n0\r\n\r\n", &[64]).unwrap_err(),
            ChunkedError::BareLf
        );
        assert_eq!(
            decode_split(b"1\r\nxy\r\n", &[64]).unwrap_err(),
            ChunkedError::MissingCrlf
        );
        assert_eq!(
            decode_split(b"1\rx", &[64]).unwrap_err(),
            ChunkedError::MissingCrlf
        );
        assert_eq!(
            decode_split(b"0\r\n\n", &[64]).unwrap_err(),
            ChunkedError::BareLf
        );
        assert_eq!(
            decode_split(b"0\r\n\r\r", &[64]).unwrap_err(),
            ChunkedError::MissingCrlf
        );
    }

    #[test]
    fn trailer_limits() {
        let fold = b"0\r\nA: b\r\n c\r\n\r\n";
        assert_eq!(
            decode_split(fold, &[64]).unwrap_err(),
            ChunkedError::InvalidTrailer
        );
        assert_eq!(
            decode_split(b"0\r\nA b\r\n\r\n", &[64]).unwrap_err(),
            ChunkedError::InvalidTrailer
        );
        assert_eq!(
            decode_split(b"0\r\nA: \x00\r\n\r\n", &[64]).unwrap_err(),
            ChunkedError::InvalidTrailer
        );

        let mut big = b"0\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'v', MAX_TRAILER_BYTES));
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            decode_split(&big, &[1000]).unwrap_err(),
            ChunkedError::TrailerTooLarge {
                limit: MAX_TRAILER_BYTES
            }
        );
        let mut many = b"0\r\n".to_vec();
        for _ in 0..=MAX_TRAILER_LINES {
            many.extend_from_slice(b"a: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            decode_split(&many, &[1000]).unwrap_err(),
            ChunkedError::TooManyTrailers {
                limit: MAX_TRAILER_LINES
            }
        );
    }

    #[test]
    fn large_chunk_streams_without_limit() {
        let mut decoder = ChunkedDecoder::new();
        let step = decoder.decode(b"FFFFFFFF\r\n").unwrap();
        assert_eq!(
            step,
            ChunkedStep {
                consumed: 10,
                data: None
            }
        );
        let block = vec![7u8; 1 << 20];
        for _ in 0..8 {
            let step = decoder.decode(&block).unwrap();
            assert_eq!(step.data, Some(0..block.len()));
        }
        assert_eq!(decoder.decoded_len(), 8 << 20);
    }

    proptest::proptest! {
        #[test]
        fn random_bodies_at_random_splits(
            chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 1..300), 0..8),
            pieces in proptest::collection::vec(1usize..50, 1..8),
            upper in proptest::bool::ANY,
        ) {
            let mut body = Vec::new();
            let mut expected = Vec::new();
            for chunk in &chunks {
                let size = if upper { format!("{:X}", chunk.len()) } else { format!("{:x}", chunk.len()) };
                body.extend_from_slice(size.as_bytes());
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
                expected.extend_from_slice(chunk);
            }
            body.extend_from_slice(b"0\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n");
            let (data, rest) = decode_split(&body, &pieces).unwrap();
            proptest::prop_assert_eq!(data, expected);
            proptest::prop_assert!(rest.is_empty());
        }

        #[test]
        fn garbage_never_panics(input in proptest::collection::vec(proptest::num::u8::ANY, 0..200), piece in 1usize..20) {
            let _ = decode_split(&input, &[piece]);
        }
    }
}
