//! The instruction block `install` writes into CLAUDE.md, AGENTS.md and GEMINI.md: inserted
//! once, replaced in place when its text changes, removed by uninstall, every other byte the
//! user's.

use std::path::{Path, PathBuf};

use annal_engine::install::{
    self, Action, BLOCK_BEGIN, BLOCK_END, Client, Environment, FileKind, Operation, Plan, Request,
};
use annal_engine::instructions::{block_text, server_instructions};

fn env(home: &Path) -> Environment {
    Environment::in_home(home, &home.join("annal"))
}

fn request(client: Client) -> Request {
    Request {
        clients: vec![client],
        command: Some("/opt/annal/bin/annal".into()),
        instructions: true,
        hooks: false,
        ..Request::default()
    }
}

fn run(env: &Environment, operation: Operation, client: Client) -> Plan {
    install::apply(env, install::plan(env, operation, &request(client)).expect("plan"))
}

fn block_action(plan: &Plan) -> Action {
    let row = plan.rows.iter().find(|r| r.kind == FileKind::Instructions).expect("a block row");
    row.action.clone()
}

fn file(env: &Environment, client: Client) -> PathBuf {
    client.instruction_file(env).expect("an instruction file")
}

fn block(nl: &str) -> String {
    format!("{BLOCK_BEGIN}\n{}\n{BLOCK_END}", block_text()).replace('\n', nl)
}

#[test]
fn the_block_goes_where_each_client_reads_it() {
    let home = tempfile::tempdir().expect("home");
    let mut env = env(home.path());
    env.codex_home = home.path().join("codex-home");
    assert_eq!(file(&env, Client::ClaudeCode), home.path().join(".claude/CLAUDE.md"));
    assert_eq!(file(&env, Client::Codex), home.path().join("codex-home/AGENTS.md"));
    assert_eq!(file(&env, Client::Gemini), home.path().join(".gemini/GEMINI.md"));
    assert_eq!(Client::Cursor.instruction_file(&env), None);
    env.claude_config_dir = Some(home.path().join("claude-config"));
    assert_eq!(file(&env, Client::ClaudeCode), home.path().join("claude-config/CLAUDE.md"));
}

#[test]
fn the_block_is_inserted_once_and_uninstall_gives_the_users_text_back() {
    for (original, nl) in [
        ("# My rules\n\nUse tabs.\n", "\n"),
        ("# My rules\n\nUse tabs.", "\n"),
        ("# My rules\r\n\r\nUse tabs.\r\n", "\r\n"),
        ("", "\n"),
    ] {
        let home = tempfile::tempdir().expect("home");
        let env = env(home.path());
        let path = file(&env, Client::Gemini);
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        std::fs::write(&path, original).expect("write");

        assert_eq!(block_action(&run(&env, Operation::Install, Client::Gemini)), Action::Added);
        let installed = std::fs::read_to_string(&path).expect("read");
        assert!(installed.starts_with(original), "{installed:?}");
        assert_eq!(installed.matches(BLOCK_BEGIN).count(), 1);
        assert!(installed.contains(&block(nl)), "{installed:?}");
        if nl == "\r\n" {
            assert_eq!(installed.matches('\n').count(), installed.matches("\r\n").count());
        }

        assert_eq!(
            block_action(&run(&env, Operation::Install, Client::Gemini)),
            Action::AlreadyConfigured
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), installed);

        assert_eq!(block_action(&run(&env, Operation::Uninstall, Client::Gemini)), Action::Removed);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), original, "{original:?}");
        assert_eq!(
            block_action(&run(&env, Operation::Uninstall, Client::Gemini)),
            Action::NotConfigured
        );
    }
}

#[test]
fn an_older_block_is_replaced_in_place_and_the_text_around_it_stays() {
    let home = tempfile::tempdir().expect("home");
    let env = env(home.path());
    let path = file(&env, Client::ClaudeCode);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    let before = "# Global rules\n\nBe brief.\n\n";
    let after = "\n## Later notes\n\nAdded by hand after the block.\n";
    let old = format!("{BLOCK_BEGIN}\nAn older text of Annal's block.\n{BLOCK_END}");
    std::fs::write(&path, format!("{before}{old}{after}")).expect("write");

    assert_eq!(block_action(&run(&env, Operation::Install, Client::ClaudeCode)), Action::Updated);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        format!("{before}{}{after}", block("\n"))
    );

    // In the middle of the file, removal takes the block's lines out and nothing else.
    run(&env, Operation::Uninstall, Client::ClaudeCode);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), format!("{before}{}", &after[1..]));
}

#[test]
fn a_missing_file_is_created_and_removed_again_and_no_instructions_leaves_it_alone() {
    let home = tempfile::tempdir().expect("home");
    let env = env(home.path());
    let path = file(&env, Client::Codex);
    let plan = install::plan(
        &env,
        Operation::Install,
        &Request { instructions: false, ..request(Client::Codex) },
    )
    .expect("plan");
    assert!(plan.rows.iter().all(|r| r.kind == FileKind::Config), "--no-instructions");

    run(&env, Operation::Install, Client::Codex);
    assert_eq!(std::fs::read_to_string(&path).expect("AGENTS.md"), format!("{}\n", block("\n")));
    run(&env, Operation::Uninstall, Client::Codex);
    assert!(!path.exists(), "the file install created goes with the block");
}

#[test]
fn unbalanced_markers_are_reported_and_the_file_is_left_alone() {
    let home = tempfile::tempdir().expect("home");
    let env = env(home.path());
    let path = file(&env, Client::Gemini);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    let text = format!("# Notes\n\n{BLOCK_BEGIN}\nhalf a block\n");
    std::fs::write(&path, &text).expect("write");
    for operation in [Operation::Install, Operation::Uninstall] {
        let Action::Failed(reason) = block_action(&run(&env, operation, Client::Gemini)) else {
            panic!("must fail")
        };
        assert!(
            reason.contains("line 3, column 1") && reason.contains("without an end"),
            "{reason}"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    }
}

/// One definition: the block's paragraphs are the server instructions' own.
#[test]
fn the_block_says_what_the_server_instructions_say() {
    let server = server_instructions();
    let block = block_text();
    let paragraphs: Vec<&str> = block.split("\n\n").skip(1).collect();
    assert_eq!(paragraphs.len(), 4);
    for paragraph in paragraphs {
        assert!(server.contains(paragraph), "{paragraph}");
    }
    for needle in ["search for prior decisions", "store it with store_memory", "supersedes"] {
        assert!(block.contains(needle), "{needle}");
    }
}
