//! What agents are told about using Annal, defined once. The MCP server sends all of it with
//! `initialize` (SPEC §5.2); `annal install` writes the part sub-agents need most — when to
//! search, when to store, the two-way decision rule — into each client's user-level
//! instruction file, because some clients do not pass server instructions on to sub-agents.

/// The project parameter and the first call in a new project.
const PROJECT: &str = "\
project: always pass the basename of your working directory. The first time in a project, \
call init_project (with watch_paths to index its docs); after that it indexes in the \
background.";

const SEARCH: &str = "\
Search (search_memories) at the start of a session, before working in unfamiliar code, when \
someone asks what was decided, before architectural changes, and when a bug feels familiar. \
mode=probe gives one line per result (then expand_memories the useful ids), summary (default) \
the first 200 characters, full everything. Filter with tags, source, after/before; search \
other projects with projects=[...] or \"*\".";

const DECISIONS: &str = "\
Decisions, both ways: before deciding, search for prior decisions (tags decision); after a \
decision is made, store it with store_memory (tags decision plus its domain) and pass \
supersedes=<old id> when it replaces an earlier decision.";

const STORE: &str = "\
Store what a later session would want: decisions, bug root causes, patterns, preferences. Tag \
by type (memory, decision, preference, pattern, bug, spec) and domain; identify yourself with \
agent:<role>. System tags: indexed, agent-config, docs (file chunks). A near-duplicate is \
skipped; a similar memory comes back as a hint to supersede instead.";

const CURATE: &str = "\
Keep memory lean: update_memory or retag_memory to fix, delete_memory to drop, prune_stale \
(dry run first) to clear memories nobody needed for months.";

/// The server instructions' opening line; the instruction block has its own heading instead.
const INTRO: &str =
    "Annal is your long-term memory for this codebase, shared across sessions and agents.";

/// The MCP server's instructions, sent with `initialize`.
pub fn server_instructions() -> String {
    [INTRO, PROJECT, SEARCH, DECISIONS, STORE, CURATE].join("\n\n")
}

/// The instruction block's text between its markers: a heading and the paragraphs on
/// searching, deciding and storing, from the same definitions as the server instructions.
pub fn block_text() -> String {
    let heading =
        "## Annal (MCP server `annal`): long-term memory shared across sessions and agents";
    [heading, PROJECT, SEARCH, DECISIONS, STORE].join("\n\n")
}
