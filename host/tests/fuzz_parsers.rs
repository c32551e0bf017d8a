//! Property-based fuzzing of the parsers that take untrusted input: CSRs,
//! certificates and keys in PEM (`pki`), manifests through decoding,
//! defaults and validation (`api` via admission), the three patch dialects
//! and server-side apply, label and field selectors, JSONPath, and Go
//! durations. The invariant everywhere: no panic (a panic in a request
//! handler drops the client's connection with no status; in a controller
//! it stops a reconcile); and where a printed form exists, it parses back
//! to the same value.
//!
//! The case budget is small by default so CI stays fast; set
//! `CERTWASM_FUZZ_CASES` for a long run (docs/security/hostile-input.md).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use certwasm::api::defaults::UserInfo;
use certwasm::apiserver::admission::{self, FieldValidation, Operation};
use certwasm::apiserver::resource::Registry;
use certwasm::apiserver::selector::{FieldSelector, LabelSelector};
use certwasm::apiserver::{jsonpath, patch};
use certwasm::go_duration;
use certwasm::pki::{self, CsrSpec, KeyAlgorithm, KeyEncoding, PrivateKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Value, json};

/// Cases per property: `CERTWASM_FUZZ_CASES`, else a CI-sized budget.
fn config(default_cases: u32) -> Config {
    let cases = std::env::var("CERTWASM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // Findings become named regression tests below, not files.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

// ---------------------------------------------------------------- inputs

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
        "[a-z0-9.-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Object keys: the ones the code looks for, and anything.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations",
            "spec", "status", "secretName", "dnsNames", "issuerRef", "duration", "renewBefore",
            "privateKey", "algorithm", "size", "usages", "conditions", "type", "ca", "acme",
            "selfSigned", "vault", "plugin", "config", "solvers", "http01", "dns01", "server",
            "request", "isCA", "managedFields", "finalizers", "ownerReferences", "items",
            "containers", "ports", "$patch", "$retainKeys", "$deleteFromPrimitiveList/finalizers",
            "$setElementOrder/conditions", "data", "stringData", "keystores", "subject",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// A JSON value with some of its nodes replaced by arbitrary ones.
fn mutated(base: Value) -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            arbitrary_json(),
            any::<bool>(),
        ),
        0..4,
    )
    .prop_map(move |edits| {
        let mut value = base.clone();
        for (at, replacement, remove) in edits {
            let mut paths = Vec::new();
            collect_paths(&value, String::new(), &mut paths);
            let path = at.get(&paths).clone();
            if remove && !path.is_empty() {
                remove_at(&mut value, &path);
            } else if let Some(slot) = value.pointer_mut(&path) {
                *slot = replacement;
            }
        }
        value
    })
}

fn collect_paths(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_paths(v, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_paths(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn remove_at(value: &mut Value, path: &str) {
    let Some((parent, last)) = path.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

// ------------------------------------------------------------------- pki

struct Fixtures {
    key: PrivateKey,
    csr_der: Vec<u8>,
    cert_der: Vec<u8>,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let spec = CsrSpec {
            common_name: Some("a.example.com".into()),
            dns_names: vec!["a.example.com".into(), "*.example.com".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
            uris: vec!["spiffe://example.com/a".into()],
            email_addresses: vec!["a@example.com".into()],
            encode_usages_in_request: true,
            ..CsrSpec::default()
        };
        let csr = pki::build_csr(&spec, &key).unwrap();
        let csr_der = pem::parse(&csr).unwrap().into_contents();
        let params = rcgen::CertificateParams::new(vec!["a.example.com".to_owned()]).unwrap();
        let cert_key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&cert_key).unwrap();
        Fixtures {
            key,
            csr_der,
            cert_der: cert.der().to_vec(),
        }
    })
}

fn flipped(
    der: &[u8],
    flips: &[(prop::sample::Index, u8)],
    cut: Option<prop::sample::Index>,
) -> Vec<u8> {
    let mut der = der.to_vec();
    for (at, byte) in flips {
        let i = at.index(der.len());
        der[i] = *byte;
    }
    if let Some(cut) = cut {
        der.truncate(cut.index(der.len() + 1));
    }
    der
}

fn as_pem(label: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(label, der.to_vec()))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn pem_and_der_from_anywhere_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
        label in prop::sample::select(vec!["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", "CERTIFICATE", "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "JUNK"]),
    ) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = pki::parse_csr(&text);
        let _ = pki::read_csr(&text);
        let _ = pki::parse_certificate_chain(&text);
        let _ = PrivateKey::from_pem(&text);
        let f = fixtures();
        let csr = as_pem(label, &flipped(&f.csr_der, &flips, cut));
        let _ = pki::parse_csr(&csr);
        let _ = pki::read_csr(&csr);
        let cert = as_pem(label, &flipped(&f.cert_der, &flips, cut));
        let chain = format!("{cert}{cert}");
        if let Ok(parsed) = pki::parse_certificate_chain(&chain) {
            for info in &parsed {
                let _ = pki::public_key_matches(info, &f.key);
            }
            if parsed.len() == 2 {
                let _ = pki::verify_issued_by(&parsed[0], &parsed[1]);
            }
        }
        let key_der = f.key.to_der_pkcs8().unwrap();
        let _ = PrivateKey::from_pem(&as_pem(label, &flipped(&key_der, &flips, cut)));
    }

    #[test]
    fn a_built_csr_parses_back_to_what_was_asked(
        names in prop::collection::vec("[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}", 0..4),
        common_name in prop::option::of("[a-zA-Z0-9 .-]{1,20}"),
        ips in prop::collection::vec(any::<std::net::IpAddr>(), 0..3),
    ) {
        let spec = CsrSpec {
            common_name: common_name.clone(),
            dns_names: names.clone(),
            ip_addresses: ips.clone(),
            encode_usages_in_request: true,
            ..CsrSpec::default()
        };
        let Ok(csr) = pki::build_csr(&spec, &fixtures().key) else {
            return Ok(());
        };
        let parsed = pki::parse_csr(&csr).unwrap();
        prop_assert_eq!(parsed.dns_names, names);
        prop_assert_eq!(parsed.ip_addresses, ips);
        prop_assert_eq!(parsed.common_name, common_name);
    }
}

#[test]
fn private_keys_round_trip_through_pem() {
    for algorithm in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ] {
        let key = PrivateKey::generate(algorithm).unwrap();
        for encoding in [KeyEncoding::Pkcs1, KeyEncoding::Pkcs8] {
            let pem = key.to_pem(encoding).unwrap();
            let back = PrivateKey::from_pem(&pem).unwrap();
            assert_eq!(
                back.public_key_der(),
                key.public_key_der(),
                "{algorithm:?} {encoding:?}"
            );
        }
    }
}

