//! What a run records: per operation a latency histogram (hdrhistogram, microseconds), counts
//! and bytes; errors by kind; bytes verified and mismatched. Each core records into its own
//! [`Recorder`]; the results are merged at the end. Live counters (atomics) feed the
//! progress line and the per-second series.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

/// An operation the tool times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Put,
    Get,
    Stat,
    Delete,
    List,
    /// A whole multipart upload: create, every part, complete.
    Multipart,
    /// One UploadPart of a multipart upload.
    UploadPart,
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Op; 7] = [
        Op::Put,
        Op::Get,
        Op::Stat,
        Op::Delete,
        Op::List,
        Op::Multipart,
        Op::UploadPart,
    ];

    /// The index of this operation in [`Op::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Stat => "stat",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Multipart => "multipart",
            Op::UploadPart => "upload-part",
        }
    }
}

/// Why the HTTP exchange itself failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolError {
    /// The response head did not parse.
    BadHead,
    /// The response head did not fit the read buffer.
    HeadTooLarge,
    /// The chunked response body did not decode.
    BadChunked,
    /// A Content-Length that is not a number.
    BadLength,
    /// The connection closed inside a response.
    UnexpectedEof,
}

/// Why an operation failed, as a closed set (the report counts each kind).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// An S3 error response: its status and `<Code>`.
    S3 { status: u16, code: String },
    /// An error status without an S3 error body.
    Status(u16),
    /// A response that is not the expected kind of success (a 200 where 204 is due, say).
    UnexpectedStatus(u16),
    /// A socket error.
    Io(std::io::ErrorKind),
    /// No answer within the timeout.
    Timeout,
    /// The response broke HTTP/1.1.
    Protocol(ProtocolError),
    /// A GET body that differs from the bytes written.
    BodyMismatch,
    /// A HEAD or GET whose length is not the object's.
    LengthMismatch,
    /// A listing that is not the keys expected.
    ListMismatch,
    /// A success response missing what the next step needs (an UploadId, an ETag).
    MissingField(&'static str),
    /// A response body that is not the XML expected.
    BadXml,
}

impl Failure {
    /// The failure of an IO error.
    pub fn io(e: &std::io::Error) -> Failure {
        match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Failure::Timeout,
            kind => Failure::Io(kind),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::S3 { status, code } => write!(f, "{status} {code}"),
            Failure::Status(s) => write!(f, "HTTP {s}"),
            Failure::UnexpectedStatus(s) => write!(f, "unexpected HTTP {s}"),
            Failure::Io(kind) => write!(f, "IO: {kind}"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Protocol(p) => write!(f, "HTTP protocol: {p:?}"),
            Failure::BodyMismatch => f.write_str("body differs from the bytes written"),
            Failure::LengthMismatch => f.write_str("length differs from the object's"),
            Failure::ListMismatch => f.write_str("listing differs from the keys written"),
            Failure::MissingField(what) => write!(f, "response without {what}"),
            Failure::BadXml => f.write_str("malformed XML response"),
        }
    }
}

/// Lowest and highest latency a histogram holds, in microseconds (1 µs to 1 hour).
const HIST_LOW_US: u64 = 1;
const HIST_HIGH_US: u64 = 3_600_000_000;
/// Significant decimal digits kept.
const HIST_DIGITS: u8 = 3;

/// One operation's results on one core (or merged).
#[derive(Debug, Clone)]
pub struct OpStats {
    pub latency_us: Histogram<u64>,
    pub ops: u64,
    pub bytes: u64,
    pub errors: u64,
}

impl OpStats {
    fn new() -> OpStats {
        OpStats {
            latency_us: Histogram::new_with_bounds(HIST_LOW_US, HIST_HIGH_US, HIST_DIGITS)
                .expect("valid histogram bounds"),
            ops: 0,
            bytes: 0,
            errors: 0,
        }
    }

    fn merge(&mut self, other: &OpStats) {
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms of the same bounds");
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.errors += other.errors;
    }
}

/// Live per-operation counters of one core: everything completed, warm-up included.
#[derive(Debug, Default)]
pub struct LiveCounters {
    ops: [AtomicU64; Op::ALL.len()],
    bytes: [AtomicU64; Op::ALL.len()],
    errors: [AtomicU64; Op::ALL.len()],
}

/// A reading of live counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    pub ops: [u64; Op::ALL.len()],
    pub bytes: [u64; Op::ALL.len()],
    pub errors: [u64; Op::ALL.len()],
}

impl LiveCounters {
    /// Sums the counters of every core.
    pub fn snapshot(cores: &[LiveCounters]) -> LiveSnapshot {
        let mut s = LiveSnapshot::default();
        for c in cores {
            for i in 0..Op::ALL.len() {
                s.ops[i] += c.ops[i].load(Ordering::Relaxed);
                s.bytes[i] += c.bytes[i].load(Ordering::Relaxed);
                s.errors[i] += c.errors[i].load(Ordering::Relaxed);
            }
        }
        s
    }
}

