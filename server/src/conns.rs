//! The open connections: which are idle, closing the longest-idle one to make room, and the idle
//! timeout.
//!
//! A connection is busy from the moment hyper hands the service a request until the answer's last
//! byte is taken (the [`BusyGuard`] in the answer body); otherwise it is idle: between keep-alive
//! requests, or before its first request is complete. When a connection arrives past
//! `max_connections`, [`Conns::evict_idlest`] asks the connection idle the longest to close (a graceful
//! close of an idle hyper connection is immediate), so idle keep-alive connections can never lock
//! working clients out. A connection idle for `idle_timeout` closes itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// `idle_since` of a connection that is busy or already asked to close.
const NOT_IDLE: u64 = u64::MAX;

/// One connection's state, shared by its task, its answers' guards and the registry.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Milliseconds since the registry's epoch at which it became idle; [`NOT_IDLE`] when busy.
    idle_since: AtomicU64,
    /// Requests being answered (0 or 1 with HTTP/1.1; a counter is robust to overlap).
    busy: AtomicU64,
    /// Set when asked to close.
    closing: std::sync::atomic::AtomicBool,
    /// Wakes the connection's task to close.
    close: Notify,
}

impl Conn {
    /// Whether the connection was asked to close.
    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Completes when the connection is asked to close.
    pub(crate) async fn close_requested(&self) {
        let notified = self.close.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.closing() {
            return;
        }
        notified.await;
    }
}

/// Marks a connection busy while alive (held by the answer body until it is sent).
#[derive(Debug)]
pub(crate) struct BusyGuard {
    conn: Arc<Conn>,
    conns: Arc<Conns>,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.conn.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.conn
                .idle_since
                .store(self.conns.now_ms(), Ordering::Release);
        }
    }
}

/// The registry of open connections.
#[derive(Debug)]
pub(crate) struct Conns {
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Conns {
    /// An empty registry.
    pub(crate) fn new() -> Arc<Conns> {
        Arc::new(Conns {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NOT_IDLE - 1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new (idle) connection; it is removed when the returned handle drops.
    pub(crate) fn register(self: &Arc<Conns>) -> Registered {
        let conn = Arc::new(Conn {
            idle_since: AtomicU64::new(self.now_ms()),
            busy: AtomicU64::new(0),
            closing: std::sync::atomic::AtomicBool::new(false),
            close: Notify::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, conn.clone());
        Registered {
            id,
            conn,
            conns: self.clone(),
        }
    }

    /// Asks the connection idle the longest to close; false when none is idle. Each connection is
    /// asked once, so concurrent callers pick different connections.
    pub(crate) fn evict_idlest(&self) -> bool {
        let open = self.lock();
        let mut candidates: Vec<(u64, &Arc<Conn>)> = open
            .values()
            .filter_map(|c| {
                let since = c.idle_since.load(Ordering::Acquire);
                (since != NOT_IDLE && !c.closing()).then_some((since, c))
            })
            .collect();
        candidates.sort_by_key(|(since, _)| *since);
        for (since, c) in candidates {
            // Claim it: it must still be idle since the same moment.
            if c.idle_since
                .compare_exchange(since, NOT_IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                c.closing.store(true, Ordering::Release);
                c.close.notify_one();
                return true;
            }
        }
        false
    }
}

/// A registered connection: its state, removed from the registry when dropped.
#[derive(Debug)]
pub(crate) struct Registered {
    id: u64,
    conn: Arc<Conn>,
    conns: Arc<Conns>,
}

impl Registered {
    /// The connection's state.
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// Marks the connection busy until the guard drops.
    pub(crate) fn busy(&self) -> BusyGuard {
        self.conn.busy.fetch_add(1, Ordering::AcqRel);
        self.conn.idle_since.store(NOT_IDLE, Ordering::Release);
        BusyGuard {
            conn: self.conn.clone(),
            conns: self.conns.clone(),
        }
    }

    /// Completes once the connection has been idle for `timeout` (checked again after each wait, as
    /// requests come and go).
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        loop {
            let since = self.conn.idle_since.load(Ordering::Acquire);
            let wait = if since == NOT_IDLE {
                timeout
            } else {
                let idle = Duration::from_millis(self.conns.now_ms().saturating_sub(since));
                if idle >= timeout {
                    return;
                }
                timeout - idle
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_idlest_connection_is_asked_to_close_and_busy_ones_never() {
        let conns = Conns::new();
        let a = conns.register();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let b = conns.register();
        let busy = b.busy();
        assert!(conns.evict_idlest(), "a is idle");
        assert!(a.conn().closing());
        a.conn().close_requested().await;
        assert!(!b.conn().closing());
        assert!(!conns.evict_idlest(), "b is busy, a already asked");
        drop(busy);
        assert!(conns.evict_idlest(), "b is idle again");
        assert!(b.conn().closing());
        drop(a);
        drop(b);
        assert!(conns.lock().is_empty());
    }
}
