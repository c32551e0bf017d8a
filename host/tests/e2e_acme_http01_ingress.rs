//! HTTP-01 through an Ingress, as in a cluster: with
//! `--http01-solver-ingress true` (the default of `certwasm controller`),
//! an `http01.ingress` challenge gets a solver Service selecting the
//! controller pods and an Ingress routing its token's path there — or,
//! with `http01.ingress.name`, that path added to the named Ingress — and
//! both go when the order ends. Run here in `certwasm run` against a real
//! Pebble (which validates against the responder directly, as no ingress
//! controller runs here); kubectl watches record the objects coming and
//! going, since issuance is over in well under a second.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::pebble::{Pebble, free_port};
use common::{Embedded, kubectl_binary};
use serde_json::Value;

/// `kubectl get <kind> -w --output-watch-events -o json`, its events
/// collected as they come.
struct Watch {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Watch {
    fn start(api: &Embedded, kind: &str) -> Watch {
        let mut child = Command::new(kubectl_binary())
            .arg("--kubeconfig")
            .arg(api.kubeconfig())
            .args(["get", kind, "-n", "default", "-w", "--output-watch-events"])
            .args(["-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            // JSON objects one after the other (one a line, or pretty).
            let stream = serde_json::Deserializer::from_reader(stdout).into_iter::<Value>();
            for event in stream.map_while(Result::ok) {
                sink.lock().unwrap().push(event);
            }
        });
        Watch { child, events }
    }

    /// Waits until the events so far satisfy `done`.
    fn until(&self, what: &str, done: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&self.events()) {
            assert!(Instant::now() < deadline, "no watch event: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn name_of(event: &Value) -> &str {
    event["object"]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
}

fn is_solver(event: &Value) -> bool {
    name_of(event).starts_with("cm-acme-http-solver-")
}

/// The solver objects' events whose object routes or serves `host`'s
/// challenge (its `http-domain` label is set; the rule names the host).
fn solver_events<'a>(events: &'a [Value], kind: &str, of: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| is_solver(e) && e["type"] == kind)
        .filter(|e| {
            let object = &e["object"];
            object["kind"] == "Service" || object["spec"]["rules"][0]["host"].as_str() == Some(of)
        })
        .collect()
}

fn manifests(pebble: &Pebble) -> String {
    let ca_bundle = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(&pebble.serving_ca).unwrap());
    let issuer = |name: &str, ingress: &str| {
        format!(
            "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: {name}
  namespace: default
spec:
  acme:
    server: {}
    caBundle: {ca_bundle}
    privateKeySecretRef:
      name: {name}-account
    solvers:
    - http01:
        ingress: {ingress}
---
",
            pebble.directory
        )
    };
    let mut text = issuer(
        "generated",
        "{class: nginx, ingressTemplate: {metadata: {labels: {team: web}, annotations: {note: solver}}}}",
    );
    text.push_str(&issuer("in-place", "{name: web}"));
    text.push_str(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: default
spec:
  rules:
  - host: b.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
---
apiVersion: v1
kind: Service
metadata:
  name: marker
  namespace: default
spec:
  ports: [{port: 80}]
",
    );
    text
}

fn certificate(name: &str, issuer: &str, dns_name: &str) -> String {
    format!(
        "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {name}
  namespace: default
spec:
  secretName: {name}-tls
  dnsNames: [{dns_name}]
  issuerRef:
    name: {issuer}
"
    )
}

fn wait_issuers_ready(api: &Embedded) {
    for issuer in ["generated", "in-place"] {
        api.kubectl_until(
            &[
                "get",
                "issuer",
                issuer,
                "-o",
                "jsonpath={.status.conditions[0].status}",
            ],
            |status| status == "True",
        );
    }
}