/// The measured window: operations that end inside it count.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    /// `None` in operation-count mode.
    pub end: Option<Instant>,
}

impl Window {
    /// Whether an operation that ended at `t` is counted.
    pub fn contains(&self, t: Instant) -> bool {
        t >= self.start && self.end.is_none_or(|end| t <= end)
    }
}

/// One core's recorder.
#[derive(Debug)]
pub struct Recorder {
    ops: Vec<Option<OpStats>>,
    errors: BTreeMap<Failure, u64>,
    window: Window,
    /// Response body bytes compared against the payload, and how many differed.
    pub verified_bytes: u64,
    pub mismatched_bytes: u64,
    /// When the last counted operation ended.
    pub last_end: Option<Instant>,
}

impl Recorder {
    /// An empty recorder for `window`.
    pub fn new(window: Window) -> Recorder {
        Recorder {
            ops: (0..Op::ALL.len()).map(|_| None).collect(),
            errors: BTreeMap::new(),
            window,
            verified_bytes: 0,
            mismatched_bytes: 0,
            last_end: None,
        }
    }

    /// Whether an operation ending at `t` counts.
    pub fn counts(&self, t: Instant) -> bool {
        self.window.contains(t)
    }

    fn slot(&mut self, op: Op) -> &mut OpStats {
        self.ops[op.index()].get_or_insert_with(OpStats::new)
    }

    /// Records an operation that started at `start`, ended at `end` and moved `bytes` (or
    /// failed), and bumps the live counters.
    pub fn record(
        &mut self,
        live: &LiveCounters,
        op: Op,
        start: Instant,
        end: Instant,
        result: Result<u64, &Failure>,
    ) {
        let i = op.index();
        match &result {
            Ok(bytes) => {
                live.ops[i].fetch_add(1, Ordering::Relaxed);
                live.bytes[i].fetch_add(*bytes, Ordering::Relaxed);
            }
            Err(_) => {
                live.errors[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        if !self.window.contains(end) {
            return;
        }
        self.last_end = Some(self.last_end.map_or(end, |t| t.max(end)));
        match result {
            Ok(bytes) => {
                let us = (end - start).as_micros().clamp(1, u128::from(HIST_HIGH_US)) as u64;
                let s = self.slot(op);
                s.latency_us.saturating_record(us);
                s.ops += 1;
                s.bytes += bytes;
            }
            Err(failure) => {
                self.slot(op).errors += 1;
                *self.errors.entry(failure.clone()).or_default() += 1;
            }
        }
    }

    /// Adds another core's results.
    pub fn merge(&mut self, other: &Recorder) {
        for (i, o) in other.ops.iter().enumerate() {
            if let Some(o) = o {
                self.slot(Op::ALL[i]).merge(o);
            }
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.verified_bytes += other.verified_bytes;
        self.mismatched_bytes += other.mismatched_bytes;
        self.last_end = match (self.last_end, other.last_end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// The operations recorded, in report order.
    pub fn ops(&self) -> impl Iterator<Item = (Op, &OpStats)> {
        self.ops
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (Op::ALL[i], s)))
    }

    /// Errors by kind.
    pub fn errors(&self) -> &BTreeMap<Failure, u64> {
        &self.errors
    }

    /// Every error counted.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_operations_ending_in_the_window_count() {
        let t0 = Instant::now();
        let window = Window {
            start: t0 + Duration::from_secs(1),
            end: Some(t0 + Duration::from_secs(2)),
        };
        let live = LiveCounters::default();
        let mut r = Recorder::new(window);
        let ms = |n| t0 + Duration::from_millis(n);
        r.record(&live, Op::Get, ms(0), ms(500), Ok(10));
        r.record(&live, Op::Get, ms(900), ms(1100), Ok(10));
        r.record(&live, Op::Get, ms(1900), ms(2100), Ok(10));
        let failure = Failure::S3 {
            status: 403,
            code: "SignatureDoesNotMatch".into(),
        };
        r.record(&live, Op::Put, ms(1200), ms(1300), Err(&failure));
        let (_, get) = r.ops().find(|(op, _)| *op == Op::Get).unwrap();
        assert_eq!((get.ops, get.bytes), (1, 10));
        assert!((199_000..=201_000).contains(&get.latency_us.max()));
        assert_eq!(r.errors().get(&failure), Some(&1));
        let snap = LiveCounters::snapshot(std::slice::from_ref(&live));
        assert_eq!(snap.ops[Op::Get.index()], 3);
        assert_eq!(snap.errors[Op::Put.index()], 1);
        assert_eq!(failure.to_string(), "403 SignatureDoesNotMatch");

        let mut merged = Recorder::new(window);
        merged.merge(&r);
        merged.merge(&r);
        assert_eq!(merged.error_count(), 2);
        assert_eq!(merged.ops().next().unwrap().1.ops, 0);
    }
}
