//! The SQLite store: one database file in WAL mode.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use super::{
    now_ms, ExampleRow, FeedbackRecord, IntentRow, IntentStats, MessageRow, ModelEvent, ModelInfo,
    ModelRecord, Outcome, Source, Stats, Store, Window3,
};
use crate::error::{AgentError, Result};

/// "Everything" for the windowed aggregates (a plain `LIMIT` that PostgreSQL accepts too).
const ALL: i64 = i64::MAX;

/// Whether a feedback row says the prediction was right (portable SQL, 1.0 or 0.0). The
/// casts keep PostgreSQL from answering `NUMERIC` (SQLite reads `DOUBLE PRECISION` as REAL).
const CORRECT: &str = "CAST(CASE WHEN (f.correct_intent IS NULL AND f.resolved) \
     OR f.correct_intent = m.intent THEN 1.0 ELSE 0.0 END AS DOUBLE PRECISION)";

/// The agent's store on a SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
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
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// Closes the pool (waits for open connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn window(&self, sql: &str) -> Result<Window3> {
        let mut out = [None; 3];
        for (slot, limit) in out.iter_mut().zip([ALL, 100, 1000]) {
            let row = sqlx::query(sql).bind(limit).fetch_one(&self.pool).await?;
            *slot = row.try_get::<Option<f64>, _>(0)?;
        }
        Ok(Window3 {
            all: out[0],
            last_100: out[1],
            last_1000: out[2],
        })
    }
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

