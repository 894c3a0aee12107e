//! Issue 21.2's bound: under a burst of concurrent large bodies, the peak resident memory of `homeml
//! serve` (VmHWM of the child process) stays within its configured in-flight memory budget times a
//! measured factor, above the baseline of the process with its model loaded. The attack of bench/hardening/attacks.py (20 concurrent 30 MB bodies against
//! the 256 MiB default) scaled down: 20 concurrent 2 MB bodies against a 32 MiB budget (one such request holds ~12 MiB of it at its
//! largest: the decoded inputs and the estimate of its ~9 MB answer), two waves.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

const BUDGET: u64 = 32 << 20;
const BODY: usize = 2_000_000;

/// A `VmRSS`/`VmHWM`-style line of /proc/<pid>/status, in bytes.
fn status_bytes(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        * 1024
}

/// POSTs `body` to /invocations on a new connection; the status, or 0 when the server closed the
/// connection before answering (it may refuse a body that does not fit before reading it all).
fn post(addr: &str, body: &[u8]) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let head = format!(
        "POST /invocations HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body))
        .is_err()
    {
        return 0;
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    std::str::from_utf8(&raw[..raw.len().min(32)])
        .ok()
        .and_then(|h| h.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn big_body(target: usize) -> Vec<u8> {
    let row = "[5.1, 3.5, 1.4, 0.2]";
    let n = target / (row.len() + 2);
    format!("{{\"inputs\": [{}]}}", vec![row; n].join(", ")).into_bytes()
}

#[test]
fn peak_memory_under_a_burst_stays_near_the_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mlruns");
    common::run_ok(
        Command::new(env!("CARGO_BIN_EXE_homeml"))
            .args([
                "quickstart",
                "--no-serve",
                "--n-trees",
                "4",
                "--tracking-uri",
            ])
            .arg(&root),
    );
    let server = common::Proc::start(
        &[
            "serve",
            "-p",
            "0",
            "-m",
            "models:/iris-classifier@champion",
            "--tracking-uri",
            root.to_str().unwrap(),
            "--max-body-bytes",
            &(4 << 20).to_string(),
            "--max-inflight-body-bytes",
            &BUDGET.to_string(),
        ],
        &[],
        tmp.path().join("serve.log"),
    );
    let (addr, pid) = (server.addr.clone(), server.pid());
    let small = br#"{"inputs": [[5.1, 3.5, 1.4, 0.2]]}"#;
    assert_eq!(post(&addr, small), 200, "{}", server.logs());
    let loaded = status_bytes(pid, "VmRSS:");
    let body = big_body(BODY);
    // One large request alone fits the budget and is answered.
    assert_eq!(post(&addr, &body), 200, "{}", server.logs());
    let baseline = status_bytes(pid, "VmRSS:");

    let mut statuses = Vec::new();
    for _wave in 0..2 {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..20).map(|_| s.spawn(|| post(&addr, &body))).collect();
            for h in handles {
                statuses.push(h.join().unwrap());
            }
        });
    }
    let peak = status_bytes(pid, "VmHWM:");
    eprintln!(
        "serve_memory: VmRSS {:.1} MiB with the model loaded, {:.1} MiB after one large request; peak VmHWM {:.1} MiB after the burst; budget {:.1} MiB; statuses {statuses:?}",
        mib(loaded),
        mib(baseline),
        mib(peak),
        mib(BUDGET)
    );
    assert!(
        statuses.iter().all(|s| [0, 200, 503].contains(s)),
        "only answers, budget refusals and refused uploads: {statuses:?}"
    );
    assert!(
        statuses.contains(&200),
        "some of the burst was computed (else the peak says nothing): {statuses:?}"
    );
    let bound = loaded + BOUND_FACTOR * BUDGET;
    assert!(
        peak <= bound,
        "peak VmHWM {:.1} MiB over the bound {:.1} MiB (VmRSS {:.1} MiB with the model loaded + {BOUND_FACTOR} x the {:.0} MiB budget)",
        mib(peak),
        mib(bound),
        mib(loaded),
        mib(BUDGET)
    );
    // And it still serves.
    assert_eq!(post(&addr, small), 200, "{}", server.logs());
}

/// The bound on the peak above the loaded process, in budgets. What the budget counts stays within
/// it; what it does not count is the model's own intermediates (smartcore copies the rows into its
/// matrix and computes the probabilities beside them), the spare capacity and reallocation copies of
/// the decoders' and encoders' growing vectors, and what the allocator keeps for reuse. Measured here
/// (bench/hardening.md, 2026-12-03, loaded machine): 1.6, 2.0 and 2.6 budgets over three runs; 3
/// leaves room for that spread and still fails at once on the issue's 1.4 GB kind of growth.
const BOUND_FACTOR: u64 = 3;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}
