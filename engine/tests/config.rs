//! Config: path resolution, round trips, init_project merges, invalid files, concurrent saves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use annal_engine::config::{
    Config, ConfigError, ConfigFile, PathInputs, Paths, ProjectChange, ProjectConfig, ProjectInit,
    merge_project,
};
use annal_engine::project::ProjectName;

use crate::util::assert_err_contains;

fn paths_in(dir: &Path) -> Paths {
    PathInputs { annal_home: Some(dir.to_path_buf()), ..Default::default() }
        .resolve()
        .expect("paths")
}

fn name(n: &str) -> ProjectName {
    ProjectName::parse(n).expect("valid")
}

fn init_paths(paths: &[&Path]) -> ProjectInit {
    ProjectInit {
        watch_paths: Some(paths.iter().map(|p| p.to_path_buf()).collect()),
        ..Default::default()
    }
}

#[test]
fn paths_resolve_in_the_documented_order() {
    let home = PathInputs {
        annal_home: Some("/h".into()),
        home: Some("/home/u".into()),
        platform: Some(("/cfg".into(), "/data".into())),
        ..Default::default()
    };
    let resolved = home.resolve().expect("home");
    assert_eq!(resolved.config_file, PathBuf::from("/h/config.yaml"));
    assert_eq!(resolved.default_data_dir, PathBuf::from("/h/data"));
    assert_eq!(resolved.legacy_config, None);

    let explicit = PathInputs { explicit_config: Some("/x/c.yaml".into()), ..home.clone() };
    assert_eq!(explicit.resolve().expect("explicit").config_file, PathBuf::from("/x/c.yaml"));

    let platform = PathInputs { annal_home: None, ..home };
    let resolved = platform.resolve().expect("platform");
    assert_eq!(resolved.config_file, PathBuf::from("/cfg/config.yaml"));
    assert_eq!(resolved.default_data_dir, PathBuf::from("/data"));
    assert_eq!(resolved.legacy_config, Some(PathBuf::from("/home/u/.annal/config.yaml")));

    assert_err_contains(PathInputs::default().resolve(), "ANNAL_HOME");
}

#[tokio::test]
async fn a_saved_config_loads_back_equal() {
    let home = tempfile::tempdir().expect("dir");
    let docs = tempfile::tempdir().expect("docs");
    let file = ConfigFile::load(paths_in(home.path())).expect("load");
    let init = init_paths(&[docs.path()]).resolve(None).expect("resolve");
    file.init_project(&name("app"), init).await.expect("init");
    file.update(|c| {
        c.port = 9300;
        c.extra.insert("future_key".into(), serde_yaml::Value::Bool(true));
        Ok(())
    })
    .await
    .expect("update");
    let reloaded = ConfigFile::load(paths_in(home.path())).expect("reload");
    assert_eq!(*reloaded.snapshot(), *file.snapshot());
    assert_eq!(reloaded.snapshot().port, 9300);
    let text = std::fs::read_to_string(home.path().join("config.yaml")).expect("read");
    assert!(text.contains("future_key: true"), "unknown keys survive: {text}");
}

#[tokio::test]
async fn the_legacy_config_is_read_but_never_written() {
    let home = tempfile::tempdir().expect("home");
    let legacy = home.path().join(".annal/config.yaml");
    std::fs::create_dir_all(legacy.parent().expect("parent")).expect("mkdir");
    let legacy_text = "data_dir: ~/.annal/data\nport: 9201\nprojects:\n  old:\n    watch: false\n";
    std::fs::write(&legacy, legacy_text).expect("write");
    let inputs = PathInputs {
        home: Some(home.path().to_path_buf()),
        platform: Some((home.path().join("cfg"), home.path().join("data"))),
        ..Default::default()
    };
    let file = ConfigFile::load(inputs.resolve().expect("paths")).expect("load");
    let config = file.snapshot();
    assert_eq!(config.port, 9201);
    assert!(!config.projects[&name("old")].watch);
    assert_eq!(config.data_dir, None, "the reference system's data dir is not ours");
    file.update(|c| {
        c.port = 9202;
        Ok(())
    })
    .await
    .expect("save");
    assert_eq!(std::fs::read_to_string(&legacy).expect("legacy"), legacy_text);
    assert!(home.path().join("cfg/config.yaml").is_file());
}

