//! The homeml side of the side-by-side benchmark with MLflow (`tests/python/tracking_bench.py`).
//!
//! usage:
//!   tracking_bench log <store> <n> [batch]   log n metric values to one new run (one call each, or
//!                                            log_batch calls of `batch` values); prints seconds
//!   tracking_bench make-runs <store> <n>     create n finished runs with 3 params, 2 metrics, 1 tag;
//!                                            prints the experiment id
//!   tracking_bench list <store> <exp_id>     search_runs over the experiment; prints seconds and count

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context};
use homeml_tracking::{Metric, RunOptions, RunStatus, Store};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .context("missing argument (see the file's docs)")
    };
    match arg(1)?.as_str() {
        "log" => {
            let store = Store::open(arg(2)?)?;
            let n: usize = arg(3)?.parse()?;
            let batch: usize = args.get(4).map(|b| b.parse()).transpose()?.unwrap_or(0);
            let exp = store.get_or_create_experiment("bench-log")?;
            let run = store.start_run(&exp, RunOptions::default())?;
            let t = Instant::now();
            if batch == 0 {
                for i in 0..n {
                    store.log_metric(run.id(), "loss", i as f64 * 0.001, i as i64, None)?;
                }
            } else {
                let empty = BTreeMap::new();
                let mut i = 0;
                while i < n {
                    let chunk: Vec<Metric> = (i..(i + batch).min(n))
                        .map(|j| Metric::new("loss", j as f64 * 0.001, j as i64))
                        .collect();
                    i += chunk.len();
                    store.log_batch(run.id(), &chunk, &empty, &empty)?;
                }
            }
            let secs = t.elapsed().as_secs_f64();
            let got = store.get_metric_history(run.id(), "loss")?.len();
            if got != n {
                bail!("logged {n} values, read back {got}");
            }
            println!("{secs}");
        }
        "make-runs" => {
            let store = Store::open(arg(2)?)?;
            let n: usize = arg(3)?.parse()?;
            let exp = store.get_or_create_experiment("bench-list")?;
            for i in 0..n {
                let run = store.start_run(&exp, RunOptions::default())?;
                let mut params = BTreeMap::new();
                params.insert("lr".to_string(), "0.1".to_string());
                params.insert("depth".to_string(), (i % 10).to_string());
                params.insert("seed".to_string(), i.to_string());
                let mut tags = BTreeMap::new();
                tags.insert("group".to_string(), (i % 7).to_string());
                let metrics = vec![
                    Metric::new("loss", 1.0 / (i as f64 + 1.0), 0),
                    Metric::new("acc", 0.9, 0),
                ];
                store.log_batch(run.id(), &metrics, &params, &tags)?;
                store.end_run(run.id(), RunStatus::Finished)?;
            }
            println!("{exp}");
        }
        "list" => {
            let store = Store::open(arg(2)?)?;
            let exp = arg(3)?;
            let t = Instant::now();
            let runs = store.search_runs(&[exp])?;
            let secs = t.elapsed().as_secs_f64();
            println!("{secs} {}", runs.len());
        }
        other => bail!("unknown command {other}"),
    }
    Ok(())
}
