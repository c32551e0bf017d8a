//! One test per webhook rule: the rule fires, and its message names the
//! field with cert-manager's wording.

use serde_json::json;

use super::*;
use crate::api::certificate_request::CertificateRequestStatus;
use crate::api::issuer::ClusterIssuerSpec;
use crate::api::order::{AcmeAuthorization, AcmeChallenge, OrderSpec};

fn certificate(spec: serde_json::Value) -> Certificate {
    serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
    }))
    .expect("test certificate decodes")
}

/// A valid spec with `patch` merged over it (a `null` removes a field).
fn spec_with(patch: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({
        "secretName": "web-tls",
        "dnsNames": ["example.com"],
        "issuerRef": {"name": "ca"},
    });
    if let (Some(target), Some(patch)) = (spec.as_object_mut(), patch.as_object()) {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    spec
}

fn cert_errors(patch: serde_json::Value) -> Vec<String> {
    validate_certificate(&certificate(spec_with(patch)))
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn assert_has(errors: &[String], expected: &str) {
    assert!(
        errors.iter().any(|e| e == expected),
        "expected {expected:?} in {errors:#?}"
    );
}

fn assert_has_prefix(errors: &[String], prefix: &str) {
    assert!(
        errors.iter().any(|e| e.starts_with(prefix)),
        "expected an error starting {prefix:?} in {errors:#?}"
    );
}

#[test]
fn valid_certificate_has_no_errors() {
    assert_eq!(cert_errors(json!({})), Vec::<String>::new());
    let everything = cert_errors(json!({
        "commonName": "example.com",
        "duration": "2160h",
        "renewBefore": "360h",
        "ipAddresses": ["10.0.0.1", "::1"],
        "emailAddresses": ["ops@example.com"],
        "uris": ["spiffe://example/ns/a"],
        "otherNames": [{"oid": "1.3.6.1.4.1.311.20.2.3", "utf8Value": "upn@example"}],
        "privateKey": {"algorithm": "ECDSA", "size": 384},
        "signatureAlgorithm": "ECDSAWithSHA384",
        "revisionHistoryLimit": 2,
        "secretTemplate": {"labels": {"app.kubernetes.io/name": "web"}, "annotations": {"example.com/owner": "ops"}},
        "keystores": {"pkcs12": {"create": true, "passwordSecretRef": {"name": "p", "key": "k"}}},
        "additionalOutputFormats": [{"type": "DER"}, {"type": "CombinedPEM"}],
    }));
    assert_eq!(everything, Vec::<String>::new());
}

#[test]
fn secret_name_is_required_and_must_be_a_dns_name() {
    assert_has(
        &cert_errors(json!({"secretName": ""})),
        "spec.secretName: Required value: must be specified",
    );
    assert_has_prefix(
        &cert_errors(json!({"secretName": "Web_TLS"})),
        "spec.secretName: Invalid value: \"Web_TLS\": a lowercase RFC 1123 subdomain must consist of",
    );
}

#[test]
fn issuer_ref_name_is_required() {
    assert_has(
        &cert_errors(json!({"issuerRef": {"name": ""}})),
        "spec.issuerRef.name: Required value: must be specified",
    );
}

#[test]
fn the_group_hint_survives_defaulting() {
    let mut cert = certificate(spec_with(
        json!({"issuerRef": {"name": "ca", "kind": "AWSPCAClusterIssuer"}}),
    ));
    crate::api::defaults::set_certificate_defaults(&mut cert);
    let errors: Vec<String> = validate_certificate(&cert)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_has(
        &errors,
        "spec.issuerRef.kind: Invalid value: \"AWSPCAClusterIssuer\": must be one of Issuer or ClusterIssuer (did you forget to set spec.issuerRef.kind.group?)",
    );
}

#[test]
fn issuer_ref_kind_must_be_issuer_or_cluster_issuer() {
    assert_has(
        &cert_errors(json!({"issuerRef": {"name": "ca", "kind": "AWSPCAClusterIssuer"}})),
        "spec.issuerRef.kind: Invalid value: \"AWSPCAClusterIssuer\": must be one of Issuer or ClusterIssuer (did you forget to set spec.issuerRef.kind.group?)",
    );
    assert_has(
        &cert_errors(
            json!({"issuerRef": {"name": "ca", "kind": "Foo", "group": "cert-manager.io"}}),
        ),
        "spec.issuerRef.kind: Invalid value: \"Foo\": must be one of Issuer or ClusterIssuer",
    );
    assert_eq!(
        cert_errors(
            json!({"issuerRef": {"name": "pca", "kind": "AWSPCAClusterIssuer", "group": "awspca.cert-manager.io"}})
        ),
        Vec::<String>::new(),
        "external issuer kinds are not checked"
    );
}

#[test]
fn at_least_one_name_is_required() {
    assert_has(
        &cert_errors(json!({"dnsNames": null})),
        "spec: Invalid value: \"\": at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set",
    );
    assert_eq!(
        cert_errors(json!({"dnsNames": null, "commonName": "example.com"})),
        Vec::<String>::new()
    );
    assert_eq!(
        cert_errors(json!({"dnsNames": null, "literalSubject": "CN=example.com,O=Example"})),
        Vec::<String>::new()
    );
}

#[test]
fn common_name_is_at_most_64_bytes() {
    let long = "a".repeat(65);
    assert_has(
        &cert_errors(json!({"commonName": long})),
        "spec.commonName: Too long: may not be more than 64 bytes",
    );
}

#[test]
fn literal_subject_excludes_common_name_and_subject() {
    let errors = cert_errors(json!({
        "literalSubject": "CN=example.com",
        "commonName": "example.com",
        "subject": {"organizations": ["Example"]},
    }));
    assert_has(
        &errors,
        "spec.commonName: Invalid value: \"example.com\": When providing a `LiteralSubject` no `commonName` may be provided.",
    );
    assert_has_prefix(
        &errors,
        "spec.subject: Invalid value: {\"organizations\":[\"Example\"]}: When providing a `LiteralSubject` no `Subject` properties may be provided.",
    );
}

#[test]
fn literal_subject_must_parse_and_use_known_keys() {
    assert_has(
        &cert_errors(json!({"literalSubject": "CN=example.com,FOO=bar"})),
        "spec.literalSubject: Invalid value: \"CN=example.com,FOO=bar\": Literal subject contains unrecognized key with value [bar]",
    );
    assert_has_prefix(
        &cert_errors(json!({"literalSubject": "CN"})),
        "spec.literalSubject: Invalid value: \"CN\": ",
    );
    assert_eq!(
        cert_errors(json!({"literalSubject": "CN=a\\,b,1.2.3.4=x+OU=y"})),
        Vec::<String>::new()
    );
}

#[test]
fn ip_and_email_addresses_must_parse() {
    assert_has(
        &cert_errors(json!({"ipAddresses": ["10.0.0.1", "10.0.0.300"]})),
        "spec.ipAddresses[1]: Invalid value: \"10.0.0.300\": invalid IP address",
    );
    assert_has(
        &cert_errors(json!({"emailAddresses": ["not-an-email"]})),
        "spec.emailAddresses[0]: Invalid value: \"not-an-email\": invalid email address: mail: missing '@' or angle-addr",
    );
    assert_has(
        &cert_errors(json!({"emailAddresses": ["Ops <ops@example.com>"]})),
        "spec.emailAddresses[0]: Invalid value: \"Ops <ops@example.com>\": invalid email address: make sure the supplied value only contains the email address itself",
    );
}

#[test]
fn other_names_need_an_oid_and_a_value() {
    let errors = cert_errors(json!({"otherNames": [{"oid": "1.2.x"}, {"utf8Value": "v"}]}));
    assert_has(
        &errors,
        "spec.otherNames[0].oid: Invalid value: \"1.2.x\": invalid oid syntax",
    );
    assert_has(
        &errors,
        "spec.otherNames[0].utf8Value: Required value: must be set to a valid non-empty UTF8 string",
    );
    assert_has(
        &errors,
        "spec.otherNames[1].oid: Required value: must be specified",
    );
}

#[test]
fn rsa_key_size_is_2048_to_8192() {
    assert_has(
        &cert_errors(json!({"privateKey": {"algorithm": "RSA", "size": 1024}})),
        "spec.privateKey.size: Invalid value: 1024: must be between 2048 and 8192 for rsa keyAlgorithm",
    );
    assert_has(
        &cert_errors(json!({"privateKey": {"size": 16384}})),
        "spec.privateKey.size: Invalid value: 16384: must be between 2048 and 8192 for rsa keyAlgorithm",
    );
    assert_eq!(
        cert_errors(json!({"privateKey": {"algorithm": "RSA", "size": 4096}})),
        Vec::<String>::new()
    );
}

#[test]
fn ecdsa_key_size_is_a_supported_curve() {
    assert_has(
        &cert_errors(json!({"privateKey": {"algorithm": "ECDSA", "size": 512}})),
        "spec.privateKey.size: Unsupported value: 512: supported values: \"256\", \"384\", \"521\"",
    );
    assert_eq!(
        cert_errors(json!({"privateKey": {"algorithm": "ECDSA", "size": 521}})),
        Vec::<String>::new()
    );
    assert_eq!(
        cert_errors(json!({"privateKey": {"algorithm": "Ed25519", "size": 1}})),
        Vec::<String>::new()
    );
}

#[test]
fn signature_algorithm_must_fit_the_key() {
    assert_has(
        &cert_errors(json!({"signatureAlgorithm": "ECDSAWithSHA256"})),
        "spec.signatureAlgorithm: Invalid value: \"ECDSAWithSHA256\": for key algorithm RSA the allowed signature algorithms are [SHA256WithRSA SHA384WithRSA SHA512WithRSA]",
    );
}

#[test]
fn duration_is_at_least_an_hour() {
    assert_has(
        &cert_errors(json!({"duration": "30m"})),
        "spec.duration: Invalid value: \"30m\": certificate duration must be greater than 1h0m0s",
    );
    assert_has_prefix(
        &cert_errors(json!({"duration": "90d"})),
        "spec.duration: Invalid value: \"90d\": ",
    );
}

#[test]
fn renew_before_is_shorter_than_duration_and_at_least_five_minutes() {
    assert_has(
        &cert_errors(json!({"renewBefore": "2200h"})),
        "spec.renewBefore: Invalid value: \"2200h\": certificate duration 2160h0m0s must be greater than renewBefore 2200h0m0s",
    );
    assert_has(
        &cert_errors(json!({"duration": "24h", "renewBefore": "24h"})),
        "spec.renewBefore: Invalid value: \"24h\": certificate duration 24h0m0s must be greater than renewBefore 24h0m0s",
    );
    assert_has(
        &cert_errors(json!({"renewBefore": "1m"})),
        "spec.renewBefore: Invalid value: \"1m\": certificate renewBefore must be greater than 5m0s",
    );
}

#[test]
fn renew_before_and_percentage_are_exclusive() {
    let errors = cert_errors(json!({"renewBefore": "360h", "renewBeforePercentage": 20}));
    assert_has(
        &errors,
        "spec.renewBefore: Invalid value: \"360h\": renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set",
    );
    assert_has(
        &errors,
        "spec.renewBeforePercentage: Invalid value: 20: renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set",
    );
}

#[test]
fn renew_before_percentage_is_within_0_and_100() {
    assert_has(
        &cert_errors(json!({"duration": "2160h", "renewBeforePercentage": 100})),
        "spec.renewBeforePercentage: Invalid value: 100: certificate renewBeforePercentage must result in a renewBefore greater than 5m0s",
    );
    assert_has(
        &cert_errors(json!({"duration": "2160h", "renewBeforePercentage": 0})),
        "spec.renewBeforePercentage: Invalid value: 0: certificate renewBeforePercentage must result in a renewBefore less than duration",
    );
    // As cert-manager: with neither duration nor renewBefore set, the
    // percentage alone is not checked.
    for alone in [0, 100, 150] {
        assert_eq!(
            cert_errors(json!({"renewBeforePercentage": alone})),
            Vec::<String>::new(),
            "{alone}"
        );
    }
    assert_eq!(
        cert_errors(json!({"renewBeforePercentage": 33})),
        Vec::<String>::new()
    );
}

#[test]
fn revision_history_limit_is_at_least_one() {
    assert_has(
        &cert_errors(json!({"revisionHistoryLimit": 0})),
        "spec.revisionHistoryLimit: Invalid value: 0: must not be less than 1",
    );
}

#[test]
fn secret_template_labels_and_annotations_are_checked() {
    let errors = cert_errors(json!({"secretTemplate": {
        "labels": {"bad key!": "v", "ok": "bad value!"},
        "annotations": {"cert-manager.io/issuer-name": "x", "cert-manager.io/allow-direct-injection": "true"},
    }}));
    assert_has_prefix(
        &errors,
        "spec.secretTemplate.labels: Invalid value: \"bad key!\": name part must consist of",
    );
    assert_has(
        &errors,
        "spec.secretTemplate.labels: Invalid value: \"bad value!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    );
    assert_has(
        &errors,
        "spec.secretTemplate.annotations: Invalid value: \"cert-manager.io/issuer-name\": cert-manager.io/* annotations are not allowed",
    );
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn name_constraints_need_a_ca_and_valid_ranges() {
    let errors =
        cert_errors(json!({"nameConstraints": {"permitted": {"ipRanges": ["10.0.0.0/33"]}}}));
    assert_has_prefix(&errors, "spec.nameConstraints: Invalid value: ");
    assert!(
        errors
            .iter()
            .any(|e| e.ends_with("isCA should be true when nameConstraints is set"))
    );
    assert_has(
        &errors,
        "spec.nameConstraints.permitted.ipRanges[0]: Invalid value: \"10.0.0.0/33\": invalid CIDR address",
    );
    let empty = cert_errors(json!({"isCA": true, "nameConstraints": {"critical": true}}));
    assert!(
        empty
            .iter()
            .any(|e| e.ends_with("either permitted or excluded must be set")),
        "{empty:#?}"
    );
}

#[test]
fn output_formats_are_unique() {
    assert_has(
        &cert_errors(json!({"additionalOutputFormats": [{"type": "DER"}, {"type": "DER"}]})),
        "spec.additionalOutputFormats[type]: Duplicate value: \"DER\"",
    );
}

#[test]
fn keystores_need_exactly_one_password_source() {
    assert_has(
        &cert_errors(json!({"keystores": {"jks": {"create": true}}})),
        "spec.keystores.jks: Forbidden: must set exactly one of passwordSecretRef and password must for JKS keystores",
    );
    assert_has(
        &cert_errors(
            json!({"keystores": {"pkcs12": {"create": true, "password": "x", "passwordSecretRef": {"name": "s"}}}}),
        ),
        "spec.keystores.pkcs12: Forbidden: exactly one of passwordSecretRef and password must be provided for PKCS#12 keystores; cannot set both",
    );
    assert_has(
        &cert_errors(json!({"keystores": {"jks": {"create": true, "password": ""}}})),
        "spec.keystores.jks.password: Forbidden: literal password cannot be empty if set on JKS keystores",
    );
}

#[test]
fn renewal_policy_rules() {
    assert_has(
        &cert_errors(
            json!({"renewal": {"policy": "Disabled", "windows": [{"cron": "0 2 * * *", "windowDuration": "1h"}]}}),
        ),
        "spec.renewal.windows: Forbidden: windows cannot be set when `renewal.policy` is set to Disabled",
    );
    assert_has(
        &cert_errors(
            json!({"renewal": {"windows": [{"cron": "0 2 * * *", "windowDuration": "1h"}]}}),
        ),
        "spec.renewal.policy: Unsupported value: \"\": supported values: \"Disabled\", \"RenewBefore\"",
    );
    assert_has(
        &cert_errors(
            json!({"renewal": {"policy": "RenewBefore", "windows": [{"cron": "0 2 * * *"}]}}),
        ),
        "spec.renewal.windows[0].windowDuration: Required value: windowDuration must be specified and should be greater than 0",
    );
}

#[test]
fn errors_render_as_the_api_server_does() {
    let errors = validate_certificate(&certificate(spec_with(
        json!({"secretName": "", "duration": "30m"}),
    )));
    assert_eq!(
        invalid_message("Certificate", "cert-manager.io", "web", &errors),
        "Certificate.cert-manager.io \"web\" is invalid: [spec.secretName: Required value: must be specified, spec.duration: Invalid value: \"30m\": certificate duration must be greater than 1h0m0s]"
    );
    assert_eq!(errors[0].kind.reason(), "FieldValueRequired");
    assert_eq!(errors[0].path, "spec.secretName");
}

// ----------------------------------------------------------- issuers

fn issuer(spec: serde_json::Value) -> Issuer {
    serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "iss", "namespace": "default"},
        "spec": spec,
    }))
    .expect("test issuer decodes")
}

