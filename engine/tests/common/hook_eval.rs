//! The hook recall evaluation (`engine/tests/data/hooks_eval.json`, frozen): prompts a
//! developer types, in sessions, with the memories a teammate would want the agent to see.
//! Included by path from the engine's hooks test (which guards the numbers at the default
//! bar) and from `cargo bench --bench hooks` (which sweeps the bar and reports them).

// Each includer uses its own part of this file.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use annal_engine::hooks::{HookRequest, SECRET_TAG};
use annal_engine::pool::Pool;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Eval {
    pub memories: Vec<EvalMemory>,
    pub sessions: Vec<EvalSession>,
}

#[derive(Debug, Deserialize)]
pub struct EvalMemory {
    pub key: String,
    pub project: String,
    pub tags: Vec<String>,
    pub content: String,
}

#[derive(Debug, Deserialize)]
pub struct EvalSession {
    pub id: String,
    pub project: String,
    pub prompts: Vec<EvalPrompt>,
}

#[derive(Debug, Deserialize)]
pub struct EvalPrompt {
    pub text: String,
    pub expect: Vec<String>,
    /// A negative near a memory's topic without being answered by it.
    #[serde(default)]
    pub hard: bool,
}

pub fn load(workspace: &std::path::Path) -> Eval {
    let path = workspace.join("engine/tests/data/hooks_eval.json");
    let text = std::fs::read_to_string(&path).expect("the hook evaluation");
    serde_json::from_str(&text).expect("the hook evaluation parses")
}

/// Stores every memory; returns key → id.
pub async fn store_all(pool: &Pool, eval: &Eval) -> HashMap<String, String> {
    let mut ids = HashMap::new();
    for memory in &eval.memories {
        let outcome = pool
            .memories()
            .remember(&memory.project, memory.content.clone(), memory.tags.clone(), None, None)
            .await
            .expect("store an evaluation memory");
        match outcome {
            annal_engine::store::StoreOutcome::Stored { id, .. } => {
                ids.insert(memory.key.clone(), id);
            }
            other => panic!("{} not stored: {other:?}", memory.key),
        }
    }
    ids
}

/// What one replay of every session measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Memories injected, and those of them the prompt expected.
    pub injected: usize,
    pub right: usize,
    /// Prompts expecting a memory (that may be injected: not secret), and those served: an
    /// expected memory injected now or earlier in the session.
    pub positives: usize,
    pub served: usize,
    /// Prompts expecting nothing, and those given nothing; the hard ones among them.
    pub negatives: usize,
    pub quiet: usize,
    pub hard_negatives: usize,
    pub hard_quiet: usize,
    /// Secret memories injected: must stay 0.
    pub secrets: usize,
    /// Estimated tokens injected per session (brief included when replayed with one).
    pub session_tokens: Vec<u64>,
    /// Every injection's estimated tokens and text, for the budget checks.
    pub injections: Vec<(u64, String)>,
}

impl Outcome {
    pub fn precision(&self) -> f64 {
        if self.injected == 0 { 1.0 } else { self.right as f64 / self.injected as f64 }
    }

    pub fn recall(&self) -> f64 {
        self.served as f64 / self.positives.max(1) as f64
    }

    pub fn quiet_rate(&self) -> f64 {
        self.quiet as f64 / self.negatives.max(1) as f64
    }

    pub fn f_half(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 1.25 * p * r / (0.25 * p + r) }
    }

    pub fn mean_session_tokens(&self) -> f64 {
        self.session_tokens.iter().sum::<u64>() as f64 / self.session_tokens.len().max(1) as f64
    }
}

/// Replays every session through the hooks, the session-start brief first when `brief`;
/// session ids get `run` appended so replays do not share dedup state.
pub async fn replay(
    pool: &Arc<Pool>,
    eval: &Eval,
    ids: &HashMap<String, String>,
    brief: bool,
    run: &str,
) -> Outcome {
    let secret: HashSet<&str> = eval
        .memories
        .iter()
        .filter(|m| m.tags.iter().any(|t| t == SECRET_TAG))
        .map(|m| ids[&m.key].as_str())
        .collect();
    let mut outcome = Outcome::default();
    for session in &eval.sessions {
        let session_id = format!("{}-{run}", session.id);
        let mut given: HashSet<String> = HashSet::new();
        let mut tokens = 0;
        if brief {
            let request = HookRequest {
                project: session.project.clone(),
                session_id: session_id.clone(),
                prompt: String::new(),
            };
            let injection = pool.hooks().session_start(&request).await.expect("brief");
            tokens += injection.tokens;
            given.extend(injection.memories.iter().cloned());
            outcome.injections.push((injection.tokens, injection.text));
        }
        for prompt in &session.prompts {
            let expected: HashSet<&str> = prompt
                .expect
                .iter()
                .map(|k| ids[k].as_str())
                .filter(|id| !secret.contains(id))
                .collect();
            let request = HookRequest {
                project: session.project.clone(),
                session_id: session_id.clone(),
                prompt: prompt.text.clone(),
            };
            let injection = pool.hooks().prompt_submit(&request).await.expect("recall");
            tokens += injection.tokens;
            outcome.injected += injection.memories.len();
            outcome.right +=
                injection.memories.iter().filter(|id| expected.contains(id.as_str())).count();
            outcome.secrets +=
                injection.memories.iter().filter(|id| secret.contains(id.as_str())).count();
            let now: HashSet<&str> = injection.memories.iter().map(String::as_str).collect();
            if expected.is_empty() {
                outcome.negatives += 1;
                outcome.quiet += usize::from(now.is_empty());
                if prompt.hard {
                    outcome.hard_negatives += 1;
                    outcome.hard_quiet += usize::from(now.is_empty());
                }
            } else {
                outcome.positives += 1;
                let served = expected.iter().any(|id| now.contains(id) || given.contains(*id));
                outcome.served += usize::from(served);
            }
            given.extend(injection.memories.iter().cloned());
            outcome.injections.push((injection.tokens, injection.text));
        }
        outcome.session_tokens.push(tokens);
    }
    outcome
}

/// Sets the injection bar every project's hooks use.
pub async fn set_bar(pool: &Pool, bar: f32) {
    pool.config()
        .update(|config| {
            config.hooks.min_score = bar;
            Ok(())
        })
        .await
        .expect("set the bar");
}
