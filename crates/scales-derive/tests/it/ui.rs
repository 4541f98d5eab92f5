//! `#[derive(Stats)]`'s compile errors: each `tests/ui/<case>.rs` must fail to build with
//! exactly the messages of its `<case>.stderr`, and each `tests/ui/pass_*.rs` must build and
//! run.
//!
//! After changing a message on purpose, regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p scales-derive` and read the diff.

use std::path::Path;

#[test]
fn ui() {
    let dir = Path::new("tests/ui");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    assert!(files.len() > 1, "no ui cases in {}", dir.display());
    let cases = trybuild::TestCases::new();
    for file in &files {
        let stem = file.file_stem().unwrap().to_str().unwrap();
        if stem.starts_with("pass_") {
            cases.pass(file);
        } else {
            // Without its `.stderr` the case fails (trybuild writes what it got to `wip/`).
            cases.compile_fail(file);
        }
    }
}
