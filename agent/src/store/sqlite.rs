//! The SQLite store: one database file in WAL mode.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use super::sql::{sql_helpers, store_methods, ALL, CORRECT, TABLES};
use super::{
    now_ms, BanditDump, Cursor, ExampleDump, ExampleRow, FeedbackDump, FeedbackEntry,
    FeedbackPoint, FeedbackRecord, IntentDump, IntentRow, IntentStats, MessageDump, MessagePoint,
    MessageRow, ModelDump, ModelEvent, ModelInfo, ModelRecord, Outcome, RecentMessage, Record,
    Restore, ServedDump, Snapshot, Source, Stats, Store, Table, TokenDump, Window3,
};
use crate::error::{AgentError, Result};

/// The agent's store on a SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The lock file's handle, held while the store is open.
    lock: Arc<Mutex<Option<std::fs::File>>>,
}

/// Takes the exclusive lock `<db>.lock` beside the database: two agent processes on one file
/// would each serve from their own in-memory prototypes and policy and overwrite each other's
/// model versions, so the second one refuses to start. The OS drops the lock when the process
/// ends, however it ends (`kill -9` included).
fn lock(db: &Path) -> Result<std::fs::File> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| AgentError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(AgentError::Locked {
            path: db.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(AgentError::io(&path, e)),
    }
}

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path` and brings its schema up to
    /// date with the migrations in `agent/migrations/`.
    ///
    /// Journal: WAL with `synchronous = FULL`. In WAL mode `NORMAL` already survives a crash
    /// of the process (a committed transaction is in the WAL file, which the OS keeps), but a
    /// power loss or kernel crash may roll back the last commits; the agent tells a client its
    /// feedback is stored, so it pays one fsync per commit (FULL) to make that true on power
    /// loss too. Foreign keys are enforced; a writer waits up to 5 s for the lock.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let lock = lock(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let corrupt = |e: sqlx::Error| match &e {
            sqlx::Error::Database(d)
                if d.code()
                    .and_then(|c| c.parse::<i64>().ok())
                    .is_some_and(|c| matches!(c & 0xff, 11 | 26)) =>
            {
                AgentError::Corrupt {
                    path: path.to_path_buf(),
                    reason: d.message().to_string(),
                }
            }
            _ => AgentError::Db(e),
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A commit that fails (disk full, I/O error) can leave the connection inside its
            // transaction when the rollback sqlx queues fails too, and every later
            // transaction on it would be refused ("non-zero transaction depth"). A connection
            // that cannot open a fresh transaction when it comes back is closed instead of
            // reused, so writes recover as soon as the disk does. A deferred BEGIN and its
            // rollback touch no file.
            .after_release(|conn, _| {
                Box::pin(async move {
                    use sqlx::Connection;
                    Ok(match conn.begin_with("BEGIN").await {
                        Ok(tx) => tx.rollback().await.is_ok(),
                        Err(_) => false,
                    })
                })
            })
            .connect_with(options)
            .await
            .map_err(corrupt)?;
        // A damaged file is refused before anything is served from it (a quick check reads
        // every page once: seconds on a large database, once per start).
        let check: String = sqlx::query("PRAGMA quick_check")
            .fetch_one(&pool)
            .await
            .map_err(corrupt)?
            .try_get(0)?;
        if check != "ok" {
            pool.close().await;
            return Err(AgentError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("quick_check: {check}"),
            });
        }
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => corrupt(e),
                other => AgentError::Migrate(other),
            })?;
        Ok(SqliteStore {
            pool,
            lock: Arc::new(Mutex::new(Some(lock))),
        })
    }

    /// Closes the pool (waits for open connections to finish) and lets another process open
    /// the file.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at once (waiting up to the
    /// busy timeout for it): a deferred transaction that reads before it writes fails at once
    /// with `SQLITE_BUSY` when another connection committed in between, whatever the timeout.
    /// (PostgreSQL needs no such thing: its plain `BEGIN` is what a backend there would use.)
    async fn write_tx(&self) -> Result<Tx<'static>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Nothing to do: `BEGIN IMMEDIATE` already lets one writer at a time in.
    async fn lock_models(&self, _tx: &mut Tx<'_>) -> Result<()> {
        Ok(())
    }
}

sql_helpers!(sqlx::Sqlite);

/// A read transaction over the SQLite file: every page sees the same state (WAL snapshot).
#[derive(Debug)]
pub struct SqliteSnapshot {
    tx: Tx<'static>,
}

impl Snapshot for SqliteSnapshot {
    async fn page(
        &mut self,
        table: Table,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Record>> {
        snapshot_page(&mut self.tx, table, after, limit).await
    }
}

/// A write transaction restoring an export into an empty SQLite file.
#[derive(Debug)]
pub struct SqliteRestore {
    tx: Tx<'static>,
}

impl Restore for SqliteRestore {
    async fn insert(&mut self, record: &Record) -> Result<()> {
        restore_insert(&mut self.tx, record).await
    }

    async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store for SqliteStore {
    type Snapshot = SqliteSnapshot;
    type Restore = SqliteRestore;

    async fn snapshot(&self) -> Result<SqliteSnapshot> {
        Ok(SqliteSnapshot {
            tx: self.pool.begin().await?,
        })
    }

    async fn restore(&self) -> Result<SqliteRestore> {
        Ok(SqliteRestore {
            tx: self.write_tx().await?,
        })
    }

    /// Always held: one process has the file (its lock file sees to that), so there is no
    /// other replica to share work with.
    async fn acquire_lease(&self, _name: &str, _holder: &str, _ttl_ms: i64) -> Result<bool> {
        Ok(true)
    }

    async fn release_lease(&self, _name: &str, _holder: &str) -> Result<()> {
        Ok(())
    }

    fn shared(&self) -> bool {
        false
    }

    store_methods!();
}
