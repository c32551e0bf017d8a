//! The certificate lifecycle in `certwasm run` (in process): issuers become
//! Ready, Certificates become keys, CertificateRequests and Secrets with
//! cert-manager's conditions, annotations and events; re-issuance when the
//! Secret goes or the spec changes; an issuer fixed later unblocks waiting
//! requests. Certificates are checked with `openssl verify`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use certwasm::api::{Certificate, CertificateRequest, ClusterIssuer};
use certwasm::run::{RunConfig, start};
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::json;

async fn run(dir: &Path, manifests: Option<&Path>) -> (certwasm::run::Running, Client) {
    let running = start(RunConfig {
        data_dir: dir.join("data"),
        api_address: "127.0.0.1:0".parse().unwrap(),
        manifests: manifests.map(Path::to_owned),
        export_dir: None,
        controller: certwasm::controller::Options {
            auto_approve: true,
            cluster_resource_namespace: "cert-manager".to_owned(),
            solvers: Default::default(),
            concurrent_workers: certwasm::controller::DEFAULT_CONCURRENT_WORKERS,
            default_issuer: None,
        },
        controllers: true,
        metrics_address: Some("127.0.0.1:0".parse().unwrap()),
    })
    .await
    .unwrap();
    let kubeconfig = Kubeconfig::read_from(running.api.kubeconfig_path()).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    (running, Client::try_from(config).unwrap())
}

/// Polls `check` until it returns Some, failing after a generous deadline
/// (a safety net against hangs, not a performance assertion).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ready(certificate: &Certificate) -> Option<(String, String, String)> {
    let c = certificate
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((
        c.status.as_str().to_owned(),
        c.reason.clone().unwrap_or_default(),
        c.message.clone().unwrap_or_default(),
    ))
}

async fn wait_ready(api: &Api<Certificate>, name: &str, revision: i32) -> Certificate {
    eventually(
        &format!("Certificate {name} Ready at revision {revision}"),
        || async {
            let c = api.get(name).await.ok()?;
            let (status, _, _) = ready(&c)?;
            (status == "True" && c.status.as_ref()?.revision == Some(revision)).then_some(c)
        },
    )
    .await
}

