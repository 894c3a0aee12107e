//! [`SqlStore`]: the handle on one database (its pool, engine and artifact root), opening it from a
//! URI, and the read and write-transaction wrappers every store call goes through.

use std::path::PathBuf;

use super::common::{DbErrorKind, Engine, SqlErr, R};
use super::db::Conn;
use super::pool::Pool;
use super::{pg, schema, sqlite};
use crate::error::{Result, TrackingError};

/// How many times a write transaction that lost a race is run again.
const WRITE_ATTEMPTS: usize = 8;

/// A tracking store in a SQL database with MLflow's schema.
pub struct SqlStore {
    pool: Pool,
    engine: Engine,
    /// The URI without credentials (for messages).
    pub(crate) uri: String,
    /// The artifact root of new experiments (`<root>/<experiment id>`).
    pub(crate) artifact_root: String,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("uri", &self.uri)
            .field("artifact_root", &self.artifact_root)
            .finish()
    }
}

/// Whether a tracking URI names a SQL database (`sqlite:`, `postgresql:`, `postgres:`, with an
/// optional `+driver` as SQLAlchemy writes them).
pub fn is_sql_uri(uri: &str) -> bool {
    let scheme = uri.split_once(':').map(|(s, _)| s).unwrap_or("");
    let base = scheme.split('+').next().unwrap_or("");
    matches!(base, "sqlite" | "postgresql" | "postgres")
}

/// The file path of a `sqlite:` URI as SQLAlchemy reads it: `sqlite:///rel.db` is relative,
/// `sqlite:////abs.db` absolute; query parameters are dropped.
fn sqlite_path(uri: &str) -> Result<String> {
    let bad = |reason: &str| TrackingError::BadUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    let rest = uri
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| bad("expected sqlite:///path.db"))?;
    let rest = rest.split('?').next().unwrap_or("");
    let path = rest
        .strip_prefix('/')
        .ok_or_else(|| bad("expected sqlite:///path.db (relative) or sqlite:////abs/path.db"))?;
    if path.is_empty() {
        return Err(bad(
            "an in-memory database would lose everything at exit: give a file",
        ));
    }
    Ok(path.to_string())
}