fn issuer_errors(spec: serde_json::Value) -> Vec<String> {
    validate_issuer(&issuer(spec))
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn acme(extra: serde_json::Value) -> serde_json::Value {
    let mut acme = json!({
        "server": "https://acme.example/directory",
        "privateKeySecretRef": {"name": "account"},
    });
    if let (Some(target), Some(extra)) = (acme.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            target.insert(k.clone(), v.clone());
        }
    }
    json!({"acme": acme})
}

#[test]
fn issuer_needs_exactly_one_type() {
    assert_has(
        &issuer_errors(json!({})),
        "spec: Required value: at least one issuer must be configured",
    );
    let both = issuer_errors(json!({"selfSigned": {}, "ca": {"secretName": "ca"}}));
    assert_has(
        &both,
        "spec.selfSigned: Forbidden: may not specify more than one issuer type",
    );
    assert_eq!(both.len(), 1);
    assert_has(
        &issuer_errors(json!({"ca": {"secretName": "ca"}, "plugin": {"name": "hsm"}})),
        "spec.plugin: Forbidden: may not specify more than one issuer type",
    );
    let cluster = ClusterIssuer::new("c", ClusterIssuerSpec(IssuerSpec::default()));
    assert_eq!(validate_cluster_issuer(&cluster).len(), 1);
}

