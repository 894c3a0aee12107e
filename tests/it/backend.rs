//! The tracking backends the tracking-server tests run on: the file store, SQLite and PostgreSQL
//! (Debian's server, a throwaway cluster per test: initdb in a temp dir, pg_ctl on a free loopback
//! port, stopped when the test ends). A test takes a [`Backend`] and asks it for the
//! `--backend-store-uri` and for a store handle to check what the server wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use homeml_tracking::{SqlStore, Store, TrackingStore};

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `mlruns/`.
    File,
    /// `sqlite:///...`.
    Sqlite,
    /// `postgresql://...`.
    Postgres,
}

/// A backend ready for one test (a PostgreSQL cluster runs as long as this lives).
pub struct Backend {
    /// Which one.
    pub kind: Kind,
    /// `--backend-store-uri`.
    pub uri: String,
    _pg: Option<PgCluster>,
}

impl Backend {
    /// A fresh, empty backend of `kind` under `dir`.
    pub fn new(kind: Kind, dir: &Path) -> Backend {
        match kind {
            Kind::File => Backend {
                kind,
                uri: dir.join("mlruns").to_str().unwrap().to_string(),
                _pg: None,
            },
            Kind::Sqlite => Backend {
                kind,
                uri: format!("sqlite:///{}", dir.join("mlflow.db").display()),
                _pg: None,
            },
            Kind::Postgres => {
                let pg = PgCluster::start(&dir.join("pg"));
                let uri = pg.create_db("mlflow");
                Backend {
                    kind,
                    uri,
                    _pg: Some(pg),
                }
            }
        }
    }

    /// The cluster, for PostgreSQL.
    pub fn pg(&self) -> Option<&PgCluster> {
        self._pg.as_ref()
    }

    /// The store the server writes, opened by homeml's own code.
    pub fn open(&self) -> Box<dyn TrackingStore> {
        match self.kind {
            Kind::File => Box::new(Store::open(&self.uri).unwrap()),
            _ => Box::new(SqlStore::open(&self.uri).unwrap()),
        }
    }
}

/// A PostgreSQL cluster of Debian's server binaries in a temp dir, on a free loopback port.
pub struct PgCluster {
    bin: PathBuf,
    data: PathBuf,
    /// The port.
    pub port: u16,
    /// The server options (`pg_ctl start -o`).
    opts: String,
}

fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server is not installed (apt-get install postgresql; scripts/test.sh does)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").is_file())
        .collect();
    dirs.sort();
    dirs.pop().expect("no /usr/lib/postgresql/*/bin/pg_ctl")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `prog args` as the postgres user when running as root (PostgreSQL refuses to run as root).
fn pg_cmd(prog: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(prog);
        c
    } else {
        Command::new(prog)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgCluster {
    /// initdb + pg_ctl start in `dir` (trust auth on loopback only, user `homeml`).
    pub fn start(dir: &Path) -> PgCluster {
        let bin = pg_bin();
        std::fs::create_dir_all(dir).unwrap();
        if is_root() {
            crate::common::run_ok(Command::new("chown").args(["-R", "postgres"]).arg(dir));
            // The postgres user must reach the folder through its parents.
            let mut p = dir.parent();
            while let Some(d) = p {
                let _ = Command::new("chmod").arg("o+x").arg(d).status();
                p = d.parent();
            }
        }
        let data = dir.join("data");
        crate::common::run_ok(pg_cmd(&bin.join("initdb")).arg("-D").arg(&data).args([
            "-U",
            "homeml",
            "--auth=trust",
            "--locale=C",
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        let port = free_port();
        let opts = format!("-k {} -h 127.0.0.1 -p {port} -c fsync=off", dir.display());
        crate::common::run_ok(
            pg_cmd(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-o")
                .arg(&opts)
                .arg("-l")
                .arg(dir.join("server.log"))
                .args(["-w", "start"]),
        );
        PgCluster {
            bin,
            data,
            port,
            opts,
        }
    }

    /// Creates database `name` and returns its URI.
    pub fn create_db(&self, name: &str) -> String {
        crate::common::run_ok(
            Command::new(self.bin.join("psql"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "homeml", "-d", "postgres", "-c"])
                .arg(format!("CREATE DATABASE {name}")),
        );
        format!("postgresql://homeml@127.0.0.1:{}/{name}", self.port)
    }

    /// `pg_ctl stop` (fast: open connections are closed).
    pub fn stop(&self) {
        crate::common::run_ok(
            pg_cmd(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "fast", "-w", "stop"]),
        );
    }

    /// `pg_ctl start` again with the options of the first start (the same port).
    pub fn start_again(&self) {
        crate::common::run_ok(
            pg_cmd(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .arg("-o")
                .arg(&self.opts)
                .arg("-l")
                .arg(self.data.with_file_name("server.log"))
                .args(["-w", "start"]),
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = pg_cmd(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
