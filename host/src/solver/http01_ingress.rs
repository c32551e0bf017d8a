//! HTTP-01 in a cluster: the ACME server fetches
//! `http://<name>/.well-known/acme-challenge/<token>` on port 80, which
//! reaches the cluster's ingress controller, not the controller pod. As
//! cert-manager's `http01.ingress` solver does, a Challenge gets a Service
//! (here selecting the certwasm controller pods, whose in-process responder
//! answers on the solver port, instead of a solver pod per challenge) and
//! an Ingress routing that one path to it; or, with `http01.ingress.name`,
//! the path is added to that existing Ingress and removed afterwards.
//!
//! This module only builds the objects (pure, unit-tested); the ACME
//! controller creates and deletes them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::Challenge;
use crate::api::acme::AcmeChallengeSolverHttp01Ingress;

/// cert-manager's label marking every solver object.
pub const SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";
/// cert-manager's label with the (adler32) hash of the challenge's name.
pub const DOMAIN_LABEL: &str = "acme.cert-manager.io/http-domain";
/// cert-manager's label with the (adler32) hash of the challenge's token.
pub const TOKEN_LABEL: &str = "acme.cert-manager.io/http-token";
/// The legacy ingress class annotation `http01.ingress.class` sets (it
/// takes precedence over `ingressClassName` in most controllers, which is
/// why cert-manager still writes it).
pub const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// The prefix of the generated objects' names, as cert-manager's.
pub const NAME_PREFIX: &str = "cm-acme-http-solver-";

/// Where the solver Service sends traffic, as the controller's flags say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressSolverOptions {
    /// Labels of the certwasm controller pods (the Service's selector).
    pub service_selector: BTreeMap<String, String>,
    /// The port the controller's HTTP-01 responder listens on.
    pub solver_port: u16,
}

/// The default selector: the label the Helm chart puts on the controller
/// pods.
pub const DEFAULT_SERVICE_SELECTOR: &str = "app.kubernetes.io/name=certwasm";

/// Why a solver object could not be built or a flag not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngressSolverError {
    /// `--http01-solver-service-selector` is not `key=value[,key=value]`.
    #[error("invalid service selector {0:?}: expected key=value[,key=value...]")]
    Selector(String),
    /// The Challenge carries no `http01.ingress` solver.
    #[error("challenge {0} has no http01.ingress solver")]
    NotIngress(String),
}

/// Parses `key=value[,key=value...]` (the selector flag).
pub fn parse_selector(text: &str) -> Result<BTreeMap<String, String>, IngressSolverError> {
    let invalid = || IngressSolverError::Selector(text.to_owned());
    let mut selector = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(invalid)?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(invalid());
        }
        selector.insert(key.to_owned(), value.to_owned());
    }
    if selector.is_empty() {
        return Err(invalid());
    }
    Ok(selector)
}

