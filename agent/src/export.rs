//! Export and import of the whole database as JSON lines (format 1, `docs/agent.md`).
//!
//! An export is a header line (`kind = "header"`, the format, the schema migration version,
//! the time), one line per row of every table in [`Table::ALL`] order (each table after the
//! ones it refers to), and a trailer with the number of lines of each kind, so a truncated
//! file is detected. It is read from one read transaction (a consistent snapshot while the
//! agent keeps serving) a page at a time and streamed: never built whole in memory.
//!
//! An import restores an export into an empty database in one write transaction (all or
//! nothing), keeping every id so references stay valid; each error names the line and field.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{AgentError, Result};
use crate::store::{now_ms, Record, Restore, Snapshot, SqliteStore, Store, Table};

/// The export format this build writes and reads.
pub const FORMAT: u64 = 1;

/// Rows read from the database per page.
const PAGE: i64 = 500;

/// The first line of an export.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The export format ([`FORMAT`]).
    pub format: u64,
    /// The newest schema migration of the exported database.
    pub schema: i64,
    /// When the export started, ms since the epoch.
    pub exported_at: i64,
}

/// The last line of an export: lines per kind.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    /// Lines of each kind (every kind, zeros included).
    pub counts: BTreeMap<String, u64>,
}

fn zero_counts() -> BTreeMap<String, u64> {
    Table::ALL
        .iter()
        .map(|t| (t.kind().to_string(), 0))
        .collect()
}

/// One JSON line (with its newline) of an object, `kind` first.
fn tagged_line(kind: &str, value: &impl serde::Serialize) -> Result<Vec<u8>> {
    let body = serde_json::to_string(value).map_err(|e| AgentError::Internal(e.to_string()))?;
    let rest = body
        .strip_prefix('{')
        .ok_or_else(|| AgentError::Internal(format!("{kind} is not a JSON object")))?;
    let sep = if rest == "}" { "" } else { "," };
    Ok(format!("{{\"kind\":\"{kind}\"{sep}{rest}\n").into_bytes())
}

enum Stage {
    Header,
    Table(usize, Option<crate::store::Cursor>),
    Done,
}

/// An export in progress: [`Export::next_chunk`] gives the next lines until `None`.
pub struct Export<P: Snapshot> {
    snapshot: P,
    header: Header,
    stage: Stage,
    counts: BTreeMap<String, u64>,
}

impl<P: Snapshot> std::fmt::Debug for Export<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("header", &self.header)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<P: Snapshot> Export<P> {
    /// Starts an export of `store` (opens its read transaction).
    pub async fn start<S: Store<Snapshot = P>>(store: &S) -> Result<Export<P>> {
        let schema = store.schema_version().await?;
        let snapshot = store.snapshot().await?;
        Ok(Export {
            snapshot,
            header: Header {
                format: FORMAT,
                schema,
                exported_at: now_ms(),
            },
            stage: Stage::Header,
            counts: zero_counts(),
        })
    }

