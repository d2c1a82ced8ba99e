//! Hybrid search: exact cosine over the in-memory index fused with FTS5 BM25, with every
//! filter applied before ranking.
//!
//! Both legs see the same filtered set: the vector leg tests each entry's metadata during the
//! scan; the keyword leg takes BM25-ranked matches and drops those the same filter refuses.
//! The fused order is a blend, `cosine + w × BM25 / best BM25` (`w` larger when the query holds
//! an identifier-like term), chosen on the retrieval evaluation over reciprocal rank fusion;
//! the reported `score` stays the cosine similarity, so `min_score` and the dedup thresholds
//! mean what they say.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::embed::EmbedError;
use crate::excerpt::excerpt;
use crate::memories::Memories;
use crate::memory::{ChunkType, InvalidMemory, Memory, MemoryId, normalize_tags};
use crate::project::{InvalidProjectName, ProjectName};
use crate::store::StoreError;
use crate::vector_index::{EntryMeta, dot, read};

pub const DEFAULT_LIMIT: i64 = 5;
/// Below this cosine a hit is a weak match: rarely the answer. Calibrated on the negative
/// queries of the large evaluation's test half (`cargo bench --bench search -- --large-eval`):
/// at 0.40, 72% of questions with no answer in the set have no hit above it, and 82% of real
/// questions have their top-5 hit above it; at 0.50 (the hooks' bar, where a wrong injection
/// costs more than a missed one) 88% and 67%; at 0.30, 36% and 88%. Search marks weak hits and
/// says when every hit is one, rather than dropping them by default: short memories asked
/// about in few words ("which database do we use" → "We keep SQLite in WAL mode.") score
/// below it and are still the answer. `min_score` (default 0) drops hits for a caller who
/// wants that.
pub const RELEVANCE_BAR: f32 = 0.40;
pub const MAX_LIMIT: i64 = 50;
pub const MAX_QUERY_CHARS: usize = 2000;
/// A filter tag also matches known tags at least this similar (`auth` finds `authentication`).
pub const TAG_MATCH_FROM: f32 = 0.72;
/// Reciprocal rank fusion constant (Cormack et al.); the retrieval evaluation in
/// `cargo bench --bench search` shows what fusion gains over either leg with it.
const RRF_K: f32 = 60.0;
/// Words too common to say anything about which memory is meant; left out of the keyword leg
/// so BM25 ranks by the words that matter.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "because",
    "been", "before", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had",
    "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "may", "me", "more", "most",
    "must", "my", "no", "not", "of", "on", "or", "our", "should", "so", "some", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "to", "us", "was", "we",
    "were", "what", "when", "where", "which", "while", "who", "why", "will", "with", "would",
    "you", "your",
];

/// The words of a query the keyword leg searches for: split on anything but letters, digits
/// and `_` (so `compute_invoice_totals` stays whole), lower-cased, stopwords dropped.
pub fn keyword_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric() && c != '_') {
        let word = word.to_lowercase();
        if !word.is_empty() && !STOPWORDS.contains(&word.as_str()) && !terms.contains(&word) {
            terms.push(word);
        }
    }
    terms
}

