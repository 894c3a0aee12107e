//! The per-model batcher: one queue, one task that forms batches, a pool of compute threads.
//!
//! The design follows text-embeddings-inference's queue: requests are appended to a bounded queue
//! (full -> [`BatchError::Overloaded`] at once); one task owns the receiving end and, whenever a compute
//! thread is free, takes what is queued up to `max_batch_rows` rows. It never waits for more rows when
//! the queue is idle unless `max_queue_delay` is set. The rows of the batch are stacked with
//! [`Tensor::concat_rows`], the model runs ONCE on a dedicated OS thread (never on the async runtime),
//! and the output rows are handed back to each request with [`Tensor::slice_rows`], in order.
//!
//! Natural batching: while all compute threads are busy, requests accumulate in the queue, and the next
//! batch takes them all.
//!
//! Cheap models skip the hand-offs. The batcher keeps a running estimate of the model's cost per row;
//! when a batch is estimated to take less than [`BatcherSettings::inline_budget`] (50 us by default)
//! it is computed on the async runtime instead of a compute thread: a request that finds the queue
//! empty and a compute slot free runs the model in its own task (no wake-up of another thread at all),
//! and the batching task runs small batches itself. Compute slots (`workers`) bound the model calls in
//! flight either way, so batching under load is unchanged, and a model that turns out to be slow moves
//! back to the compute threads as soon as the estimate says so. A model whose cost is unknown (its
//! first calls) always runs on a compute thread. A request with more rows than `max_batch_rows` runs alone; it is never refused
//! for its size. A request whose client has gone (its answer channel closed) or whose deadline has
//! passed is dropped before compute and counted in the metrics.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use homeml_flavor::{FlavorError, Model, Tensor};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::metrics::ModelMetrics;

/// How a batcher forms batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatcherSettings {
    /// Most rows in one model call (a single larger request runs alone).
    pub max_batch_rows: usize,
    /// How long to wait for more rows after the first; zero never waits.
    pub max_queue_delay: Duration,
    /// Requests that may wait in the queue.
    pub queue_capacity: usize,
    /// Compute threads, i.e. batches computed at once.
    pub workers: usize,
    /// Batches estimated to take at most this long run on the async runtime instead of a compute
    /// thread (see the module docs); zero always uses the compute threads.
    pub inline_budget: Duration,
}

impl Default for BatcherSettings {
    fn default() -> BatcherSettings {
        BatcherSettings {
            max_batch_rows: 256,
            max_queue_delay: Duration::ZERO,
            queue_capacity: 1024,
            workers: 1,
            inline_budget: Duration::from_micros(50),
        }
    }
}

/// Why a request got no prediction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The queue is full.
    #[error("the model's queue is full")]
    Overloaded,
    /// The deadline passed before the request was computed.
    #[error("the request waited past its deadline and was not computed")]
    Timeout,
    /// The batcher stopped (the model was unloaded).
    #[error("the model stopped serving")]
    Closed,
    /// The model refused the input or failed.
    #[error("{message}")]
    Model {
        /// The model's error.
        message: String,
        /// True when the fault is the request's (see [`FlavorError::is_client_error`]).
        client_error: bool,
    },
    /// The model panicked; the compute thread survived.
    #[error("the model panicked: {0}")]
    Panicked(String),
}

impl From<FlavorError> for BatchError {
    fn from(e: FlavorError) -> BatchError {
        BatchError::Model {
            client_error: e.is_client_error(),
            message: e.to_string(),
        }
    }
}

impl From<BatchError> for crate::error::ApiError {
    fn from(e: BatchError) -> crate::error::ApiError {
        use crate::error::ApiError;
        match e {
            BatchError::Overloaded => ApiError::Overloaded {
                reason: "the model's queue is full",
                retry_after_s: 1,
            },
            BatchError::Timeout => ApiError::Timeout(e.to_string()),
            BatchError::Closed => ApiError::NotReady(e.to_string()),
            BatchError::Model {
                message,
                client_error: true,
            } => ApiError::BadRequest(message),
            BatchError::Model { message, .. } => ApiError::Internal(message),
            BatchError::Panicked(_) => ApiError::Internal(e.to_string()),
        }
    }
}

