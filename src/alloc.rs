//! Giving freed memory back to the OS after a burst of large requests.
//!
//! mimalloc keeps freed pages for reuse and purges (decommits) them after a delay, but only when a
//! thread of the process next calls into the allocator's slow paths; a server that goes quiet after
//! a burst of 30 MB requests therefore kept ~1.6 GB resident (bench/hardening.md). `homeml serve`
//! calls [`collect`] when a runtime thread parks (at most once a second per thread: its own heap's
//! free pages), and a small thread calls it every second (the process-wide purge of expired pages).
//! `homeml server`'s runtime threads call [`collect`] on *every* park instead: the artifact proxy's
//! 256 KB chunks are allocated on one thread and freed on another, and a worker whose last park of a
//! burst fell inside the once-a-second limit kept those pages until its next request, so the server
//! sat at 63-89 MB after the bench's workload (with 64 MB uploads and downloads). Collecting on every
//! park brings the file-store server to 21 MB for about 4% of one-client log-metric throughput
//! (bench/tracking-server.md, "Memory after the workload"). Its blocking-pool threads (where the
//! store's reads and writes run) call [`collect_all`] as they exit after a second without work.

use std::cell::Cell;
use std::time::{Duration, Instant};

// The symbol of the mimalloc linked in as the global allocator (libmimalloc-sys builds and links
// it; its Rust declaration needs the crate's `extended` feature and one more dependency).
extern "C" {
    fn mi_collect(force: bool);
}

/// The shortest time between two collections on one thread.
const EVERY: Duration = Duration::from_secs(1);

/// Frees what the calling thread's heap holds unused and purges expired free pages process-wide.
///
/// Cheap enough for a park hook called after every request: `mi_collect(false)` walks the
/// thread's own pages and frees what other threads handed back; forcing it ([`collect_all`]) on
/// every park also purged at once and cost a fifth of one-client log-metric throughput.
pub fn collect() {
    // SAFETY: `mi_collect` takes a plain bool, has no preconditions and may be called from any
    // thread at any time (mimalloc's documented API); mimalloc is this process's allocator.
    unsafe { mi_collect(false) }
}

/// Frees everything the calling thread's heap holds unused and purges free pages at once, without
/// waiting for mimalloc's purge delay (for a thread about to exit: its heap is otherwise abandoned
/// with its free pages still resident until another thread reclaims it).
pub fn collect_all() {
    // SAFETY: as in `collect`: no preconditions, any thread, any time.
    unsafe { mi_collect(true) }
}

/// [`collect`], at most once per [`EVERY`] on the calling thread (for a runtime's park hook).
pub fn collect_now_and_then() {
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    LAST.with(|last| {
        if last.get().is_none_or(|t| t.elapsed() >= EVERY) {
            last.set(Some(Instant::now()));
            collect();
        }
    });
}

/// Starts the thread that collects every [`EVERY`] for the life of the process.
pub fn spawn_collector() {
    let _ = std::thread::Builder::new()
        .name("homeml-mem".into())
        .spawn(|| loop {
            std::thread::sleep(EVERY);
            collect();
        });
}