/// Added to an agent memory's fused score (in cosine units; scaled for RRF): at equal
/// relevance, what an agent learned ranks above a doc chunk.
const AGENT_BOOST: f32 = 0.01;
const SUMMARY_CHARS: usize = 200;
const PROBE_CHARS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("query is empty; give words to search for")]
    EmptyQuery,
    #[error("query is {chars} characters; the limit is {MAX_QUERY_CHARS}")]
    QueryTooLong { chars: usize },
    #[error("limit must be between 1 and {MAX_LIMIT}, got {given}")]
    Limit { given: i64 },
    #[error("min_score must be between -1 and 1, got {given}")]
    MinScore { given: f32 },
    #[error(
        "{param} {} is not a valid date; use YYYY-MM-DD or an ISO 8601 date-time such as \
         2026-01-31T14:00:00Z",
        excerpt(value)
    )]
    Date { param: &'static str, value: String },
    #[error("after ({after}) is later than before ({before})")]
    DateOrder { after: String, before: String },
    #[error("mode must be one of summary, probe, full; got {}", excerpt(given))]
    Mode { given: String },
    #[error("unknown project {project:?}; known projects: {known}")]
    UnknownProject { project: String, known: String },
    #[error(transparent)]
    ProjectName(#[from] InvalidProjectName),
    #[error("tags: {0}")]
    Tags(#[from] InvalidMemory),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("search worker failed: {0}")]
    Worker(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The first 200 characters and the metadata.
    Summary,
    /// One line per result.
    Probe,
    /// Whole content.
    Full,
}

impl Mode {
    pub fn parse(text: &str) -> Result<Self, SearchError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "summary" => Ok(Self::Summary),
            "probe" => Ok(Self::Probe),
            "full" => Ok(Self::Full),
            _ => Err(SearchError::Mode { given: text.to_owned() }),
        }
    }
}

/// How candidates are ordered. Hybrid is what users get; the others exist so the retrieval
/// evaluation (and tests) can show what fusion adds and tune it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Ranking {
    /// The fusion the evaluation picked: [`FusionRules::CHOSEN`].
    #[default]
    Hybrid,
    /// Fusion by what the query looks like, with these weights (the evaluation sweeps them).
    Rules(FusionRules),
    /// Reciprocal rank fusion, the keyword leg weighted.
    Rrf {
        keyword_weight: f32,
    },
    /// Cosine plus the keyword leg's BM25 relevance scaled to [0, 1] and weighted.
    Blend {
        keyword_weight: f32,
    },
    /// A blend whose keyword weight follows how strong the best keyword match is: `max_weight`
    /// once the top BM25 relevance reaches `full_at` (rare terms matched), proportionally less
    /// below (only common words shared).
    Adaptive {
        max_weight: f32,
        full_at: f32,
    },
    /// Each leg scaled to [0, 1] over the candidates (cosine min-max, BM25 by the best) and
    /// mixed, `keyword_weight` of the keyword leg.
    Normalized {
        keyword_weight: f32,
    },
    VectorOnly,
    KeywordOnly,
}

/// What fusion needs to know of all candidates.
struct Spread {
    /// The top BM25 relevance.
    best_relevance: f32,
    /// The lowest and highest cosine.
    cosines: (f32, f32),
}

/// How `Ranking::Hybrid` weighs the keyword leg against the cosine, by what the query looks
/// like. Chosen on the tuning half of the large evaluation (`cargo bench --bench search --
/// --large-eval --tune`), reported on its test half, and checked on the small one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionRules {
    /// For a query with an identifier-like term (a digit, `_`, `.`, `/`, or camelCase): a
    /// blend at this weight, since an exact identifier should win.
    pub identifier_weight: f32,
    /// Any other (prose) query: a blend whose weight reaches `prose_weight` when the best
    /// keyword match has a BM25 relevance of `prose_full_at`. A question that shares only common
    /// words with the memories ("install", "HTTP") matches weakly everywhere, and then the
    /// keyword leg only breaks near-ties; one that shares rare terms is trusted as much as an
    /// identifier.
    pub prose_weight: f32,
    pub prose_full_at: f32,
}

impl FusionRules {
    pub const CHOSEN: Self =
        Self { identifier_weight: 0.5, prose_weight: 0.5, prose_full_at: 24.0 };
}

/// Whether a query names something exactly: a word with a digit, `_`, `.`, `/`, or a
/// lower-to-upper case change (`compute_totals`, `E_LOCK_17`, `flags.yaml`, `PdfRenderer`).
pub fn has_identifier(query: &str) -> bool {
    query.split_whitespace().any(|word| {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        let camel = word
            .chars()
            .zip(word.chars().skip(1))
            .any(|(a, b)| a.is_lowercase() && b.is_uppercase());
        camel || word.chars().any(|c| c.is_ascii_digit() || matches!(c, '_' | '.' | '/'))
    })
}

/// A memory either leg found, with what fusion needs.
#[derive(Debug, Clone)]
struct Candidate {
    id: String,
    project: String,
    cosine: f32,
    agent: bool,
    vector_rank: Option<usize>,
    /// Rank in the keyword leg and BM25 relevance (higher is better).
    keyword: Option<(usize, f32)>,
}

impl Ranking {
    fn uses_vectors(self) -> bool {
        !matches!(self, Self::KeywordOnly)
    }