async fn insert_version(tx: &mut Tx<'_>, version: i64, m: &ModelRecord, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO model_versions (version, blob, metrics, status, reason, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(version)
    .bind(&m.blob)
    .bind(&m.metrics)
    .bind(&m.status)
    .bind(&m.reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn serve(tx: &mut Tx<'_>, version: i64, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO served_model (id, version, updated_ms) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, updated_ms = excluded.updated_ms",
    )
    .bind(version)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn event(
    tx: &mut Tx<'_>,
    version: i64,
    kind: &str,
    detail: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO model_events (version, event, detail, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(version)
    .bind(kind)
    .bind(detail)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    async fn served_model(&self) -> Result<Option<ModelRecord>> {
        Ok(sqlx::query_as::<_, ModelRecord>(
            "SELECT m.version, m.blob, m.metrics, m.status, m.reason FROM model_versions m \
             JOIN served_model s ON s.version = m.version WHERE s.id = 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn model(&self, version: i64) -> Result<Option<ModelRecord>> {
        Ok(sqlx::query_as::<_, ModelRecord>(
            "SELECT version, blob, metrics, status, reason FROM model_versions WHERE version = $1",
        )
        .bind(version)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn models(&self) -> Result<Vec<ModelInfo>> {
        Ok(sqlx::query_as::<_, ModelInfo>(
            "SELECT version, status, reason, metrics, created_ms FROM model_versions ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn model_events(&self) -> Result<Vec<ModelEvent>> {
        Ok(sqlx::query_as::<_, ModelEvent>(
            "SELECT seq, version, event, detail, created_ms FROM model_events ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn insert_model(&self, model: &ModelRecord) -> Result<i64> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        insert_version(&mut tx, version, model, now).await?;
        let accepted = model.status == "accepted";
        if accepted {
            serve(&mut tx, version, now).await?;
        }
        event(
            &mut tx,
            version,
            if accepted { "accepted" } else { "refused" },
            model.reason.as_deref(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    async fn set_served(&self, version: i64) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM model_versions WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(AgentError::not_found(
                "version",
                format!("no model version {version}"),
            ));
        }
        serve(&mut tx, version, now).await?;
        event(&mut tx, version, "rollback", None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_features(&self, rows: &[(i64, Vec<u8>)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, f) in rows {
            sqlx::query("UPDATE examples SET features = $2 WHERE id = $1")
                .bind(id)
                .bind(f)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn bootstrap(
        &self,
        intents: &[(String, String)],
        examples: &[(String, String, Vec<u8>)],
        model: &ModelRecord,
    ) -> Result<Vec<i64>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for (name, answer) in intents {
            sqlx::query(
                "INSERT INTO intents (name, answer, active, created_ms, updated_ms) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(name)
            .bind(answer)
            .bind(true)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let mut ids = Vec::with_capacity(examples.len());
        for (intent, text, features) in examples {
            let row = sqlx::query(
                "INSERT INTO examples (intent, text, source, features, created_ms) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(intent)
            .bind(text)
            .bind(Source::Bootstrap.as_str())
            .bind(features)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(row.try_get(0)?);
        }
        insert_version(&mut tx, model.version, model, now).await?;
        serve(&mut tx, model.version, now).await?;
        event(&mut tx, model.version, "bootstrap", None, now).await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn intents(&self) -> Result<Vec<IntentRow>> {
        Ok(sqlx::query_as::<_, IntentRow>(
            "SELECT name, answer, active, created_ms FROM intents ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn examples(&self) -> Result<Vec<ExampleRow>> {
        Ok(sqlx::query_as::<_, ExampleRow>(
            "SELECT id, intent, text, source, features FROM examples ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn create_intent(
        &self,
        name: &str,
        answer: &str,
        examples: &[(String, Vec<u8>)],
    ) -> Result<Vec<i64>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO intents (name, answer, active, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(answer)
        .bind(true)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(AgentError::conflict(
                "name",
                format!("an intent named {name:?} exists (retired intents keep their name)"),
            ));
        }
        let mut ids = Vec::with_capacity(examples.len());
        for (text, features) in examples {
            let row = sqlx::query(
                "INSERT INTO examples (intent, text, source, features, created_ms) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(name)
            .bind(text)
            .bind(Source::Operator.as_str())
            .bind(features)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(row.try_get(0)?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn update_intent(
        &self,
        name: &str,
        answer: Option<&str>,
        active: Option<bool>,
    ) -> Result<IntentRow> {
        let row = sqlx::query_as::<_, IntentRow>(
            "UPDATE intents SET answer = COALESCE($2, answer), active = COALESCE($3, active), \
             updated_ms = $4 WHERE name = $1 RETURNING name, answer, active, created_ms",
        )
        .bind(name)
        .bind(answer)
        .bind(active)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| AgentError::not_found("name", format!("no intent named {name:?}")))
    }

    async fn insert_message(&self, m: &MessageRow) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO messages (session, text, intent, confidence, ood_score, action, context, \
             model_version, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&m.session)
        .bind(&m.text)
        .bind(&m.intent)
        .bind(m.confidence)
        .bind(m.ood_score)
        .bind(&m.action)
        .bind(&m.context)
        .bind(m.model_version)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn message(&self, id: i64) -> Result<Option<MessageRow>> {
        Ok(sqlx::query_as::<_, MessageRow>(
            "SELECT id, session, text, intent, confidence, ood_score, action, context, \
             model_version FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn record_feedback(&self, f: &FeedbackRecord) -> Result<Option<i64>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO feedback (message_id, resolved, correct_intent, reward, created_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(f.message_id)
        .bind(f.resolved)
        .bind(&f.correct_intent)
        .bind(f.reward)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(AgentError::conflict(
                "id",
                format!("message {} already has feedback", f.message_id),
            ));
        }
        let mut example_id = None;
        if let Some((intent, text, features)) = &f.example {
            let row = sqlx::query(
                "INSERT INTO examples (intent, text, source, message_id, features, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(intent)
            .bind(text)
            .bind(Source::Feedback.as_str())
            .bind(f.message_id)
            .bind(features)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            example_id = Some(row.try_get(0)?);
        }
        sqlx::query(
            "INSERT INTO bandit_state (id, state, updated_ms) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
        )
        .bind(&f.bandit_state)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(example_id)
    }

    async fn outcomes(&self) -> Result<Vec<Outcome>> {
        let sql = format!(
            "SELECT m.intent AS intent, {CORRECT} AS correct FROM feedback f \
             JOIN messages m ON m.id = f.message_id ORDER BY f.seq"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Outcome {
                    predicted: r.try_get("intent")?,
                    correct: r.try_get::<f64, _>("correct")? > 0.5,
                })
            })
            .collect()
    }

    async fn bandit_state(&self) -> Result<Option<String>> {
        let row = sqlx::query("SELECT state FROM bandit_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn token_hash(&self, role: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT sha256 FROM tokens WHERE role = $1")
            .bind(role)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn set_token_hash(&self, role: &str, sha256: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (role, sha256, created_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (role) DO UPDATE SET sha256 = excluded.sha256, created_ms = excluded.created_ms",
        )
        .bind(role)
        .bind(sha256)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn stats(&self) -> Result<Stats> {
        let messages: i64 = sqlx::query("SELECT COUNT(*) FROM messages")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let feedback: i64 = sqlx::query("SELECT COUNT(*) FROM feedback")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let accuracy = self
            .window(&format!(
                "SELECT CAST(AVG(c) AS DOUBLE PRECISION) FROM (SELECT {CORRECT} AS c FROM feedback f \
                 JOIN messages m ON m.id = f.message_id ORDER BY f.seq DESC LIMIT $1) AS t"
            ))
            .await?;
        let mean_reward = self
            .window(
                "SELECT CAST(AVG(reward) AS DOUBLE PRECISION) FROM (SELECT reward FROM feedback ORDER BY seq DESC LIMIT $1) AS t",
            )
            .await?;
        let handoff_rate = self
            .window(
                "SELECT CAST(AVG(CASE WHEN action = 'handoff' THEN 1.0 ELSE 0.0 END) AS DOUBLE PRECISION) FROM \
                 (SELECT action FROM messages ORDER BY id DESC LIMIT $1) AS t",
            )
            .await?;
        let per_intent = sqlx::query(&format!(
            "SELECT m.intent AS intent, COUNT(*) AS n, CAST(AVG({CORRECT}) AS DOUBLE PRECISION) AS acc FROM feedback f \
             JOIN messages m ON m.id = f.message_id GROUP BY m.intent ORDER BY m.intent"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(IntentStats {
                intent: r.try_get("intent")?,
                feedback: r.try_get("n")?,
                accuracy: r.try_get("acc")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let actions = sqlx::query(
            "SELECT action, COUNT(*) AS n FROM messages GROUP BY action ORDER BY action",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("action")?, r.try_get("n")?)))
        .collect::<Result<Vec<_>>>()?;
        Ok(Stats {
            messages,
            feedback,
            accuracy,
            handoff_rate,
            mean_reward,
            per_intent,
            actions,
        })
    }
}
