//! Defence in depth: an object that reached the store without admission (in
//! a cluster: created before the webhook was installed, or while it was
//! down) is refused by the controllers with the admission's field error,
//! and never issued. Here the invalid objects are written straight into a
//! stopped `certwasm run`'s store, then the server starts on it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use certwasm::apiserver::store::Store;
use certwasm::apiserver::watch::ChangeKind;
use common::Embedded;
use serde_json::{Value, json};

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut meta = json!({
        "name": name,
        "uid": format!("00000000-0000-4000-8000-{:012}", name.len()),
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "generation": 1,
    });
    if let Some(namespace) = namespace {
        meta["namespace"] = json!(namespace);
    }
    meta
}

/// Writes objects into the store at `dir`, bypassing admission, and waits
/// until the store file is free again.
fn store_unadmitted(dir: &Path, objects: Vec<(String, Value)>) {
    let path = dir.join("store.redb");
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = Store::open(&path).unwrap();
        runtime
            .block_on(store.write(Box::new(move |txn| {
                let mut last = Value::Null;
                for (key, object) in objects {
                    last = txn.put(&key, object, ChangeKind::Added);
                }
                Ok(last)
            })))
            .unwrap();
    }
    // The store's writer thread closes the database once its handle is gone.
    let started = Instant::now();
    while redb::Database::create(&path).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "store stays locked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn invalid_objects_from_the_store_are_refused_with_their_field_errors() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata("too-short", Some("default")),
        "spec": {
            "secretName": "too-short-tls",
            "dnsNames": ["example.com"],
            "duration": "30m",
            "issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"},
        },
    });
    let issuer = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": metadata("no-type", Some("default")),
        "spec": {},
    });
    store_unadmitted(
        dir.path(),
        vec![
            (
                "cert-manager.io/certificates/default/too-short".to_owned(),
                certificate,
            ),
            ("cert-manager.io/issuers/default/no-type".to_owned(), issuer),
        ],
    );

    let server = Embedded::start(dir.path());
    server.apply_ok(
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: selfsigned\nspec:\n  selfSigned: {}\n",
    );
    let ready = |kind: &str, name: &str| {
        server.kubectl_until(
            &[
                "get",
                kind,
                name,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}|{.status.conditions[?(@.type==\"Ready\")].message}",
            ],
            |out| !out.trim().starts_with('|'),
        )
    };

    let said = ready("certificate", "too-short");
    assert!(said.starts_with("InvalidSpec|"), "{said}");
    assert!(
        said.contains("spec.duration: Invalid value: \"30m\""),
        "{said}"
    );
    let said = ready("issuer", "no-type");
    assert!(
        said.starts_with("InvalidConfig|The Issuer is invalid"),
        "{said}"
    );

    // Never issued: no request, no Secret; and the user is told by an event.
    let requests = server.kubectl_ok(&["get", "certificaterequests", "-o", "name"]);
    assert_eq!(requests.trim(), "", "{requests}");
    let secret = server.kubectl(&["get", "secret", "too-short-tls"]);
    assert!(!secret.status.success());
    let events = server.kubectl_ok(&["get", "events", "-o", "jsonpath={.items[*].reason}"]);
    assert!(events.contains("InvalidSpec"), "{events}");

    // Fixed through the API (and so through admission), it is issued.
    server.kubectl_ok(&[
        "patch",
        "certificate",
        "too-short",
        "--type=merge",
        "-p",
        r#"{"spec":{"duration":"2h"}}"#,
    ]);
    server.wait_ready("too-short");
}
