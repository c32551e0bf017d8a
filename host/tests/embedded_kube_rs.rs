//! kube-rs against the embedded API: typed `Api` calls, server-side apply,
//! finalizers, and a `watcher` that must see every change.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use certwasm::api::Certificate;
use certwasm::apiserver::{ApiConfig, ApiServer};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, Config};
use serde_json::json;

async fn start(dir: &std::path::Path) -> (ApiServer, Client) {
    let server = ApiServer::start(ApiConfig {
        data_dir: dir.to_owned(),
        address: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .unwrap();
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path()).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    (server, client)
}

fn certificate(name: &str) -> Certificate {
    serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"secretName": format!("{name}-tls"), "dnsNames": [format!("{name}.example.com")],
                 "issuerRef": {"name": "ca"}},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_api_crud_apply_and_finalizers() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = start(dir.path()).await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");

    let created = certs
        .create(&PostParams::default(), &certificate("a"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some());

    // A stale resourceVersion is a 409 Conflict.
    let mut stale = created.clone();
    let mut fresh = created.clone();
    fresh.spec.secret_name = "a-tls-2".to_owned();
    certs
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    stale.spec.secret_name = "a-tls-3".to_owned();
    let err = certs
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => assert_eq!(status.code, 409),
        other => panic!("expected 409, got {other:?}"),
    }

    // Server-side apply of status, as controllers write it.
    let status = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Issuing",
                   "message": "Issuing certificate as Secret does not exist"}]}
    });
    let patched = certs
        .patch_status(
            "a",
            &PatchParams::apply("certwasm-test").force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap();
    let conditions = patched.status.unwrap().conditions;
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0].reason.as_deref(), Some("Issuing"));

    // Finalizers hold a deletion until they are removed.
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut held = ConfigMap::default();
    held.metadata.name = Some("held".to_owned());
    held.metadata.finalizers = Some(vec!["example.com/hold".to_owned()]);
    maps.create(&PostParams::default(), &held).await.unwrap();
    maps.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = maps.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    maps.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(maps.get_opt("held").await.unwrap().is_none());

    // Label selectors.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    for (name, app) in [("s1", "web"), ("s2", "db")] {
        let mut secret = Secret::default();
        secret.metadata.name = Some(name.to_owned());
        secret.metadata.labels = Some(BTreeMap::from([("app".to_owned(), app.to_owned())]));
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let web = secrets
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(web.items.len(), 1);
    assert_eq!(web.items[0].metadata.name.as_deref(), Some("s1"));
    let not_web = secrets
        .list(&ListParams::default().labels("app!=web"))
        .await
        .unwrap();
    assert_eq!(not_web.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = start(dir.path()).await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    certs
        .create(&PostParams::default(), &certificate("before"))
        .await
        .unwrap();

    let mut stream = watcher(certs.clone(), watcher::Config::default()).boxed();
    // The initial list.
    let mut seen_before = false;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
    {
        match event.unwrap() {
            watcher::Event::InitApply(c) => {
                seen_before |= c.metadata.name.as_deref() == Some("before")
            }
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert!(seen_before);

    const N: usize = 40;
    let writer = {
        let certs = certs.clone();
        tokio::spawn(async move {
            for i in 0..N {
                let name = format!("c{i}");
                certs
                    .create(&PostParams::default(), &certificate(&name))
                    .await
                    .unwrap();
                certs
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"spec": {"secretName": format!("{name}-new")}})),
                    )
                    .await
                    .unwrap();
                if i % 2 == 0 {
                    certs.delete(&name, &DeleteParams::default()).await.unwrap();
                }
            }
        })
    };
    let mut applied = BTreeMap::new();
    let mut deleted = std::collections::BTreeSet::new();
    let expected_deleted = N / 2;
    let expected_updated = N - N / 2;
    loop {
        let done = deleted.len() == expected_deleted
            && applied
                .values()
                .filter(|s: &&String| s.ends_with("-new"))
                .count()
                >= expected_updated;
        if done {
            break;
        }
        let event = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("watcher stalled")
            .unwrap()
            .unwrap();
        match event {
            watcher::Event::Apply(c) => {
                let name = c.metadata.name.clone().unwrap();
                applied.insert(name, c.spec.secret_name.clone());
            }
            watcher::Event::Delete(c) => {
                let name = c.metadata.name.clone().unwrap();
                applied.remove(&name);
                deleted.insert(name);
            }
            _ => {}
        }
    }
    writer.await.unwrap();
    for i in 0..N {
        let name = format!("c{i}");
        if i % 2 == 0 {
            assert!(deleted.contains(&name), "{name} deletion not seen");
        } else {
            assert_eq!(
                applied.get(&name).map(String::as_str),
                Some(format!("{name}-new").as_str())
            );
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ReconcileError(#[from] kube::Error);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_rs_controller_reconciles_through_the_embedded_api() {
    use kube::runtime::controller::{Action, Controller};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = start(dir.path()).await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    for i in 0..10 {
        certs
            .create(&PostParams::default(), &certificate(&format!("r{i}")))
            .await
            .unwrap();
    }

    async fn reconcile(
        cert: Arc<Certificate>,
        api: Arc<Api<Certificate>>,
    ) -> Result<Action, ReconcileError> {
        let name = cert.metadata.name.clone().unwrap_or_default();
        let status = json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "status": {"conditions": [{"type": "Ready", "status": "False",
                       "reason": "DoesNotExist", "message": "Issuing certificate as Secret does not exist",
                       "observedGeneration": cert.metadata.generation}]}
        });
        api.patch_status(
            &name,
            &PatchParams::apply("reconciler").force(),
            &Patch::Apply(&status),
        )
        .await?;
        Ok(Action::await_change())
    }
    fn error_policy(_: Arc<Certificate>, _: &ReconcileError, _: Arc<Api<Certificate>>) -> Action {
        Action::requeue(Duration::from_millis(200))
    }

    let controller = Controller::new(certs.clone(), watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(certs.clone()))
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed = certs.list(&ListParams::default()).await.unwrap();
        let reconciled = listed
            .items
            .iter()
            .filter(|c| {
                c.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.reason.as_deref() == Some("DoesNotExist"))
                })
            })
            .count();
        if reconciled == 10 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {reconciled} of 10 reconciled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    handle.abort();
}
