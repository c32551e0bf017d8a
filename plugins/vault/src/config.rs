//! `spec.vault` of an Issuer, and the checks cert-manager's Vault issuer
//! makes before it talks to Vault (`pkg/issuer/vault/setup.go`), with its
//! messages, so that a misconfigured issuer reads the same in certwasm.

use serde::Deserialize;

/// cert-manager's key for a Vault token in a Secret, when `key` is unset.
pub const DEFAULT_TOKEN_KEY: &str = "token";
/// The key of the CA bundle in `caBundleSecretRef`, when unset.
pub const DEFAULT_CA_BUNDLE_KEY: &str = "ca.crt";
/// Where the AppRole backend is mounted, when `appRole.path` is empty.
pub const DEFAULT_APPROLE_PATH: &str = "approle";
/// Where the Kubernetes backend is mounted, when `kubernetes.mountPath` is
/// unset (cert-manager's `DefaultVaultKubernetesAuthMountPath`).
pub const DEFAULT_KUBERNETES_MOUNT_PATH: &str = "/v1/auth/kubernetes";
/// Where the TLS certificate backend is mounted, when
/// `clientCertificate.mountPath` is unset (cert-manager's
/// `DefaultVaultClientCertificateAuthMountPath`).
pub const DEFAULT_CLIENT_CERTIFICATE_MOUNT_PATH: &str = "/v1/auth/cert";
/// The data keys of a `kubernetes.io/tls` Secret.
pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_PRIVATE_KEY_KEY: &str = "tls.key";

/// `spec.vault`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultConfig {
    /// Vault's base URL, e.g. `https://vault.example.com:8200`.
    #[serde(default)]
    pub server: String,
    /// TLS server name to verify instead of the URL's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// The signing path, e.g. `pki_int/sign/example-dot-com`.
    #[serde(default)]
    pub path: String,
    /// Vault Enterprise / OpenBao namespace (`X-Vault-Namespace`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Base64 of a PEM bundle trusted for Vault's TLS certificate (as
    /// Kubernetes encodes `[]byte` in JSON).
    #[serde(default)]
    pub ca_bundle: Option<String>,
    /// A Secret entry holding that bundle.
    #[serde(default)]
    pub ca_bundle_secret_ref: Option<SecretKeyRef>,
    /// Client certificate for mutual TLS with Vault.
    #[serde(default)]
    pub client_cert_secret_ref: Option<SecretKeyRef>,
    /// Client key for mutual TLS with Vault.
    #[serde(default)]
    pub client_key_secret_ref: Option<SecretKeyRef>,
    /// How to log in.
    #[serde(default)]
    pub auth: AuthConfig,
}

/// A key of a Secret in the issuer's namespace.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: Option<String>,
}

impl SecretKeyRef {
    /// The key, or `default` when unset or empty (Go's `omitempty`).
    pub fn key_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or(default)
    }
}

/// `spec.vault.auth`: one login method.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthConfig {
    #[serde(default)]
    pub token_secret_ref: Option<SecretKeyRef>,
    #[serde(default)]
    pub app_role: Option<AppRoleConfig>,
    #[serde(default)]
    pub client_certificate: Option<ClientCertificateConfig>,
    #[serde(default)]
    pub kubernetes: Option<KubernetesConfig>,
    #[serde(default)]
    pub aws: Option<serde_json::Value>,
}

/// `auth.appRole`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleConfig {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub role_id: String,
    #[serde(default)]
    pub secret_ref: SecretKeyRef,
}

/// `auth.clientCertificate`: Vault's TLS certificate auth method.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientCertificateConfig {
    #[serde(default)]
    pub mount_path: Option<String>,
    /// The `kubernetes.io/tls` Secret with the certificate and key.
    #[serde(default)]
    pub secret_name: Option<String>,
    /// The certificate role; empty lets Vault match any role.
    #[serde(default)]
    pub name: Option<String>,
}

/// Where the TLS client certificate presented to Vault is kept: Secret and
/// data key of the certificate, then of the private key. The plugin only
/// names them; the host reads both and presents them (the key never
/// reaches the plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificateRef {
    pub certificate: SecretKeyRef,
    pub key: SecretKeyRef,
}