type Answer = Result<Vec<Tensor>, BatchError>;

struct Entry {
    inputs: Vec<Tensor>,
    rows: usize,
    enqueued: Instant,
    deadline: Option<Instant>,
    tx: oneshot::Sender<Answer>,
}

impl Entry {
    /// False (and counted) when the request no longer wants an answer.
    fn still_wanted(self, metrics: &ModelMetrics, now: Instant) -> Option<Entry> {
        if self.deadline.is_some_and(|d| d <= now) {
            metrics.skipped_deadline.fetch_add(1, Ordering::Relaxed);
            let _ = self.tx.send(Err(BatchError::Timeout));
            return None;
        }
        if self.tx.is_closed() {
            metrics.skipped_client_gone.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self)
    }
}

struct Job {
    batch: Vec<Entry>,
    _permit: OwnedSemaphorePermit,
}

/// Model calls of a batch-size class observed before its cost estimate is trusted.
const COST_WARMUP_CALLS: u64 = 8;

/// Batch-size classes of the cost estimate: 1, 2-3, 4-7, ..., 2^15 rows and more.
const COST_CLASSES: usize = 16;

/// A running estimate of the model's compute time per row, per batch-size class (powers of two: the
/// cost per row of a compute-heavy model falls steeply with the batch size, so a 1-row call is
/// estimated from 1-row calls only). Each class keeps an average that falls fast (halfway to a lower
/// observation) and rises slowly (1/8 of the way to a higher one), so that a call stretched by
/// preemption on a busy machine moves it little, while a class that is really slow stays slow.
#[derive(Debug, Default)]
struct CostEstimate {
    classes: [CostClass; COST_CLASSES],
}

#[derive(Debug, Default)]
struct CostClass {
    ns_per_row: AtomicU64,
    calls: AtomicU64,
}

impl CostEstimate {
    fn class(&self, rows: usize) -> &CostClass {
        let i = (rows.max(1).ilog2() as usize).min(COST_CLASSES - 1);
        &self.classes[i]
    }

    fn observe(&self, took: Duration, rows: usize) {
        let c = self.class(rows);
        let x = (took.as_nanos() / rows.max(1) as u128).min(u64::MAX as u128) as u64;
        let n = c.calls.fetch_add(1, Ordering::Relaxed);
        let old = c.ns_per_row.load(Ordering::Relaxed);
        // Races between compute threads lose an observation at worst.
        let new = if n == 0 {
            x
        } else if x < old {
            old - (old - x) / 2
        } else {
            old + (x - old) / 8
        };
        c.ns_per_row.store(new, Ordering::Relaxed);
    }

    /// True when a call on `rows` rows is expected to take at most `budget`.
    fn cheap(&self, rows: usize, budget: Duration) -> bool {
        let c = self.class(rows);
        if budget.is_zero() || c.calls.load(Ordering::Relaxed) < COST_WARMUP_CALLS {
            return false;
        }
        let est = c
            .ns_per_row
            .load(Ordering::Relaxed)
            .saturating_mul(rows as u64);
        u128::from(est) <= budget.as_nanos()
    }
}

/// What the batching task, the compute threads and inline callers share.
struct Core {
    model: Arc<dyn Model>,
    metrics: Arc<ModelMetrics>,
    cost: CostEstimate,
    /// One permit per compute slot: a batch holds one while it is computed, wherever it runs.
    slots: Arc<Semaphore>,
    inline_budget: Duration,
    /// Requests queued and not yet handed to a model call (in the channel or held by the batching
    /// task while it waits for a compute slot); at most `capacity`.
    waiting: AtomicUsize,
    capacity: usize,
}

