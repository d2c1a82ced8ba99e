//! The stored part of the activity feed: the most recent events, bounded.

use tokio_rusqlite::rusqlite::params;

use super::{Store, StoreError, parse_time};
use crate::events::{Event, EventDetail};
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
                let (kind, detail): (String, String) = (row.get(1)?, row.get(3)?);
                // The feed is a convenience: a row this version cannot read (written by a
                // newer one, or damaged) is left out rather than keeping the owner from
                // starting.
                let Some(detail) = parse_detail(&kind, &detail) else {
                    tracing::warn!(seq, kind, "unreadable event in the activity feed, skipped");
                    continue;
                };
                let id = format!("event {seq}");
                events.push(Event {
                    seq: seq.max(0) as u64,
                    project: row.get(2)?,
                    detail,
                    created_at: parse_time(&id, &row.get::<_, String>(4)?)?,
                });
            }
            Ok(events)
        })
        .await
    }

    /// The highest sequence number stored, readable or not (0 for none), so numbering
    /// continues past rows the feed leaves out.
    pub async fn last_event_seq(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let last: i64 =
                conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |row| row.get(0))?;
            Ok(last.max(0) as u64)
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
                        event.kind().as_str(),
                        event.project,
                        detail_json(&event.detail),
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

/// The kind is its own column; the detail column holds only the kind's detail.
fn detail_json(detail: &EventDetail) -> String {
    match serde_json::to_value(detail) {
        Ok(mut tagged) => tagged["detail"].take().to_string(),
        Err(_) => "{}".to_owned(),
    }
}

fn parse_detail(kind: &str, detail: &str) -> Option<EventDetail> {
    let detail: serde_json::Value = serde_json::from_str(detail).ok()?;
    serde_json::from_value(serde_json::json!({ "type": kind, "detail": detail })).ok()
}