#[test]
fn solver_service_and_ingress_are_created_and_removed_and_a_named_ingress_is_edited_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let solver_port = free_port();
    let pebble = Pebble::start(dir.path(), solver_port, 5);
    let api = pebble.certwasm_run(
        &dir.path().join("data"),
        solver_port,
        solver_port,
        &["--http01-solver-ingress", "true"],
    );
    api.apply_ok(&manifests(&pebble));
    wait_issuers_ready(&api);
    let original_web = api.kubectl_ok(&["get", "ingress", "web", "-o", "jsonpath={.spec}"]);

    let services = Watch::start(&api, "services");
    let ingresses = Watch::start(&api, "ingresses");
    // The watches list what exists first: once they show it, they see
    // everything after.
    services.until("marker Service listed", |events| {
        events.iter().any(|e| name_of(e) == "marker")
    });
    ingresses.until("web Ingress listed", |events| {
        events.iter().any(|e| name_of(e) == "web")
    });

    // A generated Service and Ingress.
    api.apply_ok(&certificate("a", "generated", "a.example.com"));
    api.wait_ready("a");
    // The named Ingress, edited in place.
    api.apply_ok(&certificate("b", "in-place", "b.example.com"));
    api.wait_ready("b");
    services.until("solver Services deleted", |events| {
        solver_events(events, "DELETED", "").len() >= 2
    });
    ingresses.until("solver Ingress deleted", |events| {
        events
            .iter()
            .any(|e| is_solver(e) && e["type"] == "DELETED")
    });

    let service_events = services.events();
    let ingress_events = ingresses.events();
    // Two solver Services came (one per challenge) and went.
    let added = solver_events(&service_events, "ADDED", "");
    assert_eq!(added.len(), 2, "{service_events:#?}");
    for event in &added {
        let service = &event["object"];
        let labels = &service["metadata"]["labels"];
        assert_eq!(labels["acme.cert-manager.io/http01-solver"], "true");
        assert!(
            labels["acme.cert-manager.io/http-domain"]
                .as_str()
                .unwrap()
                .parse::<u32>()
                .is_ok(),
            "{service:#}"
        );
        assert!(labels["acme.cert-manager.io/http-token"].is_string());
        assert_eq!(
            service["spec"]["selector"]["app.kubernetes.io/name"],
            "certwasm"
        );
        assert_eq!(service["spec"]["ports"][0]["port"], i64::from(solver_port));
        assert_eq!(
            service["metadata"]["ownerReferences"][0]["kind"],
            "Challenge"
        );
        let name = name_of(event);
        assert!(
            service_events
                .iter()
                .any(|e| e["type"] == "DELETED" && name_of(e) == name),
            "Service {name} not deleted"
        );
    }

    // The generated Ingress routed a.example.com's token to its Service.
    let generated = solver_events(&ingress_events, "ADDED", "a.example.com");
    assert_eq!(generated.len(), 1, "{ingress_events:#?}");
    let ingress = &generated[0]["object"];
    assert_eq!(
        ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"],
        "nginx"
    );
    assert_eq!(ingress["metadata"]["annotations"]["note"], "solver");
    assert_eq!(ingress["metadata"]["labels"]["team"], "web");
    assert_eq!(
        ingress["metadata"]["labels"]["acme.cert-manager.io/http01-solver"],
        "true"
    );
    assert_eq!(
        ingress["metadata"]["ownerReferences"][0]["kind"],
        "Challenge"
    );
    let path = &ingress["spec"]["rules"][0]["http"]["paths"][0];
    assert!(
        path["path"]
            .as_str()
            .unwrap()
            .starts_with("/.well-known/acme-challenge/"),
        "{path:#}"
    );
    assert_eq!(path["pathType"], "ImplementationSpecific");
    let backend = path["backend"]["service"]["name"].as_str().unwrap();
    assert!(
        added.iter().any(|e| name_of(e) == backend),
        "the Ingress routes to a solver Service: {backend}"
    );
    assert!(
        ingress_events
            .iter()
            .any(|e| e["type"] == "DELETED" && name_of(e) == name_of(generated[0])),
        "the solver Ingress was deleted"
    );

    // "web" gained b.example.com's challenge path (beside its own rule),
    // was given no solver Ingress of its own, and is back as it was.
    let edited = ingress_events.iter().any(|e| {
        e["type"] == "MODIFIED" && name_of(e) == "web" && {
            let rules = e["object"]["spec"]["rules"].as_array().unwrap();
            rules.len() == 2
                && rules[1]["host"] == "b.example.com"
                && rules[1]["http"]["paths"][0]["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/.well-known/acme-challenge/"))
        }
    });
    assert!(edited, "web not edited in place: {ingress_events:#?}");
    assert!(solver_events(&ingress_events, "ADDED", "b.example.com").is_empty());
    assert_eq!(
        api.kubectl_ok(&["get", "ingress", "web", "-o", "jsonpath={.spec}"]),
        original_web
    );
    assert_eq!(
        api.kubectl_ok(&["get", "services,ingresses", "-o", "name"])
            .lines()
            .collect::<Vec<_>>(),
        ["service/marker", "ingress.networking.k8s.io/web"]
    );
}
