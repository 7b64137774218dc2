//! Results for people and machines: per operation throughput and latency percentiles, errors
//! by kind, bytes verified, CPU per request, the per-second series; the A/B comparison of
//! alternating rounds (medians and ratios). `--json` prints these structures as they are.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::config::{format_size, BenchConfig, Target};
use crate::stats::{LiveSnapshot, Op, OpStats, Recorder};

const MIB: f64 = (1u64 << 20) as f64;

/// Latency percentiles of one operation, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// One operation's results.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub op: Op,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub bytes: u64,
    pub mib_per_sec: f64,
    pub errors: u64,
    pub latency_us: Latency,
}

impl OpReport {
    fn new(op: Op, s: &OpStats, secs: f64) -> OpReport {
        let h = &s.latency_us;
        OpReport {
            op,
            ops: s.ops,
            ops_per_sec: s.ops as f64 / secs,
            bytes: s.bytes,
            mib_per_sec: s.bytes as f64 / MIB / secs,
            errors: s.errors,
            latency_us: Latency {
                mean: h.mean(),
                p50: h.value_at_quantile(0.50),
                p90: h.value_at_quantile(0.90),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                max: h.max(),
            },
        }
    }
}

/// One kind of error and how often.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorCount {
    pub error: String,
    pub count: u64,
}

/// One second of the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the window started (this sample covers the second before).
    pub second: u32,
    pub ops: u64,
    pub mib: f64,
    pub errors: u64,
    /// Operations of each kind in that second.
    pub by_op: Vec<(Op, u64)>,
}

impl Sample {
    /// The second ending at `now`, from the live counters then and a second before.
    pub fn between(second: u32, before: &LiveSnapshot, now: &LiveSnapshot) -> Sample {
        let d = |a: &[u64], b: &[u64], i: usize| a[i].saturating_sub(b[i]);
        let mut by_op = Vec::new();
        let (mut ops, mut bytes, mut errors) = (0, 0, 0);
        for (i, op) in Op::ALL.iter().enumerate() {
            let n = d(&now.ops, &before.ops, i);
            ops += n;
            bytes += d(&now.bytes, &before.bytes, i);
            errors += d(&now.errors, &before.errors, i);
            if n > 0 {
                by_op.push((*op, n));
            }
        }
        Sample {
            second,
            ops,
            mib: bytes as f64 / MIB,
            errors,
            by_op,
        }
    }
}

/// CPU time spent in the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    /// HTTP requests completed in the window (a multipart upload counts each of its).
    pub requests: u64,
    /// This tool, user + system.
    pub client_secs: f64,
    pub client_secs_per_10k_requests: f64,
    /// The server (`--server-pid`), user + system.
    pub server_secs: Option<f64>,
    pub server_secs_per_10k_requests: Option<f64>,
    /// The same split into user and system time.
    pub server_user_secs_per_10k_requests: Option<f64>,
    pub server_system_secs_per_10k_requests: Option<f64>,
    /// Cores the server kept busy on average (its CPU time over the window).
    pub server_cores_busy: Option<f64>,
    /// Body bytes moved per second of server CPU time: comparable with the hashing limit per
    /// CPU-second even when other programs take part of the cores.
    pub server_mib_per_cpu_sec: Option<f64>,
}

/// The results of one measured phase against one target.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub url: String,
    pub workload: &'static str,
    pub signing: &'static str,
    pub size: String,
    pub concurrency: usize,
    pub cores: usize,
    /// The measured window (shorter when the workload ran out of work).
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub objects_prepared: u64,
    pub ops: Vec<OpReport>,
    pub total_ops: u64,
    pub total_ops_per_sec: f64,
    pub total_mib_per_sec: f64,
    pub total_errors: u64,
    pub errors: Vec<ErrorCount>,
    /// GET body bytes compared with what was written, and how many differed.
    pub verified_bytes: u64,
    pub mismatched_bytes: u64,
    pub cpu: Cpu,
    /// The server's largest resident memory in the window (`--server-pid`), MiB.
    pub server_max_rss_mib: Option<f64>,
    /// The read-back after a `mixed` run (`--verify-all`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::runner::Verification>,
    pub series: Vec<Sample>,
}