#[test]
fn merge_rules_of_init_project() {
    let a = tempfile::tempdir().expect("a");
    let b = tempfile::tempdir().expect("b");
    let base = a.path();

    // A new project: given fields plus defaults.
    let new = merge_project(None, init_paths(&[a.path()]).resolve(Some(base)).expect("resolve"));
    assert_eq!(new.changes[0], ProjectChange::Created);
    assert_eq!(new.project.watch_paths, [a.path().canonicalize().expect("canon")]);
    assert_eq!(new.project.watch_patterns, ProjectConfig::default().watch_patterns);
    assert!(new.project.watch);

    // An existing project: given fields replace, omitted fields stay.
    let mut customised = new.project.clone();
    customised.watch_patterns = vec!["**/*.md".into()];
    let init = ProjectInit { watch: Some(false), ..Default::default() };
    let merged = merge_project(Some(&customised), init.resolve(Some(base)).expect("resolve"));
    assert_eq!(merged.changes, [ProjectChange::Watch { before: true, after: false }]);
    assert_eq!(merged.project.watch_patterns, ["**/*.md"]);
    assert_eq!(merged.project.watch_paths, customised.watch_paths);

    // The same call twice changes nothing.
    let again = init_paths(&[a.path()]).resolve(Some(base)).expect("resolve");
    assert!(merge_project(Some(&new.project), again).changes.is_empty());
    let empty = ProjectInit::default().resolve(Some(base)).expect("resolve");
    assert!(merge_project(Some(&new.project), empty).changes.is_empty());

    // Relative paths become absolute; duplicates (also spelled differently) go.
    let sub = a.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let spelled = [Path::new("sub"), Path::new("./sub/../sub"), sub.as_path(), b.path()];
    let resolved = init_paths(&spelled).resolve(Some(base)).expect("resolve");
    let merged = merge_project(Some(&new.project), resolved);
    let canon = |p: &Path| p.canonicalize().expect("canon");
    assert_eq!(merged.project.watch_paths, [canon(&sub), canon(b.path())]);
    assert!(matches!(&merged.changes[..], [ProjectChange::WatchPaths { .. }]));
    // Without a working directory to take them from, relative paths are refused.
    assert_err_contains(
        init_paths(&[Path::new("sub")]).resolve(None),
        "watch path sub is relative",
    );
    assert!(init_paths(&[sub.as_path()]).resolve(None).is_ok());

    // Patterns are trimmed and de-duplicated.
    let patterns = ProjectInit {
        watch_patterns: Some(vec![" **/*.md".into(), "**/*.md".into(), "".into()]),
        ..Default::default()
    };
    let merged = merge_project(None, patterns.resolve(Some(base)).expect("resolve"));
    assert_eq!(merged.project.watch_patterns, ["**/*.md"]);
}

#[tokio::test]
async fn a_bad_watch_path_is_an_error_and_nothing_is_saved() {
    let home = tempfile::tempdir().expect("home");
    let file = ConfigFile::load(paths_in(home.path())).expect("load");
    let missing = home.path().join("does-not-exist");
    assert!(matches!(
        init_paths(&[&missing]).resolve(Some(home.path())),
        Err(ConfigError::WatchPathMissing { .. })
    ));
    let plain = home.path().join("file.txt");
    std::fs::write(&plain, "x").expect("write");
    assert_err_contains(init_paths(&[&plain]).resolve(Some(home.path())), "is not a directory");
    assert!(!home.path().join("config.yaml").exists());
    assert!(file.snapshot().projects.is_empty());
}

