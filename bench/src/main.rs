//! `cairn-bench`: the command-line entry (see `cairn-bench --help`).

use std::process::ExitCode;

use cairn_bench::cli::{self, Mode};
use cairn_bench::{hashlimit, runner::Bench, AbReport, Report};

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cairn-bench: cannot write JSON: {e}"),
    }
}

fn main() -> ExitCode {
    let args = cli::args();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cairn-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &cli::Args) -> Result<ExitCode, String> {
    let Some(workload) = args.workload() else {
        debug_assert_eq!(args.mode, Mode::HashLimit);
        let cores = args
            .cores
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let report = hashlimit::measure(
            args.size,
            cores,
            args.duration,
            args.rounds,
            args.seed.unwrap_or_else(cli::fresh_seed),
        )?;
        if args.json {
            print_json(&report);
        } else {
            print!("{}", report.text());
        }
        return Ok(ExitCode::SUCCESS);
    };
    let config = args.config(workload)?;
    let (a, b) = args.targets()?;
    let open_files = cairn_http::rlimit::raise_nofile_limit();
    let wanted = config.concurrency as u64 + 256;
    if open_files < wanted {
        return Err(format!(
            "{} connections need about {wanted} open files but the limit is {open_files}: raise it (`ulimit -n`)",
            config.concurrency
        ));
    }
    let rounds = args.rounds;
    let cleanup = config.cleanup;
    let ab = b.is_some();
    let mut targets = vec![a];
    targets.extend(b);
    let mut bench = Bench::new(config, targets).map_err(|e| e.to_string())?;
    let result = bench.prepare().and_then(|()| {
        if ab {
            let (mut ra, mut rb): (Vec<Report>, Vec<Report>) = (Vec::new(), Vec::new());
            for round in 0..rounds.max(1) {
                ra.push(bench.measure(0)?);
                rb.push(bench.measure(1)?);
                if !args.json {
                    eprintln!(
                        "round {}: A {:.1} ops/s {:.2} MiB/s, B {:.1} ops/s {:.2} MiB/s",
                        round + 1,
                        ra[round].total_ops_per_sec,
                        ra[round].total_mib_per_sec,
                        rb[round].total_ops_per_sec,
                        rb[round].total_mib_per_sec
                    );
                }
            }
            Ok(Outcome::Ab(Box::new(AbReport::new(ra, rb))))
        } else {
            let mut report = bench.measure(0)?;
            if args.verify_all && workload == cairn_bench::Workload::Mixed {
                report.verification = Some(bench.verify_all(0)?);
            }
            Ok(Outcome::One(Box::new(report)))
        }
    });
    if cleanup {
        if let Err(e) = bench.cleanup() {
            eprintln!("cairn-bench: cleanup failed: {e}");
        }
    }
    let outcome = result.map_err(|e| e.to_string())?;
    let mismatched = match &outcome {
        Outcome::One(r) => {
            if args.json {
                print_json(r);
            } else {
                print!("{}", r.text());
            }
            r.mismatched_bytes + r.verification.as_ref().map_or(0, |v| v.mismatched_bytes)
        }
        Outcome::Ab(ab) => {
            if args.json {
                print_json(ab);
            } else {
                for r in ab.a.iter().chain(&ab.b) {
                    println!("{}", r.text());
                }
                print!("{}", ab.text());
            }
            ab.median_a.mismatched_bytes + ab.median_b.mismatched_bytes
        }
    };
    if mismatched > 0 {
        eprintln!("cairn-bench: {mismatched} bytes read back differ from the bytes written");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

enum Outcome {
    One(Box<Report>),
    Ab(Box<AbReport>),
}
