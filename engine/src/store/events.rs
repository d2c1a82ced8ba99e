//! The stored part of the activity feed: the most recent events, bounded.

use tokio_rusqlite::rusqlite::params;

use super::{Store, StoreError, parse_time};
use crate::events::{Event, EventKind};
use crate::memory::format_timestamp;

impl Store {
    /// The last `limit` events, oldest first.
    pub async fn recent_events(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, kind, project, detail, created_at FROM \
                 (SELECT * FROM events ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
            )?;
            let mut rows = stmt.query([limit as i64])?;
            let mut events = Vec::new();
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let id = format!("event {seq}");
                let corrupt =
                    |what: &str| StoreError::Corrupt { id: id.clone(), what: what.into() };
                let kind: String = row.get(1)?;
                let detail: String = row.get(3)?;
                events.push(Event {
                    seq: seq.max(0) as u64,
                    kind: serde_json::from_value(serde_json::Value::String(kind))
                        .map_err(|_| corrupt("kind"))?,
                    project: row.get(2)?,
                    detail: serde_json::from_str(&detail).map_err(|_| corrupt("detail"))?,
                    created_at: parse_time(&id, &row.get::<_, String>(4)?)?,
                });
            }
            Ok(events)
        })
        .await
    }

    /// Appends events and drops all but the newest `keep`.
    pub async fn append_events(&self, events: Vec<Event>, keep: usize) -> Result<(), StoreError> {
        self.write(move |conn, _| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO events (seq, kind, project, detail, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for event in &events {
                    insert.execute(params![
                        event.seq as i64,
                        EventKind::as_str(event.kind),
                        event.project,
                        event.detail.to_string(),
                        format_timestamp(event.created_at),
                    ])?;
                }
            }
            tx.execute(
                "DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events) - ?1",
                [keep as i64],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