#[tokio::test]
async fn a_non_utf8_watch_path_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let home = tempfile::tempdir().expect("home");
    let weird = home.path().join(std::ffi::OsStr::from_bytes(b"bad-\xff-name"));
    std::fs::create_dir(&weird).expect("mkdir");
    assert!(matches!(
        init_paths(&[&weird]).resolve(Some(home.path())),
        Err(ConfigError::NonUtf8Path { .. })
    ));
    // Even if such a path reaches the config another way, saving refuses it.
    let file = ConfigFile::load(paths_in(home.path())).expect("load");
    let result = file
        .update(|c| {
            c.model_dir = Some(weird.clone());
            Ok(())
        })
        .await;
    assert!(matches!(result, Err(ConfigError::NonUtf8Path { .. })));
    assert!(!home.path().join("config.yaml").exists());
    assert_eq!(file.snapshot().model_dir, None);
}

#[test]
fn invalid_yaml_reports_line_and_column_and_the_file_stays() {
    let home = tempfile::tempdir().expect("home");
    let path = home.path().join("config.yaml");
    let broken = "port: 9200\nprojects:\n  app:\n    watch: [unclosed\n";
    std::fs::write(&path, broken).expect("write");
    let err = ConfigFile::load(paths_in(home.path())).expect_err("invalid");
    let text = err.to_string();
    assert!(matches!(err, ConfigError::Parse { line, .. } if line >= 4), "{text}");
    assert!(text.contains("line") && text.contains("column"), "{text}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), broken);

    std::fs::write(&path, "projects:\n  ../evil:\n    watch: true\n").expect("write");
    assert_err_contains(ConfigFile::load(paths_in(home.path())), "invalid project name");
    std::fs::write(&path, b"port: \xff\n").expect("write");
    assert_err_contains(ConfigFile::load(paths_in(home.path())), "not valid UTF-8");
    std::fs::write(&path, "port: not-a-number\n").expect("write");
    assert_err_contains(ConfigFile::load(paths_in(home.path())), "line 1");
}

#[tokio::test]
async fn concurrent_saves_keep_every_project() {
    let home = tempfile::tempdir().expect("home");
    let file = Arc::new(ConfigFile::load(paths_in(home.path())).expect("load"));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let file = Arc::clone(&file);
        let dir = home.path().to_path_buf();
        tasks.push(tokio::spawn(async move {
            let init = ProjectInit { watch: Some(i % 2 == 0), ..Default::default() };
            let project = ProjectName::parse(&format!("p{i}")).expect("valid");
            file.init_project(&project, init.resolve(Some(&dir)).expect("resolve")).await
        }));
    }
    for task in tasks {
        let outcome = task.await.expect("join").expect("saved");
        assert_eq!(outcome.changes[0], ProjectChange::Created);
    }
    let text = std::fs::read_to_string(home.path().join("config.yaml")).expect("read");
    let on_disk = Config::parse(&text, Path::new("config.yaml")).expect("valid yaml");
    assert_eq!(on_disk.projects.len(), 10);
    for i in 0..10 {
        assert_eq!(on_disk.projects[&name(&format!("p{i}"))].watch, i % 2 == 0);
    }
    let leftovers: Vec<_> = std::fs::read_dir(home.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "config.yaml")
        .collect();
    assert!(leftovers.is_empty(), "no temp files left: {leftovers:?}");
}

#[tokio::test]
async fn reads_never_wait_for_a_save() {
    // Readers take a snapshot; an update in progress (here: its closure, which runs while the
    // writer gate is held) does not block them.
    let home = tempfile::tempdir().expect("home");
    let file = ConfigFile::load(paths_in(home.path())).expect("load");
    let seen = file
        .update(|c| {
            c.port = 1;
            Ok(file.snapshot().port)
        })
        .await
        .expect("update");
    assert_eq!(seen, 9200, "the snapshot was readable during the update");
    assert_eq!(file.snapshot().port, 1);
}