/// Adler-32 (RFC 1950), the checksum cert-manager labels solver objects
/// with, so that tools selecting them by these labels find ours too.
fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1_u32, 0_u32);
    for chunk in bytes.chunks(5_552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// The `http01.ingress` settings of a Challenge's solver, if it has them.
pub fn ingress_settings(challenge: &Challenge) -> Option<&AcmeChallengeSolverHttp01Ingress> {
    challenge.spec.solver.http01.as_ref()?.ingress.as_ref()
}

/// cert-manager's solver labels: marker, domain hash, token hash.
pub fn labels(challenge: &Challenge) -> BTreeMap<String, String> {
    BTreeMap::from([
        (SOLVER_LABEL.to_owned(), "true".to_owned()),
        (
            DOMAIN_LABEL.to_owned(),
            adler32(challenge.spec.dns_name.as_bytes()).to_string(),
        ),
        (
            TOKEN_LABEL.to_owned(),
            adler32(challenge.spec.token.as_bytes()).to_string(),
        ),
    ])
}

/// The name of a Challenge's Service and generated Ingress:
/// `cm-acme-http-solver-<5 chars>`, derived from the Challenge's name
/// rather than random (cert-manager uses generateName), so that a retried
/// create finds the object it made before instead of making another.
pub fn object_name(challenge_name: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash = challenge_name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut suffix = String::with_capacity(5);
    for _ in 0..5 {
        let index = usize::try_from(hash % ALPHABET.len() as u64).unwrap_or(0);
        suffix.push(char::from(ALPHABET[index]));
        hash /= ALPHABET.len() as u64;
    }
    format!("{NAME_PREFIX}{suffix}")
}

/// The path the ACME server fetches.
pub fn challenge_path(token: &str) -> String {
    format!("/.well-known/acme-challenge/{token}")
}

fn meta(challenge: &Challenge, owner: Option<OwnerReference>) -> ObjectMeta {
    ObjectMeta {
        name: Some(object_name(
            challenge.metadata.name.as_deref().unwrap_or_default(),
        )),
        namespace: challenge.metadata.namespace.clone(),
        labels: Some(labels(challenge)),
        owner_references: owner.map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// The solver Service: the controller pods' responder port, of the type
/// `http01.ingress.serviceType` asks for (ClusterIP by default; NodePort
/// for ingress controllers that need one), owned by the Challenge.
pub fn service(
    challenge: &Challenge,
    options: &IngressSolverOptions,
    owner: Option<OwnerReference>,
) -> Service {
    let service_type = ingress_settings(challenge)
        .and_then(|i| i.service_type.clone())
        .unwrap_or_else(|| "ClusterIP".to_owned());
    let port = i32::from(options.solver_port);
    Service {
        metadata: meta(challenge, owner),
        spec: Some(ServiceSpec {
            type_: Some(service_type),
            selector: Some(options.service_selector.clone()),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port,
                target_port: Some(IntOrString::Int(port)),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The rule routing the challenge path on the challenge's name to the
/// solver Service.
fn rule(challenge: &Challenge, service_name: &str, port: u16) -> IngressRule {
    IngressRule {
        host: Some(challenge.spec.dns_name.clone()),
        http: Some(HTTPIngressRuleValue {
            paths: vec![HTTPIngressPath {
                path: Some(challenge_path(&challenge.spec.token)),
                // What cert-manager uses: exact-match semantics vary by
                // controller, and some reject Exact with this path.
                path_type: "ImplementationSpecific".to_owned(),
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: service_name.to_owned(),
                        port: Some(ServiceBackendPort {
                            number: Some(i32::from(port)),
                            name: None,
                        }),
                    }),
                    resource: None,
                },
            }],
        }),
    }
}

/// The solver Ingress (no `http01.ingress.name`): one rule for the
/// challenge's name and path, the class from `ingressClassName` (the
/// field) or `class` (the annotation), `ingressTemplate` labels and
/// annotations merged over ours, owned by the Challenge.
pub fn ingress(
    challenge: &Challenge,
    options: &IngressSolverOptions,
    service_name: &str,
    owner: Option<OwnerReference>,
) -> Result<Ingress, IngressSolverError> {
    let name = challenge.metadata.name.clone().unwrap_or_default();
    let settings = ingress_settings(challenge).ok_or(IngressSolverError::NotIngress(name))?;
    let mut meta = meta(challenge, owner);
    // As cert-manager: nginx must not restrict who may fetch the token.
    let mut annotations = BTreeMap::from([(
        "nginx.ingress.kubernetes.io/whitelist-source-range".to_owned(),
        "0.0.0.0/0,::/0".to_owned(),
    )]);
    if let Some(class) = &settings.class {
        annotations.insert(INGRESS_CLASS_ANNOTATION.to_owned(), class.clone());
    }
    if let Some(template) = settings
        .ingress_template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
    {
        annotations.extend(template.annotations.clone());
        if let Some(labels) = meta.labels.as_mut() {
            labels.extend(template.labels.clone());
        }
    }
    meta.annotations = Some(annotations);
    Ok(Ingress {
        metadata: meta,
        spec: Some(IngressSpec {
            ingress_class_name: settings.ingress_class_name.clone(),
            rules: Some(vec![rule(challenge, service_name, options.solver_port)]),
            ..IngressSpec::default()
        }),
        status: None,
    })
}

/// `existing` (the Ingress `http01.ingress.name` names) with the
/// challenge's rule added; `None` when it routes the path already.
pub fn with_challenge_path(
    existing: &Ingress,
    challenge: &Challenge,
    options: &IngressSolverOptions,
    service_name: &str,
) -> Option<Ingress> {
    let path = challenge_path(&challenge.spec.token);
    let rules = existing
        .spec
        .as_ref()
        .and_then(|s| s.rules.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let present = rules.iter().any(|rule| {
        rule.host.as_deref() == Some(challenge.spec.dns_name.as_str())
            && rule
                .http
                .as_ref()
                .is_some_and(|http| http.paths.iter().any(|p| p.path.as_deref() == Some(&path)))
    });
    if present {
        return None;
    }
    let mut updated = existing.clone();
    let spec = updated.spec.get_or_insert_with(IngressSpec::default);
    spec.rules.get_or_insert_with(Vec::new).push(rule(
        challenge,
        service_name,
        options.solver_port,
    ));
    Some(updated)
}

/// `existing` without the paths that route to `service_name` (and without
/// rules left with no path); `None` when there were none.
pub fn without_solver_paths(existing: &Ingress, service_name: &str) -> Option<Ingress> {
    let routes_to_solver = |p: &HTTPIngressPath| {
        p.backend.service.as_ref().map(|s| s.name.as_str()) == Some(service_name)
    };
    let rules = existing.spec.as_ref()?.rules.as_ref()?;
    if !rules
        .iter()
        .filter_map(|r| r.http.as_ref())
        .any(|http| http.paths.iter().any(routes_to_solver))
    {
        return None;
    }
    let kept = rules
        .iter()
        .filter_map(|rule| {
            let Some(http) = &rule.http else {
                return Some(rule.clone());
            };
            let paths: Vec<HTTPIngressPath> = http
                .paths
                .iter()
                .filter(|p| !routes_to_solver(p))
                .cloned()
                .collect();
            (!paths.is_empty()).then(|| IngressRule {
                host: rule.host.clone(),
                http: Some(HTTPIngressRuleValue { paths }),
            })
        })
        .collect();
    let mut updated = existing.clone();
    if let Some(spec) = updated.spec.as_mut() {
        spec.rules = Some(kept);
    }
    Some(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(ingress: serde_json::Value) -> Challenge {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "acme.cert-manager.io/v1", "kind": "Challenge",
            "metadata": {"name": "web-1-2-3", "namespace": "apps", "uid": "u1"},
            "spec": {
                "url": "https://ca/chal/1", "authorizationURL": "https://ca/authz/1",
                "dnsName": "www.example.com", "type": "HTTP-01",
                "token": "tok123", "key": "tok123.thumb",
                "solver": {"http01": {"ingress": ingress}},
                "issuerRef": {"name": "le"}
            }
        }))
        .unwrap()
    }

    fn options() -> IngressSolverOptions {
        IngressSolverOptions {
            service_selector: parse_selector(DEFAULT_SERVICE_SELECTOR).unwrap(),
            solver_port: 8089,
        }
    }

    #[test]
    fn adler32_matches_known_values() {
        // zlib's adler32("Wikipedia") is 0x11E60398.
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
        // Long input: the modulo is taken often enough not to overflow.
        assert_eq!(adler32(&[0xff; 100_000]), 0x149a_302c);
    }

    #[test]
    fn selectors_parse_and_garbage_is_refused() {
        assert_eq!(
            parse_selector("app.kubernetes.io/name=certwasm, tier=ctl").unwrap(),
            BTreeMap::from([
                ("app.kubernetes.io/name".to_owned(), "certwasm".to_owned()),
                ("tier".to_owned(), "ctl".to_owned()),
            ])
        );
        for bad in ["", "novalue", "=x", ","] {
            assert!(parse_selector(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_are_stable_prefixed_and_valid() {
        let name = object_name("web-1-2-3");
        assert_eq!(name, object_name("web-1-2-3"));
        assert_ne!(name, object_name("web-1-2-4"));
        assert!(name.starts_with(NAME_PREFIX));
        assert_eq!(name.len(), NAME_PREFIX.len() + 5);
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }

    #[test]
    fn the_service_selects_the_controller_on_the_solver_port() {
        let ch = challenge(serde_json::json!({"serviceType": "NodePort"}));
        let owner = OwnerReference {
            name: "web-1-2-3".into(),
            uid: "u1".into(),
            ..OwnerReference::default()
        };
        let svc = service(&ch, &options(), Some(owner));
        assert_eq!(svc.metadata.name, Some(object_name("web-1-2-3")));
        assert_eq!(svc.metadata.namespace.as_deref(), Some("apps"));
        let labels = svc.metadata.labels.clone().unwrap();
        assert_eq!(labels[SOLVER_LABEL], "true");
        assert_eq!(
            labels[DOMAIN_LABEL],
            adler32(b"www.example.com").to_string()
        );
        assert_eq!(labels[TOKEN_LABEL], adler32(b"tok123").to_string());
        assert_eq!(svc.metadata.owner_references.unwrap()[0].uid, "u1");
        let spec = svc.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(spec.selector.unwrap()["app.kubernetes.io/name"], "certwasm");
        let port = &spec.ports.unwrap()[0];
        assert_eq!(
            (port.port, port.target_port.clone()),
            (8089, Some(IntOrString::Int(8089)))
        );
        let default = service(&challenge(serde_json::json!({})), &options(), None);
        assert_eq!(default.spec.unwrap().type_.as_deref(), Some("ClusterIP"));
    }

    #[test]
    fn the_ingress_routes_the_token_path_with_class_and_template() {
        let ch = challenge(serde_json::json!({
            "class": "nginx",
            "ingressTemplate": {"metadata": {"labels": {"team": "web"}, "annotations": {"a": "b"}}}
        }));
        let ing = ingress(&ch, &options(), "svc-1", None).unwrap();
        let annotations = ing.metadata.annotations.clone().unwrap();
        assert_eq!(annotations[INGRESS_CLASS_ANNOTATION], "nginx");
        assert_eq!(annotations["a"], "b");
        let labels = ing.metadata.labels.clone().unwrap();
        assert_eq!(
            (labels["team"].as_str(), labels[SOLVER_LABEL].as_str()),
            ("web", "true")
        );
        let spec = ing.spec.unwrap();
        assert_eq!(spec.ingress_class_name, None);
        let rule = &spec.rules.unwrap()[0];
        assert_eq!(rule.host.as_deref(), Some("www.example.com"));
        let path = &rule.http.as_ref().unwrap().paths[0];
        assert_eq!(
            path.path.as_deref(),
            Some("/.well-known/acme-challenge/tok123")
        );
        assert_eq!(path.path_type, "ImplementationSpecific");
        let backend = path.backend.service.as_ref().unwrap();
        assert_eq!(backend.name, "svc-1");
        assert_eq!(backend.port.as_ref().unwrap().number, Some(8089));

        let by_field = ingress(
            &challenge(serde_json::json!({"ingressClassName": "traefik"})),
            &options(),
            "svc-1",
            None,
        )
        .unwrap();
        assert_eq!(
            by_field.spec.unwrap().ingress_class_name.as_deref(),
            Some("traefik")
        );
        assert!(
            !by_field
                .metadata
                .annotations
                .unwrap()
                .contains_key(INGRESS_CLASS_ANNOTATION)
        );
        let mut no_ingress = ch.clone();
        no_ingress.spec.solver.http01 = None;
        assert!(ingress(&no_ingress, &options(), "svc-1", None).is_err());
    }

    #[test]
    fn edit_in_place_adds_the_path_once_and_removes_only_ours() {
        let existing: Ingress = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"rules": [{"host": "www.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"number": 80}}}}
            ]}}]}
        }))
        .unwrap();
        let ch = challenge(serde_json::json!({"name": "web"}));
        let added = with_challenge_path(&existing, &ch, &options(), "svc-1").unwrap();
        let rules = added.spec.as_ref().unwrap().rules.clone().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0],
            existing.spec.as_ref().unwrap().rules.as_ref().unwrap()[0]
        );
        // Adding again changes nothing.
        assert!(with_challenge_path(&added, &ch, &options(), "svc-1").is_none());
        // Clean-up restores the original; a second one has nothing to do.
        let removed = without_solver_paths(&added, "svc-1").unwrap();
        assert_eq!(removed, existing);
        assert!(without_solver_paths(&removed, "svc-1").is_none());
    }
}
