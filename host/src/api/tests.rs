//! Round trips of realistic cert-manager manifests (the shapes cert-manager's
//! documentation shows): every manifest must parse, serialise back to the
//! very same JSON (no field dropped or renamed), and parse again to an equal
//! value.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;

/// Parses `yaml` as `T`, checks that serialising gives back the same JSON
/// document, and that parsing that again gives an equal value.
fn round_trip<T>(yaml: &str) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let original: serde_json::Value = serde_yaml::from_str(yaml).expect("manifest is YAML");
    let parsed: T = serde_yaml::from_str(yaml).expect("manifest parses into the type");
    let written = serde_json::to_value(&parsed).expect("serialises");
    assert_eq!(
        written, original,
        "serialising must give back the manifest unchanged"
    );
    let yaml_again = serde_yaml::to_string(&parsed).expect("serialises to YAML");
    let reparsed: T = serde_yaml::from_str(&yaml_again).expect("reparses");
    assert_eq!(reparsed, parsed);
    parsed
}

const CERTIFICATE_EVERY_FIELD: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: example-com
  namespace: sandbox
  labels:
    app: web
spec:
  secretName: example-com-tls
  secretTemplate:
    annotations:
      my-secret-annotation-1: "foo"
      my-secret-annotation-2: "bar"
    labels:
      my-secret-label: foo
  duration: 2160h
  renewBefore: 360h
  renewBeforePercentage: 25
  subject:
    organizations: [cert-manager]
    countries: [GB]
    organizationalUnits: [platform]
    localities: [London]
    provinces: [Greater London]
    streetAddresses: [1 Example Street]
    postalCodes: [EC1A 1AA]
    serialNumber: "1234"
  commonName: example.com
  literalSubject: ""
  isCA: true
  privateKey:
    algorithm: ECDSA
    encoding: PKCS8
    size: 384
    rotationPolicy: Never
  signatureAlgorithm: ECDSAWithSHA384
  encodeUsagesInRequest: false
  usages:
    - server auth
    - client auth
    - digital signature
    - s/mime
  dnsNames:
    - example.com
    - www.example.com
  uris:
    - spiffe://cluster.local/ns/sandbox/sa/example
  emailAddresses:
    - john.doe@cert-manager.io
  ipAddresses:
    - 192.168.0.5
    - "2001:db8::1"
  otherNames:
    - oid: 1.3.6.1.4.1.311.20.2.3
      utf8Value: upn@example.local
  keystores:
    jks:
      create: true
      alias: example
      passwordSecretRef:
        name: example-com-tls-keystore
        key: password
    pkcs12:
      create: true
      profile: Modern2023
      password: changeit
  additionalOutputFormats:
    - type: CombinedPEM
    - type: DER
  revisionHistoryLimit: 3
  nameConstraints:
    critical: true
    permitted:
      dnsDomains: [example.com]
      ipRanges: [10.0.0.0/8]
      emailAddresses: [example.com]
      uriDomains: [example.com]
    excluded:
      dnsDomains: [bad.example.com]
  issuerRef:
    name: ca-issuer
    kind: Issuer
    group: cert-manager.io
status:
  conditions:
    - type: Ready
      status: "True"
      reason: Ready
      message: Certificate is up to date and has not expired
      lastTransitionTime: "2024-05-01T10:00:00Z"
      observedGeneration: 2
    - type: Issuing
      status: "False"
      reason: Failed
  lastFailureTime: "2024-04-30T09:00:00Z"
  notBefore: "2024-05-01T10:00:00Z"
  notAfter: "2024-07-30T10:00:00Z"
  renewalTime: "2024-07-15T10:00:00Z"
  revision: 4
  nextPrivateKeySecretName: example-com-tls-abcde
  failedIssuanceAttempts: 1
"#;

