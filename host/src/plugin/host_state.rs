//! The per-call store data and the host imports a plugin is granted.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::v0_4::certwasm::issuer::{
    cache, clock, http, issuer_status, log, orders, secrets, signer, types,
};
use super::convert;
use super::egress::EgressPolicy;
use super::grants::Grants;
use super::guest_output::GuestOutput;
use super::issuer_cache::{CacheScope, IssuerCache};
use super::keyring::{KeyRing, secret_key_handle};
use super::outbound::{ClientIdentity, Outbound, OutboundRequest};
use super::secrets::{SecretStore, redact};
use crate::clock::Clock;
use crate::pki::{KeyEncoding, PrivateKey};
use types::HostError;

/// Log lines one call may write before the rest are dropped.
const MAX_LOG_LINES: u32 = 200;
/// Longest log line kept.
const MAX_LOG_LINE: usize = 4096;
/// Largest data `signer.sign` accepts (a TBSCertificate or a JWS input).
const MAX_SIGN_INPUT: usize = 1 << 20;

/// Everything a call's imports act on.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) call: CallContext,
}

impl HostState {
    pub(crate) fn new(call: CallContext, memory_bytes: usize, output: &GuestOutput) -> Self {
        // Nothing is granted: no preopened directories, no environment, no
        // arguments, no sockets, no name lookups. Clocks and randomness stay
        // (std needs them, and a CA needs random serials). What the plugin
        // prints is kept for the host's log.
        let wasi = WasiCtx::builder()
            .stdout(output.stdout.clone())
            .stderr(output.stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: memory_bytes,
                exceeded: false,
                peak: 0,
            },
            call,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps a call's linear memory. Growing past the cap traps (rather than
/// returning -1, which a Rust plugin would turn into an abort with a less
/// useful message) and is remembered so the error can say why.
pub(crate) struct MemoryLimiter {
    limit: usize,
    pub(crate) exceeded: bool,
    /// The largest size any memory of the call grew to, for [`CallStats`].
    ///
    /// [`CallStats`]: super::CallStats
    pub(crate) peak: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} MiB exceeded (wanted {} MiB)",
                self.limit >> 20,
                desired >> 20
            ));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// What one call may do, and the effects it acts through.
pub(crate) struct CallContext {
    /// The plugin as its `info()` names it, for log lines.
    pub(crate) plugin: String,
    /// The name the host knows it by (the bundle entry whose grants apply),
    /// for refusals an operator fixes in the bundle.
    pub(crate) entry: String,
    /// What the call is for, e.g. `CertificateRequest default/web-1`.
    pub(crate) subject: String,
    /// Namespace the issuer's Secrets live in.
    pub(crate) namespace: String,
    pub(crate) allowed_secrets: BTreeSet<String>,
    pub(crate) egress: EgressPolicy,
    pub(crate) keys: KeyRing,
    pub(crate) parsed_keys: Arc<super::keyring::ParsedKeyCache>,
    /// The `cache` import's memory, and the part of it this call sees.
    pub(crate) cache: Arc<IssuerCache>,
    pub(crate) cache_scope: CacheScope,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) outbound: Arc<dyn Outbound>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) deadline: Instant,
    /// What the plugin reported through `issuer-status` and `orders`.
    pub(crate) reports: StatusReports,
    /// What `orders.presented` answers: the tokens the host presented
    /// since the last call.
    pub(crate) presented: Vec<String>,
    log_lines: u32,
    pub(crate) grants: Arc<Grants>,
}

/// What a call reported through the `issuer-status` and `orders` imports.
///
/// The contract honours an account report only during `validate` and an
/// order report only during `issue`, so reports are refused until the
/// runtime [opens](Self::open) them for one of the two; the runtime takes
/// them out when the call returns.
#[derive(Debug, Default)]
pub(crate) struct StatusReports {
    open_for: Option<ReportingCall>,
    acme_account: Option<issuer_status::AcmeAccount>,
    order: Option<orders::Order>,
}

/// The export whose reports a call accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportingCall {
    Validate,
    Issue,
}