impl Core {
    /// Admits one more waiting request, unless `capacity` are waiting.
    fn admit(&self) -> bool {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// One waiting request left the queue (to a model call, or dropped).
    fn dequeued(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
    }

    fn compute(&self, inputs: Vec<Tensor>, rows: usize, requests: usize) -> Answer {
        compute(
            self.model.as_ref(),
            inputs,
            rows,
            requests,
            &self.metrics,
            &self.cost,
        )
    }
}

/// The queue and compute threads of one loaded model version. Dropping it lets queued requests finish,
/// then stops the threads.
pub struct Batcher {
    tx: mpsc::Sender<Entry>,
    core: Arc<Core>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("waiting", &self.core.waiting.load(Ordering::Relaxed))
            .finish()
    }
}

impl Batcher {
    /// Starts the batching task (on the current tokio runtime) and `settings.workers` compute threads
    /// named after `name`. Values of zero in `settings` are taken as 1.
    pub fn new(
        name: &str,
        model: Arc<dyn Model>,
        settings: &BatcherSettings,
        metrics: Arc<ModelMetrics>,
    ) -> std::io::Result<Batcher> {
        let workers = settings.workers.max(1);
        let core = Arc::new(Core {
            model,
            metrics,
            cost: CostEstimate::default(),
            slots: Arc::new(Semaphore::new(workers)),
            inline_budget: settings.inline_budget,
            waiting: AtomicUsize::new(0),
            capacity: settings.queue_capacity.max(1),
        });
        let (job_tx, job_rx) = std_mpsc::channel::<Job>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for i in 0..workers {
            let job_rx = job_rx.clone();
            let core = core.clone();
            thread::Builder::new()
                .name(format!("homeml-{name}-{i}"))
                .spawn(move || worker(job_rx, core))?;
        }
        let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
        tokio::spawn(batch_loop(
            rx,
            job_tx,
            core.clone(),
            settings.max_batch_rows.max(1),
            settings.max_queue_delay,
        ));
        Ok(Batcher { tx, core })
    }

    /// Queues `inputs` (`rows` rows, in the model's input order) and waits for their outputs.
    /// Fails at once with [`BatchError::Overloaded`] when the queue is full. Past `deadline` the
    /// request is answered [`BatchError::Timeout`] and is not computed. Dropping the returned future
    /// (the client went away) withdraws the request before compute.
    ///
    /// A cheap model with an empty queue and a free compute slot is computed right here, on the
    /// caller's task (see the module docs).
    pub async fn infer(
        &self,
        inputs: Vec<Tensor>,
        rows: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<Tensor>, BatchError> {
        let core = &self.core;
        if core.waiting.load(Ordering::Acquire) == 0
            && core.cost.cheap(rows, core.inline_budget)
            && deadline.is_none_or(|d| d > Instant::now())
        {
            if let Ok(_permit) = core.slots.try_acquire() {
                core.metrics.queue_wait.observe(0.0);
                return core.compute(inputs, rows, 1);
            }
        }
        let (tx, rx) = oneshot::channel();
        let entry = Entry {
            inputs,
            rows,
            enqueued: Instant::now(),
            deadline,
            tx,
        };
        if !core.admit() {
            return Err(BatchError::Overloaded);
        }
        if let Err(e) = self.tx.try_send(entry) {
            core.dequeued();
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => BatchError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => BatchError::Closed,
            });
        }
        let answer = match deadline {
            Some(d) => match tokio::time::timeout_at(d, rx).await {
                Ok(a) => a,
                Err(_) => return Err(BatchError::Timeout),
            },
            None => rx.await,
        };
        answer.unwrap_or(Err(BatchError::Closed))
    }
}