    fn uses_keywords(self) -> bool {
        !matches!(self, Self::VectorOnly)
    }

    /// What `Hybrid` (or other rules) stands for with this query.
    fn for_query(self, query: &str) -> Self {
        let rules = match self {
            Self::Hybrid => FusionRules::CHOSEN,
            Self::Rules(rules) => rules,
            other => return other,
        };
        if has_identifier(query) {
            Self::Blend { keyword_weight: rules.identifier_weight }
        } else {
            Self::Adaptive { max_weight: rules.prose_weight, full_at: rules.prose_full_at }
        }
    }

    /// The fused score of a candidate among others spread as `spread` says.
    fn fused(self, c: &Candidate, spread: &Spread) -> f32 {
        let best_relevance = spread.best_relevance;
        let rrf = |rank: usize| 1.0 / (RRF_K + rank as f32 + 1.0);
        let relevance = c.keyword.map_or(0.0, |(_, r)| r / best_relevance.max(f32::EPSILON));
        let adaptive = |max_weight: f32, full_at: f32| {
            let weight = max_weight * (best_relevance / full_at.max(f32::EPSILON)).min(1.0);
            (c.cosine + weight * relevance, AGENT_BOOST)
        };
        let (score, boost) = match self {
            // Resolved by `for_query` before fusion; prose weights if they ever are not.
            Self::Hybrid => {
                adaptive(FusionRules::CHOSEN.prose_weight, FusionRules::CHOSEN.prose_full_at)
            }
            Self::Rules(rules) => adaptive(rules.prose_weight, rules.prose_full_at),
            Self::Rrf { keyword_weight } => (
                c.vector_rank.map_or(0.0, rrf)
                    + c.keyword.map_or(0.0, |(k, _)| keyword_weight * rrf(k)),
                AGENT_BOOST * rrf(0),
            ),
            Self::Blend { keyword_weight } => (c.cosine + keyword_weight * relevance, AGENT_BOOST),
            Self::Adaptive { max_weight, full_at } => adaptive(max_weight, full_at),
            Self::Normalized { keyword_weight } => {
                let (low, high) = spread.cosines;
                let cosine = (c.cosine - low) / (high - low).max(f32::EPSILON);
                ((1.0 - keyword_weight) * cosine + keyword_weight * relevance, AGENT_BOOST)
            }
            Self::VectorOnly => (c.cosine, AGENT_BOOST),
            Self::KeywordOnly => (relevance, AGENT_BOOST),
        };
        if c.agent { score + boost } else { score }
    }
}

/// A search as an agent asks for it; validated by [`Memories::search`].
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub project: String,
    pub query: String,
    pub tags: Vec<String>,
    pub limit: i64,
    pub mode: Mode,
    pub min_score: f32,
    pub after: Option<String>,
    pub before: Option<String>,
    /// Other projects to search too; `"*"` among them means every project.
    pub projects: Option<Vec<String>>,
    pub include_superseded: bool,
    /// Prefix of `source`.
    pub source: Option<String>,
    pub chunk_type: Option<ChunkType>,
    pub ranking: Ranking,
    /// Memories with any of these tags are left out (before ranking).
    pub exclude_tags: Vec<String>,
    /// Whether the results count as accessed (hits). A caller that shows only some of them
    /// (the prompt hook) counts those itself.
    pub count_access: bool,
}

impl SearchRequest {
    pub fn new(project: impl Into<String>, query: impl Into<String>) -> Self {
        Self {
            project: project.into(),
            query: query.into(),
            tags: Vec::new(),
            limit: DEFAULT_LIMIT,
            mode: Mode::Summary,
            min_score: 0.0,
            after: None,
            before: None,
            projects: None,
            include_superseded: false,
            source: None,
            chunk_type: None,
            ranking: Ranking::Hybrid,
            exclude_tags: Vec::new(),
            count_access: true,
        }
    }
}

/// Everything a result must satisfy, checked against index metadata before ranking.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Tags after fuzzy expansion; `None` means no tag filter.
    pub tags: Option<HashSet<String>>,
    pub chunk_type: Option<ChunkType>,
    pub source_prefix: Option<String>,
    pub after: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub before: Option<DateTime<Utc>>,
    pub include_superseded: bool,
    pub exclude_tags: HashSet<String>,
}

