//! The schema as a list of forward-only migrations; `PRAGMA user_version` records how many
//! have run. Never edit a shipped migration: append a new one.

use tokio_rusqlite::rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: projects, memories with their vectors, tags, full-text index.
    r#"
    CREATE TABLE projects (
        name        TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE memories (
        rowid            INTEGER PRIMARY KEY,
        id               TEXT NOT NULL UNIQUE,
        project          TEXT NOT NULL REFERENCES projects(name),
        content          TEXT NOT NULL,
        source           TEXT NOT NULL DEFAULT '',
        chunk_type       TEXT NOT NULL CHECK (chunk_type IN ('agent-memory', 'file-indexed')),
        created_at       TEXT NOT NULL,
        updated_at       TEXT,
        superseded_by    TEXT,
        hit_count        INTEGER NOT NULL DEFAULT 0,
        last_accessed_at TEXT,
        file_path        TEXT,
        file_mtime_ns    INTEGER,
        file_size        INTEGER,
        chunk_hash       TEXT,
        embedding        BLOB NOT NULL
    );
    CREATE INDEX memories_by_project_type ON memories(project, chunk_type, created_at);
    CREATE INDEX memories_by_file ON memories(project, file_path) WHERE file_path IS NOT NULL;
    CREATE INDEX memories_by_access ON memories(project, chunk_type, last_accessed_at);

    -- The project is repeated here so per-project tag counts need no join.
    CREATE TABLE memory_tags (
        memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        project      TEXT NOT NULL,
        tag          TEXT NOT NULL,
        PRIMARY KEY (memory_rowid, position),
        UNIQUE (memory_rowid, tag)
    ) WITHOUT ROWID;
    CREATE INDEX memory_tags_by_tag ON memory_tags(project, tag);

    CREATE VIRTUAL TABLE memories_fts USING fts5(
        content, content = 'memories', content_rowid = 'rowid',
        tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts(rowid, content) VALUES (new.rowid, new.content);
    END;
    CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, content)
            VALUES ('delete', old.rowid, old.content);
    END;
    CREATE TRIGGER memories_fts_update AFTER UPDATE OF content ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, content)
            VALUES ('delete', old.rowid, old.content);
        INSERT INTO memories_fts(rowid, content) VALUES (new.rowid, new.content);
    END;
    "#,
    // 2: what reconcile knows of each indexed file, so unchanged files are skipped by
    // (mtime, size) without reading them, even files that produced no chunk.
    r#"
    CREATE TABLE indexed_files (
        project   TEXT NOT NULL REFERENCES projects(name),
        path      TEXT NOT NULL,
        mtime_ns  INTEGER NOT NULL,
        size      INTEGER NOT NULL,
        PRIMARY KEY (project, path)
    ) WITHOUT ROWID;
    "#,
    // 3: the activity feed survives restarts.
    r#"
    CREATE TABLE events (
        seq         INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,
        project     TEXT NOT NULL,
        detail      TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    "#,
    // 4: the dashboard lists a project's memories newest first, a page at a time, and counts
    // them by type, state and age from an index alone (rows carry their vectors, so a table
    // scan of a big project reads hundreds of megabytes).
    r#"
    CREATE INDEX memories_by_project_created ON memories(project, created_at, id);
    CREATE INDEX memories_for_counts
        ON memories(project, chunk_type, superseded_by, last_accessed_at, created_at);
    "#,
    // 5: the session-start brief takes a project's newest memories with a tag, and its most
    // used ones, a few at a time from an index, whatever the project's size.
    r#"
    DROP INDEX memory_tags_by_tag;
    CREATE INDEX memory_tags_by_tag ON memory_tags(project, tag, memory_rowid);
    CREATE INDEX memories_by_hits ON memories(project, chunk_type, hit_count);
    "#,
    // 6: code-linked memories. Each link holds the file's hash when the memory was written and
    // its stamp when last looked at (an untouched file is not read again); a memory whose file
    // changed, went or moved carries a review mark until it is confirmed or edited.
    r#"
    CREATE TABLE memory_links (
        memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
        project      TEXT NOT NULL,
        path         TEXT NOT NULL,
        line         INTEGER,
        content_hash TEXT NOT NULL,
        mtime_ns     INTEGER NOT NULL,
        size         INTEGER NOT NULL,
        PRIMARY KEY (memory_rowid, path)
    ) WITHOUT ROWID;
    CREATE INDEX memory_links_by_path ON memory_links(project, path);
    ALTER TABLE memories ADD COLUMN review_reason TEXT;
    ALTER TABLE memories ADD COLUMN review_path TEXT;
    ALTER TABLE memories ADD COLUMN review_to TEXT;
    ALTER TABLE memories ADD COLUMN review_since TEXT;
    CREATE INDEX memories_in_review ON memories(project, review_since)
        WHERE review_reason IS NOT NULL;
    "#,
    // 7: the review inbox's pairs and redactions, recorded by the write that found them (a
    // near-duplicate or a possible contradiction of an older memory, secrets taken out); they
    // go with either memory.
    r#"
    CREATE TABLE review_items (
        id          INTEGER PRIMARY KEY,
        project     TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('duplicate', 'conflict', 'redaction')),
        memory_id   TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
        other_id    TEXT REFERENCES memories(id) ON DELETE CASCADE,
        score       REAL,
        detail      TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL
    );
    CREATE INDEX review_items_by_project ON review_items(project, created_at);
    CREATE INDEX review_items_by_memory ON review_items(memory_id);
    CREATE INDEX review_items_by_other ON review_items(other_id);
    "#,
    // 8: one-off jobs over the stored data and whether they have run (the first: taking out
    // the secrets stored before the secret filter existed).
    r#"
    CREATE TABLE maintenance (
        name     TEXT PRIMARY KEY,
        done_at  TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 9: a count of the changes to what the vector index holds, so the snapshot of the index
    // written at close is read back at the next open only if nothing it covers changed since
    // (snapshot.rs). Triggers bump it, so every writer does, whatever its code path; `token`
    // is set by the close that writes a snapshot.
    r#"
    CREATE TABLE index_generation (
        only        INTEGER PRIMARY KEY CHECK (only = 1),
        generation  INTEGER NOT NULL,
        token       BLOB
    );
    INSERT INTO index_generation (only, generation) VALUES (1, 0);
    CREATE TRIGGER index_generation_memory_insert AFTER INSERT ON memories
        BEGIN UPDATE index_generation SET generation = generation + 1; END;
    CREATE TRIGGER index_generation_memory_delete AFTER DELETE ON memories
        BEGIN UPDATE index_generation SET generation = generation + 1; END;
    CREATE TRIGGER index_generation_memory_update
        AFTER UPDATE OF id, project, embedding, chunk_type, created_at, superseded_by, source
        ON memories
        BEGIN UPDATE index_generation SET generation = generation + 1; END;
    CREATE TRIGGER index_generation_tag_insert AFTER INSERT ON memory_tags
        BEGIN UPDATE index_generation SET generation = generation + 1; END;
    CREATE TRIGGER index_generation_tag_delete AFTER DELETE ON memory_tags
        BEGIN UPDATE index_generation SET generation = generation + 1; END;
    CREATE TRIGGER index_generation_tag_update AFTER UPDATE ON memory_tags
        BEGIN UPDATE index_generation SET generation = generation + 1; END;
    "#,
    // 10: an embedding blob may hold several windows' vectors end to end (a long memory's).
    // Nothing to change in the tables; the version keeps an older annal, which would leave
    // those memories out of its index, from opening the database.
    "-- no table changes",
];

/// Brings the schema up to date in one transaction per migration.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(StoreError::SchemaTooNew { found: current, supported: MIGRATIONS.len() });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = index + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql).map_err(|source| StoreError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version as i64)?;
        tx.commit()?;
    }
    Ok(())
}
