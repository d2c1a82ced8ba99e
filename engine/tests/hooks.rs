//! What agent hooks inject: the session-start brief and per-prompt recall, with the real
//! model and a real store — budgets (by our estimate and by the model's own tokenizer), order,
//! secrets, per-session dedup, settings, and the recall evaluation's numbers at the default bar.

use std::sync::Arc;

use annal_engine::hooks::{DEFAULT_MIN_SCORE, HookOverrides, HookRequest, tokens};
use annal_engine::pool::Pool;
use annal_engine::project::ProjectName;

use crate::util::{Stored as _, assert_err_contains, model_dir, open_pool, tags, workspace_dir};

#[path = "common/hook_eval.rs"]
mod hook_eval;

fn request(project: &str, session: &str, prompt: &str) -> HookRequest {
    HookRequest { project: project.into(), session_id: session.into(), prompt: prompt.into() }
}

/// Tokens the embedding model's WordPiece tokenizer makes of `text` (no special tokens, no
/// truncation).
fn real_tokens(text: &str) -> usize {
    use std::sync::OnceLock;
    static TOKENIZER: OnceLock<tokenizers::Tokenizer> = OnceLock::new();
    let tokenizer = TOKENIZER.get_or_init(|| {
        let mut t = tokenizers::Tokenizer::from_file(model_dir().join("tokenizer.json"))
            .expect("the model's tokenizer");
        t.with_truncation(None).expect("no truncation");
        t.with_padding(None);
        t
    });
    tokenizer.encode(text, false).expect("tokenize").len()
}

async fn remember(pool: &Pool, project: &str, text: &str, with: &[&str]) -> String {
    pool.memories().remember(project, text.into(), tags(with), None, None).await.stored(text)
}

async fn seeded() -> (tempfile::TempDir, Arc<Pool>) {
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    remember(&pool, "web", "Sessions expire after 30 minutes of inactivity.", &["note"]).await;
    remember(
        &pool,
        "web",
        "We chose Postgres advisory locks for the job queue.",
        &["decision", "db"],
    )
    .await;
    remember(&pool, "web", "Never deploy on Fridays.", &["pinned", "deploy"]).await;
    remember(&pool, "web", "The user wants terse commit messages.", &["preference"]).await;
    remember(
        &pool,
        "web",
        "The staging database password is in Vault under web/staging.",
        &["secret", "db"],
    )
    .await;
    (home, pool)
}

#[tokio::test]
async fn the_brief_leads_with_pinned_then_decisions_and_preferences_and_never_a_secret() {
    let (_home, pool) = seeded().await;
    let brief = pool.hooks().session_start(&request("web", "s1", "")).await.expect("brief");
    let text = &brief.text;
    let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle:?} in {text}"));
    assert!(at("Never deploy on Fridays") < at("advisory locks"));
    assert!(at("advisory locks") < at("terse commit"));
    assert!(text.contains("Sessions expire"), "the most recent follow: {text}");
    assert!(!text.contains("Vault"), "secret-tagged content stays out: {text}");
    for id in &brief.memories {
        assert!(text.contains(&format!("(id {id})")), "each line carries its id");
    }
    assert!(text.contains("search_memories"), "the reminder: {text}");
    assert_eq!(brief.tokens, tokens::estimate(text));
    // Nothing at all for a project Annal does not know, or one without agent memories.
    let unknown = pool.hooks().session_start(&request("elsewhere", "s1", "")).await.expect("ok");
    assert!(unknown.text.is_empty() && unknown.memories.is_empty());
    assert_err_contains(
        pool.hooks().session_start(&request("bad name!", "s", "")).await,
        "project",
    );
}

#[tokio::test]
async fn the_brief_and_recall_keep_their_budgets_by_estimate_and_by_a_real_tokenizer() {
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    // Real memories, a few of them long, all tagged for the brief's lists.
    let eval = hook_eval::load(&workspace_dir());
    for (n, memory) in eval.memories.iter().filter(|m| m.project == "payments-api").enumerate() {
        let tag = ["decision", "pinned", "preference", "note"][n % 4];
        remember(&pool, "big", &memory.content, &[tag, "payments"]).await;
    }
    for budget in [60_u64, 200, 600, 2000] {
        let overrides = HookOverrides {
            brief_tokens: Some(budget.max(50)),
            recall_tokens: Some(budget.max(50)),
            recall_max: Some(10),
            min_score: Some(0.1),
            ..HookOverrides::default()
        };
        let big = ProjectName::parse("big").expect("name");
        pool.hooks().configure(&big, overrides).await.expect("configure");
        let session = format!("s{budget}");
        let brief = pool.hooks().session_start(&request("big", &session, "")).await.expect("brief");
        let recall = pool
            .hooks()
            .prompt_submit(&request(
                "big",
                &format!("r{budget}"),
                "the stripe webhook handler keeps failing signature checks, what do we know?",
            ))
            .await
            .expect("recall");
        for (what, injection) in [("brief", &brief), ("recall", &recall)] {
            let budget = budget.max(50);
            assert!(
                injection.tokens <= budget,
                "{what} at {budget}: {} estimated",
                injection.tokens
            );
            let real = real_tokens(&injection.text) as u64;
            assert!(real <= budget, "{what} at {budget}: {real} real tokens\n{}", injection.text);
        }
        if budget >= 600 {
            assert!(brief.memories.len() >= 3, "a useful brief at {budget}: {}", brief.text);
            assert!(!recall.memories.is_empty(), "a recall at {budget}");
        }
    }
}

