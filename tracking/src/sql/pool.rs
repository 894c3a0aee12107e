//! A small blocking connection pool: up to `max` connections made on demand by the engine's
//! connect function, handed out one per store call and returned when the call is done. A
//! connection that failed (PostgreSQL restarted) is dropped instead of returned.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::common::{DbError, DbErrorKind};
use super::db::Conn;

type Connect = Box<dyn Fn() -> Result<Conn, DbError> + Send + Sync>;

/// The pool.
pub(crate) struct Pool {
    connect: Connect,
    max: usize,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<Conn>,
    open: usize,
}

/// How long a caller waits for a free connection before the store answers "busy".
const WAIT: Duration = Duration::from_secs(30);

impl Pool {
    /// A pool of at most `max` connections made by `connect`.
    pub(crate) fn new(max: usize, connect: Connect) -> Pool {
        Pool {
            connect,
            max: max.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Runs `f` on a pooled connection. `f` reports whether the connection is still good.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Conn) -> (T, bool)) -> Result<T, DbError> {
        let mut conn = self.take()?;
        let (out, good) = f(&mut conn);
        self.give_back(conn, good);
        Ok(out)
    }

    fn take(&self) -> Result<Conn, DbError> {
        let busy = || DbError {
            kind: DbErrorKind::Busy,
            message: format!("no free database connection within {} s", WAIT.as_secs()),
        };
        let mut st = self.state.lock().map_err(|_| busy())?;
        loop {
            if let Some(c) = st.idle.pop() {
                return Ok(c);
            }
            if st.open < self.max {
                st.open += 1;
                drop(st);
                return match (self.connect)() {
                    Ok(c) => Ok(c),
                    Err(e) => {
                        if let Ok(mut st) = self.state.lock() {
                            st.open -= 1;
                        }
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let (next, timeout) = self.freed.wait_timeout(st, WAIT).map_err(|_| busy())?;
            st = next;
            if timeout.timed_out() && st.idle.is_empty() && st.open >= self.max {
                return Err(busy());
            }
        }
    }

    fn give_back(&self, mut conn: Conn, good: bool) {
        let keep = good && !conn.is_broken();
        if let Ok(mut st) = self.state.lock() {
            if keep {
                st.idle.push(conn);
            } else {
                st.open -= 1;
            }
        }
        self.freed.notify_one();
    }
}
