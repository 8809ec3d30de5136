//! The `from_bytes` fuzz target's checks on every input that once made it fail
//! (`fuzz/regressions`) and on the test vectors' objects, in every test run (the fuzzer
//! itself runs with `scripts/fuzz.sh`).

mod fuzzing;

#[test]
fn regressions_and_vectors_pass_the_fuzz_targets_checks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut seen = 0;
    for dir in ["fuzz/regressions", "tests/vectors/objects"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "peo") {
                fuzzing::object_bytes(&std::fs::read(&path).unwrap());
                seen += 1;
            }
        }
    }
    assert!(seen > 10, "only {seen} inputs found");
}
