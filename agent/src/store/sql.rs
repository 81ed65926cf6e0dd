//! The queries both backends run, written once: SQLite and PostgreSQL agree on this SQL
//! (numbered placeholders, `RETURNING`, `ON CONFLICT … DO UPDATE SET x = excluded.x`, `CAST(…
//! AS DOUBLE PRECISION)`, booleans bound from Rust), so the two stores differ only in how they
//! connect, begin a write, lock model versions, take a snapshot and hold leases.
//!
//! The code is generic over the backend through two macros rather than over `sqlx::Database`:
//! a generic version needs an `Encode + Type + Decode` bound for every bound value and column
//! type on every function (Rust does not imply them from one trait), while the macros expand
//! to plain code on the concrete `sqlx::Sqlite` / `sqlx::Postgres` types.

/// "Everything" for the windowed aggregates (a plain `LIMIT` both engines accept).
pub(super) const ALL: i64 = i64::MAX;

/// Whether a feedback row says the prediction was right (portable SQL, 1.0 or 0.0). The
/// casts keep PostgreSQL from answering `NUMERIC` (SQLite reads `DOUBLE PRECISION` as REAL).
pub(super) const CORRECT: &str = "CAST(CASE WHEN (f.correct_intent IS NULL AND f.resolved) \
     OR f.correct_intent = m.intent THEN 1.0 ELSE 0.0 END AS DOUBLE PRECISION)";

/// The tables an empty database has no row in (leases are not data).
pub(super) const TABLES: [&str; 9] = [
    "intents",
    "messages",
    "examples",
    "feedback",
    "model_versions",
    "model_events",
    "served_model",
    "bandit_state",
    "tokens",
];