fn openssl_verify(dir: &Path, secret: &Secret) -> String {
    let data = secret.data.as_ref().unwrap();
    let cert = dir.join("tls.crt");
    let ca = dir.join("ca.crt");
    std::fs::write(&cert, &data["tls.crt"].0).unwrap();
    std::fs::write(&ca, &data["ca.crt"].0).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&ca)
        .arg(&cert)
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_issues_a_ca_and_a_server_certificate_and_reissues() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let (_server, client) = run(dir.path(), Some(&manifests)).await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");

    let web = wait_ready(&certs, "web", 1).await;
    let (_, reason, message) = ready(&web).unwrap();
    assert_eq!(reason, "Ready");
    assert_eq!(message, "Certificate is up to date and has not expired");
    let status = web.status.clone().unwrap();
    assert!(status.not_after.is_some() && status.renewal_time.is_some());
    assert!(status.conditions.iter().all(|c| c.type_ != "Issuing"));

    let secret = secrets.get("web-tls").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let annotations = secret.metadata.annotations.clone().unwrap();
    assert_eq!(annotations["cert-manager.io/certificate-name"], "web");
    assert_eq!(annotations["cert-manager.io/issuer-name"], "example-ca");
    assert_eq!(annotations["cert-manager.io/issuer-kind"], "ClusterIssuer");
    assert_eq!(
        annotations["cert-manager.io/alt-names"],
        "example.com,www.example.com"
    );
    assert_eq!(annotations["cert-manager.io/ip-sans"], "127.0.0.1");
    assert_eq!(
        secret.metadata.labels.clone().unwrap()["controller.cert-manager.io/fao"],
        "true"
    );
    let verified = openssl_verify(dir.path(), &secret);
    assert!(verified.contains(": OK"), "{verified}");

    // cert-manager's events, in order.
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let mut on_web: Vec<Event> = events
        .list(
            &ListParams::default()
                .fields("involvedObject.kind=Certificate,involvedObject.name=web"),
        )
        .await
        .unwrap()
        .items;
    on_web.sort_by_key(|e| {
        e.metadata
            .resource_version
            .clone()
            .unwrap_or_default()
            .parse::<u64>()
            .unwrap_or(0)
    });
    let reasons: Vec<String> = on_web.iter().filter_map(|e| e.reason.clone()).collect();
    assert_eq!(
        reasons,
        ["Issuing", "Generated", "Requested", "Issuing"],
        "{reasons:?}"
    );
    assert_eq!(
        on_web[0].message.as_deref(),
        Some("Issuing certificate as Secret does not exist")
    );

    // The request: approved by cert-manager.io, issued, annotated.
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), "default");
    let request = requests.get("web-1").await.unwrap();
    let annotations = request.metadata.annotations.clone().unwrap();
    assert_eq!(annotations["cert-manager.io/certificate-name"], "web");
    assert_eq!(annotations["cert-manager.io/certificate-revision"], "1");
    let conditions = request.status.unwrap().conditions;
    let approved = conditions.iter().find(|c| c.type_ == "Approved").unwrap();
    assert_eq!(approved.reason.as_deref(), Some("cert-manager.io"));

    // The Secret goes: a new revision is issued; the old request is pruned
    // (revisionHistoryLimit defaults to 1).
    secrets
        .delete("web-tls", &DeleteParams::default())
        .await
        .unwrap();
    wait_ready(&certs, "web", 2).await;
    eventually("web-1 pruned", || async {
        requests
            .get_opt("web-1")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;

    // The spec changes: RequestChanged, a new revision with the new name.
    certs
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"dnsNames": ["example.com", "api.example.com"]}})),
        )
        .await
        .unwrap();
    wait_ready(&certs, "web", 3).await;
    let secret = secrets.get("web-tls").await.unwrap();
    assert_eq!(
        secret.metadata.annotations.unwrap()["cert-manager.io/alt-names"],
        "example.com,api.example.com"
    );
    let issuing: Vec<String> = events
        .list(&ListParams::default().fields("involvedObject.name=web,reason=Issuing"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    assert!(
        issuing.iter().any(|m| m.starts_with(
            "Fields on existing CertificateRequest resource not up to date: [spec.dnsNames]"
        )),
        "{issuing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_without_its_secret_is_not_ready_until_the_secret_appears() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = run(dir.path(), None).await;
    let issuers: Api<ClusterIssuer> = Api::all(client.clone());
    issuers
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
                "metadata": {"name": "missing-ca"}, "spec": {"ca": {"secretName": "missing-ca"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let not_ready = eventually("ClusterIssuer Ready=False", || async {
        let i = issuers.get("missing-ca").await.ok()?;
        let c = i
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")?;
        (c.status.as_str() == "False").then_some(c)
    })
    .await;
    assert_eq!(not_ready.reason.as_deref(), Some("ErrGetKeyPair"));
    assert_eq!(
        not_ready.message.as_deref(),
        Some("Error getting keypair for CA issuer: secrets \"missing-ca\" not found")
    );

    // A Certificate waits on it.
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    certs
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": "waiting", "namespace": "default"},
                "spec": {"secretName": "waiting-tls", "dnsNames": ["waiting.example.com"],
                         "issuerRef": {"name": "missing-ca", "kind": "ClusterIssuer"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), "default");
    let pending = eventually("the request to wait for the issuer", || async {
        let r = requests.get_opt("waiting-1").await.ok()??;
        let c = r
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")?;
        (c.reason.as_deref() == Some("Pending")).then_some(c)
    })
    .await;
    assert_eq!(
        pending.message.as_deref(),
        Some("Referenced issuer does not have a Ready status condition")
    );
    let (status, reason, _) = ready(&certs.get("waiting").await.unwrap()).unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "DoesNotExist")
    );

    // Make a CA with a self-signed issuer into the missing Secret: the
    // issuer becomes ready and the waiting certificate is issued.
    issuers
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
                "metadata": {"name": "selfsigned"}, "spec": {"selfSigned": {}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let ca_certs: Api<Certificate> = Api::namespaced(client.clone(), "cert-manager");
    ca_certs
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": "missing-ca", "namespace": "cert-manager"},
                "spec": {"secretName": "missing-ca", "isCA": true, "commonName": "late CA",
                         "issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let issued = wait_ready(&certs, "waiting", 1).await;
    assert!(issued.status.unwrap().not_after.is_some());
    let secret = Api::<Secret>::namespaced(client.clone(), "default")
        .get("waiting-tls")
        .await
        .unwrap();
    let verified = openssl_verify(dir.path(), &secret);
    assert!(verified.contains(": OK"), "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_approval_requests_wait_for_approve_or_deny() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(RunConfig {
        data_dir: dir.path().join("data"),
        api_address: "127.0.0.1:0".parse().unwrap(),
        manifests: None,
        export_dir: None,
        controller: certwasm::controller::Options {
            auto_approve: false,
            cluster_resource_namespace: "cert-manager".to_owned(),
            solvers: Default::default(),
            concurrent_workers: certwasm::controller::DEFAULT_CONCURRENT_WORKERS,
            default_issuer: None,
        },
        controllers: true,
        metrics_address: None,
    })
    .await
    .unwrap();
    let kubeconfig_path = server.api.kubeconfig_path().to_owned();
    let kubeconfig = Kubeconfig::read_from(&kubeconfig_path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let issuers: Api<certwasm::api::Issuer> = Api::namespaced(client.clone(), "default");
    issuers
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                "metadata": {"name": "selfsigned", "namespace": "default"}, "spec": {"selfSigned": {}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    for name in ["approved", "denied"] {
        certs
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                    "metadata": {"name": name, "namespace": "default"},
                    "spec": {"secretName": format!("{name}-tls"), "commonName": format!("{name}.example.com"),
                             "dnsNames": [format!("{name}.example.com")],
                             "issuerRef": {"name": "selfsigned"}}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually("WaitingForApproval events", || async {
        let list = events
            .list(&ListParams::default().fields("reason=WaitingForApproval"))
            .await
            .ok()?;
        (list.items.len() >= 2).then_some(())
    })
    .await;
    let decide = |verb: &str, name: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_certwasm"))
            .args([verb, name, "--kubeconfig"])
            .arg(&kubeconfig_path)
            .output()
            .unwrap()
    };
    let out = decide("approve", "approved-1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "approved CertificateRequest 'default/approved-1'"
    );
    let again = decide("deny", "approved-1");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already approved"));
    wait_ready(&certs, "approved", 1).await;

    assert!(decide("deny", "denied-1").status.success());
    let issuing = eventually("Issuing=False Denied", || async {
        let c = certs.get("denied").await.ok()?;
        let issuing = c
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Issuing")?;
        (issuing.status.as_str() == "False").then_some(issuing)
    })
    .await;
    assert_eq!(issuing.reason.as_deref(), Some("Denied"));
    let c = certs.get("denied").await.unwrap();
    assert_eq!(c.status.unwrap().failed_issuance_attempts, Some(1));
}
