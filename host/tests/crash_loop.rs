//! A crash loop: `certwasm run` is killed with SIGKILL at random moments,
//! again and again, while it issues Certificates through the CA issuer and
//! through ACME against a real Pebble, and is restarted on the same data
//! directory each time. At the end nothing may be lost or doubled:
//!
//! - every Certificate is Ready at revision 1 (but for an ACME order the
//!   server invalidated because the solver died while it was being
//!   validated: that request must say so, and no Secret exist), from exactly one
//!   CertificateRequest, and its Secret holds a whole chain that verifies
//!   (openssl) and a key that matches the certificate;
//! - no temporary next-private-key Secret is left behind;
//! - the files `--export-dir` keeps are byte for byte the Secrets' data;
//! - every ACME request has one Order, and an Order whose URL was once
//!   recorded keeps that URL: Pebble is never asked for a second order for
//!   a Certificate whose order was already under way;
//! - no `badNonce` reached an event; the store opened cleanly at every
//!   restart; nothing panicked.
//!
//! CI runs the CA issuer alone (80 Certificates, 12 kills); the run with
//! ACME orders in flight is ignored while two faults are open
//! (docs/reliability.md). The full run:
//! `CERTWASM_CRASH_LOOP=full cargo test -p certwasm --test crash_loop -- --include-ignored --nocapture`
//! (300 CA and 20 ACME Certificates, 50 kills). `CERTWASM_CRASH_LOOP=CA,ACME,KILLS`
//! sets the sizes; `CERTWASM_CRASH_SEED=N` replays a run's kill moments.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::pebble::{Pebble, free_port};
use common::{Embedded, openssl_verify, text};
use serde_json::Value;

/// How much the loop does.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    ca: usize,
    acme: usize,
    kills: usize,
}

impl Sizes {
    /// `CERTWASM_CRASH_LOOP` (`full`, or `CA,ACME,KILLS`), else `default`.
    fn from_env(default: Sizes) -> Sizes {
        match std::env::var("CERTWASM_CRASH_LOOP").as_deref() {
            Ok("full") => Sizes {
                ca: 300,
                acme: 20,
                kills: 50,
            },
            Ok(custom) if !custom.is_empty() => {
                let n: Vec<usize> = custom
                    .split(',')
                    .map(|n| n.trim().parse().expect("CERTWASM_CRASH_LOOP=CA,ACME,KILLS"))
                    .collect();
                assert_eq!(n.len(), 3, "CERTWASM_CRASH_LOOP=CA,ACME,KILLS");
                Sizes {
                    ca: n[0],
                    acme: n[1],
                    kills: n[2],
                }
            }
            _ => default,
        }
    }
}

/// SplitMix64: a seeded, reproducible source of kill moments (the test
/// prints its seed; no crate is needed for this).
struct Moments(u64);

impl Moments {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A moment in `0..max`.
    fn within(&mut self, max: Duration) -> Duration {
        let ms = u64::try_from(max.as_millis()).unwrap().max(1);
        Duration::from_millis(self.next() % ms)
    }
}

const CA_CHAIN: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: default}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: crash-root, namespace: default}
spec:
  isCA: true
  commonName: certwasm crash-loop CA
  secretName: crash-root
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: default}
spec:
  ca: {secretName: crash-root}
";

fn acme_issuer(pebble: &Pebble) -> String {
    let ca_bundle = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(&pebble.serving_ca).unwrap());
    format!(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: pebble, namespace: default}}
spec:
  acme:
    server: {}
    email: crash@example.com
    caBundle: {ca_bundle}
    privateKeySecretRef: {{name: pebble-account}}
    solvers:
    - http01: {{ingress: {{ingressClassName: nginx}}}}
",
        pebble.directory
    )
}

fn certificate(name: &str, issuer: &str) -> String {
    format!(
        "---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: {name}, namespace: default}}
spec:
  secretName: {name}-tls
  dnsNames: [{name}.example.com]
  privateKey: {{algorithm: ECDSA, size: 256}}
  issuerRef: {{name: {issuer}}}
"
    )
}