#[test]
fn certificate_with_every_field_round_trips() {
    let cert: Certificate = round_trip(CERTIFICATE_EVERY_FIELD);
    assert_eq!(cert.spec.secret_name, "example-com-tls");
    assert_eq!(cert.spec.usages[3], KeyUsage::Smime);
    assert_eq!(
        cert.spec.private_key.as_ref().and_then(|k| k.algorithm),
        Some(PrivateKeyAlgorithm::Ecdsa)
    );
    assert!(cert.spec.is_ca);
    assert_eq!(
        cert.spec.encode_usages_in_request,
        Some(false),
        "explicit false is kept"
    );
    assert!(cert.is_ready());
    let status = cert.status.expect("status");
    assert_eq!(status.revision, Some(4));
    assert_eq!(status.conditions[0].observed_generation, Some(2));
}

#[test]
fn certificate_from_the_quick_start_round_trips() {
    let cert: Certificate = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: my-selfsigned-ca
  namespace: cert-manager
spec:
  isCA: true
  commonName: my-selfsigned-ca
  secretName: root-secret
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    name: selfsigned-issuer
    kind: ClusterIssuer
    group: cert-manager.io
"#,
    );
    assert!(cert.spec.issuer_ref.is_cluster_issuer());
    assert!(validation::validate_certificate(&cert).is_empty());
}

const ACME_ISSUER: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: letsencrypt-staging
  namespace: default
spec:
  acme:
    server: https://acme-staging-v02.api.letsencrypt.org/directory
    email: user@example.com
    preferredChain: "ISRG Root X1"
    profile: tlsserver
    privateKeySecretRef:
      name: letsencrypt-staging
    externalAccountBinding:
      keyID: my-kid
      keySecretRef:
        name: eab-secret
        key: secret
    solvers:
    - selector:
        dnsZones:
          - "example.com"
        dnsNames:
          - "www.example.com"
        matchLabels:
          use-rfc2136: "true"
      dns01:
        cnameStrategy: Follow
        rfc2136:
          nameserver: 1.2.3.4:53
          tsigKeyName: example-com-secret
          tsigAlgorithm: HMACSHA512
          tsigSecretSecretRef:
            name: tsig-secret
            key: tsig-secret-key
    - http01:
        ingress:
          ingressClassName: nginx
          serviceType: ClusterIP
          podTemplate:
            metadata:
              labels:
                foo: bar
              annotations:
                env: prod
            spec:
              nodeSelector:
                kubernetes.io/os: linux
              priorityClassName: high
              serviceAccountName: solver
              tolerations:
                - key: node-role.kubernetes.io/control-plane
                  operator: Exists
                  effect: NoSchedule
              imagePullSecrets:
                - name: regcred
              securityContext:
                runAsNonRoot: true
                runAsUser: 1000
                fsGroup: 2000
                seccompProfile:
                  type: RuntimeDefault
              resources:
                limits:
                  cpu: 100m
                  memory: 64Mi
                requests:
                  cpu: 10m
                  memory: 32Mi
              affinity:
                nodeAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    nodeSelectorTerms:
                      - matchExpressions:
                          - key: kubernetes.io/arch
                            operator: In
                            values: [amd64]
          ingressTemplate:
            metadata:
              annotations:
                nginx.ingress.kubernetes.io/whitelist-source-range: "0.0.0.0/0"
    - http01:
        gatewayHTTPRoute:
          serviceType: NodePort
          labels:
            gateway: public
          parentRefs:
            - name: public-gateway
              namespace: gateways
              kind: Gateway
              group: gateway.networking.k8s.io
              sectionName: http
              port: 80
    - dns01:
        webhook:
          groupName: acme.example.com
          solverName: my-dns
          config:
            apiUrl: https://dns.example.com
            ttl: 60
            zones: [example.com, example.org]
            nested:
              enabled: true
    - dns01:
        cloudflare:
          email: admin@example.com
          apiTokenSecretRef:
            name: cloudflare-api-token
            key: api-token
    - dns01:
        route53:
          region: eu-west-1
          accessKeyIDSecretRef:
            name: route53
            key: access-key-id
          secretAccessKeySecretRef:
            name: route53
            key: secret-access-key
          hostedZoneID: Z2ABCDEF
    - dns01:
        acmeDNS:
          host: https://acme-dns.example.com
          accountSecretRef:
            name: acme-dns
            key: acmedns.json