async fn batch_loop(
    mut rx: mpsc::Receiver<Entry>,
    jobs: std_mpsc::Sender<Job>,
    core: Arc<Core>,
    max_rows: usize,
    delay: Duration,
) {
    let metrics = &core.metrics;
    let mut pending: Option<Entry> = None;
    loop {
        let first = match pending.take() {
            Some(e) => e,
            None => match rx.recv().await {
                Some(e) => e,
                None => break,
            },
        };
        // Wait for a free compute slot: meanwhile requests pile up and form the next batch. (The
        // semaphore is fair: a slot freed while this waits comes here, not to an inline caller.)
        // `first` counts as waiting until then, so the queue holds what it held before.
        let Ok(permit) = core.slots.clone().acquire_owned().await else {
            break;
        };
        core.dequeued();
        let Some(first) = first.still_wanted(metrics, Instant::now()) else {
            continue;
        };
        let mut rows = first.rows;
        let mut batch = vec![first];
        let wait_until = (!delay.is_zero()).then(|| Instant::now() + delay);
        while rows < max_rows {
            let next = match rx.try_recv() {
                Ok(e) => e,
                Err(mpsc::error::TryRecvError::Empty) => match wait_until {
                    Some(until) => match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(e)) => e,
                        _ => break,
                    },
                    None => break,
                },
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            };
            let Some(next) = next.still_wanted(metrics, Instant::now()) else {
                core.dequeued();
                continue;
            };
            if rows + next.rows > max_rows {
                pending = Some(next);
                break;
            }
            core.dequeued();
            rows += next.rows;
            batch.push(next);
        }
        if core.cost.cheap(rows, core.inline_budget) {
            run_batch(&core, batch);
            drop(permit);
            continue;
        }
        if jobs
            .send(Job {
                batch,
                _permit: permit,
            })
            .is_err()
        {
            tracing::error!("the compute threads are gone; the batcher stops");
            break;
        }
    }
}

fn worker(jobs: Arc<Mutex<std_mpsc::Receiver<Job>>>, core: Arc<Core>) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(job) = job else { return };
        run_batch(&core, job.batch);
    }
}

/// Computes one batch and answers each of its requests.
fn run_batch(core: &Core, batch: Vec<Entry>) {
    let metrics = &*core.metrics;
    let now = Instant::now();
    let live: Vec<Entry> = batch
        .into_iter()
        .filter_map(|e| e.still_wanted(metrics, now))
        .collect();
    if live.is_empty() {
        return;
    }
    for e in &live {
        metrics.queue_wait.observe_duration(now - e.enqueued);
    }
    if live.len() == 1 {
        let mut live = live;
        if let Some(e) = live.pop() {
            let answer = core.compute(e.inputs, e.rows, 1);
            let _ = e.tx.send(answer);
        }
        return;
    }
    let n_inputs = live[0].inputs.len();
    let stacked: Result<Vec<Tensor>, _> = (0..n_inputs)
        .map(|i| {
            let parts: Option<Vec<&Tensor>> = live.iter().map(|e| e.inputs.get(i)).collect();
            match parts {
                Some(parts) => Tensor::concat_rows(&parts).map_err(|e| e.to_string()),
                None => Err("requests with different input counts".to_string()),
            }
        })
        .collect();
    let total: usize = live.iter().map(|e| e.rows).sum();
    let outputs = match stacked {
        Ok(inputs) => core.compute(inputs, total, live.len()),
        Err(why) => {
            // Rows of different widths (variable dimensions) cannot share a call: run each alone.
            tracing::debug!(%why, "batch cannot be stacked; running its requests one by one");
            return run_alone(core, live);
        }
    };
    match outputs {
        Ok(outputs) => {
            if let Some(bad) = outputs.iter().find(|t| t.rows() != total) {
                let err = BatchError::Model {
                    message: format!(
                        "the model returned {} rows for a batch of {total}",
                        bad.rows()
                    ),
                    client_error: false,
                };
                for e in live {
                    let _ = e.tx.send(Err(err.clone()));
                }
                return;
            }
            let mut start = 0;
            for e in live {
                let end = start + e.rows;
                let mine = outputs.iter().map(|t| t.slice_rows(start, end)).collect();
                start = end;
                let _ = e.tx.send(Ok(mine));
            }
        }
        // One bad request must not fail the others: retry each alone to find whose fault it is.
        Err(BatchError::Model {
            client_error: true, ..
        }) => run_alone(core, live),
        Err(err) => {
            for e in live {
                let _ = e.tx.send(Err(err.clone()));
            }
        }
    }
}