#[test]
fn ca_issuer_needs_a_secret_name() {
    assert_has(
        &issuer_errors(json!({"ca": {"secretName": ""}})),
        "spec.ca.secretName: Required value",
    );
    assert_has(
        &issuer_errors(json!({"ca": {"secretName": "ca", "ocspServers": [""]}})),
        "spec.ca.ocspServer[0]: Invalid value: \"\": must be a valid URL, e.g., http://ocsp.int-x3.letsencrypt.org",
    );
}

#[test]
fn acme_issuer_needs_server_and_account_key() {
    let errors =
        issuer_errors(json!({"acme": {"server": "", "privateKeySecretRef": {"name": ""}}}));
    assert_has(
        &errors,
        "spec.acme.server: Required value: acme server URL is a required field",
    );
    assert_has(
        &errors,
        "spec.acme.privateKeySecretRef.name: Required value: private key secret name is a required field",
    );
}

#[test]
fn acme_ca_bundle_rules() {
    let errors = issuer_errors(acme(
        json!({"caBundle": "bm90IGEgY2VydA==", "skipTLSVerify": true}),
    ));
    assert_has(
        &errors,
        "spec.acme.caBundle: Invalid value: \"\": caBundle and skipTLSVerify are mutually exclusive and cannot both be set",
    );
    assert_has(
        &errors,
        "spec.acme.skipTLSVerify: Invalid value: true: caBundle and skipTLSVerify are mutually exclusive and cannot both be set",
    );
    assert_has(
        &errors,
        "spec.acme.caBundle: Invalid value: \"\": cert bundle didn't contain any valid certificates",
    );
}