#[tokio::test]
async fn a_memory_is_injected_once_per_session_and_counted_as_a_hit() {
    let (_home, pool) = seeded().await;
    let prompt = "why do user sessions time out after half an hour?";
    let first = pool.hooks().prompt_submit(&request("web", "a", prompt)).await.expect("first");
    assert_eq!(first.memories.len(), 1, "{}", first.text);
    assert!(first.text.contains("Sessions expire"));
    let again = pool.hooks().prompt_submit(&request("web", "a", prompt)).await.expect("again");
    assert!(again.text.is_empty(), "already injected in this session: {}", again.text);
    let other = pool.hooks().prompt_submit(&request("web", "b", prompt)).await.expect("other");
    assert_eq!(other.memories, first.memories, "a new session gets it again");
    // Starting the session afresh (a clear or a compaction) forgets what it was given.
    pool.hooks().session_start(&request("web", "a", "")).await.expect("restart");
    // Hits are counted off the response path: wait for them, with a deadline.
    let web = ProjectName::parse("web").expect("name");
    let id = annal_engine::memory::MemoryId::parse(&first.memories[0]).expect("id");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = pool.memories().store().get(&web, vec![id.clone()]).await.expect("get");
        if found.first().is_some_and(|m| m.hit_count >= 2) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "injections were not counted as hits");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let secret = pool
        .hooks()
        .prompt_submit(&request(
            "web",
            "c",
            "what is the staging database password and where is it kept?",
        ))
        .await
        .expect("secret prompt");
    assert!(!secret.text.contains("Vault"), "{}", secret.text);
}

#[tokio::test]
async fn prompts_with_nothing_to_say_and_huge_prompts_inject_nothing_or_stay_bounded() {
    let (_home, pool) = seeded().await;
    for quiet in ["ok", "", "  ", "thanks, looks good"] {
        let out = pool.hooks().prompt_submit(&request("web", "q", quiet)).await.expect("quiet");
        assert!(out.text.is_empty(), "{quiet:?} injected {}", out.text);
    }
    let huge = format!("sessions expire too soon {}", "x".repeat(1 << 20));
    let started = std::time::Instant::now();
    let out = pool.hooks().prompt_submit(&request("web", "h", &huge)).await.expect("huge");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(out.tokens <= 400);
    // Hooks off for the project: nothing, but the dashboard's preview still shows the brief.
    let web = ProjectName::parse("web").expect("name");
    let off = HookOverrides { enabled: Some(false), ..HookOverrides::default() };
    let view = pool.hooks().configure(&web, off).await.expect("off");
    assert!(!view.effective.enabled && !view.preview.text.is_empty());
    let brief = pool.hooks().session_start(&request("web", "z", "")).await.expect("off");
    assert!(brief.text.is_empty());
    let bad = HookOverrides { recall_max: Some(40), ..HookOverrides::default() };
    assert_err_contains(
        pool.hooks().configure(&web, bad).await,
        "recall_max must be between 1 and 10",
    );
    let view = pool.hooks().view(&web).await.expect("view");
    assert_eq!(
        view.project.enabled,
        Some(false),
        "a refused change leaves the settings as they were"
    );
}

/// The numbers the README reports for the default bar, within a small tolerance: if a change
/// to search or the hooks moves them, this says so.
#[tokio::test]
async fn the_recall_evaluation_holds_its_numbers_at_the_default_bar() {
    let home = tempfile::tempdir().expect("home");
    let pool = open_pool(home.path()).await;
    let eval = hook_eval::load(&workspace_dir());
    let ids = hook_eval::store_all(&pool, &eval).await;
    hook_eval::set_bar(&pool, DEFAULT_MIN_SCORE).await;
    let o = hook_eval::replay(&pool, &eval, &ids, false, "guard").await;
    assert_eq!(o.secrets, 0, "a secret-tagged memory was injected");
    let tolerance = 0.03;
    assert!(o.precision() >= 0.743 - tolerance, "precision {:.3}", o.precision());
    assert!(o.recall() >= 0.358 - tolerance, "recall {:.3}", o.recall());
    assert!(o.quiet_rate() >= 0.962 - tolerance, "negatives quiet {:.3}", o.quiet_rate());
    for (estimated, text) in &o.injections {
        assert!(*estimated <= 400 && real_tokens(text) <= 400, "over budget: {text}");
    }
}
