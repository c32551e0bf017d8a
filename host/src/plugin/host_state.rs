//! The per-call store data and the host imports a plugin is granted.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::v0_1::certwasm::issuer as v0_1;
use super::bindings::v0_2::certwasm::issuer as v0_2;
use super::bindings::v0_3::certwasm::issuer::{
    cache, clock, http, issuer_status, log, secrets, signer, types,
};
use super::convert;
use super::egress::EgressPolicy;
use super::grants::Grants;
use super::issuer_cache::{CacheScope, IssuerCache};
use super::keyring::{KeyRing, secret_key_handle};
use super::outbound::{ClientIdentity, Outbound, OutboundRequest};
use super::secrets::{SecretStore, redact};
use crate::clock::Clock;
use crate::pki::{KeyEncoding, PrivateKey};

/// Log lines one call may write before the rest are dropped.
const MAX_LOG_LINES: u32 = 200;
/// Longest log line kept.
const MAX_LOG_LINE: usize = 4096;
/// Largest data `signer.sign` accepts (a TBSCertificate or a JWS input).
const MAX_SIGN_INPUT: usize = 1 << 20;
/// How much of the plugin's stderr (panic messages) is kept for errors.
pub(crate) const STDERR_CAPACITY: usize = 16 << 10;

/// Everything a call's imports act on.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) call: CallContext,
}

impl HostState {
    pub(crate) fn new(call: CallContext, memory_bytes: usize, stderr: MemoryOutputPipe) -> Self {
        // Nothing is granted: no preopened directories, no environment, no
        // arguments, no sockets, no name lookups. Clocks and randomness stay
        // (std needs them, and a CA needs random serials).
        let wasi = WasiCtx::builder()
            .stderr(stderr)
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
    pub(crate) plugin: String,
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
    /// What the plugin reported through `issuer-status`.
    pub(crate) reports: StatusReports,
    log_lines: u32,
    pub(crate) grants: Arc<Grants>,
}

/// What a call reported through the `issuer-status` import.
///
/// The contract honours reports only during `validate`, so they are
/// refused until the runtime [opens](Self::open) them for a `validate`
/// call; the runtime takes them out when the call returns.
#[derive(Debug, Default)]
pub(crate) struct StatusReports {
    open: bool,
    acme_account: Option<issuer_status::AcmeAccount>,
}

impl StatusReports {
    /// Accepts reports from now on: the call is a `validate`.
    pub(crate) fn open(&mut self) {
        self.open = true;
    }

    /// The last ACME account reported, if any.
    pub(crate) fn take_acme_account(&mut self) -> Option<issuer_status::AcmeAccount> {
        self.acme_account.take()
    }
}

impl CallContext {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        plugin: String,
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
            log_lines: 0,
            grants,
        }
    }

    /// Refuses Secrets the issuer config does not reference, and says so in
    /// the host's log: a plugin probing for other Secrets is worth noticing.
    fn check_secret(&self, name: &str) -> Result<(), String> {
        self.grants.may_read_secrets(&self.plugin)?;
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
        Err(format!(
            "Secret {:?} is not referenced by the issuer configuration (referenced: {allowed})",
            name
        ))
    }

    fn remaining(&self) -> Result<Duration, String> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| "the call's deadline has passed".to_owned())
    }
}

impl types::Host for HostState {}

impl signer::Host for HostState {
    fn sign(
        &mut self,
        key: String,
        algorithm: types::SignatureAlgorithm,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        if data.len() > MAX_SIGN_INPUT {
            return Err(format!(
                "refusing to sign {} bytes (at most {MAX_SIGN_INPUT})",
                data.len()
            ));
        }
        let key = self.call.keys.get(&key)?;
        key.sign(convert::signature_algorithm(algorithm), &data)
            .map_err(|e| e.to_string())
    }

    fn public_key(&mut self, key: String) -> Result<Vec<u8>, String> {
        Ok(self.call.keys.get(&key)?.public_key_der())
    }