    /// The next lines: the header, then at most one page of one table, ..., then the
    /// trailer; `None` when everything was given.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            match &mut self.stage {
                Stage::Header => {
                    self.stage = Stage::Table(0, None);
                    return tagged_line("header", &self.header).map(Some);
                }
                Stage::Table(i, cursor) => {
                    let Some(&table) = Table::ALL.get(*i) else {
                        let trailer = Trailer {
                            counts: self.counts.clone(),
                        };
                        self.stage = Stage::Done;
                        return tagged_line("trailer", &trailer).map(Some);
                    };
                    let rows = self.snapshot.page(table, cursor.as_ref(), PAGE).await?;
                    let Some(last) = rows.last() else {
                        self.stage = Stage::Table(*i + 1, None);
                        continue;
                    };
                    *cursor = Some(last.cursor());
                    if (rows.len() as i64) < PAGE {
                        self.stage = Stage::Table(*i + 1, None);
                    }
                    let mut out = Vec::new();
                    for r in &rows {
                        let mut line = serde_json::to_vec(r)
                            .map_err(|e| AgentError::Internal(e.to_string()))?;
                        line.push(b'\n');
                        out.extend_from_slice(&line);
                    }
                    *self.counts.entry(table.kind().to_string()).or_default() += rows.len() as u64;
                    return Ok(Some(out));
                }
                Stage::Done => return Ok(None),
            }
        }
    }

    /// Lines per kind written so far.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    /// The export as a stream of byte chunks (an HTTP body). An error ends the stream early,
    /// so the file has no trailer and an import refuses it.
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<axum::body::Bytes>> + Send + 'static {
        futures_util::stream::try_unfold(self, |mut export| async move {
            Ok(export
                .next_chunk()
                .await?
                .map(|chunk| (axum::body::Bytes::from(chunk), export)))
        })
    }

    /// Writes the whole export to `out`; returns the lines per kind.
    pub async fn write_to(
        mut self,
        out: &mut impl std::io::Write,
    ) -> Result<BTreeMap<String, u64>> {
        while let Some(chunk) = self.next_chunk().await? {
            out.write_all(&chunk)
                .map_err(|e| AgentError::io("export output", e))?;
        }
        Ok(self.counts)
    }
}

/// What an import restored.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ImportSummary {
    /// Lines read (header and trailer included).
    pub lines: u64,
    /// The export's header.
    pub header: Header,
    /// Rows restored per kind.
    pub counts: BTreeMap<String, u64>,
}

/// Deserialises one line's fields (its `kind` removed), naming the field at fault.
fn fields<T: DeserializeOwned>(line: u64, map: Map<String, Value>) -> Result<T> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        AgentError::import(line, crate::api::field_of(&path, &message), message)
    })
}

