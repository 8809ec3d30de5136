//! The committed JSON Schema of the JSON forms (`schema/forms.schema.json`) is the one
//! generated from `peo_core::forms`; `PEO_REGENERATE=1` (scripts/gen-schema.sh) rewrites it.

use peo_core::forms::forms_schema;
use peo_core::{Error, Event, Proposal};
use serde_json::{Value, json};

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/forms.schema.json")
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = serde_json::to_string_pretty(&forms_schema()).unwrap() + "\n";
    let path = committed_path();
    if std::env::var_os("PEO_REGENERATE").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/forms.schema.json is not what core/src/forms/mod.rs generates: run scripts/gen-schema.sh and commit it"
    );
}

fn properties(def: &str) -> Vec<String> {
    let schema = forms_schema();
    let mut keys: Vec<String> = schema["$defs"][def]["properties"].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn what_the_parsers_accept_is_what_the_schema_declares() {
    // Every declared field is accepted; an undeclared one is refused, naming the field.
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let event = json!({"name": "e", "payload": null, "error": null, "cause": null, "heartbeat": null,
                       "signer": null, "signature": null});
    assert_eq!(keys(&event), properties("Event"));
    Event::from_json(&event).unwrap();
    let e = Event::from_json(&json!({"name": "e", "extra": 1})).unwrap_err();
    assert!(e.to_string().contains("`extra`"), "{e}");
    let proposal = json!({"action": "execute", "target": null, "confidence": null, "rationale": null});
    assert_eq!(keys(&proposal), properties("Proposal"));
    Proposal::from_json(&proposal).unwrap();
    assert!(Proposal::from_json(&json!({"action": "execute", "extra": 1})).is_err());
    // What the writers write has exactly the declared fields.
    assert_eq!(keys(&Error::decode("x").at_record(3).to_json()), properties("Error"));
    assert_eq!(keys(&Proposal::from_json(&proposal).unwrap().to_json()), properties("Proposal"));
}