/// `auth.kubernetes`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesConfig {
    #[serde(default)]
    pub mount_path: Option<String>,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub secret_ref: Option<SecretKeyRef>,
    #[serde(default)]
    pub service_account_ref: Option<serde_json::Value>,
}

/// The login method an issuer uses, once its configuration is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A token read from a Secret and used as is.
    Token(SecretKeyRef),
    /// `POST /v1/auth/<path>/login` with a role ID and a secret ID.
    AppRole {
        path: String,
        role_id: String,
        secret: SecretKeyRef,
    },
    /// `POST <mountPath>/login` with a service account JWT from a Secret.
    Kubernetes {
        mount_path: String,
        role: String,
        secret: SecretKeyRef,
    },
    /// `POST <mountPath>/login` with the role name, over a connection on
    /// which the host presents the client certificate
    /// ([`VaultConfig::client_certificate`]).
    ClientCertificate { mount_path: String, name: String },
}

/// Why an issuer's `spec.vault` cannot be used as written. The messages are
/// cert-manager's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("Vault server and path are required fields")]
    ServerAndPathRequired,
    #[error("Vault tokenSecretRef, appRole, clientCertificate, kubernetes, or aws is required")]
    AuthRequired,
    #[error("Multiple auth methods cannot be set on the same Vault issuer")]
    MultipleAuth,
    #[error("Vault Token auth requires tokenSecretRef.name")]
    TokenNameRequired,
    #[error("Vault AppRole auth requires both roleId and tokenSecretRef.name")]
    AppRoleFieldsRequired,
    #[error("Vault AppRole auth requires secretRef.key")]
    AppRoleKeyRequired,
    #[error("Vault Kubernetes auth requires a role to be set")]
    KubernetesRoleRequired,
    #[error(
        "Vault Kubernetes auth requires either secretRef.name or serviceAccountRef.name to be set"
    )]
    KubernetesEitherRequired,
    #[error(
        "Vault Kubernetes auth cannot be used with both secretRef.name and serviceAccountRef.name"
    )]
    KubernetesSingleRequired,
    /// A cert-manager feature certwasm's host cannot serve yet (it needs an
    /// import the WIT contract does not have).
    #[error("{0} is not supported by certwasm yet")]
    Unsupported(&'static str),
    #[error("spec.vault.server: Invalid value: {0:?}: must be an http or https URL")]
    BadServer(String),
    #[error(
        "Vault Client Certificate auth requires secretName (or spec.vault.clientCertSecretRef and clientKeySecretRef)"
    )]
    ClientCertificateSecretRequired,
    #[error("Vault mutual TLS requires both clientCertSecretRef.name and clientKeySecretRef.name")]
    MutualTlsPairRequired,
    #[error(
        "a TLS client certificate (clientCertificate auth, mutual TLS) needs an https Vault server, not {0:?}"
    )]
    TlsNeedsHttps(String),
}

