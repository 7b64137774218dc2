//! Protocol errors, each mapped to the status a server answers with.

/// Why a request head or its framing was refused.
///
/// Every variant maps to one HTTP status ([`ProtoError::status`]); after any of them the
/// connection is closed, since the server can no longer tell where the next request starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("request head is larger than {limit} bytes")]
    HeadTooLarge { limit: usize },
    #[error("request has more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    #[error("request target is longer than {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
    #[error("line ends with a bare LF where CRLF is required")]
    BareLf,
    #[error("obsolete line folding in a header field")]
    ObsoleteLineFolding,
    #[error("invalid Content-Length")]
    InvalidContentLength,
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    #[error("Content-Length together with Transfer-Encoding")]
    ContentLengthWithTransferEncoding,
    #[error("unsupported transfer coding")]
    UnknownTransferCoding,
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    TransferEncodingInHttp10,
    #[error("missing Host header")]
    MissingHost,
    #[error("more than one Host header")]
    DuplicateHost,
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    #[error("unsupported expectation")]
    UnsupportedExpectation,
}

impl ProtoError {
    /// The HTTP status a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            ProtoError::HeadTooLarge { .. } | ProtoError::TooManyHeaders { .. } => 431,
            ProtoError::UriTooLong { .. } => 414,
            ProtoError::UnsupportedVersion => 505,
            ProtoError::UnsupportedExpectation => 417,
            ProtoError::Malformed(_)
            | ProtoError::BareLf
            | ProtoError::ObsoleteLineFolding
            | ProtoError::InvalidContentLength
            | ProtoError::ConflictingContentLength
            | ProtoError::ContentLengthWithTransferEncoding
            | ProtoError::UnknownTransferCoding
            | ProtoError::TransferEncodingInHttp10
            | ProtoError::MissingHost
            | ProtoError::DuplicateHost => 400,
        }
    }
}

/// Why a `Transfer-Encoding: chunked` body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    #[error("invalid chunk size")]
    InvalidSize,
    #[error("chunk size has more than {limit} hex digits")]
    SizeTooLong { limit: usize },
    #[error("chunk extensions longer than {limit} bytes")]
    ExtensionTooLong { limit: usize },
    #[error("invalid byte in chunk extension")]
    InvalidExtension,
    #[error("missing CRLF after chunk")]
    MissingCrlf,
    #[error("bare LF in chunked framing")]
    BareLf,
    #[error("trailer section larger than {limit} bytes")]
    TrailerTooLarge { limit: usize },
    #[error("more than {limit} trailer fields")]
    TooManyTrailers { limit: usize },
    #[error("malformed trailer field")]
    InvalidTrailer,
}