status:
  acme:
    uri: https://acme-staging-v02.api.letsencrypt.org/acme/acct/123
    lastRegisteredEmail: user@example.com
    lastPrivateKeyHash: abc123=
  conditions:
    - type: Ready
      status: "True"
      reason: ACMEAccountRegistered
      message: The ACME account was registered with the ACME server
      lastTransitionTime: "2024-05-01T10:00:00Z"
"#;

#[test]
fn acme_issuer_with_solvers_round_trips() {
    let issuer: Issuer = round_trip(ACME_ISSUER);
    assert_eq!(issuer.spec.issuer_type(), Some(IssuerType::Acme));
    let acme = issuer.spec.acme.as_ref().expect("acme");
    assert_eq!(acme.solvers.len(), 7);
    let rfc2136 = acme.solvers[0]
        .dns01
        .as_ref()
        .and_then(|d| d.rfc2136.as_ref())
        .expect("rfc2136");
    assert_eq!(rfc2136.nameserver, "1.2.3.4:53");
    let webhook = acme.solvers[3]
        .dns01
        .as_ref()
        .and_then(|d| d.webhook.as_ref())
        .expect("webhook");
    assert_eq!(
        webhook
            .config
            .as_ref()
            .map(|c| c["nested"]["enabled"].clone()),
        Some(serde_json::json!(true))
    );
    assert!(issuer.status.as_ref().is_some_and(IssuerStatus::is_ready));
    assert!(
        validation::validate_issuer(&issuer).is_empty(),
        "{:?}",
        validation::validate_issuer(&issuer)
    );
    assert_eq!(
        validation::issuer_spec_warnings(&issuer.spec),
        Vec::<String>::new()
    );
}

#[test]
fn vault_issuer_with_app_role_round_trips() {
    let issuer: Issuer = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: vault-issuer
  namespace: sandbox
spec:
  vault:
    path: pki_int/sign/example-dot-com
    server: https://vault.local
    namespace: team-a
    serverName: vault.internal
    caBundleSecretRef:
      name: vault-ca
      key: ca.crt
    auth:
      appRole:
        path: approle
        roleId: "291b9d21-8ff5-f5d4-4a2a-1f3d5b6e7f80"
        secretRef:
          name: cert-manager-vault-approle
          key: secretId
"#,
    );
    let vault = issuer.spec.vault.as_ref().expect("vault");
    assert_eq!(
        vault.auth.app_role.as_ref().map(|a| a.role_id.as_str()),
        Some("291b9d21-8ff5-f5d4-4a2a-1f3d5b6e7f80")
    );
    assert!(validation::validate_issuer(&issuer).is_empty());
}

#[test]
fn vault_issuer_with_other_auth_methods_round_trips() {
    let issuer: Issuer = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: vault-k8s
spec:
  vault:
    path: pki/sign/example
    server: https://vault.local:8200
    caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    clientCertSecretRef:
      name: vault-client
      key: tls.crt
    clientKeySecretRef:
      name: vault-client
      key: tls.key
    auth:
      tokenSecretRef:
        name: vault-token
        key: token
      clientCertificate:
        mountPath: /v1/auth/cert
        name: my-role
        secretName: vault-client-cert
      kubernetes:
        mountPath: /v1/auth/kubernetes
        role: my-app
        serviceAccountRef:
          name: vault-issuer
          audiences: [vault://vault-k8s]
      aws:
        mountPath: /v1/auth/aws
        role: my-role
        region: eu-west-1
        iamRoleArn: arn:aws:iam::123456789012:role/vault
        serviceAccountRef:
          name: vault-aws
"#,
    );
    let vault = issuer.spec.vault.expect("vault");
    assert_eq!(
        vault.ca_bundle.map(|b| b.0),
        Some(b"-----BEGIN CERTIFICATE-----\n".to_vec())
    );
}