impl StatusReports {
    /// Accepts the reports `call` may make from now on.
    pub(crate) fn open(&mut self, call: ReportingCall) {
        self.open_for = Some(call);
    }

    /// The last ACME account reported, if any.
    pub(crate) fn take_acme_account(&mut self) -> Option<issuer_status::AcmeAccount> {
        self.acme_account.take()
    }

    /// The last order reported, if any.
    pub(crate) fn take_order(&mut self) -> Option<orders::Order> {
        self.order.take()
    }

    fn accepts(&self, call: ReportingCall) -> bool {
        self.open_for == Some(call)
    }
}

impl CallContext {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        plugin: String,
        entry: String,
        subject: String,
        namespace: String,
        allowed_secrets: BTreeSet<String>,
        egress: EgressPolicy,
        keys: KeyRing,
        parsed_keys: Arc<super::keyring::ParsedKeyCache>,
        cache: Arc<IssuerCache>,
        cache_scope: CacheScope,
        effects: &super::CallEffects,
        deadline: Instant,
        grants: Arc<Grants>,
    ) -> Self {
        Self {
            plugin,
            entry,
            subject,
            namespace,
            allowed_secrets,
            egress,
            keys,
            parsed_keys,
            cache,
            cache_scope,
            secrets: effects.secrets.clone(),
            outbound: effects.outbound.clone(),
            clock: effects.clock.clone(),
            deadline,
            reports: StatusReports::default(),
            presented: Vec::new(),
            log_lines: 0,
            grants,
        }
    }

    /// Refuses Secrets the issuer config does not reference, and says so in
    /// the host's log: a plugin probing for other Secrets is worth noticing.
    fn check_secret(&self, name: &str) -> Result<(), HostError> {
        self.grants
            .may_read_secrets(&self.entry)
            .map_err(|e| HostError::Denied(e.to_string()))?;
        if self.allowed_secrets.contains(name) {
            return Ok(());
        }
        tracing::warn!(
            plugin = %self.plugin,
            subject = %self.subject,
            secret = name,
            "plugin asked for a Secret its issuer does not reference"
        );
        let allowed = if self.allowed_secrets.is_empty() {
            "none".to_owned()
        } else {
            self.allowed_secrets
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(HostError::Denied(format!(
            "Secret {:?} is not referenced by the issuer configuration (referenced: {allowed})",
            name
        )))
    }

    fn remaining(&self) -> Result<Duration, HostError> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| HostError::Unavailable("the call's deadline has passed".to_owned()))
    }

    /// Reads a Secret the issuer references; a store failure is passing.
    fn read_secret(&self, name: &str) -> Result<Option<super::secrets::SecretData>, HostError> {
        self.check_secret(name)?;
        self.secrets
            .get(&self.namespace, name)
            .map_err(HostError::Unavailable)
    }
}

impl types::Host for HostState {}

