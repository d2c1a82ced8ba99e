//! The review inbox: what writes record (near-duplicates, possible conflicts, redactions) and
//! what a changed file marks are listed with their reasons; confirm, supersede, merge and
//! delete do what they say, and bad keys and winners are refused naming them.

use annal_engine::memories::{Inbox, ReviewAction};
use annal_engine::memory::MemoryId;
use annal_engine::project::ProjectName;
use annal_engine::store::{ReviewKind, StoreOutcome};

use crate::common::fake_secrets::github_token as token;
use crate::util::{Fixture, Stored as _, assert_err_contains, tags};

fn key_of(inbox: &Inbox, kind: ReviewKind) -> String {
    let item = inbox.items.iter().find(|i| i.kind == kind);
    item.unwrap_or_else(|| panic!("no {kind:?} item in {inbox:#?}")).key.clone()
}

#[tokio::test]
async fn pairs_and_redactions_are_listed_and_each_action_resolves_its_item() {
    let f = Fixture::new().await;
    let m = &f.memories;
    let decision = tags(&["decision", "database"]);
    let old = "We use PostgreSQL 15 as the primary database for the billing service.";
    let old = m.remember("app", old.into(), decision.clone(), None, None).await.stored("old");
    let reversal = "Billing moves off PostgreSQL to DynamoDB; new billing tables go in DynamoDB.";
    let new = m.remember("app", reversal.into(), decision.clone(), None, None).await;
    let new = new.stored("reversal");
    let near = "The billing service uses PostgreSQL 15 as its primary database.";
    let near = m.remember("app", near.into(), tags(&["database", "billing"]), None, None).await;
    let StoreOutcome::Stored { id: near, similar: Some(similar), .. } = near.expect("near") else {
        panic!("the near-duplicate is stored with a hint")
    };
    assert_eq!(similar.id, old);
    let secret = token(7);
    let leaky = format!("The deploy bot authenticates with {secret} for now.");
    let leaky = m.remember("app", leaky, tags(&["ops"]), None, None).await.stored("leaky");

    let inbox = m.inbox("app").await.expect("inbox");
    let kinds: Vec<ReviewKind> = inbox.items.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, [ReviewKind::Conflict, ReviewKind::Duplicate, ReviewKind::Redaction]);
    let conflict = &inbox.items[0];
    assert_eq!(
        (conflict.memory.id.as_str(), conflict.other.as_ref().map(|o| o.id.as_str())),
        (new.as_str(), Some(old.as_str()))
    );
    assert!(conflict.reason.contains("may reverse"), "{}", conflict.reason);
    let redaction = &inbox.items[2];
    assert_eq!(redaction.memory.id, leaky);
    assert!(redaction.reason.contains("github-token at bytes 34..74"), "{}", redaction.reason);
    assert!(!redaction.reason.contains(&secret));
    let project = ProjectName::parse("app").expect("name");
    let stats = f.store.stats(&project, chrono::Utc::now()).await.expect("stats");
    assert_eq!(stats.needs_review, 3);

    // Bad keys and winners are refused, naming them, and change nothing.
    let confirm = |key: &str| ReviewAction::Confirm { key: key.to_owned() };
    assert_err_contains(m.resolve("app", confirm("nope")).await, "\"nope\" is not an inbox key");
    assert_err_contains(m.resolve("app", confirm("item:999999")).await, "review item 999999");
    assert_err_contains(m.resolve("app", confirm("memory:not an id")).await, "not an id");
    let conflict_key = key_of(&inbox, ReviewKind::Conflict);
    let supersede = |key: &str, winner: &str| ReviewAction::Supersede {
        key: key.to_owned(),
        winner: winner.to_owned(),
    };
    assert_err_contains(m.resolve("app", supersede(&conflict_key, &leaky)).await, "is not one of");
    let redaction_key = key_of(&inbox, ReviewKind::Redaction);
    assert_err_contains(
        m.resolve("app", supersede(&redaction_key, &leaky)).await,
        "is not a pair of memories",
    );
    let bad_delete = ReviewAction::Delete { id: "bad id!".into() };
    assert_err_contains(m.resolve("app", bad_delete).await, "bad id!");
    assert_eq!(m.inbox("app").await.expect("inbox").items.len(), 3);

    // Supersede: the newer decision wins; the older is superseded and the item goes.
    let inbox = m.resolve("app", supersede(&conflict_key, &new)).await.expect("supersede");
    let got = f.store.get(&project, vec![MemoryId::parse(&old).expect("id")]).await.expect("get");
    assert_eq!(got[0].superseded_by.as_deref(), Some(new.as_str()));
    assert_eq!(inbox.items.len(), 2);

    // Merge: the near-duplicate keeps its text, takes the other's tags; the other goes.
    let merge =
        ReviewAction::Merge { key: key_of(&inbox, ReviewKind::Duplicate), winner: near.clone() };
    let inbox = m.resolve("app", merge).await.expect("merge");
    let ids = [MemoryId::parse(&near).expect("id"), MemoryId::parse(&old).expect("id")];
    let got = f.store.get(&project, ids.to_vec()).await.expect("get");
    assert_eq!(got.len(), 1, "the merged-away memory is deleted");
    assert_eq!(got[0].tags, ["database", "billing", "decision"]);
    assert_eq!(inbox.items.len(), 1);

    // Confirm: the redaction is acknowledged.
    let inbox = m.resolve("app", confirm(&redaction_key)).await.expect("confirm");
    assert!(inbox.items.is_empty(), "{inbox:#?}");
    assert_eq!(f.store.stats(&project, chrono::Utc::now()).await.expect("stats").needs_review, 0);

    // An edit's redactions are listed too.
    let edit = format!("The deploy bot now uses {}.", token(9));
    m.update("app", &near, Some(edit), None, None).await.expect("edit");
    let inbox = m.inbox("app").await.expect("inbox");
    assert_eq!(inbox.items.len(), 1, "{inbox:#?}");
    assert_eq!(
        (inbox.items[0].kind, inbox.items[0].memory.id.as_str()),
        (ReviewKind::Redaction, near.as_str())
    );
    let inbox = m.resolve("app", confirm(&inbox.items[0].key)).await.expect("confirm");
    assert!(inbox.items.is_empty());

    // So are a retag's.
    let added = Some(vec![format!("key-{}", token(10))]);
    m.retag("app", &near, added, None, None).await.expect("retag");
    let inbox = m.inbox("app").await.expect("inbox");
    assert_eq!(inbox.items.len(), 1, "{inbox:#?}");
    assert!(inbox.items[0].reason.contains("in tags[0]"), "{}", inbox.items[0].reason);
    let inbox = m.resolve("app", confirm(&inbox.items[0].key)).await.expect("confirm");
    assert!(inbox.items.is_empty());

    // Delete takes the memory and every item about it.
    let again = format!("Rotate {} every 30 days.", token(8));
    m.remember("app", again, tags(&["ops"]), None, None).await.stored("again");
    let inbox = m.inbox("app").await.expect("inbox");
    assert_eq!(inbox.items.len(), 1);
    let doomed = inbox.items[0].memory.id.clone();
    let inbox = m.resolve("app", ReviewAction::Delete { id: doomed }).await.expect("delete");
    assert!(inbox.items.is_empty());

    // A project nothing was stored in has an empty inbox; a bad name is an error.
    assert!(m.inbox("never-used").await.expect("empty").items.is_empty());
    assert_err_contains(m.inbox("no such/name").await, "no such/name");
}