#[test]
fn ca_cluster_issuer_round_trips() {
    let issuer: ClusterIssuer = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: ca-issuer
spec:
  ca:
    secretName: ca-key-pair
    crlDistributionPoints: ["http://crl.example.com/ca.crl"]
    ocspServers: ["http://ocsp.example.com"]
    issuingCertificateURLs: ["http://ca.example.com/ca.crt"]
status:
  conditions:
    - type: Ready
      status: "True"
      reason: KeyPairVerified
      message: Signing CA verified
      observedGeneration: 1
"#,
    );
    assert_eq!(
        issuer.spec.ca.as_ref().map(|ca| ca.secret_name.as_str()),
        Some("ca-key-pair")
    );
    assert_eq!(issuer.spec.issuer_type(), Some(IssuerType::Ca));
    assert!(validation::validate_cluster_issuer(&issuer).is_empty());
}

#[test]
fn self_signed_venafi_and_plugin_issuers_round_trip() {
    let self_signed: ClusterIssuer = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned-issuer
spec:
  selfSigned: {}
"#,
    );
    assert_eq!(self_signed.spec.issuer_type(), Some(IssuerType::SelfSigned));
    let venafi: Issuer = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: venafi
spec:
  venafi:
    zone: "DevOps\\cert-manager"
    tpp:
      url: https://tpp.example.com/vedsdk
      credentialsRef:
        name: tpp-secret
      caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
"#,
    );
    assert!(validation::validate_issuer(&venafi).is_empty());
    let cloud: Issuer = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: venafi-cloud
spec:
  venafi:
    zone: my-app\enterprise
    cloud:
      apiTokenSecretRef:
        name: vaas-secret
        key: apikey
"#,
    );
    assert!(cloud.spec.venafi.is_some());
    let plugin: Issuer = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: hsm
spec:
  plugin:
    name: example-hsm
    config:
      endpoint: https://hsm.example.com
      slots: [1, 2]
      tls: {insecure: false}
"#,
    );
    assert_eq!(plugin.spec.issuer_type(), Some(IssuerType::Plugin));
    assert!(validation::validate_issuer(&plugin).is_empty());
}

#[test]
fn certificate_request_round_trips() {
    let request: CertificateRequest = round_trip(
        r#"
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: example-com-1
  namespace: sandbox
  annotations:
    cert-manager.io/certificate-name: example-com
    cert-manager.io/certificate-revision: "1"
    cert-manager.io/private-key-secret-name: example-com-tls-abcde
spec:
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K
  duration: 2160h
  isCA: true
  usages: [digital signature, key encipherment, server auth]
  issuerRef:
    name: ca-issuer
    kind: Issuer
    group: cert-manager.io
  username: system:serviceaccount:cert-manager:cert-manager
  uid: 0b6a1a4a-5a2f-4c1e-9a35-2f7a3c7c9a10
  groups: [system:serviceaccounts, system:authenticated]
  extra:
    scopes: [openid]
status:
  conditions:
    - type: Approved
      status: "True"
      reason: cert-manager.io
      message: Certificate request has been approved by cert-manager.io
      lastTransitionTime: "2024-05-01T10:00:00Z"
    - type: Ready
      status: "True"
      reason: Issued
      message: Certificate fetched from issuer successfully
  certificate: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
  ca: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
"#,
    );
    assert_eq!(
        request.spec.request.0,
        b"-----BEGIN CERTIFICATE REQUEST-----\n".to_vec()
    );
    assert!(request.is_approved());
    assert!(!request.is_denied());
}