#[test]
fn acme_external_account_binding_rules() {
    let errors = issuer_errors(acme(
        json!({"externalAccountBinding": {"keyID": "", "keySecretRef": {"name": "eab"}, "keyAlgorithm": "HS256"}}),
    ));
    assert_has(
        &errors,
        "spec.acme.externalAccountBinding.keyID: Required value: the keyID field is required when using externalAccountBinding",
    );
    assert_has(
        &errors,
        "spec.acme.externalAccountBinding.keySecretRef.key: Required value: secret key is required",
    );
    let with_algorithm = issuer(acme(
        json!({"externalAccountBinding": {"keyID": "k", "keySecretRef": {"name": "eab", "key": "k"}, "keyAlgorithm": "HS256"}}),
    ));
    assert_eq!(
        issuer_spec_warnings(&with_algorithm.spec),
        vec![DEPRECATED_EAB_KEY_ALGORITHM_WARNING.to_owned()]
    );
}

#[test]
fn acme_solver_rules() {
    let errors = issuer_errors(acme(json!({"solvers": [
        {},
        {"http01": {}},
        {"http01": {"ingress": {"class": "nginx", "ingressClassName": "nginx"}}, "dns01": {"webhook": {"groupName": "g", "solverName": "s"}}},
        {"http01": {"ingress": {"ingressClassName": "Not_Valid", "serviceType": "LoadBalancer"}}},
        {"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw"}]}}},
        {"dns01": {}},
        {"dns01": {"cnameStrategy": "None", "nameservers": ["8.8.8.8"], "cloudflare": {"apiKeySecretRef": {"name": "cf", "key": "k"}}}},
        {"dns01": {"rfc2136": {"nameserver": "2001:db8::1", "tsigAlgorithm": "HMACSHA3", "tsigKeyName": "k"}}},
        {"dns01": {"rfc2136": {"nameserver": "[2001:db8::1]:53", "tsigSecretSecretRef": {"name": "t", "key": "k"}}}},
        {"dns01": {"route53": {"region": "eu-west-1"}, "cloudflare": {"apiTokenSecretRef": {"name": "cf", "key": "k"}}}},
        {"dns01": {"webhook": {"groupName": "g", "solverName": ""}}},
    ]})));
    assert_has(
        &errors,
        "spec.acme.solvers[0]: Required value: no solver type configured",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[1].http01: Required value: no HTTP01 solver type configured",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[2]: Forbidden: may not specify more than one solver type in a single solver",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[2].http01.ingress: Forbidden: only one of 'ingressClassName', 'name' or 'class' should be specified",
    );
    assert_has_prefix(
        &errors,
        "spec.acme.solvers[3].http01.ingress.ingressClassName: Invalid value: \"Not_Valid\": must be a valid IngressClass name: a lowercase RFC 1123 subdomain",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[3].http01.ingress.serviceType: Invalid value: \"LoadBalancer\": must be empty, \"ClusterIP\" or \"NodePort\"",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[4].http01.gateway.parentRefs[0].kind: Required value: kind is required when name is specified",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[5].dns01: Required value: no DNS01 provider configured",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[6].dns01.nameservers[0]: Invalid value: \"8.8.8.8\": must be in the format <ip address>:<port>",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[6].dns01.cloudflare.email: Required value",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[7].dns01.rfc2136.nameserver: Invalid value: \"2001:db8::1\": nameserver must be set in the form host:port where host is an IPv4 address, an enclosed IPv6 address or a hostname and port is an optional port number.",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[7].dns01.rfc2136.tsigAlgorithm: Unsupported value: \"\": supported values: \"HMACMD5\", \"HMACSHA1\", \"HMACSHA256\", \"HMACSHA512\"",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[7].dns01.rfc2136.tsigSecretSecretRef.name: Required value: secret name is required",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[8].dns01.rfc2136.tsigKeyName: Required value",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[9].dns01.route53: Forbidden: may not specify more than one provider type",
    );
    assert_has(
        &errors,
        "spec.acme.solvers[10].dns01.webhook.solverName: Required value: solver name must be specified",
    );
    assert!(
        !errors
            .iter()
            .any(|e| e.starts_with("spec.acme.solvers[6].dns01.cnameStrategy"))
    );
}