impl VaultConfig {
    /// The login method, after cert-manager's checks, in its order.
    pub fn auth(&self) -> Result<Auth, ConfigError> {
        if self.server.is_empty() || self.path.is_empty() {
            return Err(ConfigError::ServerAndPathRequired);
        }
        if !(self.server.starts_with("https://") || self.server.starts_with("http://")) {
            return Err(ConfigError::BadServer(self.server.clone()));
        }
        let auth = &self.auth;
        let count = [
            auth.token_secret_ref.is_some(),
            auth.app_role.is_some(),
            auth.client_certificate.is_some(),
            auth.kubernetes.is_some(),
            auth.aws.is_some(),
        ]
        .iter()
        .filter(|set| **set)
        .count();
        match count {
            0 => return Err(ConfigError::AuthRequired),
            1 => {}
            _ => return Err(ConfigError::MultipleAuth),
        }
        // Checked here so that a wrong pair fails whatever the auth method.
        self.client_certificate()?;
        if let Some(token) = &auth.token_secret_ref {
            if token.name.is_empty() {
                return Err(ConfigError::TokenNameRequired);
            }
            return Ok(Auth::Token(token.clone()));
        }
        if let Some(app_role) = &auth.app_role {
            if app_role.role_id.trim().is_empty() || app_role.secret_ref.name.is_empty() {
                return Err(ConfigError::AppRoleFieldsRequired);
            }
            if app_role
                .secret_ref
                .key
                .as_deref()
                .unwrap_or_default()
                .is_empty()
            {
                return Err(ConfigError::AppRoleKeyRequired);
            }
            let path = app_role.path.trim_matches('/');
            return Ok(Auth::AppRole {
                path: if path.is_empty() {
                    DEFAULT_APPROLE_PATH.to_owned()
                } else {
                    path.to_owned()
                },
                role_id: app_role.role_id.trim().to_owned(),
                secret: app_role.secret_ref.clone(),
            });
        }
        if let Some(kubernetes) = &auth.kubernetes {
            if kubernetes.role.is_empty() {
                return Err(ConfigError::KubernetesRoleRequired);
            }
            let secret = kubernetes.secret_ref.clone().filter(|s| !s.name.is_empty());
            return match (secret, &kubernetes.service_account_ref) {
                (None, None) => Err(ConfigError::KubernetesEitherRequired),
                (Some(_), Some(_)) => Err(ConfigError::KubernetesSingleRequired),
                (None, Some(_)) => Err(ConfigError::Unsupported(
                    "Vault Kubernetes auth with serviceAccountRef (a token request)",
                )),
                (Some(secret), None) => Ok(Auth::Kubernetes {
                    mount_path: kubernetes
                        .mount_path
                        .clone()
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| DEFAULT_KUBERNETES_MOUNT_PATH.to_owned()),
                    role: kubernetes.role.clone(),
                    secret,
                }),
            };
        }
        if let Some(certificate) = &auth.client_certificate {
            return Ok(Auth::ClientCertificate {
                mount_path: certificate
                    .mount_path
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| DEFAULT_CLIENT_CERTIFICATE_MOUNT_PATH.to_owned()),
                name: certificate.name.clone().unwrap_or_default(),
            });
        }
        Err(ConfigError::Unsupported("Vault AWS auth"))
    }

    /// The TLS client certificate to present on every request to Vault, as
    /// cert-manager's client does: `auth.clientCertificate.secretName`
    /// (`tls.crt` / `tls.key`), else the mutual TLS pair
    /// `clientCertSecretRef` / `clientKeySecretRef` (same default keys).
    pub fn client_certificate(&self) -> Result<Option<ClientCertificateRef>, ConfigError> {
        let from_auth = self
            .auth
            .client_certificate
            .as_ref()
            .and_then(|c| c.secret_name.clone())
            .filter(|name| !name.is_empty())
            .map(|name| ClientCertificateRef {
                certificate: SecretKeyRef {
                    name: name.clone(),
                    key: Some(TLS_CERT_KEY.to_owned()),
                },
                key: SecretKeyRef {
                    name,
                    key: Some(TLS_PRIVATE_KEY_KEY.to_owned()),
                },
            });
        let named = |r: &Option<SecretKeyRef>| r.clone().filter(|r| !r.name.is_empty());
        let pair = match (
            named(&self.client_cert_secret_ref),
            named(&self.client_key_secret_ref),
        ) {
            (None, None) => None,
            (Some(certificate), Some(key)) => Some(ClientCertificateRef {
                certificate: SecretKeyRef {
                    key: Some(certificate.key_or(TLS_CERT_KEY).to_owned()),
                    ..certificate
                },
                key: SecretKeyRef {
                    key: Some(key.key_or(TLS_PRIVATE_KEY_KEY).to_owned()),
                    ..key
                },
            }),
            _ => return Err(ConfigError::MutualTlsPairRequired),
        };
        let chosen = from_auth.or(pair);
        if self.auth.client_certificate.is_some() && chosen.is_none() {
            return Err(ConfigError::ClientCertificateSecretRequired);
        }
        if chosen.is_some() && !self.server.starts_with("https://") {
            return Err(ConfigError::TlsNeedsHttps(self.server.clone()));
        }
        Ok(chosen)
    }

    /// `spec.vault.serverName`, when set.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref().filter(|name| !name.is_empty())
    }
}