/// `kubectl get KIND -o json`'s items.
fn items(api: &Embedded, kind: &str) -> Vec<Value> {
    let out = api.kubectl_ok(&["get", kind, "-n", "default", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

fn name_of(object: &Value) -> String {
    object["metadata"]["name"].as_str().unwrap().to_owned()
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Order URLs as recorded now, by the DNS name each Order is for (one
/// name per ACME Certificate here).
fn recorded_orders(api: &Embedded) -> BTreeMap<String, String> {
    items(api, "orders")
        .iter()
        .filter_map(|order| {
            let url = order["status"]["url"].as_str().filter(|u| !u.is_empty())?;
            let name = order["spec"]["dnsNames"][0].as_str()?;
            Some((name.to_owned(), url.to_owned()))
        })
        .collect()
}

fn secret_field(secret: &Value, field: &str) -> Vec<u8> {
    let encoded = secret["data"][field].as_str().unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap()
}

/// The SubjectPublicKeyInfo (PEM) of a certificate or a private key, by
/// openssl.
fn public_key(dir: &Path, pem: &[u8], of_key: bool) -> String {
    let file = dir.join(format!("pub-{}.pem", common::rand_suffix()));
    std::fs::write(&file, pem).unwrap();
    let mut command = Command::new("openssl");
    if of_key {
        command.args(["pkey", "-pubout", "-in"]);
    } else {
        command.args(["x509", "-pubkey", "-noout", "-in"]);
    }
    let output = command.arg(&file).output().unwrap();
    assert!(output.status.success(), "openssl: {}", text(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// The ACME Certificates whose order the ACME server invalidated because
/// the solver was killed while the server was fetching the challenge: the
/// one loss a kill can cause, outside the process. Their request must say
/// so (Failed, naming the connection), as a crashed solver pod's would.
fn invalidated_by_a_kill(api: &Embedded) -> BTreeSet<String> {
    items(api, "certificaterequests")
        .iter()
        .filter(|r| {
            condition(r, "Ready").is_some_and(|c| {
                c["reason"] == "Failed"
                    && c["message"].as_str().is_some_and(|m| {
                        m.contains("invalid") && m.contains("acme:error:connection")
                    })
            })
        })
        .filter_map(|r| {
            r["metadata"]["annotations"]["cert-manager.io/certificate-name"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// Waits until every Certificate in `names` is Ready, or is one whose
/// order a kill invalidated at the ACME server (returned apart); a
/// safety-net deadline against hangs, not a performance assertion.
fn wait_all_ready(api: &Embedded, names: &BTreeSet<String>) -> (Vec<Value>, BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let certificates = items(api, "certificates");
        let invalidated = invalidated_by_a_kill(api);
        let ready: BTreeSet<String> = certificates
            .iter()
            .filter(|c| condition(c, "Ready").is_some_and(|r| r["status"] == "True"))
            .map(name_of)
            .chain(invalidated.iter().cloned())
            .collect();
        if names.is_subset(&ready) {
            return (certificates, invalidated);
        }
        let missing: Vec<_> = names.difference(&ready).take(5).collect();
        assert!(
            Instant::now() < deadline,
            "not Ready after the crash loop ({} of {}), e.g. {missing:?}:\n{}\n{}\n{}\nits log lines:\n{}",
            names.len() - names.intersection(&ready).count(),
            names.len(),
            api.kubectl_ok(&["describe", "certificate", missing[0]]),
            api.kubectl_ok(&["describe", "certificaterequests"]),
            api.kubectl_ok(&["describe", "orders,challenges,issuers"]),
            api.log()
                .lines()
                .filter(|line| line.contains(missing[0].as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn kill_9_again_and_again_through_the_ca_issuer_loses_nothing() {
    crash_loop(Sizes::from_env(Sizes {
        ca: 80,
        acme: 0,
        kills: 12,
    }));
}

/// With ACME orders in flight, two faults are still open (see
/// docs/reliability.md): a request whose Order was mirrored but whose
/// plugin state was not written before the kill can stall after restart,
/// and a temporary key Secret can outlive its issuance.
#[test]
#[ignore = "open: ACME requests can stall after a kill (docs/reliability.md)"]
fn kill_9_again_and_again_with_acme_orders_in_flight_loses_nothing() {
    crash_loop(Sizes::from_env(Sizes {
        ca: 60,
        acme: 6,
        kills: 12,
    }));
}

fn crash_loop(sizes: Sizes) {
    let seed = std::env::var("CERTWASM_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash loop: {sizes:?}, CERTWASM_CRASH_SEED={seed}");
    let mut moments = Moments(seed);

    let dir = tempfile::tempdir().unwrap();
    let solver_port = free_port();
    let pebble = Pebble::start(dir.path(), solver_port, 5);
    let data = dir.path().join("data");
    let export = dir.path().join("export");
    let export_flag = export.to_str().unwrap().to_owned();
    let start = || {
        pebble.certwasm_run(
            &data,
            solver_port,
            solver_port,
            &["--export-dir", &export_flag],
        )
    };

    // Everything to issue, applied in chunks over the first half of the
    // kills, so that creation, issuance and the kills interleave.
    let mut names = BTreeSet::new();
    let mut documents = Vec::new();
    // The ACME Certificates spread evenly among the CA ones.
    let every = (sizes.ca / sizes.acme.max(1)).max(1);
    let mut acme = 0;
    for i in 0..sizes.ca.max(sizes.acme * every) {
        if i < sizes.ca {
            let name = format!("ca-{i}");
            documents.push(certificate(&name, "ca"));
            names.insert(name);
        }
        if i % every == 0 && acme < sizes.acme {
            let name = format!("acme-{acme}");
            documents.push(certificate(&name, "pebble"));
            names.insert(name);
            acme += 1;
        }
    }
    let rounds = (sizes.kills / 2).max(1);
    let per_round = documents.len().div_ceil(rounds);
    let mut chunks: Vec<String> = documents.chunks(per_round).map(|c| c.concat()).collect();
    chunks.insert(0, format!("{CA_CHAIN}---\n{}", acme_issuer(&pebble)));
    chunks.reverse();

    // Order URLs recorded at any moment, by DNS name.
    let mut seen_orders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let started = Instant::now();
    let mut restarts = 0;
    for kill in 0..sizes.kills {
        let api = start();
        restarts += 1;
        if let Some(chunk) = chunks.pop() {
            api.apply_ok(&chunk);
        }
        std::thread::sleep(moments.within(Duration::from_millis(1_500)));
        for (name, url) in recorded_orders(&api) {
            seen_orders.entry(name).or_default().insert(url);
        }
        assert!(!api.log().contains("panicked"), "{}", api.log());
        api.kill9();
        if kill % 10 == 9 {
            println!("{} kills in {:?}", kill + 1, started.elapsed());
        }
    }
    let kill_phase = started.elapsed();

    // The last start: everything must finish, and nothing be doubled.
    let api = start();
    restarts += 1;
    for chunk in chunks.drain(..).rev() {
        api.apply_ok(&chunk);
    }
    let (certificates, invalidated) = wait_all_ready(&api, &names);
    println!(
        "{} kills in {kill_phase:?}, then all {} Ready {:?} after the last restart",
        sizes.kills,
        names.len(),
        started.elapsed() - kill_phase
    );

    let requests = items(&api, "certificaterequests");
    let secrets: BTreeMap<String, Value> = items(&api, "secrets")
        .into_iter()
        .map(|s| (name_of(&s), s))
        .collect();
    let root = secret_field(&secrets["crash-root"], "tls.crt");
    let pebble_root = pebble.root();
    for name in &invalidated {
        assert!(
            name.starts_with("acme-"),
            "{name}: only an ACME order can fail"
        );
        assert!(
            !secrets.contains_key(&format!("{name}-tls")),
            "{name}: a Secret for a failed issuance"
        );
    }
    for certificate in certificates
        .iter()
        .filter(|c| names.contains(&name_of(c)) && !invalidated.contains(&name_of(c)))
    {
        let name = name_of(certificate);
        assert_eq!(
            certificate["status"]["revision"], 1,
            "{name} was issued more than once: {certificate}"
        );
        let own: Vec<&Value> = requests
            .iter()
            .filter(|r| r["metadata"]["annotations"]["cert-manager.io/certificate-name"] == name)
            .collect();
        assert_eq!(
            own.len(),
            1,
            "{name}: requests {:?}",
            own.iter().map(|r| name_of(r)).collect::<Vec<_>>()
        );
        // A whole Secret: chain, key and CA, the key the certificate's.
        let secret = &secrets[&format!("{name}-tls")];
        assert_eq!(secret["type"], "kubernetes.io/tls", "{name}");
        let (chain, key) = (
            secret_field(secret, "tls.crt"),
            secret_field(secret, "tls.key"),
        );
        assert!(!chain.is_empty() && !key.is_empty(), "{name}: {secret}");
        assert_eq!(
            public_key(dir.path(), &chain, false),
            public_key(dir.path(), &key, true),
            "{name}: the key in the Secret is not the certificate's"
        );
        let trusted = if name.starts_with("acme-") {
            &pebble_root
        } else {
            &root
        };
        let verified = openssl_verify(dir.path(), trusted, &chain);
        assert!(verified.contains(": OK"), "{name}: {verified}");
        // The exported files are the Secret's data.
        for field in ["tls.crt", "tls.key", "ca.crt"] {
            let file = export
                .join("default")
                .join(format!("{name}-tls"))
                .join(field);
            let on_disk = std::fs::read(&file).unwrap_or_default();
            assert_eq!(
                on_disk,
                secret_field(secret, field),
                "{name}: {} differs from the Secret",
                file.display()
            );
        }
    }

    // No temporary key left behind: the controller deletes it on the pass
    // after the one that made the Certificate Ready, so give it a moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = api.kubectl_ok(&[
            "get",
            "secrets",
            "-n",
            "default",
            "-l",
            "cert-manager.io/next-private-key=true",
            "-o",
            "name",
        ]);
        if left.trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "next-private-key Secrets left: {left}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // ACME: one Order per request, and a recorded order never replaced.
    let orders = items(&api, "orders");
    let final_orders = recorded_orders(&api);
    for i in 0..sizes.acme {
        let dns = format!("acme-{i}.example.com");
        if invalidated.contains(&format!("acme-{i}")) {
            // Its one order, if recorded, was never replaced.
            let seen = seen_orders.get(&dns).map_or(0, BTreeSet::len);
            assert!(seen <= 1, "{dns}: {seen} orders recorded");
            continue;
        }
        let count = orders
            .iter()
            .filter(|o| o["spec"]["dnsNames"][0] == dns.as_str())
            .count();
        assert_eq!(count, 1, "{dns}: {count} Orders");
        let url = &final_orders[&dns];
        if let Some(seen) = seen_orders.get(&dns) {
            assert_eq!(
                seen.iter().collect::<Vec<_>>(),
                vec![url],
                "{dns}: a second ACME order after the first was recorded"
            );
        }
    }
    let events = api.kubectl_ok(&["get", "events", "-n", "default", "-o", "json"]);
    assert!(
        !events.contains("badNonce"),
        "a badNonce surfaced in an event"
    );
    let pebble_log = std::fs::read_to_string(dir.path().join("pebble.log")).unwrap();
    let pebble_orders = pebble_log.matches("Added order").count();
    println!(
        "checked {} Certificates ({} CA, {} ACME; {} ACME orders invalidated by a kill during validation) after {} restarts; Pebble made {} orders for {} ACME Certificates ({} abandoned before they were recorded)",
        names.len(),
        sizes.ca,
        sizes.acme,
        invalidated.len(),
        restarts,
        pebble_orders,
        sizes.acme,
        pebble_orders.saturating_sub(sizes.acme)
    );
}

/// The narrowest window, made on purpose: the temporary key Secret exists
/// (as if made just before a kill) but the Certificate's status never
/// named it. The restarted controller adopts that key rather than making a
/// second one and leaving the first behind.
#[test]
fn a_next_key_stored_before_a_crash_is_adopted_not_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let api = Embedded::start_with(&data, &["--api-only"]);
    api.apply_ok(
        "apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: adopted, namespace: default}
spec:
  secretName: adopted-tls
  commonName: adopted.example.com
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned}
",
    );
    let uid = api.jsonpath("certificate", "adopted", ".metadata.uid");
    let next = certwasm::policy::next_key::next_key_secret_name("adopted", uid.trim(), 1);
    let key = dir.path().join("key.pem");
    let output = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    api.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        &next,
        &format!("--from-file=tls.key={}", key.display()),
    ]);
    api.kubectl_ok(&[
        "label",
        "secret",
        &next,
        "cert-manager.io/next-private-key=true",
    ]);
    api.kill9();

    let api = Embedded::start(&data);
    api.apply_ok(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: default}
spec: {selfSigned: {}}
",
    );
    api.wait_ready("adopted");
    let secret: Value =
        serde_json::from_str(&api.kubectl_ok(&["get", "secret", "adopted-tls", "-o", "json"]))
            .unwrap();
    assert_eq!(
        public_key(dir.path(), &secret_field(&secret, "tls.key"), true),
        public_key(dir.path(), &std::fs::read(&key).unwrap(), true),
        "the issued key is not the one stored before the crash"
    );
    let left = api.kubectl_ok(&[
        "get",
        "secrets",
        "-l",
        "cert-manager.io/next-private-key=true",
        "-o",
        "name",
    ]);
    assert!(left.trim().is_empty(), "left behind: {left}");
}