#[test]
fn vault_issuer_rules() {
    let errors = issuer_errors(json!({"vault": {
        "server": "",
        "path": "pki/../sys",
        "caBundle": "bm90IGEgY2VydA==",
        "caBundleSecretRef": {"name": "ca", "key": "ca.crt"},
        "clientCertSecretRef": {"name": "c", "key": "tls.crt"},
        "auth": {},
    }}));
    assert_has(&errors, "spec.vault.server: Required value");
    assert_has(
        &errors,
        "spec.vault.path: Invalid value: \"pki/../sys\": must not contain '..' path segments",
    );
    assert_has(
        &errors,
        "spec.vault.caBundle: Invalid value: \"<snip>\": specified caBundle and caBundleSecretRef cannot be used together",
    );
    assert_has(
        &errors,
        "spec.vault.caBundleSecretRef: Invalid value: \"ca\": specified caBundleSecretRef and caBundle cannot be used together",
    );
    assert_has(
        &errors,
        "spec.vault.clientKeySecretRef: Invalid value: \"<snip>\": clientKeySecretRef must be provided when defining the clientCertSecretRef",
    );
    assert_has(
        &errors,
        "spec.vault.auth: Required value: please supply one of: appRole, kubernetes, tokenSecretRef, clientCertificate, aws",
    );
    let app_role = issuer_errors(
        json!({"vault": {"server": "https://v", "path": "pki/sign/x", "auth": {
            "appRole": {"path": "approle", "roleId": "", "secretRef": {"name": ""}},
            "kubernetes": {"role": ""},
        }}}),
    );
    assert_has(&app_role, "spec.vault.auth.appRole.roleId: Required value");
    assert_has(
        &app_role,
        "spec.vault.auth.appRole.secretRef.name: Required value",
    );
    assert_has(&app_role, "spec.vault.auth.kubernetes.role: Required value");
    assert_has(
        &app_role,
        "spec.vault.auth.kubernetes: Required value: please supply one of: secretRef, serviceAccountRef",
    );
    assert_has(
        &issuer_errors(
            json!({"vault": {"server": "https://v", "path": "", "auth": {"tokenSecretRef": {"name": "t"}}}}),
        ),
        "spec.vault.path: Required value",
    );
}

