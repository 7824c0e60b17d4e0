//! The file state store: atomic documents, the journal, locks, modes and bad files; and the
//! engine on disk through crashes. What every store does is in `state_stores.rs`.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use iac_core::engine::{Engine, FailurePolicy, RunOptions, StackInput};
use iac_core::memory::{Faults, MemoryCloud, MemoryConfig};
use iac_core::state::{FileStateStore, STATE_SCHEMA_VERSION, StackState, StateError, StateStore};

/// A new stack's state, ready for its first save.
fn first_save(stack: &str) -> StackState {
    let mut state = StackState::new(stack);
    state.bump_serial();
    state
}

#[tokio::test]
async fn files_are_private_and_writes_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("state");
    let store = FileStateStore::new(&root);
    store.save(&first_save("s")).await.unwrap();
    store.append("s", vec![put("A", "a-1")]).await.unwrap();
    let _lock = store.lock("s", "apply").await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700);
    for path in [
        store.state_path("s"),
        store.journal_path("s"),
        store.lock_path("s"),
    ] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let names: BTreeSet<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "s.history".into(),
            "s.journal.jsonl".into(),
            "s.lock".into(),
            "s.state.json".into()
        ])
    );
    assert_eq!(mode(&store.history_dir("s")), 0o700);
    assert_eq!(mode(&store.history_dir("s").join("1.state.json")), 0o600);
}

#[tokio::test]
async fn a_torn_last_journal_line_is_ignored_and_a_broken_middle_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStateStore::new(dir.path());
    store.save(&first_save("s")).await.unwrap();
    store
        .append("s", vec![put("A", "a-1"), put("B", "b-1")])
        .await
        .unwrap();
    let journal = store.journal_path("s");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str(r#"{"op":"put","logical_id":"C","resou"#);
    std::fs::write(&journal, &text).unwrap();
    let loaded = store.load("s").await.unwrap().unwrap();
    assert_eq!(
        loaded.resources.keys().collect::<Vec<_>>(),
        vec!["A", "B"],
        "a crash mid-line loses that line only"
    );

    let broken = text.replacen(r#""op":"put""#, r#""op":"pot""#, 1)
        + "\n"
        + &serde_json::to_string(&put("D", "d-1")).unwrap();
    std::fs::write(&journal, broken).unwrap();
    let err = store.load("s").await.unwrap_err();
    let text = err
        .to_string()
        .replace(&dir.path().display().to_string(), "<dir>");
    insta::assert_snapshot!("corrupt_journal_line", text);
    assert!(matches!(err, StateError::Corrupt { .. }));
}

#[tokio::test]
async fn a_state_from_a_newer_sdk_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStateStore::new(dir.path());
    let mut doc = serde_json::to_value(StackState::new("s")).unwrap();
    doc["schema_version"] = (STATE_SCHEMA_VERSION + 1).into();
    doc["something_new"] = true.into();
    std::fs::write(store.state_path("s"), serde_json::to_vec(&doc).unwrap()).unwrap();
    let err = store.load("s").await.unwrap_err();
    assert!(
        matches!(err, StateError::UnsupportedVersion { found, .. } if found == STATE_SCHEMA_VERSION + 1),
        "{err}"
    );
    std::fs::write(store.state_path("s"), b"{ not json").unwrap();
    let err = store.load("s").await.unwrap_err();
    assert!(
        matches!(err, StateError::Corrupt { ref location, .. } if location.ends_with("s.state.json:1:3")),
        "{err}"
    );
}

#[tokio::test]
async fn stale_and_unreadable_locks_are_named_and_can_be_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStateStore::new(dir.path());
    std::fs::write(store.lock_path("s"), b"garbage").unwrap();
    let err = store.lock("s", "apply").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("an unreadable lock file") && text.contains("s.lock"),
        "{text}"
    );
    store.force_unlock("s").unwrap();
    assert!(store.lock("s", "apply").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_racing_lockers_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStateStore::new(dir.path());
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.lock("s", "apply").await }));
    }
    let mut held = Vec::new();
    for task in tasks {
        if let Ok(lock) = task.await.unwrap() {
            held.push(lock);
        }
    }
    assert_eq!(held.len(), 1);
}

#[tokio::test]
async fn stack_names_that_cannot_name_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStateStore::new(dir.path());
    for bad in ["", "../x", "a/b", ".hidden", "sp ace"] {
        let err = store.load(bad).await.unwrap_err();
        assert!(
            matches!(err, StateError::InvalidStackName { .. }),
            "{bad:?}: {err}"
        );
    }
}

/// The engine on disk: applies interrupted at random points resume from the files, and the
/// files never hold a secret in clear.
#[test]
fn the_engine_resumes_from_files_after_crashes_and_keeps_secrets_out() {
    for seed in 0..12u64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async move {
            let dir = tempfile::tempdir().unwrap();
            let faults = Faults {
                seed,
                timeout_after_success: 0.1,
                ..Default::default()
            };
            let cloud = MemoryCloud::new(MemoryConfig {
                faults,
                call_latency: Duration::from_millis(80),
                ready_after: Duration::from_millis(400),
                ..Default::default()
            });
            let engine = |dir: &std::path::Path| {
                Engine::builder()
                    .provider(registry(&cloud))
                    .state(FileStateStore::new(dir))
                    .failure_policy(FailurePolicy::Rollback)
                    .seed(seed)
                    .build()
            };
            let input =
                StackInput::new("disk", small_stack()).with_parameter("Password", "hunter2-secret");
            let stop = Duration::from_millis(100 + seed * 70);
            let first = tokio::time::timeout(
                stop,
                engine(dir.path()).apply(&input, RunOptions::default()),
            )
            .await;
            if let Ok(result) = first {
                result.unwrap();
            } else {
                // The process "died": its lock file stays, as after kill -9.
                FileStateStore::new(dir.path())
                    .force_unlock("disk")
                    .unwrap();
            }
            let fresh = engine(dir.path());
            fresh.apply(&input, RunOptions::default()).await.unwrap();
            assert_eq!(cloud.len(), 4, "seed {seed}");
            assert!(
                cloud.creates().values().all(|&n| n == 1),
                "seed {seed}: {:?}",
                cloud.creates()
            );
            let mut files = 0;
            let mut dirs = vec![dir.path().to_path_buf()];
            while let Some(d) = dirs.pop() {
                for entry in std::fs::read_dir(d).unwrap() {
                    let path = entry.unwrap().path();
                    if path.is_dir() {
                        dirs.push(path);
                        continue;
                    }
                    files += 1;
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert!(
                        !text.contains("hunter2-secret"),
                        "seed {seed}: a secret reached {}",
                        path.display()
                    );
                }
            }
            assert!(
                files >= 2,
                "seed {seed}: the state and its history were read"
            );
            assert!(fresh.plan(&input).await.unwrap().is_empty(), "seed {seed}");
            fresh.destroy("disk", RunOptions::default()).await.unwrap();
            assert!(cloud.is_empty());
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                0,
                "seed {seed}: destroy removes the files"
            );
        });
    }
}