// ------------------------------------------------------------- manifests

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::standard)
}

fn manifest_templates() -> Vec<(&'static str, Value)> {
    vec![
        (
            "certificates",
            json!({
                "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": "web", "namespace": "default", "labels": {"a": "b"}},
                "spec": {"secretName": "web-tls", "dnsNames": ["a.example.com"], "duration": "2160h",
                         "renewBefore": "360h", "commonName": "a.example.com",
                         "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                         "usages": ["digital signature", "key encipherment"],
                         "subject": {"organizations": ["Example"]},
                         "keystores": {"pkcs12": {"create": true, "passwordSecretRef": {"name": "p", "key": "k"}}},
                         "issuerRef": {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}},
            }),
        ),
        (
            "issuers",
            json!({
                "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                "metadata": {"name": "acme", "namespace": "default"},
                "spec": {"acme": {"server": "https://acme.example/dir", "email": "a@example.com",
                                  "privateKeySecretRef": {"name": "k"},
                                  "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}},
                                               "selector": {"dnsZones": ["example.com"]}},
                                              {"dns01": {"rfc2136": {"nameserver": "127.0.0.1:53",
                                                                     "tsigKeyName": "k", "tsigAlgorithm": "HMACSHA256",
                                                                     "tsigSecretSecretRef": {"name": "t", "key": "k"}}}}]}},
            }),
        ),
        (
            "clusterissuers",
            json!({
                "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
                "metadata": {"name": "vault"},
                "spec": {"vault": {"server": "https://vault:8200", "path": "pki/sign/r",
                                   "auth": {"tokenSecretRef": {"name": "t", "key": "token"}}}},
            }),
        ),
        (
            "issuers",
            json!({
                "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                "metadata": {"name": "ca", "namespace": "default"},
                "spec": {"ca": {"secretName": "ca-key-pair", "crlDistributionPoints": ["http://crl"]}},
            }),
        ),
        (
            "certificaterequests",
            json!({
                "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
                "metadata": {"name": "web-1", "namespace": "default"},
                "spec": {"request": "LS0tLS1CRUdJTg==", "duration": "1h", "isCA": false,
                         "usages": ["server auth"], "issuerRef": {"name": "ca"}},
            }),
        ),
    ]
}