#[test]
fn venafi_issuer_rules() {
    assert_has(
        &issuer_errors(json!({"venafi": {"zone": ""}})),
        "spec.venafi.zone: Required value",
    );
    assert_has(
        &issuer_errors(json!({"venafi": {"zone": "z"}})),
        "spec.venafi: Required value: please supply one of: tpp, cloud, ngts",
    );
    assert_has(
        &issuer_errors(
            json!({"venafi": {"zone": "z", "tpp": {"url": "", "credentialsRef": {"name": "c"}}, "cloud": {"apiTokenSecretRef": {"name": "t"}}}}),
        ),
        "spec.venafi: Forbidden: please supply one of: tpp, cloud, ngts",
    );
    assert_has(
        &issuer_errors(
            json!({"venafi": {"zone": "z", "tpp": {"url": "", "credentialsRef": {"name": "c"}}}}),
        ),
        "spec.venafi.tpp.url: Required value",
    );
}

#[test]
fn plugin_issuer_rules() {
    assert_has(
        &issuer_errors(json!({"plugin": {"name": ""}})),
        "spec.plugin.name: Required value: plugin name must be specified",
    );
    assert_has(
        &issuer_errors(json!({"plugin": {"name": "hsm", "config": [1, 2]}})),
        "spec.plugin.config: Invalid value: [1,2]: must be a JSON object",
    );
}