fn run_alone(core: &Core, live: Vec<Entry>) {
    for e in live {
        if e.tx.is_closed() {
            core.metrics
                .skipped_client_gone
                .fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let answer = core.compute(e.inputs, e.rows, 1);
        let _ = e.tx.send(answer);
    }
}

fn compute(
    model: &dyn Model,
    inputs: Vec<Tensor>,
    rows: usize,
    requests: usize,
    metrics: &ModelMetrics,
    cost: &CostEstimate,
) -> Answer {
    let started = std::time::Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| model.predict(inputs)));
    let took = started.elapsed();
    metrics.compute.observe_duration(took);
    cost.observe(took, rows);
    metrics.batch_rows.observe(rows as f64);
    metrics.batch_requests.observe(requests as f64);
    match result {
        Ok(Ok(outputs)) => Ok(outputs),
        Ok(Err(e)) => Err(e.into()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(panic = %msg, "the model panicked");
            Err(BatchError::Panicked(msg))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeml_flavor::{DType, IoSpec, TensorData};

    /// Doubles its input; records the batch sizes it saw and the threads it ran on.
    struct Double {
        io: Vec<IoSpec>,
        calls: Mutex<Vec<usize>>,
        threads: Mutex<Vec<Option<String>>>,
        delay: Duration,
    }

    impl Model for Double {
        fn inputs(&self) -> &[IoSpec] {
            &self.io
        }
        fn outputs(&self) -> &[IoSpec] {
            &self.io
        }
        fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
            let t = &inputs[0];
            self.calls.lock().unwrap().push(t.rows());
            self.threads
                .lock()
                .unwrap()
                .push(std::thread::current().name().map(str::to_string));
            std::thread::sleep(self.delay);
            let TensorData::F32(v) = t.data() else {
                return Err(FlavorError::InvalidInput("want f32".into()));
            };
            if v.iter().any(|x| *x < 0.0) {
                return Err(FlavorError::InvalidInput("negative".into()));
            }
            if v.iter().any(|x| x.is_nan()) {
                panic!("nan!");
            }
            let out = v.iter().map(|x| x * 2.0).collect();
            Ok(vec![Tensor::f32_matrix(t.rows(), t.row_len(), out)?])
        }
    }

    fn double(delay_ms: u64) -> Arc<Double> {
        Arc::new(Double {
            io: vec![IoSpec::new("x", DType::F32, vec![-1, 1])],
            calls: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            delay: Duration::from_millis(delay_ms),
        })
    }

    fn rows(vals: &[f32]) -> Vec<Tensor> {
        vec![Tensor::f32_matrix(vals.len(), 1, vals.to_vec()).unwrap()]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_get_their_rows_and_are_batched() {
        let model = double(20);
        let metrics = Arc::new(ModelMetrics::default());
        let b = Arc::new(
            Batcher::new(
                "t",
                model.clone(),
                &BatcherSettings::default(),
                metrics.clone(),
            )
            .unwrap(),
        );
        let mut tasks = Vec::new();
        for i in 0..40 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                let vals = [i as f32, i as f32 + 0.5];
                let out = b.infer(rows(&vals), 2, None).await.unwrap();
                assert_eq!(
                    out[0].data(),
                    &TensorData::F32(vec![vals[0] * 2.0, vals[1] * 2.0])
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let calls = model.calls.lock().unwrap().clone();
        assert_eq!(calls.iter().sum::<usize>(), 80);
        assert!(calls.len() < 40, "no batching happened: {calls:?}");
        assert!(calls.iter().all(|&r| r <= 256));
    }

    #[tokio::test]
    async fn a_large_request_runs_alone_and_batches_respect_the_limit() {
        let model = double(0);
        let settings = BatcherSettings {
            max_batch_rows: 4,
            ..Default::default()
        };
        let b = Batcher::new(
            "t",
            model.clone(),
            &settings,
            Arc::new(ModelMetrics::default()),
        )
        .unwrap();
        let vals: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let out = b.infer(rows(&vals), 10, None).await.unwrap();
        assert_eq!(out[0].rows(), 10);
        assert_eq!(model.calls.lock().unwrap().clone(), vec![10]);
    }

    #[tokio::test]
    async fn bad_request_in_a_batch_fails_alone_and_panics_are_caught() {
        let model = double(30);
        let b = Arc::new(
            Batcher::new(
                "t",
                model.clone(),
                &BatcherSettings::default(),
                Arc::new(ModelMetrics::default()),
            )
            .unwrap(),
        );
        let blocker = {
            let b = b.clone();
            tokio::spawn(async move { b.infer(rows(&[1.0]), 1, None).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let good = {
            let b = b.clone();
            tokio::spawn(async move { b.infer(rows(&[2.0]), 1, None).await })
        };
        let bad = {
            let b = b.clone();
            tokio::spawn(async move { b.infer(rows(&[-1.0]), 1, None).await })
        };
        assert!(blocker.await.unwrap().is_ok());
        assert_eq!(
            good.await.unwrap().unwrap()[0].data(),
            &TensorData::F32(vec![4.0])
        );
        let err = bad.await.unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                BatchError::Model {
                    client_error: true,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = b.infer(rows(&[f32::NAN]), 1, None).await.unwrap_err();
        assert!(matches!(err, BatchError::Panicked(_)), "{err:?}");
        // The thread survived the panic.
        assert!(b.infer(rows(&[3.0]), 1, None).await.is_ok());
    }

    #[tokio::test]
    async fn full_queue_overloads_and_deadlines_skip_compute() {
        let model = double(100);
        let metrics = Arc::new(ModelMetrics::default());
        let settings = BatcherSettings {
            queue_capacity: 1,
            ..Default::default()
        };
        let b = Arc::new(Batcher::new("t", model.clone(), &settings, metrics.clone()).unwrap());
        let first = {
            let b = b.clone();
            tokio::spawn(async move { b.infer(rows(&[1.0]), 1, None).await })
        };
        // Let the batcher take the first request, so the queue (capacity 1) is empty again.
        while model.calls.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let deadline = Instant::now() + Duration::from_millis(10);
        let late = {
            let b = b.clone();
            tokio::spawn(async move { b.infer(rows(&[7.0]), 1, Some(deadline)).await })
        };
        tokio::time::sleep(Duration::from_millis(2)).await;
        let refused = b.infer(rows(&[8.0]), 1, None).await;
        assert_eq!(refused.unwrap_err(), BatchError::Overloaded);
        assert_eq!(late.await.unwrap().unwrap_err(), BatchError::Timeout);
        assert!(first.await.unwrap().is_ok());
        // Only the first request was ever computed. (Wait until the batcher has dropped the late one,
        // else the queue may still be full.)
        while metrics.queue_depth.load(Ordering::Relaxed) > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let after = b.infer(rows(&[9.0]), 1, None).await;
        assert!(after.is_ok());
        assert_eq!(model.calls.lock().unwrap().clone(), vec![1, 1]);
        assert_eq!(metrics.skipped_deadline.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_cost_estimate_scales_with_rows_and_shrugs_off_one_slow_call() {
        let us = Duration::from_micros;
        let budget = us(100);
        let c = CostEstimate::default();
        for _ in 0..COST_WARMUP_CALLS - 1 {
            c.observe(us(10), 1);
            c.observe(us(80), 8);
        }
        assert!(
            !c.cheap(1, budget),
            "unknown until the warm-up calls are seen"
        );
        c.observe(us(10), 1);
        c.observe(us(80), 8);
        assert!(c.cheap(1, budget));
        assert!(!c.cheap(1, Duration::ZERO));
        // Batches of 8-15 rows: 10 us per row.
        assert!(c.cheap(10, budget));
        assert!(!c.cheap(11, budget));
        // No 2-7 or 16+ row call seen yet: unknown, so not cheap.
        assert!(!c.cheap(2, budget));
        assert!(!c.cheap(16, budget));
        // One call stretched to 10 ms (preempted): expensive for a few calls, then cheap again.
        c.observe(Duration::from_millis(10), 1);
        assert!(!c.cheap(1, budget));
        for _ in 0..5 {
            c.observe(us(10), 1);
        }
        assert!(c.cheap(1, budget));
        // A model that is really slow stays off the runtime.
        let slow = CostEstimate::default();
        for _ in 0..100 {
            slow.observe(Duration::from_millis(1), 1);
        }
        assert!(!slow.cheap(1, budget));
    }

    fn on_compute_thread(name: &Option<String>) -> bool {
        name.as_deref().is_some_and(|n| n.starts_with("homeml-t-"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cheap_model_runs_inline_once_its_cost_is_known() {
        let model = double(0);
        let metrics = Arc::new(ModelMetrics::default());
        // A budget no call of this model can exceed, however busy the machine is.
        let settings = BatcherSettings {
            inline_budget: Duration::from_secs(5),
            ..Default::default()
        };
        let b = Batcher::new("t", model.clone(), &settings, metrics.clone()).unwrap();
        for i in 0..20 {
            let out = b.infer(rows(&[i as f32]), 1, None).await.unwrap();
            assert_eq!(out[0].data(), &TensorData::F32(vec![i as f32 * 2.0]));
        }
        let threads = model.threads.lock().unwrap().clone();
        assert_eq!(threads.len(), 20);
        // Unknown cost: the first calls go to the compute thread; then the caller computes.
        assert!(
            threads[..COST_WARMUP_CALLS as usize]
                .iter()
                .all(on_compute_thread),
            "{threads:?}"
        );
        assert!(!on_compute_thread(&threads[19]), "{threads:?}");
        assert_eq!(metrics.compute.count(), 20);
        assert_eq!(metrics.queue_wait.count(), 20);
        // Errors and panics computed inline are answered like the others.
        let err = b.infer(rows(&[-1.0]), 1, None).await.unwrap_err();
        assert!(
            matches!(
                err,
                BatchError::Model {
                    client_error: true,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = b.infer(rows(&[f32::NAN]), 1, None).await.unwrap_err();
        assert!(matches!(err, BatchError::Panicked(_)), "{err:?}");
        assert!(b.infer(rows(&[3.0]), 1, None).await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_model_or_a_zero_budget_stays_on_the_compute_threads() {
        for (delay_ms, budget) in [(1, Duration::from_micros(100)), (0, Duration::ZERO)] {
            let model = double(delay_ms);
            let settings = BatcherSettings {
                inline_budget: budget,
                ..Default::default()
            };
            let b = Batcher::new(
                "t",
                model.clone(),
                &settings,
                Arc::new(ModelMetrics::default()),
            )
            .unwrap();
            for i in 0..12 {
                b.infer(rows(&[i as f32]), 1, None).await.unwrap();
            }
            let threads = model.threads.lock().unwrap().clone();
            assert!(threads.iter().all(on_compute_thread), "{threads:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_on_a_cheap_model_get_their_rows() {
        let model = double(0);
        let b = Arc::new(
            Batcher::new(
                "t",
                model.clone(),
                &BatcherSettings::default(),
                Arc::new(ModelMetrics::default()),
            )
            .unwrap(),
        );
        let mut tasks = Vec::new();
        for i in 0..400 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                let vals = [i as f32, i as f32 + 0.25, i as f32 + 0.5];
                let out = b.infer(rows(&vals), 3, None).await.unwrap();
                assert_eq!(
                    out[0].data(),
                    &TensorData::F32(vals.iter().map(|v| v * 2.0).collect())
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(model.calls.lock().unwrap().iter().sum::<usize>(), 1200);
    }
}