fn pool_size(default: usize) -> usize {
    std::env::var("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

impl SqlStore {
    /// Opens (creating its schema when the database is empty) the store at `uri`, with MLflow's
    /// client default artifact root (`./mlruns` as a `file://` URI).
    pub fn open(uri: &str) -> Result<SqlStore> {
        SqlStore::open_with_artifact_root(uri, None)
    }

    /// [`SqlStore::open`] for readers that must not conjure an empty database (`homeml serve`): a
    /// `sqlite:` file that does not exist is an error.
    pub fn open_existing(uri: &str) -> Result<SqlStore> {
        if uri.starts_with("sqlite:") {
            let path = sqlite_path(uri)?;
            if !std::path::Path::new(&path).is_file() {
                return Err(TrackingError::BadUri {
                    uri: uri.to_string(),
                    reason: format!("the database file {path} does not exist"),
                });
            }
        }
        SqlStore::open(uri)
    }

    /// [`SqlStore::open`] with the artifact root of new experiments (`homeml server` passes
    /// `--default-artifact-root`, `mlflow-artifacts:/` by default).
    pub fn open_with_artifact_root(uri: &str, artifact_root: Option<&str>) -> Result<SqlStore> {
        let store = SqlStore::connect(uri, artifact_root)?;
        let (uri, root) = (store.uri.clone(), store.artifact_root.clone());
        store.write(|c| schema::ensure(c, &uri, &root))?;
        Ok(store)
    }

    /// The handle on `uri` without creating or checking anything in the database (the migration
    /// creates the schema itself, without the Default experiment).
    pub(crate) fn connect(uri: &str, artifact_root: Option<&str>) -> Result<SqlStore> {
        let shown = crate::util::strip_url_credentials(uri);
        let artifact_root = match artifact_root {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                crate::util::file_uri(&cwd.join("mlruns"))
            }
        };
        let scheme = uri.split(':').next().unwrap_or("").split('+').next();
        let (engine, pool) = match scheme {
            Some("sqlite") => {
                let path = sqlite_path(uri)?;
                if let Some(parent) = std::path::Path::new(&path).parent() {
                    if !parent.as_os_str().is_empty() && !parent.is_dir() {
                        return Err(TrackingError::BadUri {
                            uri: uri.to_string(),
                            reason: format!("the folder {} does not exist", parent.display()),
                        });
                    }
                }
                let connect = move || sqlite::open(&path).map(Conn::Sqlite);
                (Engine::Sqlite, Pool::new(pool_size(4), Box::new(connect)))
            }
            Some("postgresql") | Some("postgres") => {
                let config = pg_config(uri)?;
                let connect = move || {
                    config
                        .connect(postgres::NoTls)
                        .map(|c| Conn::Postgres(Box::new(c)))
                        .map_err(pg::db_error)
                };
                (Engine::Postgres, Pool::new(pool_size(8), Box::new(connect)))
            }
            _ => {
                return Err(TrackingError::BadUri {
                    uri: shown,
                    reason: "a SQL tracking store is sqlite:///path.db or postgresql://user:pass@host:port/db".into(),
                })
            }
        };
        Ok(SqlStore {
            pool,
            engine,
            uri: shown,
            artifact_root,
        })
    }

    /// Which engine.
    pub(crate) fn engine(&self) -> Engine {
        self.engine
    }

    /// The database URI without credentials.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The artifact root of new experiments.
    pub fn artifact_root(&self) -> &str {
        &self.artifact_root
    }

    /// Runs `f` on a connection outside an explicit transaction (one consistent statement at a
    /// time; reads).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Conn) -> R<T>) -> Result<T> {
        let out = self
            .pool
            .with(|c| {
                let r = f(c);
                let good = !matches!(&r, Err(SqlErr::Db(e)) if e.kind == DbErrorKind::Busy);
                (r, good)
            })
            .map_err(TrackingError::from)?;
        out.map_err(TrackingError::from)
    }

    /// Runs `f` in a write transaction: committed when it returns `Ok`, rolled back otherwise, and
    /// run again (up to [`WRITE_ATTEMPTS`]) when it lost a race with another writer.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&mut Conn) -> R<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let out = self
                .pool
                .with(|c| {
                    let r = (|| {
                        c.begin_write()?;
                        match f(c) {
                            Ok(v) => {
                                c.batch("COMMIT")?;
                                Ok(v)
                            }
                            Err(e) => Err(e),
                        }
                    })();
                    let mut good = true;
                    if r.is_err() && c.batch("ROLLBACK").is_err() {
                        // No transaction open any more (BEGIN failed, or the server went away).
                        good = !c.is_broken();
                    }
                    if matches!(&r, Err(SqlErr::Db(e)) if e.kind == DbErrorKind::Busy) {
                        good = false;
                    }
                    (r, good)
                })
                .map_err(TrackingError::from)?;
            match out {
                Err(SqlErr::Db(e))
                    if attempt < WRITE_ATTEMPTS
                        && (e.kind == DbErrorKind::Unique
                            || (e.kind == DbErrorKind::Busy
                                && self.engine == Engine::Postgres)) =>
                {
                    // A little jitter so two losers do not collide again in step.
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 16);
                    std::thread::sleep(std::time::Duration::from_millis(
                        10 * attempt as u64 + jitter,
                    ));
                    continue;
                }
                other => return other.map_err(TrackingError::from),
            }
        }
    }
}

/// A postgres connection config from a SQLAlchemy-style URI (`postgresql+psycopg2://` too).
fn pg_config(uri: &str) -> Result<postgres::Config> {
    let (_, rest) = uri.split_once("://").ok_or_else(|| TrackingError::BadUri {
        uri: crate::util::strip_url_credentials(uri),
        reason: "expected postgresql://user:pass@host:port/db".into(),
    })?;
    let normalized = format!("postgresql://{rest}");
    let mut config: postgres::Config =
        normalized
            .parse()
            .map_err(|e: postgres::Error| TrackingError::BadUri {
                uri: crate::util::strip_url_credentials(uri),
                reason: e.to_string(),
            })?;
    config.application_name("homeml");
    config.connect_timeout(std::time::Duration::from_secs(10));
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert!(is_sql_uri("sqlite:///x.db"));
        assert!(is_sql_uri("postgresql+psycopg2://u@h/db"));
        assert!(!is_sql_uri("./mlruns"));
        assert!(!is_sql_uri("http://h"));
        assert_eq!(sqlite_path("sqlite:///x.db").unwrap(), "x.db");
        assert_eq!(sqlite_path("sqlite:////tmp/x.db").unwrap(), "/tmp/x.db");
        assert!(sqlite_path("sqlite://").is_err());
        assert_eq!(
            super::super::common::join_uri("mlflow-artifacts:/", "0"),
            "mlflow-artifacts:/0"
        );
        assert_eq!(
            super::super::common::join_uri("file:///a/b/", "3"),
            "file:///a/b/3"
        );
        assert!(pg_config("postgresql://u:p@127.0.0.1:5432/db").is_ok());
    }
}