#[test]
fn order_and_challenge_round_trip() {
    let order: Order = round_trip(
        r#"
apiVersion: acme.cert-manager.io/v1
kind: Order
metadata:
  name: example-com-1-1234567890
  namespace: sandbox
spec:
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K
  issuerRef:
    name: letsencrypt-staging
    kind: Issuer
    group: cert-manager.io
  commonName: example.com
  dnsNames: [example.com, "*.example.com"]
  ipAddresses: [192.0.2.1]
  duration: 2160h
  profile: shortlived
status:
  url: https://acme.example/order/1
  finalizeURL: https://acme.example/order/1/finalize
  state: pending
  reason: ""
  failureTime: "2024-05-01T10:00:00Z"
  certificate: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
  authorizations:
    - url: https://acme.example/authz/1
      identifier: example.com
      wildcard: false
      initialState: pending
      challenges:
        - url: https://acme.example/chall/1
          type: http-01
          token: tok1
        - url: https://acme.example/chall/2
          type: dns-01
          token: tok2
"#,
    );
    assert_eq!(
        order.status.as_ref().and_then(|s| s.state),
        Some(AcmeState::Pending)
    );
    let challenge: Challenge = round_trip(
        r#"
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata:
  name: example-com-1-1234567890-1
  namespace: sandbox
spec:
  url: https://acme.example/chall/1
  authorizationURL: https://acme.example/authz/1
  dnsName: example.com
  wildcard: false
  type: HTTP-01
  token: tok1
  key: tok1.thumbprint
  solver:
    http01:
      ingress:
        class: nginx
  issuerRef:
    name: letsencrypt-staging
    kind: Issuer
    group: cert-manager.io
status:
  processing: true
  presented: true
  presentedAt: "2024-05-01T10:00:00Z"
  reason: "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'"
  state: pending
"#,
    );
    assert_eq!(challenge.spec.type_, AcmeChallengeType::Http01);
    assert!(challenge.status.as_ref().is_some_and(|s| s.processing));
}

#[test]
fn unknown_enum_value_is_refused_with_the_field_named() {
    let manifest: serde_json::Value = serde_yaml::from_str(
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: bad}
spec:
  secretName: bad
  dnsNames: [example.com]
  issuerRef: {name: ca}
  privateKey: {algorithm: DSA}
"#,
    )
    .expect("yaml");
    let err = decode::<Certificate>(manifest).expect_err("DSA is not an algorithm");
    assert_eq!(
        err.to_string(),
        r#"spec.privateKey.algorithm: Unsupported value: "DSA": supported values: "RSA", "ECDSA", "Ed25519""#
    );
}

#[test]
fn missing_required_field_is_refused_with_the_field_named() {
    let manifest = serde_json::json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "bad"},
        "spec": {"dnsNames": ["example.com"], "issuerRef": {"name": "ca"}}
    });
    let err = decode::<Certificate>(manifest).expect_err("secretName is required");
    assert_eq!(err.to_string(), "spec.secretName: Required value");
    let usage = serde_json::json!({
        "metadata": {"name": "bad"},
        "spec": {"secretName": "x", "issuerRef": {"name": "ca"}, "usages": ["server auth", "serverAuth"]}
    });
    let err = decode::<Certificate>(usage).expect_err("serverAuth is not a usage");
    assert!(err.to_string().starts_with(
        r#"spec.usages[1]: Unsupported value: "serverAuth": supported values: "signing""#
    ));
}

#[test]
fn cluster_issuer_spec_reads_like_an_issuer_spec() {
    let issuer = ClusterIssuer::new(
        "ca",
        IssuerSpec {
            ca: Some(issuer::CaIssuer {
                secret_name: "ca".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
        .into(),
    );
    assert_eq!(
        issuer.spec.ca.as_ref().map(|c| c.secret_name.as_str()),
        Some("ca")
    );
    let json = serde_json::to_value(&issuer).expect("json");
    assert_eq!(
        json["spec"],
        serde_json::json!({"ca": {"secretName": "ca"}})
    );
    assert_eq!(json["apiVersion"], "cert-manager.io/v1");
    assert_eq!(json["kind"], "ClusterIssuer");
}
