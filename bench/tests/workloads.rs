//! Every workload for about a second against the real `cairnd`: operation counts, bytes
//! verified, no errors, and an emptied bucket afterwards.

mod common;

use cairn_bench::runner::Bench;
use cairn_bench::stats::Op;
use cairn_bench::{Mix, Report, SizeSpec, Stop, Workload};
use cairn_tests::Daemon;

use common::{exclusive, short, target};

fn op(report: &Report, op: Op) -> &cairn_bench::report::OpReport {
    report
        .ops
        .iter()
        .find(|o| o.op == op)
        .unwrap_or_else(|| panic!("no {op:?} in {}", report.text()))
}

fn assert_clean(report: &Report) {
    assert_eq!(report.total_errors, 0, "{}", report.text());
    assert_eq!(report.mismatched_bytes, 0, "{}", report.text());
    assert!(report.total_ops > 0, "{}", report.text());
}

/// After a run with cleanup, nothing of the prefix is left and the bucket is gone.
fn assert_bucket_gone(daemon: &Daemon, bucket: &str) {
    let head = cairn_tests::signed_request(daemon.addr, "HEAD", &format!("/{bucket}"), &[], b"");
    let response = cairn_tests::roundtrip(daemon.addr, &head);
    assert_eq!(response.status, 404, "bucket {bucket} still there");
}

#[test]
fn put_get_stat_and_list_count_and_verify() {
    let _one = exclusive();
    let daemon = Daemon::start();

    let put = cairn_bench::run(short(Workload::Put, "w-put"), target(&daemon)).unwrap();
    assert_clean(&put);
    let p = op(&put, Op::Put);
    assert_eq!(p.bytes, p.ops * 16 * 1024);
    assert!(p.latency_us.p50 > 0 && p.latency_us.p50 <= p.latency_us.p99);
    assert!(p.latency_us.p99 <= p.latency_us.max);
    assert!(put.cpu.requests >= p.ops);
    assert!(put.cpu.client_secs > 0.0);
    assert_bucket_gone(&daemon, "w-put");

    let get = cairn_bench::run(short(Workload::Get, "w-get"), target(&daemon)).unwrap();
    assert_clean(&get);
    let g = op(&get, Op::Get);
    assert_eq!(get.objects_prepared, 200);
    assert_eq!(g.bytes, g.ops * 16 * 1024);
    assert_eq!(get.verified_bytes, g.bytes, "every byte read is compared");
    assert_bucket_gone(&daemon, "w-get");

    let stat = cairn_bench::run(short(Workload::Stat, "w-stat"), target(&daemon)).unwrap();
    assert_clean(&stat);
    assert_eq!(op(&stat, Op::Stat).bytes, 0);

    let mut config = short(Workload::List, "w-list");
    config.max_keys = 50;
    config.stop = Stop::Duration(std::time::Duration::from_millis(2100));
    let list = cairn_bench::run(config, target(&daemon)).unwrap();
    assert_clean(&list);
    assert!(op(&list, Op::List).ops > 0);
    // One sample per whole second of the window, each counting that second's operations.
    assert_eq!(list.series.len(), 2, "{:?}", list.series);
    let sampled: u64 = list.series.iter().map(|s| s.ops).sum();
    assert!(sampled > 0 && sampled <= list.total_ops + 100, "{sampled}");
}

#[test]
fn sizes_in_a_range_verify_too() {
    let _one = exclusive();
    let daemon = Daemon::start();
    let mut config = short(Workload::Get, "w-range");
    config.size = SizeSpec::Range(1, 200_000);
    let get = cairn_bench::run(config, target(&daemon)).unwrap();
    assert_clean(&get);
    let g = op(&get, Op::Get);
    assert_eq!(get.verified_bytes, g.bytes);
    // Sizes differ by key: a mean far from both ends.
    let mean = g.bytes / g.ops;
    assert!(mean > 20_000 && mean < 180_000, "mean size {mean}");
}

#[test]
fn delete_takes_each_object_once_singly_and_in_batches() {
    let _one = exclusive();
    let daemon = Daemon::start();
    for (batch, bucket) in [(1, "w-del"), (25, "w-delb")] {
        let mut config = short(Workload::Delete, bucket);
        config.delete_batch = batch;
        config.stop = Stop::Duration(std::time::Duration::from_secs(30));
        let del = cairn_bench::run(config, target(&daemon)).unwrap();
        assert_clean(&del);
        // 200 objects: every one deleted, then the run ends by itself.
        assert_eq!(op(&del, Op::Delete).ops, 200 / u64::from(batch));
        assert!(del.duration_secs < 30.0, "ended when nothing was left");
        assert_bucket_gone(&daemon, bucket);
    }
}

#[test]
fn multipart_uploads_complete() {
    let _one = exclusive();
    let daemon = Daemon::start();
    let mp = cairn_bench::run(short(Workload::Multipart, "w-mp"), target(&daemon)).unwrap();
    assert_clean(&mp);
    let whole = op(&mp, Op::Multipart);
    let parts = op(&mp, Op::UploadPart);
    assert_eq!(whole.bytes, whole.ops * (10 << 20));
    // Parts of the first uploads may have ended in the warm-up.
    assert!(parts.ops + 2 * 4 >= 2 * whole.ops, "{} parts", parts.ops);
    assert_eq!(parts.bytes, parts.ops * (5 << 20));
    assert_eq!(
        mp.total_ops, whole.ops,
        "the headline counts uploads, not parts"
    );
    assert_bucket_gone(&daemon, "w-mp");
}

#[test]
fn mixed_runs_every_operation_and_reads_what_it_wrote() {
    let _one = exclusive();
    let daemon = Daemon::start();
    let mut config = short(Workload::Mixed, "w-mixed");
    config.mix = Mix {
        get: 40,
        stat: 20,
        put: 20,
        delete: 10,
        list: 10,
    };
    config.concurrency = 8;
    config.stop = Stop::Duration(std::time::Duration::from_secs(2));
    config.cleanup = false;
    let mut bench = Bench::new(config, vec![target(&daemon)]).unwrap();
    bench.prepare().unwrap();
    // Two rounds: the second continues with the keys the first left.
    for _ in 0..2 {
        let report = bench.measure(0).unwrap();
        assert_clean(&report);
        for o in [Op::Get, Op::Stat, Op::Put, Op::Delete, Op::List] {
            assert!(op(&report, o).ops > 0, "{o:?}");
        }
        assert_eq!(report.verified_bytes, op(&report, Op::Get).bytes);
    }
    // Everything the connections still hold reads back whole.
    let v = bench.verify_all(0).unwrap();
    assert!(v.objects > 100, "{v:?}");
    assert!(v.errors.is_empty(), "{v:?}");
    assert_eq!((v.mismatched_bytes, v.verified_bytes), (0, v.bytes));
    let deleted = bench.cleanup().unwrap();
    assert!(deleted[0] > 0);
    assert_bucket_gone(&daemon, "w-mixed");
}
