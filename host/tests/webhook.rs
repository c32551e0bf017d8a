//! `certwasm webhook` as the Helm chart runs it: it bootstraps its TLS into
//! a Secret of the cluster (the embedded API, `certwasm run --api-only`,
//! plays the cluster), then answers AdmissionReview v1 requests, POSTed
//! here with curl as kube-apiserver would, with the same refusals the
//! embedded API gives `kubectl apply` for the same object.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use common::{Embedded, text};
use serde_json::{Value, json};

struct Webhook {
    child: Child,
    url: String,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_webhook(server: &Embedded) -> Webhook {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwasm"))
        .arg("webhook")
        .args(["--secure-port", "0", "--listen-address", "127.0.0.1"])
        .args(["--dns-names", "localhost,127.0.0.1"])
        .args(["--tls-secret-name", "certwasm-webhook-ca"])
        .env("KUBECONFIG", server.kubeconfig())
        .env("POD_NAMESPACE", "cert-manager")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("certwasm webhook runs");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.trim().strip_prefix("webhook: ") {
                    break url.to_owned();
                }
            }
            _ => panic!("certwasm webhook exited: {:?}", child.wait()),
        }
    };
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Webhook { child, url }
}

fn ca_pem(server: &Embedded) -> Vec<u8> {
    let encoded = server.kubectl_ok(&[
        "get",
        "secret",
        "-n",
        "cert-manager",
        "certwasm-webhook-ca",
        "-o",
        "jsonpath={.data.ca\\.crt}",
    ]);
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .expect("base64")
}

/// POSTs an AdmissionReview with curl, trusting only the webhook's CA.
fn post(dir: &Path, url: &str, ca: &[u8], review: &Value) -> Value {
    let ca_file = dir.join("webhook-ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let output = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&ca_file)
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(review.to_string())
        .arg(url)
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "curl failed: {}", text(&output));
    serde_json::from_slice(&output.stdout).expect("an AdmissionReview")
}

fn review(uid: &str, resource: &str, object: &Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "cert-manager.io", "version": "v1", "kind": object["kind"]},
            "resource": {"group": "cert-manager.io", "version": "v1", "resource": resource},
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "alice", "uid": "u-1", "groups": ["devs"]},
            "object": object,
        }
    })
}

const BAD_CERTIFICATE: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
  namespace: default
spec:
  secretName: web-tls
  duration: 1h
  renewBefore: 2h
  issuerRef:
    name: ca
"#;

#[test]
fn admission_reviews_are_answered_as_the_embedded_api_admits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Embedded::start_with(dir.path(), &["--api-only"]);
    let _ = server.kubectl(&["create", "namespace", "cert-manager"]);
    let webhook = start_webhook(&server);
    let ca = ca_pem(&server);

    // The same invalid Certificate: refused by the embedded API on apply,
    // and by the webhook with the same message.
    let applied = server.apply(BAD_CERTIFICATE);
    assert!(!applied.status.success());
    let object: Value = serde_yaml::from_str(BAD_CERTIFICATE).unwrap();
    let answer = post(
        dir.path(),
        &format!("{}/validate", webhook.url),
        &ca,
        &review("uid-1", "certificates", &object),
    );
    let response = &answer["response"];
    assert_eq!(response["uid"], "uid-1");
    assert_eq!(response["allowed"], false, "{answer}");
    assert_eq!(response["status"]["code"], 422);
    // kubectl lists the field errors as `* field: reason` lines; a cluster
    // shows the webhook's message, which must name the same ones.
    let message = response["status"]["message"].as_str().unwrap();
    let said = text(&applied);
    let errors: Vec<&str> = said.lines().filter_map(|l| l.strip_prefix("* ")).collect();
    assert_eq!(errors.len(), 2, "kubectl said {said:?}");
    for error in errors {
        assert!(
            message.contains(error),
            "kubectl said {error:?}, the webhook {message:?}"
        );
    }

    // Mutation: a CertificateRequest gets its requester from userInfo,
    // whatever the client wrote.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = rcgen::CertificateParams::new(vec!["example.com".to_owned()])
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let request = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {
            "request": base64::engine::general_purpose::STANDARD.encode(csr),
            "issuerRef": {"name": "ca"},
            "username": "mallory",
        },
    });
    let answer = post(
        dir.path(),
        &format!("{}/mutate", webhook.url),
        &ca,
        &review("uid-2", "certificaterequests", &request),
    );
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    let patch: json_patch::Patch = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(answer["response"]["patch"].as_str().expect("a patch"))
            .unwrap(),
    )
    .unwrap();
    let mut patched = request.clone();
    json_patch::patch(&mut patched, &patch).unwrap();
    assert_eq!(patched["spec"]["username"], "alice");
    assert_eq!(patched["spec"]["groups"], json!(["devs"]));

    // A restarted webhook (or a second replica) serves the same CA from
    // the Secret, so the caBundle stays valid.
    drop(webhook);
    let again = start_webhook(&server);
    assert_eq!(ca_pem(&server), ca);
    let answer = post(
        dir.path(),
        &format!("{}/validate", again.url),
        &ca,
        &review("uid-3", "certificates", &object),
    );
    assert_eq!(answer["response"]["allowed"], false);
}

/// What cert-manager needs cainjector for: the webhook writes its CA into
/// the `caBundle` of every webhook of its Validating- and
/// MutatingWebhookConfiguration, so that the API server trusts it.
#[test]
fn the_ca_is_injected_into_the_webhook_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let server = Embedded::start_with(dir.path(), &["--api-only"]);
    server.kubectl_ok(&["create", "namespace", "cert-manager"]);
    let configuration = |kind: &str, path: &str| {
        format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: certwasm-webhook\nwebhooks:\n- name: webhook.cert-manager.io\n  admissionReviewVersions: [v1]\n  sideEffects: None\n  failurePolicy: Fail\n  clientConfig:\n    url: https://localhost:10250{path}\n  rules:\n  - apiGroups: [cert-manager.io]\n    apiVersions: [v1]\n    operations: [CREATE, UPDATE]\n    resources: [\"*/*\"]\n"
        )
    };
    server.apply_ok(&configuration(
        "ValidatingWebhookConfiguration",
        "/validate",
    ));
    server.apply_ok(&configuration("MutatingWebhookConfiguration", "/mutate"));

    let _webhook = start_webhook(&server);
    let ca = ca_pem(&server);
    for kind in [
        "validatingwebhookconfiguration",
        "mutatingwebhookconfiguration",
    ] {
        let bundle = server.kubectl_ok(&[
            "get",
            kind,
            "certwasm-webhook",
            "-o",
            "jsonpath={.webhooks[0].clientConfig.caBundle}",
        ]);
        let bundle = base64::engine::general_purpose::STANDARD
            .decode(bundle.trim())
            .expect("a caBundle, base64");
        assert_eq!(bundle, ca, "{kind}");
    }
}
