//! The SQLite store on its own: transactions, conflicts and the stats aggregates (the same
//! calls as on PostgreSQL, `tests/postgres.rs`: `common/storage.rs`).

use crate::common;

use autodidact_agent::store::{SqliteStore, Store};
use common::TempDir;

#[tokio::test]
async fn transactions_conflicts_and_stats() {
    let dir = TempDir::new("store");
    let path = dir.path().join("s.db");
    let store = SqliteStore::open(&path).await.unwrap();
    common::storage::transactions_conflicts_and_stats(&store).await;
    store.close().await;

    // Everything is still there after reopening the file.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.stats().await.unwrap().feedback, 3);
    assert_eq!(store.intents().await.unwrap().len(), 3);
    store.close().await;
}
