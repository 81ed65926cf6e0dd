//! The PostgreSQL store: one database shared by any number of agent processes (replicas).
//!
//! The queries are the SQLite store's (`sql.rs`); what differs is how a write begins (plain
//! `BEGIN`, PostgreSQL's row locks and unique constraints do the rest), how model versions
//! are numbered under concurrent writers (a table lock), the export's snapshot (`REPEATABLE
//! READ`) and leases between replicas (a row per lease with its holder and expiry).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;

use super::sql::{sql_helpers, store_methods, ALL, CORRECT, TABLES};
use super::{
    now_ms, BanditDump, Cursor, ExampleDump, ExampleRow, FeedbackDump, FeedbackEntry,
    FeedbackPoint, FeedbackRecord, IntentDump, IntentRow, IntentStats, MessageDump, MessagePoint,
    MessageRow, ModelDump, ModelEvent, ModelInfo, ModelRecord, Outcome, RecentMessage, Record,
    Restore, ServedDump, Snapshot, Source, Stats, Store, Table, TokenDump, Window3,
};
use crate::error::{AgentError, Result};

/// The database's clock in milliseconds since the epoch: leases compare expiry times on one
/// clock, whichever replica's clock is off. (`clock_timestamp`, not `now()`: the latter is
/// the transaction's start.)
const DB_NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// Connections per process: enough for the message writer, feedback and the reads of a page
/// refresh at once; several replicas multiply it (PostgreSQL's default limit is 100).
const POOL_SIZE: u32 = 8;

/// Whether `db` names a PostgreSQL database (`postgres://…` or `postgresql://…`) rather than
/// a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("")
        ),
        Err(_) => "the --db URL".to_string(),
    }
}

/// The agent's store on a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database`,
    /// with `?host=/socket/dir` for a Unix socket) and brings its schema up to date with the
    /// migrations in `agent/migrations/postgres/` (replicas starting at once take turns:
    /// sqlx holds an advisory lock while migrating).
    ///
    /// Durability: every session runs with `synchronous_commit = on`, whatever the server's
    /// default, so a commit has reached the write-ahead log on disk (and the synchronous
    /// standbys, if the server has any) before the agent acknowledges it.
    pub async fn connect(url: &str) -> Result<PgStore> {
        let shown = redacted(url);
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| AgentError::config("db", format!("{shown}: {e}")))?
            .options([("synchronous_commit", "on")])
            .application_name("autodidact-agent");
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| AgentError::config("db", format!("cannot connect to {shown}: {e}")))?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// Closes the pool (waits for open connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction: a plain `BEGIN` (READ COMMITTED). Every write is either an insert
    /// whose conflicts the unique constraints decide, an upsert, or (model versions) runs
    /// under [`PgStore::lock_models`].
    async fn write_tx(&self) -> Result<Tx<'static>> {
        Ok(self.pool.begin().await?)
    }

    /// Serialises writers of model versions across replicas: the next version number is read
    /// (`MAX + 1`) and written in one transaction, which two replicas must not interleave. The
    /// lock conflicts with itself and not with readers, and ends with the transaction.
    async fn lock_models(&self, tx: &mut Tx<'_>) -> Result<()> {
        sqlx::query("LOCK TABLE model_versions IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

sql_helpers!(sqlx::Postgres);

/// A read-only `REPEATABLE READ` transaction: every page of an export sees the same state
/// while replicas keep writing.
#[derive(Debug)]
pub struct PgSnapshot {
    tx: Tx<'static>,
}

impl Snapshot for PgSnapshot {
    async fn page(
        &mut self,
        table: Table,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Record>> {
        snapshot_page(&mut self.tx, table, after, limit).await
    }
}

/// A write transaction restoring an export into an empty PostgreSQL database.
#[derive(Debug)]
pub struct PgRestore {
    tx: Tx<'static>,
}

impl Restore for PgRestore {
    async fn insert(&mut self, record: &Record) -> Result<()> {
        restore_insert(&mut self.tx, record).await
    }

    /// Moves each identity past the largest id restored (ids were given explicitly, which an
    /// identity's sequence does not see), then commits.
    async fn commit(mut self) -> Result<()> {
        for (table, column) in [
            ("messages", "id"),
            ("examples", "id"),
            ("feedback", "seq"),
            ("model_events", "seq"),
        ] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                 COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
            ))
            .execute(&mut *self.tx)
            .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store for PgStore {
    type Snapshot = PgSnapshot;
    type Restore = PgRestore;

    async fn snapshot(&self) -> Result<PgSnapshot> {
        Ok(PgSnapshot {
            tx: self
                .pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await?,
        })
    }

    async fn restore(&self) -> Result<PgRestore> {
        let mut tx = self.write_tx().await?;
        // Nothing else may write while the export goes in (its ids are taken as they are).
        for table in TABLES {
            sqlx::query(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))
                .execute(&mut *tx)
                .await?;
        }
        Ok(PgRestore { tx })
    }

    /// One statement, atomic on the lease's row: inserted when nobody had it, taken over when
    /// it expired (on the database's clock), renewed when `holder` has it; otherwise the
    /// update's condition fails and no row comes back.
    async fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool> {
        let row = sqlx::query(&format!(
            "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, {DB_NOW_MS} + $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_ms = excluded.expires_ms \
             WHERE leases.holder = excluded.holder OR leases.expires_ms < {DB_NOW_MS} \
             RETURNING holder"
        ))
        .bind(name)
        .bind(holder)
        .bind(ttl_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn shared(&self) -> bool {
        true
    }

    store_methods!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_and_passwords_never_shown() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("agent.db"));
        assert!(!is_postgres_url("/var/lib/postgres/agent.db"));
        let shown = redacted("postgres://agent:s3cret@db.example:5433/autodidact");
        assert_eq!(shown, "postgres://agent@db.example:5433/autodidact");
        assert!(!redacted("postgres://a:s3cret@[bad").contains("s3cret"));
    }
}