impl Report {
    /// Builds the report of a phase.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: &BenchConfig,
        target: &Target,
        r: &Recorder,
        elapsed: Duration,
        series: Vec<Sample>,
        client_cpu: Duration,
        server_cpu: Option<(Duration, Duration)>,
        objects_prepared: u64,
    ) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let ops: Vec<OpReport> = r.ops().map(|(op, s)| OpReport::new(op, s, secs)).collect();
        // The headline counts what the workload is about: a multipart upload, not its parts.
        let headline = |o: &&OpReport| o.op != Op::UploadPart || ops.len() == 1;
        let total_ops: u64 = ops.iter().filter(headline).map(|o| o.ops).sum();
        let total_bytes: u64 = ops.iter().filter(headline).map(|o| o.bytes).sum();
        let requests: u64 = ops
            .iter()
            .map(|o| match o.op {
                // Create and complete; the parts are counted as UploadPart.
                Op::Multipart => 2 * (o.ops + o.errors),
                _ => o.ops + o.errors,
            })
            .sum();
        let per_10k = |d: Duration| d.as_secs_f64() * 10_000.0 / requests.max(1) as f64;
        let server_total = server_cpu.map(|(u, s)| u + s);
        Report {
            target: target.name.clone(),
            url: target.url(),
            workload: config.workload.name(),
            signing: config.signing.name(),
            size: match config.workload {
                crate::config::Workload::Multipart => {
                    format!("{} x {}", config.parts, format_size(config.part_size))
                }
                _ => config.size.to_string(),
            },
            concurrency: config.concurrency,
            cores: config.cores,
            duration_secs: elapsed.as_secs_f64(),
            warmup_secs: config.warmup.as_secs_f64(),
            objects_prepared,
            total_ops,
            total_ops_per_sec: total_ops as f64 / secs,
            total_mib_per_sec: total_bytes as f64 / MIB / secs,
            total_errors: r.error_count(),
            errors: r
                .errors()
                .iter()
                .map(|(f, n)| ErrorCount {
                    error: f.to_string(),
                    count: *n,
                })
                .collect(),
            verified_bytes: r.verified_bytes,
            mismatched_bytes: r.mismatched_bytes,
            cpu: Cpu {
                requests,
                client_secs: client_cpu.as_secs_f64(),
                client_secs_per_10k_requests: per_10k(client_cpu),
                server_secs: server_total.map(|d| d.as_secs_f64()),
                server_secs_per_10k_requests: server_total.map(per_10k),
                server_user_secs_per_10k_requests: server_cpu.map(|(u, _)| per_10k(u)),
                server_system_secs_per_10k_requests: server_cpu.map(|(_, s)| per_10k(s)),
                server_cores_busy: server_total.map(|d| d.as_secs_f64() / secs),
                server_mib_per_cpu_sec: server_total
                    .map(|d| total_bytes as f64 / MIB / d.as_secs_f64().max(1e-9)),
            },
            ops,
            server_max_rss_mib: None,
            verification: None,
            series,
        }
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} {}: {} {}, {} connections on {} cores, {:.1} s measured after {:.1} s warm-up",
            self.target,
            self.url,
            self.workload,
            self.size,
            self.concurrency,
            self.cores,
            self.duration_secs,
            self.warmup_secs
        );
        let _ = writeln!(s, "signing: {}", self.signing);
        let _ = writeln!(
            s,
            "{:<12} {:>10} {:>11} {:>11} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "op",
            "ops",
            "ops/s",
            "MiB/s",
            "errors",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        );
        let ms = |us: u64| us as f64 / 1000.0;
        for o in &self.ops {
            let l = &o.latency_us;
            let _ = writeln!(
                s,
                "{:<12} {:>10} {:>11.1} {:>11.2} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                o.op.name(),
                o.ops,
                o.ops_per_sec,
                o.mib_per_sec,
                o.errors,
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.p999),
                ms(l.max)
            );
        }
        let _ = writeln!(
            s,
            "total: {} ops, {:.1} ops/s, {:.2} MiB/s, {} errors",
            self.total_ops, self.total_ops_per_sec, self.total_mib_per_sec, self.total_errors
        );
        for e in &self.errors {
            let _ = writeln!(s, "  error {}: {}", e.error, e.count);
        }
        if !self.series.is_empty() {
            let per_second: Vec<String> = self.series.iter().map(|x| x.ops.to_string()).collect();
            let _ = writeln!(s, "operations per second: {}", per_second.join(" "));
        }
        let _ = writeln!(
            s,
            "verified {} bytes, {} mismatched",
            self.verified_bytes, self.mismatched_bytes
        );
        let _ = write!(
            s,
            "CPU per 10,000 requests: client {:.3} s",
            self.cpu.client_secs_per_10k_requests
        );
        if let (Some(server), Some(user), Some(system)) = (
            self.cpu.server_secs_per_10k_requests,
            self.cpu.server_user_secs_per_10k_requests,
            self.cpu.server_system_secs_per_10k_requests,
        ) {
            let _ = write!(
                s,
                ", server {server:.3} s (user {user:.3} s + system {system:.3} s)"
            );
        }
        let _ = writeln!(s, " ({} requests)", self.cpu.requests);
        if let (Some(busy), Some(rate)) =
            (self.cpu.server_cores_busy, self.cpu.server_mib_per_cpu_sec)
        {
            let _ = writeln!(
                s,
                "server: {busy:.2} cores busy, {rate:.1} MiB per CPU-second"
            );
        }
        if let Some(rss) = self.server_max_rss_mib {
            let _ = writeln!(s, "server resident memory: up to {rss:.1} MiB");
        }
        if let Some(v) = &self.verification {
            let _ = writeln!(
                s,
                "read back every object left: {} objects, {} bytes verified, {} mismatched, {} errors in {:.1} s",
                v.objects,
                v.verified_bytes,
                v.mismatched_bytes,
                v.errors.iter().map(|e| e.count).sum::<u64>(),
                v.secs
            );
            for e in &v.errors {
                let _ = writeln!(s, "  read-back error {}: {}", e.error, e.count);
            }
        }
        s
    }
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians of one target's rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Medians {
    pub ops_per_sec: f64,
    pub mib_per_sec: f64,
    /// p99 of the headline operation, microseconds.
    pub p99_us: f64,
    pub errors: u64,
    pub mismatched_bytes: u64,
}

