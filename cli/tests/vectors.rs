//! The shared vectors (tests/vectors) through the `peo` command: `peo inspect --json`
//! of every entry's final object shows exactly the records the vectors expect (the ones
//! every language reproduces byte for byte), an object that cannot be read fails with one
//! line naming the error the vectors expect, and `peo verify` refuses the crafted objects
//! with the kind of error they expect. Fails if an entry was not checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn peo(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_peo")).args(args).current_dir(vectors()).output().expect("run peo");
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn every_vector_reads_and_verifies_through_peo_as_expected() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("manifest.json")).unwrap()).unwrap();
    let kind_of = |code: &str| -> String {
        let e = manifest["errors"].as_array().unwrap().iter().find(|e| e["code"] == code).expect("a known code");
        e["kind"].as_str().unwrap().to_owned()
    };
    let mut checked = 0;
    for v in manifest["vectors"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let visits = v["visits"].as_array().unwrap();
        // The records the object's own visits appended (not its children's).
        let expected: Vec<&Value> = visits
            .iter()
            .filter(|visit| visit["target"].is_null())
            .flat_map(|visit| visit["expect"]["records"].as_array().into_iter().flatten())
            .collect();
        let kinds: Vec<String> =
            visits.iter().filter_map(|visit| visit["expect"]["error"]["code"].as_str()).map(kind_of).collect();
        let (ok, stdout, stderr) = peo(&["inspect", "--json", v["final_object"].as_str().unwrap()]);
        if !ok {
            // An object that cannot be read at all: one line, and the error the vectors expect.
            assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
            assert!(
                kinds.iter().any(|k| stderr.contains(&format!("{k} error"))),
                "{name}: {stderr} (expected {kinds:?})"
            );
            checked += 1;
            continue;
        }
        let object: Value = serde_json::from_str(&stdout).unwrap();
        let memory: Vec<Value> = object["memory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let o = r.as_object_mut().unwrap();
                o.remove("hash");
                o.remove("signature");
                r
            })
            .collect();
        // Every record after genesis is the one the vectors expect at its seq (a compacted
        // object keeps the newest ones), and the last is the last expected.
        // (A crafted object's records are the attacker's, not the vectors'.)
        let seq = |r: &Value| r["seq"].as_u64().unwrap();
        let crafted = !v["crafted"].is_null();
        for record in memory.iter().filter(|r| seq(r) > 0 && !crafted) {
            let want = expected.iter().find(|e| seq(e) == seq(record));
            assert_eq!(Some(record), want.copied(), "{name}: record {} differs from the vectors'", seq(record));
        }
        if !crafted {
            assert_eq!(memory.last().map(seq), expected.last().map(|e| seq(e)).or(Some(0)), "{name}");
        }
        // A crafted object that is broken whatever the trust: `peo verify` says how.
        if !v["crafted"].is_null() && matches!(kinds.first().map(String::as_str), Some("decode" | "integrity")) {
            let (ok, _, stderr) = peo(&["verify", v["object"].as_str().unwrap()]);
            assert!(!ok && stderr.contains(&format!("{} error", kinds[0])), "{name}: {stderr}");
        }
        checked += 1;
    }
    assert_eq!(checked, manifest["vectors"].as_array().unwrap().len(), "every vector is checked");
}