impl signer::Host for HostState {
    fn sign(
        &mut self,
        key: String,
        algorithm: types::SignatureAlgorithm,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, HostError> {
        if data.len() > MAX_SIGN_INPUT {
            return Err(HostError::Invalid(format!(
                "refusing to sign {} bytes (at most {MAX_SIGN_INPUT})",
                data.len()
            )));
        }
        let key = self.call.keys.get(&key).map_err(HostError::NotFound)?;
        key.sign(algorithm.into(), &data)
            .map_err(|e| HostError::Invalid(e.to_string()))
    }

    fn public_key(&mut self, key: String) -> Result<Vec<u8>, HostError> {
        Ok(self
            .call
            .keys
            .get(&key)
            .map_err(HostError::NotFound)?
            .public_key_der())
    }

    fn load(&mut self, secret_name: String, field: String) -> Result<String, HostError> {
        let namespace = &self.call.namespace;
        let data = self
            .call
            .read_secret(&secret_name)?
            .ok_or_else(|| HostError::NotFound(format!("secrets \"{secret_name}\" not found")))?;
        let pem = data.get(&field).ok_or_else(|| {
            HostError::NotFound(format!(
                "Secret {namespace}/{secret_name} has no {field:?} field"
            ))
        })?;
        let pem = std::str::from_utf8(pem).map_err(|_| {
            HostError::Invalid(format!(
                "{field:?} of Secret {namespace}/{secret_name} is not PEM text"
            ))
        })?;
        let key = self.call.parsed_keys.parse(pem).map_err(|e| {
            HostError::Invalid(format!(
                "{field:?} of Secret {namespace}/{secret_name} is not a usable private key: {e}"
            ))
        })?;
        let handle = secret_key_handle(&secret_name, &field);
        Ok(self.call.keys.insert(handle, key))
    }

    fn generate(
        &mut self,
        secret_name: String,
        algorithm: types::KeyAlgorithm,
    ) -> Result<String, HostError> {
        self.call
            .grants
            .may_generate_keys(&self.call.entry)
            .map_err(|e| HostError::Denied(e.to_string()))?;
        self.call.check_secret(&secret_name)?;
        let key = PrivateKey::generate(algorithm.into())
            .map_err(|e| HostError::Invalid(e.to_string()))?;
        let pem = key
            .to_pem(KeyEncoding::Pkcs8)
            .map_err(|e| HostError::Invalid(e.to_string()))?;
        self.call
            .secrets
            .store_key(&self.call.namespace, &secret_name, "tls.key", &pem)
            .map_err(HostError::Unavailable)?;
        let handle = secret_key_handle(&secret_name, "tls.key");
        Ok(self.call.keys.insert(handle, Arc::new(key)))
    }
}

impl CallContext {
    /// Reads the certificate and key of a `client-certificate` for the host
    /// to present. Both Secrets must be referenced by the issuer config,
    /// the rule of `secrets.get`; unlike `secrets.get`, the key is read too,
    /// because it stays here.
    fn client_identity(
        &self,
        reference: &types::ClientCertificate,
    ) -> Result<ClientIdentity, HostError> {
        let field = |secret: &str, field: &str| -> Result<Vec<u8>, HostError> {
            let namespace = &self.namespace;
            let data = self
                .read_secret(secret)?
                .ok_or_else(|| HostError::NotFound(format!("secrets \"{secret}\" not found")))?;
            data.get(field).cloned().ok_or_else(|| {
                HostError::NotFound(format!("Secret {namespace}/{secret} has no {field:?} field for the TLS client certificate"))
            })
        };
        let certificate = field(&reference.certificate_secret, &reference.certificate_field)?;
        if !certificate
            .windows(27)
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(HostError::Invalid(format!(
                "{:?} of Secret {}/{} is not a PEM certificate",
                reference.certificate_field, self.namespace, reference.certificate_secret
            )));
        }
        let key = zeroize::Zeroizing::new(field(&reference.key_secret, &reference.key_field)?);
        Ok(ClientIdentity::from_pem(&certificate, &key))
    }