/// Restores an export read from `reader` into `store`, which must be empty, in one
/// transaction: on any error nothing is stored. Lines are read one at a time (the reader
/// blocks the calling thread; meant for command-line tools).
pub async fn import<S: Store>(store: &S, reader: impl BufRead + Send) -> Result<ImportSummary> {
    if !store.is_empty().await? {
        return Err(AgentError::config(
            "db",
            "the database holds data; an export is imported into a new (or empty) database only",
        ));
    }
    let ours = store.schema_version().await?;
    let mut restore = store.restore().await?;
    let mut header: Option<Header> = None;
    let mut trailer = false;
    let mut counts = zero_counts();
    let mut n = 0u64;
    for line in reader.lines() {
        n += 1;
        let line = line.map_err(|e| AgentError::import(n, "json", format!("unreadable: {e}")))?;
        if line.trim().is_empty() {
            return Err(AgentError::import(n, "json", "an empty line"));
        }
        let value: Value = serde_json::from_str(&line)
            .map_err(|e| AgentError::import(n, "json", format!("malformed JSON: {e}")))?;
        let Value::Object(mut map) = value else {
            return Err(AgentError::import(n, "json", "not a JSON object"));
        };
        let kind = match map.remove("kind") {
            Some(Value::String(k)) => k,
            Some(other) => {
                return Err(AgentError::import(
                    n,
                    "kind",
                    format!("must be a string, not {other}"),
                ))
            }
            None => return Err(AgentError::import(n, "kind", "missing")),
        };
        if header.is_none() {
            if kind != "header" {
                return Err(AgentError::import(
                    n,
                    "kind",
                    format!("the first line must be the header, not {kind:?}"),
                ));
            }
            let h: Header = fields(n, map)?;
            if h.format != FORMAT {
                return Err(AgentError::import(
                    n,
                    "format",
                    format!(
                        "format {} is not supported (this build reads {FORMAT})",
                        h.format
                    ),
                ));
            }
            if h.schema > ours {
                return Err(AgentError::import(
                    n,
                    "schema",
                    format!(
                        "the export's schema {} is newer than this build's {ours}",
                        h.schema
                    ),
                ));
            }
            header = Some(h);
            continue;
        }
        if trailer {
            return Err(AgentError::import(n, "kind", "a line after the trailer"));
        }
        match kind.as_str() {
            "header" => return Err(AgentError::import(n, "kind", "a second header")),
            "trailer" => {
                let t: Trailer = fields(n, map)?;
                for (k, seen) in &counts {
                    let said = t.counts.get(k).copied().unwrap_or(0);
                    if said != *seen {
                        return Err(AgentError::import(
                            n,
                            format!("counts.{k}"),
                            format!("the trailer says {said}, the file holds {seen}"),
                        ));
                    }
                }
                if let Some(k) = t.counts.keys().find(|k| !counts.contains_key(*k)) {
                    return Err(AgentError::import(
                        n,
                        format!("counts.{k}"),
                        "not a kind of line this format has",
                    ));
                }
                trailer = true;
                continue;
            }
            _ => {}
        }
        let table = Table::from_kind(&kind).ok_or_else(|| {
            let known: Vec<&str> = Table::ALL.iter().map(|t| t.kind()).collect();
            AgentError::import(
                n,
                "kind",
                format!(
                    "unknown kind {kind:?} (known: header, {}, trailer)",
                    known.join(", ")
                ),
            )
        })?;
        let record = match table {
            Table::Intents => Record::Intent(fields(n, map)?),
            Table::Messages => Record::Message(fields(n, map)?),
            Table::Examples => Record::Example(fields(n, map)?),
            Table::Feedback => Record::Feedback(fields(n, map)?),
            Table::Models => Record::Model(fields(n, map)?),
            Table::ModelEvents => Record::ModelEvent(fields(n, map)?),
            Table::ServedModel => Record::ServedModel(fields(n, map)?),
            Table::BanditState => Record::BanditState(fields(n, map)?),
            Table::Tokens => Record::Token(fields(n, map)?),
        };
        restore.insert(&record).await.map_err(|e| {
            AgentError::import(n, kind.clone(), format!("refused by the database: {e}"))
        })?;
        *counts.entry(kind).or_default() += 1;
    }
    let Some(header) = header else {
        return Err(AgentError::import(
            1,
            "kind",
            "the file is empty (no header)",
        ));
    };
    if !trailer {
        return Err(AgentError::import(
            n + 1,
            "kind",
            format!("no trailer: the file ends after line {n} (truncated?)"),
        ));
    }
    restore.commit().await?;
    Ok(ImportSummary {
        lines: n,
        header,
        counts,
    })
}

/// Imports into the SQLite file `db`, created if missing, or into the PostgreSQL database `db`
/// names (`postgres://…`, its tables created if missing); refuses a database that holds data.
/// A file this call created is removed again when the import fails (a PostgreSQL import is one
/// transaction: nothing of a failed one stays).
pub async fn import_into(db: &Path, reader: impl BufRead + Send) -> Result<ImportSummary> {
    if let Some(url) = db.to_str().filter(|d| crate::store::is_postgres_url(d)) {
        let store = crate::store::PgStore::connect(url).await?;
        let result = import(&store, reader).await;
        store.close().await;
        return result;
    }
    let existed = db.exists();
    let store = SqliteStore::open(db).await?;
    let result = import(&store, reader).await;
    store.close().await;
    if result.is_err() && !existed {
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(std::path::PathBuf::from(p));
        }
    }
    result
}

/// [`import_into`] on a runtime of its own (for command-line tools).
pub fn import_blocking(db: &Path, reader: impl BufRead + Send) -> Result<ImportSummary> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("tokio runtime", e))?;
    runtime.block_on(import_into(db, reader))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_lines_put_the_kind_first() -> Result<()> {
        let line = tagged_line(
            "header",
            &Header {
                format: 1,
                schema: 7,
                exported_at: 9,
            },
        )?;
        assert_eq!(
            String::from_utf8_lossy(&line),
            "{\"kind\":\"header\",\"format\":1,\"schema\":7,\"exported_at\":9}\n"
        );
        Ok(())
    }
}
