//! Text rendering of tool results, close to the reference system's output so agents read it
//! the same way.

use std::fmt::Write as _;

use crate::code_links::Review;
use crate::config::ProjectChange;
use crate::memories::{Expanded, PruneReport, Retagged, Stored, Updated};
use crate::memory::{ChunkType, Memory, Redaction};
use crate::pool::{IndexState, IndexStatus, InitReply};
use crate::search::{Mode, RELEVANCE_BAR, SearchHit, SearchResults};
use crate::store::{StoreOutcome, TagCount};

fn date(memory: &Memory) -> String {
    memory.created_at.format("%Y-%m-%d").to_string()
}

fn meta_line(memory: &Memory) -> String {
    let source = if memory.source.is_empty() { "-" } else { memory.source.as_str() };
    format!("Source: {source} | {} | ID: {}", date(memory), memory.id)
}

/// The one line a search result gets when a file it names changed since it was written.
fn review_line(review: &Review) -> String {
    format!(
        "Needs review: {review}; check it against the file, then update_memory (fixed, or as it \
         is) clears this"
    )
}

fn weak(hit: &SearchHit) -> &'static str {
    if hit.is_weak() { ", weak" } else { "" }
}

pub fn search(results: &SearchResults) -> String {
    let mut out = String::new();
    let label = match &results.projects_searched {
        Some(projects) => projects.join(", "),
        None => results.project.clone(),
    };
    if results.new_project {
        return format!(
            "[{label}] no memories in project {} yet. Store what is worth keeping with \
             store_memory; init_project indexes the project's docs.\n",
            results.project
        );
    }
    let _ = writeln!(out, "[{label}] {} results:", results.hits.len());
    if results.hits.is_empty() {
        if let (Some(bar), weaker @ 1..) = (results.min_score, results.weaker) {
            let _ = writeln!(
                out,
                "nothing as similar as min_score {bar:.2}; {weaker} weaker matches \
                 (min_score=0 shows them)"
            );
        }
        return out;
    }
    if results.hits.iter().all(SearchHit::is_weak) {
        let _ = writeln!(
            out,
            "No confident match: every result is below the relevance bar ({RELEVANCE_BAR:.2}), \
             so probably none answers the query."
        );
    }
    let cross = results.projects_searched.is_some();
    let mut number = 0;
    for (heading, kind) in
        [("Agent memories", ChunkType::AgentMemory), ("File-indexed", ChunkType::FileIndexed)]
    {
        let hits: Vec<_> = results.hits.iter().filter(|h| h.memory.chunk_type == kind).collect();
        if hits.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n## {heading}");
        for hit in hits {
            number += 1;
            let m = &hit.memory;
            let project = if cross { format!("[{}] ", m.project) } else { String::new() };
            let content = results.mode.render_content(&m.content);
            if results.mode == Mode::Probe {
                let _ = writeln!(
                    out,
                    "{number}. {project}({:.2}{}) {content} — ID: {}",
                    hit.score,
                    weak(hit),
                    m.id
                );
                if let Some(review) = &m.review {
                    let _ = writeln!(out, "   {}", review_line(review));
                }
                continue;
            }
            let _ = writeln!(
                out,
                "\n{number}. {project}(score {:.2}{}) {content}",
                hit.score,
                weak(hit)
            );
            let _ = writeln!(out, "   Tags: {}", m.tags.join(", "));
            let _ = writeln!(out, "   {}", meta_line(m));
            if let Some(by) = &m.superseded_by {
                let _ = writeln!(out, "   Superseded by: {by}");
            }
            if let Some(review) = &m.review {
                let _ = writeln!(out, "   {}", review_line(review));
            }
        }
    }
    out
}

/// `redacted 2 secrets: github-token at bytes 10..50, jwt in source at bytes 0..120`, or
/// nothing when nothing was redacted.
fn redacted(redactions: &[Redaction]) -> Option<String> {
    let (first, rest) = redactions.split_first()?;
    let noun = if rest.is_empty() { "secret" } else { "secrets" };
    let mut out = format!("redacted {} {noun}: {first}", redactions.len());
    for redaction in rest {
        let _ = write!(out, ", {redaction}");
    }
    Some(out)
}

/// `text`, then the redaction line (if any) on a line of its own.
fn with_redactions(mut text: String, redactions: &[Redaction]) -> String {
    if let Some(line) = redacted(redactions) {
        text.push('\n');
        text.push_str(&line);
    }
    text
}

fn outcome(outcome: &StoreOutcome) -> String {
    match outcome {
        StoreOutcome::Stored { id, similar, conflict } => {
            let mut text = format!("Stored memory {id}");
            if let Some(similar) = similar {
                let _ = write!(
                    text,
                    ". Note: it is similar ({:.2}) to memory {}; if it replaces that one, call \
                     update_memory with memory_id=\"{id}\" and supersedes=\"{}\"",
                    similar.score, similar.id, similar.id
                );
            }
            if let Some(c) = conflict {
                let _ = write!(
                    text,
                    ". Possible conflict: decision {} of {} ({:.2}) says \"{}\". If the new \
                     decision replaces it, call update_memory with memory_id=\"{id}\" and \
                     supersedes=\"{}\"; if both hold, leave them",
                    c.id,
                    c.created_at.format("%Y-%m-%d"),
                    c.score,
                    c.first_line,
                    c.id
                );
            }
            if similar.is_some() || conflict.is_some() {
                text.push('.');
            }
            text
        }
        StoreOutcome::Skipped { duplicate_of, score, in_batch: false } => format!(
            "Skipped: a near-identical memory ({score:.2}) already exists: {duplicate_of}. Use \
             update_memory to change it, or supersedes to replace it."
        ),
        StoreOutcome::Skipped { duplicate_of, score, in_batch: true } => {
            format!("Skipped: repeats item {duplicate_of} of this batch ({score:.2})")
        }
    }
}