    /// `http.send` and `http.send-tls`: the egress check, then the request.
    fn send(
        &self,
        request: types::HttpRequest,
        tls: Option<types::TlsOptions>,
    ) -> Result<types::HttpResponse, HostError> {
        let call = self;
        // The client certificate first: a Secret the issuer does not
        // reference is refused before anything goes out.
        let (client_identity, server_name) = match tls {
            Some(tls) => (
                tls.client_certificate
                    .as_ref()
                    .map(|reference| call.client_identity(reference))
                    .transpose()?,
                tls.server_name.filter(|name| !name.is_empty()),
            ),
            None => (None, None),
        };
        let denied = |err: super::egress::EgressDenied| {
            tracing::warn!(plugin = %call.plugin, subject = %call.subject, "outbound request refused: {err}");
            HostError::Denied(format!("request refused: {err}"))
        };
        let (url, host) = call.egress.check_url(&request.url).map_err(denied)?;
        call.grants
            .allows_host(&call.entry, &host)
            .map_err(|e| HostError::Denied(e.to_string()))?;
        if (client_identity.is_some() || server_name.is_some()) && url.scheme() != "https" {
            // Silently sending without them would be worse than failing:
            // the plugin believes it authenticates, or checks a name.
            return Err(HostError::Invalid(format!(
                "TLS options (a client certificate or server name) were given for {url}, which is not an https URL"
            )));
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let mut pinned = Vec::new();
        if url.domain().is_some() {
            let addresses = call
                .outbound
                .resolve(&host, port)
                .map_err(HostError::Unavailable)?;
            call.egress
                .check_addresses(&host, &addresses)
                .map_err(denied)?;
            pinned = addresses
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect();
        } else if let Ok(ip) = host.parse() {
            call.egress.check_addresses(&host, &[ip]).map_err(denied)?;
        }
        let mut timeout = call.remaining()?;
        if let Some(ms) = request.timeout_ms {
            timeout = timeout.min(Duration::from_millis(u64::from(ms)));
        }
        let response = call
            .outbound
            .send(OutboundRequest {
                method: convert::http_method(request.method).to_owned(),
                url,
                headers: request.headers,
                body: request.body,
                ca_bundle_pem: request.ca_bundle_pem,
                timeout,
                pinned,
                client_identity,
                server_name,
            })
            .map_err(HostError::Unavailable)?;
        Ok(types::HttpResponse {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

impl http::Host for HostState {
    fn send(&mut self, request: types::HttpRequest) -> Result<types::HttpResponse, HostError> {
        self.call.send(request, None)
    }

    fn send_tls(
        &mut self,
        request: types::HttpRequest,
        tls: types::TlsOptions,
    ) -> Result<types::HttpResponse, HostError> {
        self.call.send(request, Some(tls))
    }
}

impl cache::Host for HostState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.call.cache.get(self.call.cache_scope, &key)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), HostError> {
        self.call
            .cache
            .set(
                self.call.cache_scope,
                &key,
                value,
                Duration::from_secs(u64::from(ttl_seconds)),
            )
            .map_err(|e| HostError::Invalid(e.to_string()))
    }

    fn remove(&mut self, key: String) {
        self.call.cache.remove(self.call.cache_scope, &key);
    }
}

impl issuer_status::Host for HostState {
    fn report_acme_account(&mut self, account: issuer_status::AcmeAccount) {
        if !self.call.reports.accepts(ReportingCall::Validate) {
            // Not an error for the plugin to handle: the contract says the
            // report is ignored, and the call goes on.
            tracing::warn!(
                plugin = %self.call.plugin,
                subject = %self.call.subject,
                "plugin reported an ACME account outside validate; ignored"
            );
            return;
        }
        self.call.reports.acme_account = Some(account);
    }
}

impl orders::Host for HostState {
    fn report(&mut self, order: orders::Order) {
        if !self.call.reports.accepts(ReportingCall::Issue) {
            tracing::warn!(
                plugin = %self.call.plugin,
                subject = %self.call.subject,
                "plugin reported an order outside issue; ignored"
            );
            return;
        }
        self.call.reports.order = Some(order);
    }

    fn presented(&mut self) -> Vec<String> {
        self.call.presented.clone()
    }
}

impl secrets::Host for HostState {
    fn get(&mut self, name: String) -> Result<Option<types::Secret>, HostError> {
        let data = self.call.read_secret(&name)?;
        Ok(data.map(|data| types::Secret {
            data: redact(&data),
        }))
    }
}

impl log::Host for HostState {
    fn write(&mut self, level: log::Level, message: String) {
        self.call.log_lines += 1;
        if self.call.log_lines > MAX_LOG_LINES {
            return;
        }
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut end = MAX_LOG_LINE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        let (plugin, subject) = (&self.call.plugin, &self.call.subject);
        match level {
            log::Level::Debug => tracing::debug!(plugin = %plugin, subject = %subject, "{message}"),
            log::Level::Info => tracing::info!(plugin = %plugin, subject = %subject, "{message}"),
            log::Level::Warn => tracing::warn!(plugin = %plugin, subject = %subject, "{message}"),
            log::Level::Error => tracing::error!(plugin = %plugin, subject = %subject, "{message}"),
        }
    }
}

impl clock::Host for HostState {
    fn now_unix_seconds(&mut self) -> i64 {
        self.call.clock.now_unix_seconds()
    }
}