fn manifest() -> impl Strategy<Value = (&'static str, Value)> {
    let templates = manifest_templates();
    (0..templates.len()).prop_flat_map(move |i| {
        let (plural, template) = templates[i].clone();
        mutated(template).prop_map(move |object| (plural, object))
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn manifests_decode_default_and_validate_without_panicking(
        (plural, object) in manifest(),
        strict in any::<bool>(),
    ) {
        let resource = registry().lookup("cert-manager.io", "v1", plural).unwrap();
        let fields = if strict { FieldValidation::Strict } else { FieldValidation::Ignore };
        let user = UserInfo::default();
        if let Ok(admitted) = admission::admit(&resource, Operation::Create, object.clone(), &user, fields) {
            // What was admitted is admitted again unchanged: defaults are
            // a fixed point and validation agrees with itself.
            let again = admission::admit(&resource, Operation::Update(&admitted.object), admitted.object.clone(), &user, fields);
            let again = again.map(|a| a.object);
            prop_assert_eq!(again.as_ref().ok(), Some(&admitted.object), "{:?}", again);
        }
    }
}

// ---------------------------------------------------------------- patches

fn live_object() -> impl Strategy<Value = Value> {
    mutated(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"a": "b"}, "finalizers": ["x", "y"],
                     "ownerReferences": [{"uid": "1", "name": "o", "kind": "K", "apiVersion": "v1"}]},
        "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }))
}

fn json_patch_ops() -> impl Strategy<Value = Value> {
    let path = prop_oneof![
        prop::sample::select(vec![
            "",
            "/",
            "/metadata",
            "/metadata/labels/a",
            "/metadata/finalizers/0",
            "/metadata/finalizers/-",
            "/spec/containers/0/ports/0",
            "/status/conditions/9",
            "/a~1b",
            "/a~2",
            "/spec/containers/18446744073709551616",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    let op = (
        prop::sample::select(vec![
            "add", "remove", "replace", "move", "copy", "test", "nope",
        ]),
        path.clone(),
        path,
        arbitrary_json(),
    )
        .prop_map(
            |(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}),
        );
    prop_oneof![
        prop::collection::vec(op, 0..5).prop_map(Value::Array),
        arbitrary_json(),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn merge_patches_never_panic_and_are_idempotent(live in live_object(), patch_body in arbitrary_json()) {
        let mut once = live.clone();
        patch::merge_patch(&mut once, &patch_body);
        let mut twice = once.clone();
        patch::merge_patch(&mut twice, &patch_body);
        // RFC 7386: applying the same merge patch again changes nothing.
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn json_patches_never_panic(live in live_object(), ops in json_patch_ops()) {
        let mut target = live.clone();
        if patch::json_patch(&mut target, &ops).is_err() {
            // A failed patch leaves the object as it was.
            prop_assert_eq!(target, live);
        }
    }

    #[test]
    fn strategic_merge_patches_never_panic(
        live in live_object(),
        patch_body in mutated(json!({
            "metadata": {"labels": {"a": null}, "$deleteFromPrimitiveList/finalizers": ["x"],
                         "$setElementOrder/finalizers": ["y", "x"]},
            "spec": {"containers": [{"name": "c", "image": "j", "$patch": "replace"},
                                    {"name": "d", "$patch": "delete"}],
                     "$retainKeys": ["containers"]},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]},
        })),
        kind in prop::sample::select(vec![("v1", "Pod"), ("v1", "Secret"), ("apps/v1", "Deployment"), ("v1", "Nope")]),
    ) {
        if let Ok(schema) = patch::PatchSchema::for_kind(kind.0, kind.1) {
            let mut target = live;
            let _ = patch::strategic_merge_patch(&mut target, &patch_body, &schema);
        }
    }

    #[test]
    fn server_side_apply_never_panics(
        live in prop::option::of(live_object()),
        applied in live_object(),
        manager in "[a-z]{1,6}",
        force in any::<bool>(),
    ) {
        if let Ok(mut result) = patch::server_side_apply(live.as_ref(), &applied, &manager, force) {
            patch::record_update(live.as_ref(), &mut result, &manager);
            let _ = patch::owners(&result);
            // The same manager applying the same configuration again is
            // never a conflict.
            prop_assert!(patch::server_side_apply(Some(&result), &applied, &manager, false).is_ok());
        }
    }
}

// ------------------------------------------------- selectors and JSONPath

fn selector_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "a",
            "app",
            "example.com/name",
            "!",
            "=",
            "==",
            "!=",
            " in ",
            " notin ",
            "(",
            ")",
            ",",
            "x",
            "",
            " ",
            "metadata.name",
            "spec.secretName",
            "\\",
            "-",
            ".",
            "/",
            "\\,",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9./-]{0,8}",
        any::<String>(),
    ];
    prop::collection::vec(token, 0..10).prop_map(|t| t.concat())
}

fn labels() -> impl Strategy<Value = std::collections::BTreeMap<String, String>> {
    prop::collection::btree_map("[a-z]{1,3}", "[a-z]{0,3}", 0..4)
}