impl Filter {
    pub fn matches(&self, meta: &EntryMeta) -> bool {
        (self.include_superseded || !meta.superseded)
            && !meta.tags.iter().any(|t| self.exclude_tags.contains(t))
            && self.chunk_type.is_none_or(|t| t == meta.chunk_type)
            && self.source_prefix.as_deref().is_none_or(|p| meta.source.starts_with(p))
            && self.after.is_none_or(|after| meta.created_at >= after)
            && self.before.is_none_or(|before| meta.created_at < before)
            && self.tags.as_ref().is_none_or(|tags| meta.tags.iter().any(|t| tags.contains(t)))
    }
}

fn is_agent(meta: &EntryMeta) -> bool {
    meta.chunk_type == ChunkType::AgentMemory
}

/// Parses an `after`/`before` bound. A date-only `before` includes that whole day, so the
/// returned bound is exclusive: the next midnight, or one microsecond after a date-time.
pub fn parse_bound(
    param: &'static str,
    value: &str,
    upper: bool,
) -> Result<DateTime<Utc>, SearchError> {
    let text = value.trim();
    let invalid = || SearchError::Date { param, value: value.to_owned() };
    let at = if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        at.with_timezone(&Utc)
    } else if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        naive.and_utc()
    } else if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        naive.and_utc()
    } else {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid())?;
        let day = if upper { date.succ_opt().ok_or_else(invalid)? } else { date };
        return Ok(day.and_hms_opt(0, 0, 0).ok_or_else(invalid)?.and_utc());
    };
    Ok(if upper { at + chrono::Duration::microseconds(1) } else { at })
}

/// One result.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct SearchHit {
    pub memory: Memory,
    /// Cosine similarity between the query and the memory.
    pub score: f32,
}

impl SearchHit {
    /// Below [`RELEVANCE_BAR`]: shown, but rarely the answer.
    pub fn is_weak(&self) -> bool {
        self.score < RELEVANCE_BAR
    }
}

/// Results in fused order, with what is needed to render them.
#[derive(Debug, Clone)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub query: String,
    pub mode: Mode,
    pub project: String,
    /// Set when more than the primary project was searched.
    pub projects_searched: Option<Vec<String>>,
    /// The project has nothing stored yet.
    pub new_project: bool,
    /// The `min_score` that applied (none when tags filter), and how many of the best
    /// candidates fell below it: an agent told "nothing above 0.6, 3 weaker" knows the
    /// difference between no memory and no good one.
    pub min_score: Option<f32>,
    pub weaker: usize,
}

impl Mode {
    /// The content as this mode shows it.
    pub fn render_content(self, content: &str) -> String {
        match self {
            Self::Full => content.to_owned(),
            Self::Summary => truncate(content, SUMMARY_CHARS),
            Self::Probe => {
                let first_line = content.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                truncate(first_line.trim(), PROBE_CHARS)
            }
        }
    }
}

