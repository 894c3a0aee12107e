//! The small async runtime the object-store artifact store runs its requests on.
//!
//! `object_store` is async and the [`super::ArtifactStore`] trait blocks: every request is spawned on
//! one process-wide runtime of two threads (`homeml-objstore`), and the calling thread waits for its
//! result on a plain channel. The caller is never a worker of that runtime, so a waiting caller never
//! stalls the requests it waits for; callers inside another runtime (the tracking server) call the
//! store from its blocking threads, as they do for the local store.

use std::future::Future;
use std::sync::OnceLock;

use crate::error::{Result, TrackingError};

static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("homeml-objstore")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| TrackingError::ObjectStore {
            uri: "(runtime)".into(),
            reason: format!("cannot start the object store's I/O threads: {e}"),
        })
}

/// The handle of the object-store runtime (object_store's clients are built inside it).
pub(crate) fn handle() -> Result<tokio::runtime::Handle> {
    Ok(runtime()?.handle().clone())
}

/// Runs `fut` on the object-store runtime and blocks the calling thread until it is done.
pub(crate) fn block_on<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = runtime()?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| TrackingError::ObjectStore {
        uri: "(runtime)".into(),
        reason: "an object store request was dropped before it finished".into(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn blocks_from_plain_and_from_blocking_threads_of_another_runtime() {
        assert_eq!(super::block_on(async { 1 + 1 }).unwrap(), 2);
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got = other.block_on(async {
            tokio::task::spawn_blocking(|| super::block_on(async { 40 + 2 }).unwrap())
                .await
                .unwrap()
        });
        assert_eq!(got, 42);
    }
}