#[tokio::test]
async fn a_key_added_by_hand_while_the_owner_runs_survives_a_save() {
    let home = tempfile::tempdir().expect("home");
    let docs = tempfile::tempdir().expect("docs");
    let file = ConfigFile::load(paths_in(home.path())).expect("load");
    file.init_project(
        &name("app"),
        init_paths(&[docs.path()]).resolve(Some(home.path())).expect("ok"),
    )
    .await
    .expect("first save");
    // A person edits the file while the owner runs: a new top-level key and a project key.
    let path = home.path().join("config.yaml");
    let edited = std::fs::read_to_string(&path)
        .expect("read")
        .replace("port: 9200", "port: 9311")
        .replace("projects:", "my_setting: keep me\nprojects:\n  by-hand:\n    watch: false");
    std::fs::write(&path, edited).expect("edit");
    file.init_project(&name("web"), ProjectInit::default().resolve(Some(home.path())).expect("ok"))
        .await
        .expect("second save");
    let saved = Config::parse(&std::fs::read_to_string(&path).expect("read"), &path).expect("yaml");
    assert_eq!(saved.extra.get("my_setting"), Some(&serde_yaml::Value::from("keep me")));
    assert_eq!(saved.port, 9311, "a value changed by hand is kept");
    let projects: Vec<&str> = saved.projects.keys().map(|p| p.as_str()).collect();
    assert_eq!(projects, ["app", "by-hand", "web"]);
    assert_eq!(file.snapshot().port, 9311, "the owner now sees the edit too");
}

#[tokio::test]
async fn a_file_broken_while_the_owner_runs_is_left_alone_and_the_change_refused() {
    let home = tempfile::tempdir().expect("home");
    let file = ConfigFile::load(paths_in(home.path())).expect("load");
    file.init_project(&name("app"), ProjectInit::default().resolve(Some(home.path())).expect("ok"))
        .await
        .expect("first save");
    let path = home.path().join("config.yaml");
    let broken = b"port: 9200\nprojects:\n  app: [unclosed\n".to_vec();
    std::fs::write(&path, &broken).expect("break it");
    let refused = file
        .init_project(&name("web"), ProjectInit::default().resolve(Some(home.path())).expect("ok"))
        .await;
    match refused {
        Err(ConfigError::BrokenOnDisk { source, .. }) => {
            assert!(matches!(*source, ConfigError::Parse { line: 3.., .. }), "{source}");
        }
        other => panic!("expected a refusal naming the broken file, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), broken, "the bytes stay as the user left them");
    assert!(!file.snapshot().projects.contains_key(&name("web")));
}

#[tokio::test]
async fn an_invalid_glob_is_refused_before_anything_is_saved() {
    let home = tempfile::tempdir().expect("home");
    let file = ConfigFile::load(paths_in(home.path())).expect("load");
    for (patterns, exclude, needle) in [
        (
            Some(vec!["docs/[a-".to_owned()]),
            None,
            "watch_patterns: invalid glob pattern \"docs/[a-\"",
        ),
        (
            None,
            Some(vec!["ok/**".to_owned(), "**/{a,b".to_owned()]),
            "watch_exclude: invalid glob pattern \"**/{a,b\"",
        ),
    ] {
        let init =
            ProjectInit { watch_patterns: patterns, watch_exclude: exclude, ..Default::default() };
        assert_err_contains(init.resolve(Some(home.path())), needle);
    }
    assert!(!home.path().join("config.yaml").exists(), "nothing was saved");
    assert!(file.snapshot().projects.is_empty());
}

#[tokio::test]
async fn the_config_file_is_private_and_an_old_wide_one_is_tightened() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &Path| std::fs::metadata(path).expect("meta").permissions().mode() & 0o777;
    let home = tempfile::tempdir().expect("home");
    let file = ConfigFile::load(paths_in(home.path())).expect("load");
    file.init_project(&name("app"), ProjectInit::default().resolve(Some(home.path())).expect("ok"))
        .await
        .expect("save");
    let path = home.path().join("config.yaml");
    assert_eq!(mode(&path), 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("widen");
    ConfigFile::load(paths_in(home.path())).expect("load again");
    assert_eq!(mode(&path), 0o600, "loading tightens a file an older version left readable");
}