/// Module-level helpers on the backend `$db`: the transaction type, the writes several
/// methods share, the export's page reader and the import's row writer.
macro_rules! sql_helpers {
    ($db:ty) => {
        type Tx<'a> = sqlx::Transaction<'a, $db>;

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

        /// Reads up to `limit` rows of type `T` with keys after `after`, mapping each to a record.
        async fn page_of<T>(
            tx: &mut Tx<'static>,
            sql: &str,
            after: &Cursor,
            limit: i64,
            wrap: fn(T) -> Record,
        ) -> Result<Vec<Record>>
        where
            T: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
        {
            let query = sqlx::query_as::<_, T>(sql);
            let query = match after {
                Cursor::Int(k) => query.bind(*k),
                Cursor::Text(k) => query.bind(k.clone()),
            };
            let rows = query.bind(limit).fetch_all(&mut **tx).await?;
            Ok(rows.into_iter().map(wrap).collect())
        }

        /// One page of an export: up to `limit` rows of `table` with keys after `after`.
        async fn snapshot_page(
            tx: &mut Tx<'static>,
            table: Table,
            after: Option<&Cursor>,
            limit: i64,
        ) -> Result<Vec<Record>> {
            // Before every key: text keys (names, roles) are non-empty, integer keys positive.
            let first = match table {
                Table::Intents | Table::Tokens => Cursor::Text(String::new()),
                _ => Cursor::Int(i64::MIN),
            };
            let after = after.unwrap_or(&first);
            match table {
                Table::Intents => {
                    page_of(
                        tx,
                        "SELECT name, answer, active, created_ms, updated_ms FROM intents \
                         WHERE name > $1 ORDER BY name LIMIT $2",
                        after,
                        limit,
                        Record::Intent,
                    )
                    .await
                }
                Table::Messages => {
                    page_of(
                        tx,
                        "SELECT id, session, text, intent, confidence, ood_score, action, context, \
                         model_version, created_ms FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
                        after,
                        limit,
                        Record::Message,
                    )
                    .await
                }
                Table::Examples => {
                    page_of(
                        tx,
                        "SELECT id, intent, text, source, message_id, created_ms, features \
                         FROM examples WHERE id > $1 ORDER BY id LIMIT $2",
                        after,
                        limit,
                        Record::Example,
                    )
                    .await
                }
                Table::Feedback => {
                    page_of(
                        tx,
                        "SELECT seq, message_id, resolved, correct_intent, reward, created_ms \
                         FROM feedback WHERE seq > $1 ORDER BY seq LIMIT $2",
                        after,
                        limit,
                        Record::Feedback,
                    )
                    .await
                }
                Table::Models => {
                    page_of(
                        tx,
                        "SELECT version, blob, metrics, status, reason, created_ms \
                         FROM model_versions WHERE version > $1 ORDER BY version LIMIT $2",
                        after,
                        limit,
                        Record::Model,
                    )
                    .await
                }
                Table::ModelEvents => {
                    page_of(
                        tx,
                        "SELECT seq, version, event, detail, created_ms FROM model_events \
                         WHERE seq > $1 ORDER BY seq LIMIT $2",
                        after,
                        limit,
                        Record::ModelEvent,
                    )
                    .await
                }
                Table::ServedModel => {
                    page_of(
                        tx,
                        "SELECT version, updated_ms FROM served_model WHERE id > $1 \
                         ORDER BY id LIMIT $2",
                        after,
                        limit,
                        Record::ServedModel,
                    )
                    .await
                }
                Table::BanditState => {
                    page_of(
                        tx,
                        "SELECT state, updated_ms FROM bandit_state WHERE id > $1 \
                         ORDER BY id LIMIT $2",
                        after,
                        limit,
                        Record::BanditState,
                    )
                    .await
                }
                Table::Tokens => {
                    page_of(
                        tx,
                        "SELECT role, sha256, created_ms FROM tokens WHERE role > $1 \
                         ORDER BY role LIMIT $2",
                        after,
                        limit,
                        Record::Token,
                    )
                    .await
                }
            }
        }

        /// Writes one exported row (ids kept).
        async fn restore_insert(tx: &mut Tx<'static>, record: &Record) -> Result<()> {
            let tx = &mut **tx;
                // Ids are given explicitly (PostgreSQL: its identities are `BY DEFAULT`, and its
                // restore moves each sequence past the largest id before committing).
            match record {
                Record::Intent(IntentDump {
                    name,
                    answer,
                    active,
                    created_ms,
                    updated_ms,
                }) => sqlx::query(
                    "INSERT INTO intents (name, answer, active, created_ms, updated_ms) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(name)
                .bind(answer)
                .bind(active)
                .bind(created_ms)
                .bind(updated_ms)
                .execute(tx)
                .await?,
                Record::Message(m) => {
                    let MessageDump {
                        id,
                        session,
                        text,
                        intent,
                        confidence,
                        ood_score,
                        action,
                        context,
                        model_version,
                        created_ms,
                    } = m;
                    sqlx::query(
                        "INSERT INTO messages (id, session, text, intent, confidence, ood_score, \
                         action, context, model_version, created_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(id)
                    .bind(session)
                    .bind(text)
                    .bind(intent)
                    .bind(confidence)
                    .bind(ood_score)
                    .bind(action)
                    .bind(context)
                    .bind(model_version)
                    .bind(created_ms)
                    .execute(tx)
                    .await?
                }
                Record::Example(ExampleDump {
                    id,
                    intent,
                    text,
                    source,
                    message_id,
                    created_ms,
                    features,
                }) => sqlx::query(
                    "INSERT INTO examples (id, intent, text, source, message_id, created_ms, features) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id)
                .bind(intent)
                .bind(text)
                .bind(source)
                .bind(message_id)
                .bind(created_ms)
                .bind(features)
                .execute(tx)
                .await?,
                Record::Feedback(FeedbackDump {
                    seq,
                    message_id,
                    resolved,
                    correct_intent,
                    reward,
                    created_ms,
                }) => sqlx::query(
                    "INSERT INTO feedback (seq, message_id, resolved, correct_intent, reward, \
                     created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(seq)
                .bind(message_id)
                .bind(resolved)
                .bind(correct_intent)
                .bind(reward)
                .bind(created_ms)
                .execute(tx)
                .await?,
                Record::Model(ModelDump {
                    version,
                    blob,
                    metrics,
                    status,
                    reason,
                    created_ms,
                }) => sqlx::query(
                    "INSERT INTO model_versions (version, blob, metrics, status, reason, created_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(version)
                .bind(blob)
                .bind(metrics)
                .bind(status)
                .bind(reason)
                .bind(created_ms)
                .execute(tx)
                .await?,
                Record::ModelEvent(ModelEvent {
                    seq,
                    version,
                    event,
                    detail,
                    created_ms,
                }) => sqlx::query(
                    "INSERT INTO model_events (seq, version, event, detail, created_ms) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(seq)
                .bind(version)
                .bind(event)
                .bind(detail)
                .bind(created_ms)
                .execute(tx)
                .await?,
                Record::ServedModel(ServedDump {
                    version,
                    updated_ms,
                }) => sqlx::query(
                    "INSERT INTO served_model (id, version, updated_ms) VALUES (1, $1, $2)",
                )
                .bind(version)
                .bind(updated_ms)
                .execute(tx)
                .await?,
                Record::BanditState(BanditDump { state, updated_ms }) => sqlx::query(
                    "INSERT INTO bandit_state (id, state, updated_ms) VALUES (1, $1, $2)",
                )
                .bind(state)
                .bind(updated_ms)
                .execute(tx)
                .await?,
                Record::Token(TokenDump {
                    role,
                    sha256,
                    created_ms,
                }) => sqlx::query("INSERT INTO tokens (role, sha256, created_ms) VALUES ($1, $2, $3)")
                    .bind(role)
                    .bind(sha256)
                    .bind(created_ms)
                    .execute(tx)
                    .await?,
            };
            Ok(())
        }

        /// A figure over everything, the last 100 and the last 1000 rows (`sql` binds the
        /// limit as `$1`).
        async fn window(pool: &sqlx::Pool<$db>, sql: &str) -> Result<Window3> {
            let mut out = [None; 3];
            for (slot, limit) in out.iter_mut().zip([ALL, 100, 1000]) {
                let row = sqlx::query(sql).bind(limit).fetch_one(pool).await?;
                *slot = row.try_get::<Option<f64>, _>(0)?;
            }
            Ok(Window3 {
                all: out[0],
                last_100: out[1],
                last_1000: out[2],
            })
        }
    };
}

/// The [`super::Store`] methods both backends share, expanded inside each `impl Store`. The
/// store has a `pool`, and inherent `write_tx` (begin a write) and `lock_models` (serialise
/// writers of model versions) methods.
macro_rules! store_methods {
    () => {
        async fn schema_version(&self) -> Result<i64> {
            let row = sqlx::query("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
            Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
        }

        async fn is_empty(&self) -> Result<bool> {
            for table in TABLES {
                let any = sqlx::query(&format!("SELECT 1 FROM {table} LIMIT 1"))
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some();
                if any {
                    return Ok(false);
                }
            }
            Ok(true)
        }

        async fn served_version(&self) -> Result<Option<i64>> {
            let row = sqlx::query("SELECT version FROM served_model WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        }

        async fn examples_after(&self, after: i64) -> Result<Vec<ExampleRow>> {
            Ok(sqlx::query_as::<_, ExampleRow>(
                "SELECT id, intent, text, source, features FROM examples WHERE id > $1 ORDER BY id",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await?)
        }

        async fn feedback_after(&self, after: i64) -> Result<Vec<FeedbackEntry>> {
            let sql = format!(
                "SELECT f.seq AS seq, f.message_id AS message_id, m.action AS action, \
                 m.context AS context, f.reward AS reward, m.intent AS intent, \
                 {CORRECT} AS correct FROM feedback f JOIN messages m ON m.id = f.message_id \
                 WHERE f.seq > $1 ORDER BY f.seq"
            );
            let rows = sqlx::query(&sql).bind(after).fetch_all(&self.pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(FeedbackEntry {
                        seq: r.try_get("seq")?,
                        message_id: r.try_get("message_id")?,
                        action: r.try_get("action")?,
                        context: r.try_get("context")?,
                        reward: r.try_get("reward")?,
                        predicted: r.try_get("intent")?,
                        correct: r.try_get::<f64, _>("correct")? > 0.5,
                    })
                })
                .collect()
        }

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
            let mut tx = self.write_tx().await?;
            self.lock_models(&mut tx).await?;
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
            let mut tx = self.write_tx().await?;
            self.lock_models(&mut tx).await?;
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
            let mut tx = self.write_tx().await?;
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
            let mut tx = self.write_tx().await?;
            self.lock_models(&mut tx).await?;
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
            let mut tx = self.write_tx().await?;
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
            let mut ids = self.insert_messages(&[m]).await?;
            ids.pop()
                .ok_or_else(|| AgentError::Internal("no id for the stored message".into()))
        }

        async fn insert_messages(&self, rows: &[&MessageRow]) -> Result<Vec<i64>> {
            let now = now_ms();
            let mut tx = self.write_tx().await?;
            let mut ids = Vec::with_capacity(rows.len());
            for m in rows {
                let row = sqlx::query(
                    "INSERT INTO messages (session, text, intent, confidence, ood_score, action, \
                     context, model_version, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     RETURNING id",
                )
                .bind(&m.session)
                .bind(&m.text)
                .bind(&m.intent)
                .bind(m.confidence)
                .bind(m.ood_score)
                .bind(&m.action)
                .bind(&m.context)
                .bind(m.model_version)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                ids.push(row.try_get(0)?);
            }
            tx.commit().await?;
            Ok(ids)
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
            match self.record_feedback_group(std::slice::from_ref(f)).await? {
                Ok(mut ids) => Ok(ids.pop().flatten()),
                Err(_) => Err(AgentError::conflict(
                    "id",
                    format!("message {} already has feedback", f.message_id),
                )),
            }
        }

        async fn record_feedback_group(
            &self,
            group: &[FeedbackRecord],
        ) -> Result<std::result::Result<Vec<Option<i64>>, usize>> {
            let Some(last) = group.last() else {
                return Ok(Ok(Vec::new()));
            };
            let now = now_ms();
            let mut tx = self.write_tx().await?;
            let mut ids = Vec::with_capacity(group.len());
            for (i, f) in group.iter().enumerate() {
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
                // Dropping the transaction rolls the whole group back.
                return Ok(Err(i));
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
            ids.push(example_id);
            }
            // The policy's state after the group's last update.
            sqlx::query(
                "INSERT INTO bandit_state (id, state, updated_ms) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
            )
            .bind(&last.bandit_state)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Ok(ids))
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

        async fn feedback_points(&self, limit: i64) -> Result<Vec<FeedbackPoint>> {
            Ok(sqlx::query_as::<_, FeedbackPoint>(
                "SELECT created_ms, predicted, correct_intent, resolved, reward FROM \
                 (SELECT f.seq AS seq, f.created_ms AS created_ms, m.intent AS predicted, \
                 f.correct_intent AS correct_intent, f.resolved AS resolved, f.reward AS reward \
                 FROM feedback f JOIN messages m ON m.id = f.message_id \
                 ORDER BY f.seq DESC LIMIT $1) AS t ORDER BY seq",
            )
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
        }

        async fn message_points(&self, limit: i64) -> Result<Vec<MessagePoint>> {
            Ok(sqlx::query_as::<_, MessagePoint>(
                "SELECT created_ms, action FROM \
                 (SELECT id, created_ms, action FROM messages ORDER BY id DESC LIMIT $1) AS t \
                 ORDER BY id",
            )
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
        }

        async fn recent_messages(&self, limit: i64) -> Result<Vec<RecentMessage>> {
            Ok(sqlx::query_as::<_, RecentMessage>(
                "SELECT m.id, m.created_ms, m.session, m.text, m.intent, m.confidence, m.action, \
                 m.model_version, f.resolved, f.correct_intent FROM messages m \
                 LEFT JOIN feedback f ON f.message_id = m.id ORDER BY m.id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
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
            let accuracy = window(&self.pool, &format!(
                    "SELECT CAST(AVG(c) AS DOUBLE PRECISION) FROM (SELECT {CORRECT} AS c FROM feedback f \
                     JOIN messages m ON m.id = f.message_id ORDER BY f.seq DESC LIMIT $1) AS t"
                ))
                .await?;
            let mean_reward = window(&self.pool,
                    "SELECT CAST(AVG(reward) AS DOUBLE PRECISION) FROM (SELECT reward FROM feedback ORDER BY seq DESC LIMIT $1) AS t",
                )
                .await?;
            let handoff_rate = window(&self.pool,
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
    };
}

pub(super) use {sql_helpers, store_methods};