    fn load(&mut self, secret_name: String, field: String) -> Result<String, String> {
        self.call.check_secret(&secret_name)?;
        let namespace = &self.call.namespace;
        let data = self
            .call
            .secrets
            .get(namespace, &secret_name)?
            .ok_or_else(|| format!("secrets \"{secret_name}\" not found"))?;
        let pem = data
            .get(&field)
            .ok_or_else(|| format!("Secret {namespace}/{secret_name} has no {field:?} field"))?;
        let pem = std::str::from_utf8(pem).map_err(|_| {
            format!("{field:?} of Secret {namespace}/{secret_name} is not PEM text")
        })?;
        let key = self.call.parsed_keys.parse(pem).map_err(|e| {
            format!(
                "{field:?} of Secret {namespace}/{secret_name} is not a usable private key: {e}"
            )
        })?;
        let handle = secret_key_handle(&secret_name, &field);
        Ok(self.call.keys.insert(handle, key))
    }

    fn generate(
        &mut self,
        secret_name: String,
        algorithm: types::KeyAlgorithm,
    ) -> Result<String, String> {
        self.call.grants.may_generate_keys(&self.call.plugin)?;
        self.call.check_secret(&secret_name)?;
        let key =
            PrivateKey::generate(convert::key_algorithm(algorithm)).map_err(|e| e.to_string())?;
        let pem = key.to_pem(KeyEncoding::Pkcs8).map_err(|e| e.to_string())?;
        self.call
            .secrets
            .store_key(&self.call.namespace, &secret_name, "tls.key", &pem)?;
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
    ) -> Result<ClientIdentity, String> {
        let field = |secret: &str, field: &str| -> Result<Vec<u8>, String> {
            self.check_secret(secret)?;
            let namespace = &self.namespace;
            let data = self
                .secrets
                .get(namespace, secret)?
                .ok_or_else(|| format!("secrets \"{secret}\" not found"))?;
            data.get(field).cloned().ok_or_else(|| {
                format!("Secret {namespace}/{secret} has no {field:?} field for the TLS client certificate")
            })
        };
        let certificate = field(&reference.certificate_secret, &reference.certificate_field)?;
        if !certificate
            .windows(27)
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(format!(
                "{:?} of Secret {}/{} is not a PEM certificate",
                reference.certificate_field, self.namespace, reference.certificate_secret
            ));
        }
        let key = zeroize::Zeroizing::new(field(&reference.key_secret, &reference.key_field)?);
        Ok(ClientIdentity::from_pem(&certificate, &key))
    }

    /// `http.send` and `http.send-tls`: the egress check, then the request.
    fn send(
        &self,
        request: types::HttpRequest,
        tls: Option<types::TlsOptions>,
    ) -> Result<types::HttpResponse, String> {
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
            format!("request refused: {err}")
        };
        let (url, host) = call.egress.check_url(&request.url).map_err(denied)?;
        call.grants.allows_host(&call.plugin, &host)?;
        if (client_identity.is_some() || server_name.is_some()) && url.scheme() != "https" {
            // Silently sending without them would be worse than failing:
            // the plugin believes it authenticates, or checks a name.
            return Err(format!(
                "TLS options (a client certificate or server name) were given for {url}, which is not an https URL"
            ));
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let mut pinned = Vec::new();
        if url.domain().is_some() {
            let addresses = call.outbound.resolve(&host, port)?;
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
        let response = call.outbound.send(OutboundRequest {
            method: request.method,
            url,
            headers: request.headers,
            body: request.body,
            ca_bundle_pem: request.ca_bundle_pem,
            timeout,
            pinned,
            client_identity,
            server_name,
        })?;
        Ok(types::HttpResponse {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

impl http::Host for HostState {
    fn send(&mut self, request: types::HttpRequest) -> Result<types::HttpResponse, String> {
        self.call.send(request, None)
    }

    fn send_tls(
        &mut self,
        request: types::HttpRequest,
        tls: types::TlsOptions,
    ) -> Result<types::HttpResponse, String> {
        self.call.send(request, Some(tls))
    }
}

impl cache::Host for HostState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.call.cache.get(self.call.cache_scope, &key)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), String> {
        self.call
            .cache
            .set(
                self.call.cache_scope,
                &key,
                value,
                Duration::from_secs(u64::from(ttl_seconds)),
            )
            .map_err(|e| e.to_string())
    }

    fn remove(&mut self, key: String) {
        self.call.cache.remove(self.call.cache_scope, &key);
    }
}

impl issuer_status::Host for HostState {
    fn report_acme_account(&mut self, account: issuer_status::AcmeAccount) {
        if !self.call.reports.open {
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

impl secrets::Host for HostState {
    fn get(&mut self, name: String) -> Result<Option<types::Secret>, String> {
        self.call.check_secret(&name)?;
        let data = self.call.secrets.get(&self.call.namespace, &name)?;
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

// The 0.2.0 and 0.1.0 imports: the same services under their older names.
// The types are 0.3.0's (see `bindings`), so each is a plain call of the
// 0.3.0 one; only `log.level`, declared outside `types`, is converted.

impl v0_2::signer::Host for HostState {
    fn sign(
        &mut self,
        key: String,
        algorithm: types::SignatureAlgorithm,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        signer::Host::sign(self, key, algorithm, data)
    }

    fn public_key(&mut self, key: String) -> Result<Vec<u8>, String> {
        signer::Host::public_key(self, key)
    }

    fn load(&mut self, secret_name: String, field: String) -> Result<String, String> {
        signer::Host::load(self, secret_name, field)
    }

    fn generate(
        &mut self,
        secret_name: String,
        algorithm: types::KeyAlgorithm,
    ) -> Result<String, String> {
        signer::Host::generate(self, secret_name, algorithm)
    }
}

impl v0_2::http::Host for HostState {
    fn send(&mut self, request: types::HttpRequest) -> Result<types::HttpResponse, String> {
        http::Host::send(self, request)
    }

    fn send_tls(
        &mut self,
        request: types::HttpRequest,
        tls: types::TlsOptions,
    ) -> Result<types::HttpResponse, String> {
        http::Host::send_tls(self, request, tls)
    }
}

impl v0_2::cache::Host for HostState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        cache::Host::get(self, key)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), String> {
        cache::Host::set(self, key, value, ttl_seconds)
    }

    fn remove(&mut self, key: String) {
        cache::Host::remove(self, key);
    }
}

impl v0_2::secrets::Host for HostState {
    fn get(&mut self, name: String) -> Result<Option<types::Secret>, String> {
        secrets::Host::get(self, name)
    }
}

impl v0_2::log::Host for HostState {
    fn write(&mut self, level: v0_2::log::Level, message: String) {
        let level = match level {
            v0_2::log::Level::Debug => log::Level::Debug,
            v0_2::log::Level::Info => log::Level::Info,
            v0_2::log::Level::Warn => log::Level::Warn,
            v0_2::log::Level::Error => log::Level::Error,
        };
        log::Host::write(self, level, message);
    }
}

impl v0_2::clock::Host for HostState {
    fn now_unix_seconds(&mut self) -> i64 {
        clock::Host::now_unix_seconds(self)
    }
}

impl v0_1::signer::Host for HostState {
    fn sign(
        &mut self,
        key: String,
        algorithm: types::SignatureAlgorithm,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        signer::Host::sign(self, key, algorithm, data)
    }

    fn public_key(&mut self, key: String) -> Result<Vec<u8>, String> {
        signer::Host::public_key(self, key)
    }

    fn load(&mut self, secret_name: String, field: String) -> Result<String, String> {
        signer::Host::load(self, secret_name, field)
    }

    fn generate(
        &mut self,
        secret_name: String,
        algorithm: types::KeyAlgorithm,
    ) -> Result<String, String> {
        signer::Host::generate(self, secret_name, algorithm)
    }
}

impl v0_1::http::Host for HostState {
    fn send(&mut self, request: types::HttpRequest) -> Result<types::HttpResponse, String> {
        self.call.send(request, None)
    }
}

impl v0_1::secrets::Host for HostState {
    fn get(&mut self, name: String) -> Result<Option<types::Secret>, String> {
        secrets::Host::get(self, name)
    }
}

impl v0_1::log::Host for HostState {
    fn write(&mut self, level: v0_1::log::Level, message: String) {
        let level = match level {
            v0_1::log::Level::Debug => log::Level::Debug,
            v0_1::log::Level::Info => log::Level::Info,
            v0_1::log::Level::Warn => log::Level::Warn,
            v0_1::log::Level::Error => log::Level::Error,
        };
        log::Host::write(self, level, message);
    }
}

impl v0_1::clock::Host for HostState {
    fn now_unix_seconds(&mut self) -> i64 {
        clock::Host::now_unix_seconds(self)
    }
}
