//! The text hooks inject, built to fit a token budget: one line per memory with its id (so the
//! agent can `expand_memories`), sections in priority order, each line whole or left out.
//!
//! Stored text was screened for secrets when it was written, but a memory stored under
//! `secrets: allow` (or before the filter existed) may still hold one, and a hook prints into
//! an agent's context unasked. So content is redacted before it is shortened (a cut could
//! leave half a key its detector no longer knows), and every line again as it is added.

use std::borrow::Cow;
use std::collections::HashSet;

use super::tokens::{estimate, truncate};
use super::{HookSettings, Injection, day};
use crate::memory::{ChunkType, Memory};
use crate::project::ProjectName;
use crate::search::SearchHit;
use crate::secrets::redact;
use crate::store::BriefCandidates;

/// Estimated tokens of a brief line's summary: about one sentence.
const BRIEF_SUMMARY_TOKENS: u64 = 40;
/// Lines per brief section, so every section gets a say before the budget runs out.
const PER_SECTION: usize = 5;
/// A recalled memory gets at least this much room, or is left out.
const MIN_RECALL_TOKENS: u64 = 24;

const REMINDER: &str = "Search Annal (search_memories) before answering about this project's \
    past decisions, bugs or conventions; store what you settle or learn (store_memory).";

/// `text` on one line, runs of whitespace as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` with its secrets redacted, borrowed when it has none.
fn clean(text: &str) -> Cow<'_, str> {
    redact(text).text
}

/// The first non-empty line of a memory, shortened to `budget` tokens.
fn summary(memory: &Memory, budget: u64) -> String {
    let content = clean(&memory.content);
    let first = content.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let first = one_line(first);
    let more = content.trim().len() > first.len();
    let (cut, truncated) = truncate(&first, budget);
    if truncated || more { format!("{cut} …") } else { cut.to_owned() }
}

fn tags(memory: &Memory) -> String {
    if memory.tags.is_empty() { String::new() } else { format!("[{}] ", memory.tags.join(", ")) }
}

/// Lines added while they fit, tracking the estimate.
struct Budgeted {
    lines: Vec<String>,
    tokens: u64,
    budget: u64,
    memories: Vec<String>,
}

impl Budgeted {
    fn new(budget: u64) -> Self {
        Self { lines: Vec::new(), tokens: 0, budget, memories: Vec::new() }
    }

    /// Adds `line`, redacted, if it fits, joined by a newline (counted as nothing:
    /// whitespace).
    fn push(&mut self, line: String) -> bool {
        let redacted = redact(&line);
        let line = if redacted.findings.is_empty() { line } else { redacted.text.into_owned() };
        let cost = estimate(&line);
        if self.tokens + cost > self.budget {
            return false;
        }
        self.tokens += cost;
        self.lines.push(line);
        true
    }

    fn room(&self) -> u64 {
        self.budget.saturating_sub(self.tokens)
    }

    fn finish(self) -> Injection {
        if self.memories.is_empty() {
            return Injection::default();
        }
        let text = self.lines.join("\n");
        Injection { tokens: estimate(&text), text, memories: self.memories }
    }
}

/// The session-start brief of `project` within `budget` tokens; empty when the project has no
/// agent memories (or none fits).
pub fn brief(project: &ProjectName, candidates: &BriefCandidates, budget: u64) -> Injection {
    if candidates.agent_memories == 0 {
        return Injection::default();
    }
    let mut out = Budgeted::new(budget);
    let header = format!(
        "Annal memory of project {project} ({} agent memories). The key ones, with ids for \
         expand_memories:",
        candidates.agent_memories
    );
    let reserved = estimate(REMINDER);
    if !out.push(header) || out.room() < reserved {
        return Injection::default();
    }
    out.budget -= reserved;
    let mut sections: Vec<(&str, &[Memory])> = candidates
        .tagged
        .iter()
        .map(|(tag, memories)| (section_title(tag), memories.as_slice()))
        .collect();
    sections.push(("Most used", &candidates.most_used));
    sections.push(("Recent", &candidates.newest));
    let mut shown: HashSet<&str> = HashSet::new();
    for (title, memories) in sections {
        let fresh: Vec<&Memory> =
            memories.iter().filter(|m| !shown.contains(m.id.as_str())).take(PER_SECTION).collect();
        if fresh.is_empty() {
            continue;
        }
        let mut titled = false;
        for memory in fresh {
            let line = format!(
                "- {}{} (id {})",
                tags(memory),
                summary(memory, BRIEF_SUMMARY_TOKENS),
                memory.id
            );
            let cost = estimate(&line) + if titled { 0 } else { estimate(title) + 1 };
            if cost > out.room() {
                continue;
            }
            if !titled {
                out.push(format!("{title}:"));
                titled = true;
            }
            out.push(line);
            shown.insert(&memory.id);
            out.memories.push(memory.id.clone());
        }
    }
    out.budget += reserved;
    out.push(REMINDER.to_owned());
    out.finish()
}

fn section_title(tag: &str) -> &'static str {
    match tag {
        "pinned" => "Pinned",
        "decision" => "Decisions",
        "preference" => "Preferences",
        _ => "Tagged",
    }
}

/// What a prompt's recall injects: `hits` in order (already above the bar and unseen), at
/// most `recall_max`, each with as much of its content as the budget leaves.
pub fn recall(project: &ProjectName, hits: &[SearchHit], settings: &HookSettings) -> Injection {
    let mut out = Budgeted::new(settings.recall_tokens);
    let header = format!(
        "Annal memories of project {project} that may bear on this prompt (full text: \
         expand_memories):"
    );
    if hits.is_empty() || !out.push(header) {
        return Injection::default();
    }
    let limit = usize::try_from(settings.recall_max).unwrap_or(usize::MAX);
    for hit in hits.iter().take(limit) {
        let memory = &hit.memory;
        let kind = match memory.chunk_type {
            ChunkType::AgentMemory => String::new(),
            ChunkType::FileIndexed => format!("{} ", memory.source),
        };
        let frame =
            format!("- {}{kind}{}: (id {})", tags(memory), day(memory.created_at), memory.id);
        let room = out.room().saturating_sub(estimate(&frame) + 2);
        if room < MIN_RECALL_TOKENS {
            break;
        }
        let content = one_line(&clean(&memory.content));
        let (cut, truncated) = truncate(&content, room);
        let ellipsis = if truncated { " …" } else { "" };
        let line = format!(
            "- {}{kind}{}: {cut}{ellipsis} (id {})",
            tags(memory),
            day(memory.created_at),
            memory.id
        );
        if out.push(line) {
            out.memories.push(memory.id.clone());
        }
    }
    out.finish()
}