fn jsonpath_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "{",
            "}",
            ".",
            "..",
            "[",
            "]",
            "*",
            "?(",
            "@",
            ")",
            "==",
            "!=",
            "<",
            ">",
            "'",
            "\"",
            "metadata",
            "name",
            "status",
            "conditions",
            "type",
            "0",
            "-1",
            ":",
            "1:2",
            ",",
            "range",
            "end",
            "$",
            "\\",
            "{.items[*]}",
            "{range .items[*]}",
            "{end}",
            "\"Ready\"",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9]{0,6}",
        any::<String>(),
    ];
    prop::collection::vec(token, 0..12).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn label_selectors_never_panic_and_print_back(text in selector_text(), set in labels()) {
        if let Ok(selector) = LabelSelector::parse(&text) {
            let printed = selector.to_string();
            let reparsed = LabelSelector::parse(&printed);
            prop_assert!(reparsed.is_ok(), "{:?} printed as {:?}: {:?}", text, printed, reparsed);
            let reparsed = reparsed.unwrap();
            prop_assert_eq!(reparsed.matches(&set), selector.matches(&set), "{} / {}", text, printed);
        }
        let _ = LabelSelector::from_json(&json!({"matchLabels": set, "matchExpressions": [{"key": text, "operator": "In", "values": [text]}]}));
    }

    #[test]
    fn field_selectors_never_panic(text in selector_text(), object in live_object()) {
        if let Ok(selector) = FieldSelector::parse(&text) {
            let _ = selector.matches(&object);
            let _ = selector.validate_fields(&["metadata.name", "metadata.namespace"]);
            let _ = selector.requires_exact_match("metadata.name");
        }
    }

    #[test]
    fn jsonpath_never_panics(text in jsonpath_text(), object in live_object()) {
        if let Ok(path) = jsonpath::parse(&text) {
            let _ = path.evaluate(&object);
            // The printed form means the same.
            let printed = path.to_string();
            if let Ok(again) = jsonpath::parse(&printed) {
                prop_assert_eq!(again.evaluate(&object).ok(), path.evaluate(&object).ok(), "{} / {}", text, printed);
            }
        }
        let _ = jsonpath::evaluate(&text, &object);
    }
}

// -------------------------------------------------------------- durations

fn duration_text() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        (
            any::<u64>(),
            prop::sample::select(vec!["ns", "us", "µs", "ms", "s", "m", "h", "d", "", "x"])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        (
            "[0-9]{0,5}\\.[0-9]{0,12}",
            prop::sample::select(vec!["h", "m", "s", "ms"])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        "[-+.0-9a-zµ]{0,6}",
        any::<String>(),
    ];
    prop::collection::vec(part, 0..4).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn go_durations_never_panic_and_print_back(text in duration_text(), seconds in 0u64..18_446_744_073, nanos in 0u32..1_000_000_000) {
        if let Ok(parsed) = go_duration::parse(&text) {
            let printed = go_duration::format(parsed);
            prop_assert_eq!(go_duration::parse(&printed), Ok(parsed), "{:?} printed as {:?}", text, printed);
        }
        // Every duration the parser can return (up to u64::MAX ns).
        let duration = std::time::Duration::new(seconds, nanos);
        let printed = go_duration::format(duration);
        prop_assert_eq!(go_duration::parse(&printed), Ok(duration), "{:?}", printed);
    }
}

// ------------------------------------------- regressions the fuzzing found

/// Found by `go_durations_never_panic_and_print_back`: parsing summed
/// floats, so past 2^53 ns (about 104 days) a formatted duration parsed
/// back a few nanoseconds off (`10007h59m57.044507329s`).
#[test]
fn a_long_duration_with_nanoseconds_parses_back_exactly() {
    let duration = std::time::Duration::new(36_028_797, 44_507_329);
    let printed = go_duration::format(duration);
    assert_eq!(printed, "10007h59m57.044507329s");
    assert_eq!(go_duration::parse(&printed), Ok(duration));
    // Go truncates a fraction below the nanosecond rather than rounding.
    assert_eq!(
        go_duration::parse("1.0000000009s"),
        Ok(std::time::Duration::from_nanos(1_000_000_000))
    );
}

/// Found by `json_patches_never_panic`: a `move` whose destination index is
/// out of range failed after removing its source, and the patch left the
/// object without it (the json-patch crate's undo log skips the failing
/// operation itself).
#[test]
fn a_failed_json_patch_move_leaves_the_object_unchanged() {
    let live = json!({"metadata": {"name": "p"}, "status": {"conditions": [{"type": "Ready"}]}});
    let ops = json!([{"op": "move", "from": "/metadata", "path": "/status/conditions/9"}]);
    let mut target = live.clone();
    assert!(patch::json_patch(&mut target, &ops).is_err());
    assert_eq!(target, live);
    // A good patch still applies.
    let ops = json!([{"op": "move", "from": "/metadata/name", "path": "/status/name"}]);
    patch::json_patch(&mut target, &ops).unwrap();
    assert_eq!(target["status"]["name"], "p");
}