// ------------------------------------------------- certificate requests

fn csr_pem(is_ca: bool) -> String {
    let key = crate::pki::PrivateKey::generate(crate::pki::KeyAlgorithm::EcdsaP256).expect("key");
    let spec = crate::pki::CsrSpec {
        common_name: Some("example.com".into()),
        dns_names: vec!["example.com".into()],
        is_ca,
        ..Default::default()
    };
    crate::pki::build_csr(&spec, &key).expect("csr")
}

fn request(spec: serde_json::Value) -> CertificateRequest {
    serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": spec,
    }))
    .expect("test request decodes")
}

fn request_errors(cr: &CertificateRequest) -> Vec<String> {
    validate_certificate_request(cr)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn certificate_request_needs_a_request() {
    let cr = request(json!({"request": "", "issuerRef": {"name": "ca"}}));
    assert_has(
        &request_errors(&cr),
        "spec.request: Required value: must be specified",
    );
}

#[test]
fn certificate_request_must_hold_a_valid_csr() {
    use base64::Engine as _;
    let garbage = base64::engine::general_purpose::STANDARD.encode("not a csr");
    let cr = request(json!({"request": garbage, "issuerRef": {"name": "ca"}}));
    assert_has_prefix(
        &request_errors(&cr),
        "spec.request: Invalid value: \"not a csr\": ",
    );
    let good = base64::engine::general_purpose::STANDARD.encode(csr_pem(false));
    let cr =
        request(json!({"request": good, "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}));
    assert_eq!(request_errors(&cr), Vec::<String>::new());
}

#[test]
fn certificate_request_approval_conditions_are_checked() {
    let mut cr = request(json!({"request": "eA==", "issuerRef": {"name": "ca"}}));
    let condition = |type_: &str, status: ConditionStatus| Condition {
        type_: type_.into(),
        status,
        last_transition_time: None,
        reason: Some("r".into()),
        message: None,
        observed_generation: None,
    };
    cr.status = Some(CertificateRequestStatus {
        conditions: vec![
            condition("Approved", ConditionStatus::False),
            condition("Denied", ConditionStatus::True),
        ],
        ..Default::default()
    });
    let errors = request_errors(&cr);
    assert_has(
        &errors,
        "status.conditions.Approved: Invalid value: \"False\": \"Approved\" condition may only be set to True",
    );
    assert_has(
        &errors,
        "status.conditions: Forbidden: both 'Denied' and 'Approved' conditions cannot coexist",
    );

    let old = request(json!({"request": "eA==", "issuerRef": {"name": "ca"}, "username": "alice"}));
    let mut new = old.clone();
    new.status = Some(CertificateRequestStatus {
        conditions: vec![condition("Approved", ConditionStatus::True)],
        ..Default::default()
    });
    assert_eq!(validate_certificate_request_update(&old, &new), Vec::new());
    let mut changed = new.clone();
    if let Some(status) = changed.status.as_mut() {
        status.conditions[0].reason = Some("other".into());
    }
    let errors: Vec<String> = validate_certificate_request_update(&new, &changed)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_has(
        &errors,
        "status.conditions: Forbidden: 'Approved' condition may not be modified once set",
    );
}

#[test]
fn certificate_request_spec_and_identity_are_immutable() {
    let old = request(json!({"request": "eA==", "issuerRef": {"name": "ca"}, "username": "alice"}));
    let mut new = old.clone();
    new.spec.username = Some("mallory".into());
    let errors: Vec<String> = validate_certificate_request_update(&old, &new)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_has(
        &errors,
        "spec: Forbidden: cannot change spec after creation",
    );
    assert_has(
        &errors,
        "spec.username: Forbidden: username identity cannot be changed once set",
    );

    let mut annotated = old.clone();
    annotated.metadata.annotations = Some(
        [(
            "cert-manager.io/certificate-revision".to_owned(),
            "1".to_owned(),
        )]
        .into_iter()
        .collect(),
    );
    let mut changed = annotated.clone();
    changed.metadata.annotations = Some(
        [(
            "cert-manager.io/certificate-revision".to_owned(),
            "2".to_owned(),
        )]
        .into_iter()
        .collect(),
    );
    let errors: Vec<String> = validate_certificate_request_update(&annotated, &changed)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_has(
        &errors,
        "metadata.annotations.cert-manager.io/certificate-revision: Forbidden: cannot change cert-manager annotation after creation",
    );
}

// ------------------------------------------------------- orders, challenges

#[test]
fn order_fields_are_immutable_once_set() {
    let spec = OrderSpec {
        request: crate::api::Base64Bytes(b"csr".to_vec()),
        issuer_ref: IssuerReference {
            name: "acme".into(),
            kind: None,
            group: None,
        },
        common_name: None,
        dns_names: vec!["example.com".into()],
        ip_addresses: Vec::new(),
        duration: None,
        profile: None,
        replaces: None,
    };
    let mut old = Order::new("o", spec);
    old.status = Some(OrderStatus {
        url: Some("https://acme/order/1".into()),
        authorizations: vec![AcmeAuthorization {
            url: "https://acme/authz/1".into(),
            challenges: vec![AcmeChallenge {
                url: "u".into(),
                token: "t".into(),
                type_: "http-01".into(),
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let mut new = old.clone();
    new.spec.request = crate::api::Base64Bytes(b"other".to_vec());
    if let Some(status) = new.status.as_mut() {
        status.url = Some("https://acme/order/2".into());
        status.authorizations[0].challenges[0].token = "t2".into();
        status.state = Some(crate::api::AcmeState::Ready);
    }
    let errors: Vec<String> = validate_order_update(&old, &new)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        vec![
            "spec.request: Forbidden: field is immutable once set",
            "status.url: Forbidden: field is immutable once set",
            "status.authorizations[0].challenges[0].token: Forbidden: field is immutable once set",
        ]
    );
}

#[test]
fn challenge_spec_is_immutable() {
    let challenge: Challenge = serde_json::from_value(json!({
        "metadata": {"name": "c"},
        "spec": {
            "url": "u", "authorizationURL": "a", "dnsName": "example.com", "wildcard": false,
            "type": "DNS-01", "token": "t", "key": "k", "solver": {"dns01": {"rfc2136": {"nameserver": "127.0.0.1"}}},
            "issuerRef": {"name": "acme"}
        }
    }))
    .expect("challenge");
    let mut changed = challenge.clone();
    changed.spec.key = "other".into();
    assert_eq!(
        validate_challenge_update(&challenge, &challenge),
        Vec::new()
    );
    assert_eq!(
        validate_challenge_update(&challenge, &changed)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["spec: Forbidden: challenge spec is immutable after creation"]
    );
}

#[test]
fn cron_schedules_read_as_robfig_cron_reads_them() {
    let window = |cron: &str| {
        cert_errors(
            json!({"renewal": {"policy": "RenewBefore", "windows": [{"cron": cron, "windowDuration": "1h"}]}}),
        )
    };
    for good in [
        "0 2 * * *",
        "CRON_TZ=UTC 0 2 * * *",
        "TZ=UTC 30 1 * * 1-5",
        "@daily",
        "CRON_TZ=UTC @weekly",
    ] {
        assert_eq!(window(good), Vec::<String>::new(), "{good}");
    }
    assert_has(
        &window("0 2 * *"),
        "spec.renewal.windows[0].cron: Invalid value: \"0 2 * *\": invalid cron syntax: expected exactly 5 fields, found 4: [0 2 * *]. cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow",
    );
    assert_has(
        &window("CRON_TZ=Not/AZone 0 2 * * *"),
        "spec.renewal.windows[0].cron: Invalid value: \"CRON_TZ=Not/AZone 0 2 * * *\": invalid cron syntax: provided bad location Not/AZone: unknown time zone Not/AZone. cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow",
    );
}