fn truncate(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl SearchResults {
    /// The JSON of `output="json"` (SPEC §5.1).
    pub fn to_json(&self) -> Value {
        let cross = self.projects_searched.is_some();
        let hit_json = |hit: &SearchHit| {
            let m = &hit.memory;
            let mut object = json!({
                "id": m.id,
                "tags": m.tags,
                "score": (hit.score * 10_000.0).round() / 10_000.0,
                "source": m.source,
                "chunk_type": m.chunk_type,
                "created_at": m.created_at,
                "updated_at": m.updated_at,
                "hit_count": m.hit_count,
            });
            let content_key = if self.mode == Mode::Full { "content" } else { "content_preview" };
            object[content_key] = json!(self.mode.render_content(&m.content));
            if cross {
                object["project"] = json!(m.project);
            }
            if let Some(by) = &m.superseded_by {
                object["superseded_by"] = json!(by);
            }
            if let Some(at) = m.last_accessed_at {
                object["last_accessed_at"] = json!(at);
            }
            if let Some(review) = &m.review {
                object["review"] = json!(review);
            }
            if hit.is_weak() {
                object["weak"] = json!(true);
            }
            object
        };
        let of_kind = |kind: ChunkType| -> Vec<Value> {
            self.hits.iter().filter(|h| h.memory.chunk_type == kind).map(hit_json).collect()
        };
        let agent = of_kind(ChunkType::AgentMemory);
        let files = of_kind(ChunkType::FileIndexed);
        let grouped = !agent.is_empty() && !files.is_empty();
        let results = if grouped {
            json!({"agent_memories": agent, "file_indexed": files})
        } else {
            Value::Array(self.hits.iter().map(hit_json).collect())
        };
        let mut meta = json!({
            "query": self.query,
            "mode": self.mode,
            "project": self.project,
            "total": self.hits.len(),
            "returned": self.hits.len(),
        });
        if let Some(projects) = &self.projects_searched {
            meta["projects_searched"] = json!(projects);
        }
        if grouped {
            meta["grouped"] = json!(true);
        }
        json!({"results": results, "meta": meta})
    }
}

/// A request after validation.
struct Plan {
    query: String,
    limit: usize,
    min_score: Option<f32>,
    scope: Vec<String>,
    cross: bool,
    filter: Filter,
    filter_tags: Vec<String>,
}

impl Memories {
    /// `search_memories`: validates, embeds the query, ranks, loads the hits, and counts the
    /// access off the response path.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResults, SearchError> {
        // Ranking and reading the hits are CPU work too: an index run beside the search yields
        // it a core for its whole length, not only for the query's embedding.
        let _core = self.embedder().hold_core();
        let mut plan = self.plan(&request).await?;
        if plan.scope.is_empty() {
            // Nothing stored in the project yet: an empty answer (agents search first).
            return Ok(SearchResults {
                hits: Vec::new(),
                query: plan.query,
                mode: request.mode,
                project: request.project.trim().to_owned(),
                projects_searched: None,
                new_project: true,
                min_score: plan.min_score,
                weaker: 0,
            });
        }
        let query_vector = self.embedder().embed_one(plan.query.clone()).await?;
        if !plan.filter_tags.is_empty() {
            let expanded = self.expand_tags(&plan.scope, &plan.filter_tags).await?;
            plan.filter.tags = Some(expanded);
        }
        let (ranked, weaker) = self.rank(&plan, &query_vector, request.ranking).await?;
        let hits = self.load_hits(ranked).await?;
        if request.count_access {
            self.count_hits(&hits);
        }
        Ok(SearchResults {
            hits,
            query: plan.query,
            mode: request.mode,
            project: request.project.trim().to_owned(),
            projects_searched: plan.cross.then_some(plan.scope),
            new_project: false,
            min_score: plan.min_score,
            weaker,
        })
    }

    async fn plan(&self, request: &SearchRequest) -> Result<Plan, SearchError> {
        let query = request.query.trim().to_owned();
        if query.is_empty() {
            return Err(SearchError::EmptyQuery);
        }
        let chars = query.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(SearchError::QueryTooLong { chars });
        }
        if !(1..=MAX_LIMIT).contains(&request.limit) {
            return Err(SearchError::Limit { given: request.limit });
        }
        if !(-1.0..=1.0).contains(&request.min_score) {
            return Err(SearchError::MinScore { given: request.min_score });
        }
        let after = request.after.as_deref().map(|v| parse_bound("after", v, false)).transpose()?;
        let before =
            request.before.as_deref().map(|v| parse_bound("before", v, true)).transpose()?;
        if let (Some(a), Some(b)) = (after, before)
            && a >= b
        {
            return Err(SearchError::DateOrder {
                after: request.after.clone().unwrap_or_default(),
                before: request.before.clone().unwrap_or_default(),
            });
        }
        let filter_tags = normalize_tags(&request.tags)?;
        let (scope, cross) = self.scope(&request.project, request.projects.as_deref()).await?;
        let source_prefix =
            request.source.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Plan {
            query,
            limit: request.limit as usize,
            min_score: filter_tags.is_empty().then_some(request.min_score),
            scope,
            cross,
            filter: Filter {
                tags: None,
                chunk_type: request.chunk_type,
                source_prefix,
                after,
                before,
                include_superseded: request.include_superseded,
                exclude_tags: normalize_tags(&request.exclude_tags)?.into_iter().collect(),
            },
            filter_tags,
        })
    }

    /// The projects to search: the primary one, plus those named (or all for `"*"`). Every
    /// named project must exist.
    async fn scope(
        &self,
        primary: &str,
        others: Option<&[String]>,
    ) -> Result<(Vec<String>, bool), SearchError> {
        let primary = ProjectName::parse(primary.trim())?.to_string();
        let known = self.store().projects().await?;
        let unknown = |project: &str| SearchError::UnknownProject {
            project: project.to_owned(),
            known: if known.is_empty() { "none yet".into() } else { known.join(", ") },
        };
        // A project nothing was stored in yet has nothing to search, which is not an error.
        let mut scope: Vec<String> = known.iter().filter(|p| **p == primary).cloned().collect();
        let Some(others) = others else {
            return Ok((scope, false));
        };
        if others.iter().any(|p| p.trim() == "*") {
            scope.extend(known.iter().filter(|p| **p != primary).cloned());
        } else {
            for project in others {
                let project = ProjectName::parse(project.trim())?.to_string();
                if !known.contains(&project) {
                    return Err(unknown(&project));
                }
                if !scope.contains(&project) {
                    scope.push(project);
                }
            }
        }
        Ok((scope, true))
    }

    /// Filter tags plus every known tag of the scope whose embedding is close to one of them.
    async fn expand_tags(
        &self,
        scope: &[String],
        filter_tags: &[String],
    ) -> Result<HashSet<String>, SearchError> {
        let mut known: Vec<String> = Vec::new();
        let index = self.store().index().await?;
        for project in scope {
            if let Some(shard) = index.project(project) {
                known.extend(read(&shard).known_tags().map(str::to_owned));
            }
        }
        known.sort();
        known.dedup();
        let wanted: Vec<String> = filter_tags.iter().chain(&known).cloned().collect();
        let vectors = self.tag_vectors(wanted).await?;
        let mut expanded: HashSet<String> = filter_tags.iter().cloned().collect();
        for tag in known {
            let Some(candidate) = vectors.get(&tag) else { continue };
            let close = filter_tags
                .iter()
                .any(|f| vectors.get(f).is_some_and(|v| dot(v, candidate) >= TAG_MATCH_FROM));
            if close {
                expanded.insert(tag);
            }
        }
        Ok(expanded)
    }

    /// Ranks candidates: returns (id, project, cosine) in fused order, at most `limit`, and how
    /// many candidates `min_score` left out.
    async fn rank(
        &self,
        plan: &Plan,
        query: &[f32],
        ranking: Ranking,
    ) -> Result<(Vec<(String, String, f32)>, usize), SearchError> {
        let ranking = ranking.for_query(&plan.query);
        let pool = (plan.limit * 4).max(40);
        let mut candidates: HashMap<String, Candidate> = HashMap::new();
        // Both legs filter by the index's metadata: a search right after start waits for it.
        let index = self.store().index().await?;
        if ranking.uses_vectors() {
            let index = std::sync::Arc::clone(index);
            let (scope, filter, vector) = (plan.scope.clone(), plan.filter.clone(), query.to_vec());
            // The scan is CPU work (milliseconds at 100k): keep it off the async workers.
            let by_vector = tokio::task::spawn_blocking(move || {
                let mut hits: Vec<(String, String, f32, bool)> = Vec::new();
                for project in &scope {
                    if let Some(shard) = index.project(project) {
                        let shard = read(&shard);
                        for hit in shard.top_k(&vector, pool, |m| filter.matches(m)) {
                            let agent = shard.meta(&hit.id).is_some_and(is_agent);
                            hits.push((hit.id, project.clone(), hit.score, agent));
                        }
                    }
                }
                hits.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
                hits.truncate(pool);
                hits
            })
            .await
            .map_err(|e| SearchError::Worker(e.to_string()))?;
            for (rank, (id, project, cosine, agent)) in by_vector.into_iter().enumerate() {
                let candidate = Candidate {
                    id: id.clone(),
                    project,
                    cosine,
                    agent,
                    vector_rank: Some(rank),
                    keyword: None,
                };
                candidates.insert(id, candidate);
            }
        }
        if ranking.uses_keywords() {
            let terms = keyword_terms(&plan.query);
            let (shards, filter) = (std::sync::Arc::clone(index), plan.filter.clone());
            let passes = move |project: &str, id: &str| {
                shards
                    .project(project)
                    .is_some_and(|shard| read(&shard).meta(id).is_some_and(|m| filter.matches(m)))
            };
            let matches = self.store().keyword_matches(plan.scope.clone(), &terms, pool, passes);
            for (rank, found) in matches.await?.into_iter().enumerate() {
                let Some(shard) = index.project(&found.project) else { continue };
                let shard = read(&shard);
                let Some(meta) = shard.meta(&found.id) else { continue };
                let keyword = Some((rank, found.relevance));
                match candidates.get_mut(&found.id) {
                    Some(candidate) => candidate.keyword = keyword,
                    None => {
                        let cosine = shard.score(&found.id, query).unwrap_or(0.0);
                        let agent = is_agent(meta);
                        let (id, project) = (found.id.clone(), found.project);
                        let candidate =
                            Candidate { id, project, cosine, agent, vector_rank: None, keyword };
                        candidates.insert(found.id, candidate);
                    }
                }
            }
        }
        let best_relevance =
            candidates.values().filter_map(|c| c.keyword.map(|(_, r)| r)).fold(0.0, f32::max);
        let cosines = candidates.values().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), c| {
            (l.min(c.cosine), h.max(c.cosine))
        });
        let spread = Spread { best_relevance, cosines };
        let found = candidates.len();
        let mut ranked: Vec<(f32, Candidate)> = candidates
            .into_values()
            .filter(|c| plan.min_score.is_none_or(|min| c.cosine >= min))
            .map(|c| (ranking.fused(&c, &spread), c))
            .collect();
        let weaker = found - ranked.len();
        ranked.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| b.1.cosine.total_cmp(&a.1.cosine))
                .then_with(|| a.1.id.cmp(&b.1.id))
        });
        ranked.truncate(plan.limit);
        Ok((ranked.into_iter().map(|(_, c)| (c.id, c.project, c.cosine)).collect(), weaker))
    }

    async fn load_hits(
        &self,
        ranked: Vec<(String, String, f32)>,
    ) -> Result<Vec<SearchHit>, SearchError> {
        let mut by_project: HashMap<String, Vec<MemoryId>> = HashMap::new();
        for (id, project, _) in &ranked {
            by_project.entry(project.clone()).or_default().push(MemoryId::parse(id)?);
        }
        let mut loaded: HashMap<String, Memory> = HashMap::new();
        for (project, ids) in by_project {
            let project = ProjectName::parse(&project)?;
            for memory in self.store().get(&project, ids).await? {
                loaded.insert(memory.id.clone(), memory);
            }
        }
        // A memory deleted between ranking and loading is simply left out.
        Ok(ranked
            .into_iter()
            .filter_map(|(id, _, score)| {
                loaded.remove(&id).map(|memory| SearchHit { memory, score })
            })
            .collect())
    }

    /// Hit counting happens in the background: the response never waits for the write.
    pub(crate) fn count_hits(&self, hits: &[SearchHit]) {
        let mut by_project: HashMap<String, Vec<String>> = HashMap::new();
        for hit in hits.iter().filter(|h| h.memory.chunk_type == ChunkType::AgentMemory) {
            by_project.entry(hit.memory.project.clone()).or_default().push(hit.memory.id.clone());
        }
        for (project, ids) in by_project {
            let store = self.store().clone();
            tokio::spawn(async move {
                let Ok(project) = ProjectName::parse(&project) else { return };
                if let Err(err) = store.record_access(&project, ids, Utc::now()).await {
                    tracing::warn!(%project, %err, "search hits not counted");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_like_terms_are_recognised() {
        for query in [
            "compute_invoice_totals",
            "E_LOCK_TIMEOUT_17",
            "config/flags.yaml",
            "PdfRenderer",
            "why does LoginForm.tsx submit twice",
            "error 4471",
        ] {
            assert!(has_identifier(query), "{query}");
        }
        for query in
            ["how is the REST API versioned", "what did we decide about caching", "CI budget"]
        {
            assert!(!has_identifier(query), "{query}");
        }
    }

    #[test]
    fn keyword_terms_drop_stopwords_and_keep_identifiers_whole() {
        assert_eq!(
            keyword_terms("Why does the compute_totals fn fail?"),
            ["compute_totals", "fn", "fail"]
        );
        assert_eq!(keyword_terms("the and of"), Vec::<String>::new());
    }
}