pub fn stored(stored: &Stored) -> String {
    with_redactions(outcome(&stored.outcome), &stored.redactions)
}

pub fn batch(stored: &[Stored]) -> String {
    let count = stored.iter().filter(|s| matches!(s.outcome, StoreOutcome::Stored { .. })).count();
    let mut out = format!("Stored {count} of {} memories:\n", stored.len());
    for (index, item) in stored.iter().enumerate() {
        let _ = write!(out, "[{index}] {}", outcome(&item.outcome));
        // On the item's own line, so each line stays one item.
        if let Some(line) = redacted(&item.redactions) {
            let _ = write!(out, " ({line})");
        }
        out.push('\n');
    }
    out
}

pub fn updated(updated: &Updated) -> String {
    let memory = &updated.memory;
    let text = format!("Updated memory {} (tags: {})", memory.id, memory.tags.join(", "));
    with_redactions(text, &updated.redactions)
}

pub fn retagged(id: &str, retagged: &Retagged) -> String {
    let text = format!("Memory {id} now has tags: {}", retagged.tags.join(", "));
    with_redactions(text, &retagged.redactions)
}

pub fn expanded(expanded: &Expanded) -> String {
    let mut out = String::new();
    for m in &expanded.memories {
        let _ = writeln!(
            out,
            "## {}\n{}\nTags: {}\n{}\n",
            m.id,
            m.content,
            m.tags.join(", "),
            meta_line(m)
        );
    }
    if !expanded.missing.is_empty() {
        let _ = writeln!(out, "Not found: {}", expanded.missing.join(", "));
    }
    out
}

pub fn topics(project: &str, topics: &[TagCount]) -> String {
    if topics.is_empty() {
        return format!("[{project}] no topics yet");
    }
    let mut out = format!("[{project}] {} topics:\n", topics.len());
    for topic in topics {
        let _ = writeln!(out, "{} ({})", topic.tag, topic.count);
    }
    out
}

pub fn prune(report: &PruneReport) -> String {
    let mut out = if report.dry_run {
        format!("Dry run: {} stale memories would be deleted.\n", report.stale.len())
    } else {
        format!("Deleted {} stale memories.\n", report.deleted)
    };
    for m in &report.stale {
        let last =
            m.last_accessed_at.map_or("never".to_string(), |at| at.format("%Y-%m-%d").to_string());
        let _ = writeln!(
            out,
            "- {} (last accessed {last}): {}",
            m.id,
            Mode::Probe.render_content(&m.content)
        );
    }
    out
}

pub fn init(reply: &InitReply) -> String {
    let mut out = if reply.changes.is_empty() {
        format!("Project {} is already set up that way; nothing changed.", reply.project)
    } else {
        let changes: Vec<String> = reply.changes.iter().map(change).collect();
        format!("Project {}: {}.", reply.project, changes.join("; "))
    };
    if reply.indexing {
        out.push_str(" Indexing runs in the background; check index_status.");
    }
    out
}

fn change(change: &ProjectChange) -> String {
    let paths = |p: &[std::path::PathBuf]| {
        p.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    };
    match change {
        ProjectChange::Created => "created".into(),
        ProjectChange::WatchPaths { before, after } => {
            format!("watch_paths [{}] -> [{}]", paths(before), paths(after))
        }
        ProjectChange::WatchPatterns { before, after } => {
            format!("watch_patterns [{}] -> [{}]", before.join(", "), after.join(", "))
        }
        ProjectChange::WatchExclude { before, after } => {
            format!("watch_exclude [{}] -> [{}]", before.join(", "), after.join(", "))
        }
        ProjectChange::Watch { before, after } => format!("watch {before} -> {after}"),
    }
}

pub fn status(status: &IndexStatus) -> String {
    let mut out = format!("[{}] ", status.project);
    if status.stats.total == 0 && status.last_reconcile.is_none() {
        let _ = write!(out, "no memories in project {} yet; ", status.project);
    }
    match &status.index {
        IndexState::Idle => out.push_str("idle"),
        IndexState::Indexing { started_at, files_done } => {
            let seconds = (chrono::Utc::now() - *started_at).num_seconds();
            let _ = write!(out, "indexing for {seconds} s, {files_done} files done");
        }
        IndexState::Failed { at, error } => {
            let _ = write!(out, "FAILED at {}: {error}", at.format("%Y-%m-%d %H:%M:%S UTC"));
        }
    }
    let s = &status.stats;
    let _ = write!(
        out,
        "\nMemories: {} ({} agent, {} file chunks, {} superseded); stale: {}, never accessed: {}",
        s.total, s.agent_memories, s.file_chunks, s.superseded, s.stale, s.never_accessed
    );
    if s.needs_review > 0 {
        let _ = write!(
            out,
            "; {} need review, {} because a file they name changed (`annal review` lists them)",
            s.needs_review, s.files_changed
        );
    }
    if let Some(last) = &status.last_reconcile {
        let r = &last.report;
        let _ = write!(
            out,
            "\nLast reconcile {}: {} files indexed, {} unchanged, {} skipped, {} removed, {} chunks embedded, {} ms",
            last.at.format("%Y-%m-%d %H:%M:%S UTC"),
            r.files_indexed,
            r.files_unchanged,
            r.skipped.len(),
            r.files_removed,
            r.chunks_embedded,
            r.duration_ms
        );
    }
    out
}
