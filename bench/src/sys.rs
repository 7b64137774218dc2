//! The few things asked of the operating system: CPU time of this process (getrusage) and
//! of another (`/proc/PID/stat`). (The open-files limit is raised by cairn-http's
//! `rlimit`, shared with the server.)

use std::time::Duration;

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// User plus system CPU time of this process so far.
pub fn self_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own; RUSAGE_SELF is a valid selector.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

/// CPU time of the calling thread so far.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is a constant.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// User and system CPU time of process `pid` (all its threads), from `/proc/PID/stat`.
pub fn process_cpu_split(pid: u32) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((
        Duration::from_secs_f64(utime as f64 / ticks),
        Duration::from_secs_f64(stime as f64 / ticks),
    ))
}

/// User plus system CPU time of process `pid`.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    process_cpu_split(pid).map(|(u, s)| u + s)
}

/// Resident memory of process `pid` in KiB, from `/proc/PID/status`.
pub fn process_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_this_process_is_read_both_ways() {
        // Spin until this thread has used 50 ms of CPU, however long that takes here.
        let start = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - start < Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(self_cpu() >= Duration::from_millis(50));
        // /proc counts in clock ticks.
        let own = process_cpu(std::process::id()).expect("/proc/self/stat");
        assert!(own >= Duration::from_millis(30), "{own:?}");
        assert!(process_cpu(u32::MAX).is_none());
        assert!(process_rss_kib(std::process::id()).unwrap() > 100);
    }
}