impl Medians {
    fn of(rounds: &[Report]) -> Medians {
        let head = |r: &Report| r.ops.iter().find(|o| o.op != Op::UploadPart).cloned();
        Medians {
            ops_per_sec: median(
                &rounds
                    .iter()
                    .map(|r| r.total_ops_per_sec)
                    .collect::<Vec<_>>(),
            ),
            mib_per_sec: median(
                &rounds
                    .iter()
                    .map(|r| r.total_mib_per_sec)
                    .collect::<Vec<_>>(),
            ),
            p99_us: median(
                &rounds
                    .iter()
                    .filter_map(|r| head(r).map(|o| o.latency_us.p99 as f64))
                    .collect::<Vec<_>>(),
            ),
            errors: rounds.iter().map(|r| r.total_errors).sum(),
            mismatched_bytes: rounds.iter().map(|r| r.mismatched_bytes).sum(),
        }
    }
}

/// Two targets driven alternately, A B A B …
#[derive(Debug, Clone, Serialize)]
pub struct AbReport {
    pub a: Vec<Report>,
    pub b: Vec<Report>,
    pub median_a: Medians,
    pub median_b: Medians,
    /// B's median over A's.
    pub ratio_ops_per_sec: f64,
    pub ratio_mib_per_sec: f64,
    pub ratio_p99: f64,
}

impl AbReport {
    /// The comparison of the rounds.
    pub fn new(a: Vec<Report>, b: Vec<Report>) -> AbReport {
        let (ma, mb) = (Medians::of(&a), Medians::of(&b));
        let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { 0.0 };
        AbReport {
            ratio_ops_per_sec: ratio(mb.ops_per_sec, ma.ops_per_sec),
            ratio_mib_per_sec: ratio(mb.mib_per_sec, ma.mib_per_sec),
            ratio_p99: ratio(mb.p99_us, ma.p99_us),
            median_a: ma,
            median_b: mb,
            a,
            b,
        }
    }

    /// The comparison as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let line = |r: &Report| {
            let p99 = r
                .ops
                .iter()
                .find(|o| o.op != Op::UploadPart)
                .map_or(0.0, |o| o.latency_us.p99 as f64 / 1000.0);
            format!(
                "{:.1} ops/s {:.2} MiB/s p99 {p99:.3} ms, {} errors",
                r.total_ops_per_sec, r.total_mib_per_sec, r.total_errors
            )
        };
        if let (Some(a), Some(b)) = (self.a.first(), self.b.first()) {
            let _ = writeln!(
                s,
                "A/B: {} {} ({}), A = {}, B = {}",
                a.workload, a.size, a.signing, a.url, b.url
            );
        }
        for (i, (a, b)) in self.a.iter().zip(&self.b).enumerate() {
            let _ = writeln!(s, "round {}: A {} | B {}", i + 1, line(a), line(b));
        }
        let m = |m: &Medians| {
            format!(
                "{:.1} ops/s {:.2} MiB/s p99 {:.3} ms",
                m.ops_per_sec,
                m.mib_per_sec,
                m.p99_us / 1000.0
            )
        };
        let _ = writeln!(
            s,
            "median: A {} | B {}",
            m(&self.median_a),
            m(&self.median_b)
        );
        let _ = writeln!(
            s,
            "B/A: ops/s {:.3}, MiB/s {:.3}, p99 {:.3}",
            self.ratio_ops_per_sec, self.ratio_mib_per_sec, self.ratio_p99
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
