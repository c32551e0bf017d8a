//! Loading a plugin and running one call in a fresh, limited instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::bindings::orders::Order;
use super::bindings::types::{
    CertificateRequest, IssueOutcome, IssuerConfig, IssuerKind, Need, PluginError as PluginFailure,
    PluginInfo, Readiness,
};
use super::bindings::{AcmeAccount, WitVersion, v0_1, v0_2, v0_3, v0_4};
use super::cache::{LoadSource, compile};
use super::egress::EgressPolicy;
use super::engine::{EPOCH_TICK, PluginEngine};
use super::error::PluginError;
use super::grants::Grants;
use super::guest_output::GuestOutput;
use super::host_state::{CallContext, HostState, ReportingCall};
use super::issue_error::IssueError;
use super::issuer_cache::CacheScope;
use super::keyring::{KeyRing, REQUEST_KEY_HANDLE};
use super::legacy;
use super::limits::CallLimits;
use super::outbound::{Outbound, ReqwestOutbound};
use super::secrets::{NoSecrets, SecretStore, referenced_secrets};
use crate::clock::{Clock, SystemClock};
use crate::pki::PrivateKey;

/// The effects a call acts through: where Secrets come from, how HTTP goes
/// out, what time it is. Swapped out in tests and in `plugin test`.
#[derive(Clone)]
pub struct CallEffects {
    pub secrets: Arc<dyn SecretStore>,
    pub outbound: Arc<dyn Outbound>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CallEffects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallEffects").finish_non_exhaustive()
    }
}

impl Default for CallEffects {
    /// No Secrets, real HTTP, the system clock.
    fn default() -> Self {
        Self {
            secrets: Arc::new(NoSecrets),
            outbound: ReqwestOutbound::shared(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// One `issue` call's inputs.
#[derive(Debug, Clone)]
pub struct IssueCall {
    /// The request; its `request_key` is filled in by the runtime.
    pub request: CertificateRequest,
    /// The CSR's private key, lent only to plugins that declare the
    /// `request-key` need.
    pub request_key: Option<Arc<PrivateKey>>,
    /// The last `pending.state`, or none on the first call.
    pub state: Option<Vec<u8>>,
    /// What `orders.presented` answers: tokens of the challenges the host
    /// presented since the last call (plugins with the `orders` need).
    pub presented_challenges: Vec<String>,
}

/// What one `issue` call returned: the outcome, and the order the plugin
/// reported through `orders` (plugins that declare the `orders` need).
#[derive(Debug, Clone)]
pub struct IssueReply {
    /// The plugin's own answer.
    pub result: Result<IssueOutcome, PluginFailure>,
    /// The order as the plugin last reported it during the call.
    pub order: Option<Order>,
    /// What the call cost.
    pub stats: CallStats,
}

/// A successful `validate`: the plugin's readiness, and what it reported
/// through the `issuer-status` import during the call, which the host
/// writes to the issuer's status.
///
/// Why the reports live here rather than next to the call's result: the
/// contract honours them only when `validate` succeeds, so they cannot
/// exist without a readiness.
#[derive(Debug, Clone)]
pub struct Validated {
    /// Why the issuer is ready.
    pub readiness: Readiness,
    /// The ACME account registered or found (`status.acme`), when the
    /// plugin reported one (plugins built against 0.1.0 or 0.2.0 cannot).
    pub acme_account: Option<AcmeAccount>,
}

/// What one call cost, for benchmarks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallStats {
    /// Wall-clock time, instantiation included.
    pub elapsed: Duration,
    /// The largest linear memory the instance grew to.
    pub peak_memory_bytes: usize,
}

/// Why a call failed in the sandbox rather than with the plugin's own error.
/// Each fails that call alone; the plugin stays loaded and usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginCallError {
    #[error("plugin {plugin}: exceeded its deadline of {deadline:?} and was stopped")]
    Timeout { plugin: String, deadline: Duration },
    #[error("plugin {plugin}: exceeded its memory limit of {limit_mib} MiB and was stopped")]
    MemoryExceeded { plugin: String, limit_mib: usize },
    #[error("plugin {plugin}: exhausted its call stack (runaway recursion) and was stopped")]
    StackOverflow { plugin: String },
    #[error("plugin {plugin}: crashed: {message}")]
    Trap { plugin: String, message: String },
    #[error("plugin {plugin}: returned {size} bytes of {what}, more than the limit of {limit}")]
    ResultTooLarge {
        plugin: String,
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("plugin {plugin}: {reason}")]
    Setup { plugin: String, reason: String },
}

/// A component linked against the contract version it was built for.
enum Pre {
    V0_4(v0_4::IssuerPre<HostState>),
    V0_3(v0_3::IssuerPre<HostState>),
    V0_2(v0_2::IssuerPre<HostState>),
    V0_1(v0_1::IssuerPre<HostState>),
}

/// One instance's exports. Older versions' values are converted to the
/// current ones here (see `legacy`), so callers see only 0.4.0.
enum Exports {
    V0_4(v0_4::Issuer),
    V0_3(v0_3::Issuer),
    V0_2(v0_2::Issuer),
    V0_1(v0_1::Issuer),
}

impl Exports {
    fn call_info(&self, store: &mut Store<HostState>) -> wasmtime::Result<PluginInfo> {
        match self {
            Self::V0_4(issuer) => issuer.call_info(store),
            Self::V0_3(issuer) => issuer.call_info(store).map(legacy::info),
            Self::V0_2(issuer) => issuer.call_info(store).map(legacy::info),
            Self::V0_1(issuer) => issuer.call_info(store).map(legacy::info),
        }
    }

    fn call_validate(
        &self,
        store: &mut Store<HostState>,
        config: &IssuerConfig,
    ) -> wasmtime::Result<Result<Readiness, PluginFailure>> {
        let old = || legacy::issuer_config(config);
        match self {
            Self::V0_4(issuer) => issuer.call_validate(store, config),
            Self::V0_3(issuer) => issuer
                .call_validate(&mut *store, &old())
                .map(legacy::validated),
            Self::V0_2(issuer) => issuer
                .call_validate(&mut *store, &old())
                .map(legacy::validated),
            Self::V0_1(issuer) => issuer
                .call_validate(&mut *store, &old())
                .map(legacy::validated),
        }
    }

    fn call_issue(
        &self,
        store: &mut Store<HostState>,
        request: &CertificateRequest,
        state: Option<&[u8]>,
    ) -> wasmtime::Result<Result<IssueOutcome, PluginFailure>> {
        // An older plugin gets the request in its own version's shape,
        // with the presented challenges folded in as it expects them.
        let old = |store: &Store<HostState>| {
            legacy::request(request, store.data().call.presented.clone())
        };
        let result = match self {
            Self::V0_4(issuer) => return issuer.call_issue(store, request, state),
            Self::V0_3(issuer) => {
                let old = old(store);
                issuer.call_issue(&mut *store, &old, state)?
            }
            Self::V0_2(issuer) => {
                let old = old(store);
                issuer.call_issue(&mut *store, &old, state)?
            }
            Self::V0_1(issuer) => {
                let old = old(store);
                issuer.call_issue(&mut *store, &old, state)?
            }
        };
        let (result, order) = legacy::outcome(result);
        legacy::report_order(store.data_mut(), order);
        Ok(result)
    }
}

/// The contract version a component was built against, read from the
/// versions of its `certwasm:issuer/...` imports. A component that imports
/// none of them (it needs no host service) is taken as the current version;
/// one that mixes versions, or names one this host does not know, is
/// refused with the versions the host does know.
fn contract_version(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Result<WitVersion, String> {
    let mut found: Option<WitVersion> = None;
    for (name, _) in component.component_type().imports(engine) {
        let Some(interface) = name.strip_prefix("certwasm:issuer/") else {
            continue;
        };
        let version = interface.split_once('@').map_or("", |(_, v)| v);
        let known = WitVersion::parse(version).ok_or_else(|| {
            format!(
                "it imports {name}, a contract version this host does not load (it loads certwasm:issuer {})",
                WitVersion::list()
            )
        })?;
        match found {
            Some(other) if other != known => {
                return Err(format!(
                    "it imports both {other} and {known}; a component is built against one version"
                ));
            }
            _ => found = Some(known),
        }
    }
    Ok(found.unwrap_or(WitVersion::CURRENT))
}

/// A loaded plugin: compiled, linked, ready to instantiate per call.
///
/// Cheap to share (`Arc` it); calls may run concurrently, each in its own
/// store and instance.
pub struct Plugin {
    name: String,
    info: PluginInfo,
    pre: Pre,
    engine: PluginEngine,
    pub(super) grants: Arc<Grants>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("version", &self.info.version)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// Compiles (or maps from the cache) and links a component, then calls
    /// its `info` export once.
    pub fn load(
        engine: &PluginEngine,
        name: &str,
        bytes: &[u8],
    ) -> Result<(Self, LoadSource), PluginError> {
        let inner = &engine.inner;
        let (component, source) = match &inner.cache {
            Some(cache) => cache.load(&inner.engine, name, bytes)?,
            None => (compile(&inner.engine, name, bytes)?, LoadSource::Compiled),
        };
        let link_error = |e: wasmtime::Error| PluginError::Link {
            name: name.to_owned(),
            reason: format!("{e:#}"),
        };
        let version =
            contract_version(&inner.engine, &component).map_err(|reason| PluginError::Link {
                name: name.to_owned(),
                reason,
            })?;
        let instance_pre =
            inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| match unprovided_import(&e) {
                    Some(import) if !import.starts_with("certwasm:issuer/") => {
                        PluginError::UnprovidedImport {
                            name: name.to_owned(),
                            hint: import_hint(&import),
                            import,
                            detail: import_detail(&e),
                        }
                    }
                    _ => link_error(e),
                })?;
        let pre = match version {
            WitVersion::V0_4 => Pre::V0_4(v0_4::IssuerPre::new(instance_pre).map_err(link_error)?),
            WitVersion::V0_3 => Pre::V0_3(v0_3::IssuerPre::new(instance_pre).map_err(link_error)?),
            WitVersion::V0_2 => Pre::V0_2(v0_2::IssuerPre::new(instance_pre).map_err(link_error)?),
            WitVersion::V0_1 => Pre::V0_1(v0_1::IssuerPre::new(instance_pre).map_err(link_error)?),
        };
        let mut plugin = Self {
            name: name.to_owned(),
            info: PluginInfo {
                name: name.to_owned(),
                version: String::new(),
                issuer_types: Vec::new(),
                description: String::new(),
                needs: Vec::new(),
            },
            pre,
            engine: engine.clone(),
            grants: Arc::default(),
        };
        let config = IssuerConfig {
            kind: IssuerKind::Issuer,
            name: String::new(),
            namespace: String::new(),
            spec_json: "{}".to_owned(),
        };
        (plugin.info, _) = plugin
            .run(
                "info",
                &config,
                &CallEffects::default(),
                &CallLimits::default(),
                KeyRing::default(),
                |issuer, store| issuer.call_info(store),
            )
            .map_err(|e| PluginError::InvalidComponent {
                name: name.to_owned(),
                reason: format!("its info() call failed: {e}"),
            })?;
        Ok((plugin, source))
    }

    /// The plugin's name as the host knows it (bundled name, bundle entry
    /// name or file stem): what Issuers select it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name errors and log lines give the plugin: the one its `info()`
    /// declares, which is what its author knows it by (a file stem such as
    /// `plugin` says nothing), or the host's name while that is unknown or
    /// unusable as a label.
    pub fn label(&self) -> &str {
        if is_label(&self.info.name) {
            &self.info.name
        } else {
            &self.name
        }
    }

    /// What the plugin said of itself when loaded.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Whether the plugin declared `need` in its `info`.
    pub fn needs(&self, need: Need) -> bool {
        self.info.needs.contains(&need)
    }

    /// The contract version the plugin was built against.
    pub fn wit_version(&self) -> WitVersion {
        match self.pre {
            Pre::V0_4(_) => WitVersion::V0_4,
            Pre::V0_3(_) => WitVersion::V0_3,
            Pre::V0_2(_) => WitVersion::V0_2,
            Pre::V0_1(_) => WitVersion::V0_1,
        }
    }

    /// Runs `validate` for an issuer. On success the result carries what
    /// the plugin reported through `issuer-status` during the call; on
    /// failure the reports are dropped, as the contract says.
    pub fn validate(
        &self,
        config: &IssuerConfig,
        effects: &CallEffects,
        limits: &CallLimits,
    ) -> Result<Result<Validated, PluginFailure>, PluginCallError> {
        let subject = format!(
            "{} {}/{}",
            super::convert::issuer_kind_name(config.kind),
            config.namespace,
            config.name
        );
        let ((result, acme_account), _) = self.run(
            &subject,
            config,
            effects,
            limits,
            KeyRing::default(),
            |issuer, store| {
                store.data_mut().call.reports.open(ReportingCall::Validate);
                let result = issuer.call_validate(store, config)?;
                Ok((result, store.data_mut().call.reports.take_acme_account()))
            },
        )?;
        match result {
            Ok(readiness) => {
                let reported = acme_account
                    .as_ref()
                    .map_or(0, |account| account.uri.len() + account.email.len());
                self.check_size(
                    "readiness",
                    readiness.reason.len() + readiness.message.len() + reported,
                    limits,
                )?;
                Ok(Ok(Validated {
                    readiness,
                    acme_account,
                }))
            }
            Err(failure) => {
                self.check_failure_size(&failure, limits)?;
                Ok(Err(failure))
            }
        }
    }

    /// Runs `issue` for a request.
    pub fn issue(
        &self,
        call: IssueCall,
        effects: &CallEffects,
        limits: &CallLimits,
    ) -> Result<IssueOutcome, IssueError> {
        self.issue_measured(call, effects, limits)
            .map(|(outcome, _)| outcome)
    }

    /// Runs `issue` and also reports what the call cost.
    pub fn issue_measured(
        &self,
        call: IssueCall,
        effects: &CallEffects,
        limits: &CallLimits,
    ) -> Result<(IssueOutcome, CallStats), IssueError> {
        let reply = self.issue_reporting(call, effects, limits)?;
        let outcome = reply.result.map_err(IssueError::Plugin)?;
        Ok((outcome, reply.stats))
    }

    /// Runs `issue` and returns everything the call produced: the outcome,
    /// the order the plugin reported, and the cost.
    pub fn issue_reporting(
        &self,
        call: IssueCall,
        effects: &CallEffects,
        limits: &CallLimits,
    ) -> Result<IssueReply, PluginCallError> {
        let IssueCall {
            mut request,
            request_key,
            state,
            presented_challenges,
        } = call;
        let mut keys = KeyRing::default();
        request.request_key =
            request_key.map(|key| keys.insert(REQUEST_KEY_HANDLE.to_owned(), key));
        let subject = format!("CertificateRequest {}/{}", request.namespace, request.name);
        let config = request.issuer.clone();
        let ((result, order), stats) =
            self.run(&subject, &config, effects, limits, keys, |issuer, store| {
                let call = &mut store.data_mut().call;
                call.reports.open(ReportingCall::Issue);
                call.presented = presented_challenges;
                let result = issuer.call_issue(store, &request, state.as_deref())?;
                Ok((result, store.data_mut().call.reports.take_order()))
            })?;
        match &result {
            Ok(IssueOutcome::Issued(issued)) => {
                let size = issued.certificate_chain_pem.len()
                    + issued.ca_pem.as_ref().map_or(0, String::len);
                self.check_size("certificate", size, limits)?;
            }
            Ok(IssueOutcome::Pending(pending)) => {
                let events: usize = pending
                    .events
                    .iter()
                    .map(|e| e.reason.len() + e.message.len())
                    .sum();
                self.check_size(
                    "pending state",
                    pending.state.len() + pending.waiting_for.len() + events,
                    limits,
                )?;
            }
            Err(failure) => self.check_failure_size(failure, limits)?,
        }
        if let Some(order) = &order {
            let size = order.url.len()
                + order.reason.len()
                + order
                    .challenges
                    .iter()
                    .map(|c| c.key.len() + c.reason.len() + c.solver_json.len() + c.url.len())
                    .sum::<usize>();
            self.check_size("order", size, limits)?;
        }
        Ok(IssueReply {
            result,
            order,
            stats,
        })
    }

    fn check_failure_size(
        &self,
        failure: &PluginFailure,
        limits: &CallLimits,
    ) -> Result<(), PluginCallError> {
        self.check_size(
            "error message",
            failure.reason.len() + failure.message.len(),
            limits,
        )
    }

    fn check_size(
        &self,
        what: &'static str,
        size: usize,
        limits: &CallLimits,
    ) -> Result<(), PluginCallError> {
        if size > limits.max_result_bytes {
            return Err(PluginCallError::ResultTooLarge {
                plugin: self.label().to_owned(),
                what,
                size,
                limit: limits.max_result_bytes,
            });
        }
        Ok(())
    }

    /// Instantiates the plugin in a fresh store under `limits` and runs `f`.
    fn run<R>(
        &self,
        subject: &str,
        config: &IssuerConfig,
        effects: &CallEffects,
        limits: &CallLimits,
        keys: KeyRing,
        f: impl FnOnce(&Exports, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<(R, CallStats), PluginCallError> {
        let spec: serde_json::Value =
            serde_json::from_str(&config.spec_json).map_err(|e| PluginCallError::Setup {
                plugin: self.label().to_owned(),
                reason: format!("the issuer spec is not valid JSON: {e}"),
            })?;
        let limits = &self.grants.limits(limits);
        let started = Instant::now();
        let call = CallContext::new(
            self.label().to_owned(),
            self.name.clone(),
            subject.to_owned(),
            config.namespace.clone(),
            referenced_secrets(&spec),
            EgressPolicy::from_issuer_spec(&spec),
            keys,
            Arc::clone(&self.engine.inner.parsed_keys),
            Arc::clone(&self.engine.inner.issuer_cache),
            CacheScope::for_issuer(&self.name, config),
            effects,
            started + limits.deadline,
            Arc::clone(&self.grants),
        );
        let output = GuestOutput::new();
        let mut store = Store::new(
            &self.engine.inner.engine,
            HostState::new(call, limits.memory_bytes, &output),
        );
        store.limiter(|state| &mut state.limiter);
        let ticks = limits
            .deadline
            .as_nanos()
            .div_ceil(EPOCH_TICK.as_nanos())
            .max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();

        let outcome = match &self.pre {
            Pre::V0_4(pre) => pre.instantiate(&mut store).map(Exports::V0_4),
            Pre::V0_3(pre) => pre.instantiate(&mut store).map(Exports::V0_3),
            Pre::V0_2(pre) => pre.instantiate(&mut store).map(Exports::V0_2),
            Pre::V0_1(pre) => pre.instantiate(&mut store).map(Exports::V0_1),
        }
        .and_then(|exports| f(&exports, &mut store));
        let elapsed = started.elapsed();
        output.forward(self.label(), subject);
        let result = outcome.map_err(|err| self.classify(err, &store, &output, limits, elapsed))?;
        let stats = CallStats {
            elapsed,
            peak_memory_bytes: store.data().limiter.peak,
        };
        Ok((result, stats))
    }

    /// Turns a wasmtime error into the reason a user should read.
    fn classify(
        &self,
        err: wasmtime::Error,
        store: &Store<HostState>,
        output: &GuestOutput,
        limits: &CallLimits,
        elapsed: Duration,
    ) -> PluginCallError {
        let plugin = self.label().to_owned();
        if store.data().limiter.exceeded {
            return PluginCallError::MemoryExceeded {
                plugin,
                limit_mib: limits.memory_bytes >> 20,
            };
        }
        match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => PluginCallError::Timeout {
                plugin,
                deadline: limits.deadline,
            },
            Some(wasmtime::Trap::StackOverflow) => PluginCallError::StackOverflow { plugin },
            _ if elapsed >= limits.deadline => PluginCallError::Timeout {
                plugin,
                deadline: limits.deadline,
            },
            trap => {
                let printed = output.stderr_tail();
                // The trap itself ("wasm trap: unreachable"), or the host
                // error that caused it; the wasm backtrace is for logs.
                let mut message = match trap {
                    Some(trap) => trap.to_string(),
                    None => err.root_cause().to_string(),
                };
                tracing::debug!(plugin = %self.label(), "plugin trapped: {err:?}");
                if !printed.is_empty() {
                    message = format!("{message}; it printed: {printed}");
                }
                PluginCallError::Trap { plugin, message }
            }
        }
    }
}

/// Whether a plugin's self-declared name is fit to print as its label: a
/// short name of letters, digits, `-`, `_` and `.`, as bundle entries use.
fn is_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The import a failed link names, from wasmtime's message
/// "component imports instance `NAME`, but a matching implementation was
/// not found in the linker". wasmtime has no typed error for this; a test
/// (`missing_imports_are_named`) fails if its wording changes.
fn unprovided_import(error: &wasmtime::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        let text = cause.to_string();
        let rest = text.strip_prefix("component imports ")?;
        let (_, quoted) = rest.split_once('`')?;
        let (import, _) = quoted.split_once('`')?;
        Some(import.to_owned())
    })
}

/// Why the import did not link, in words: wasmtime reports an interface
/// the host does not link at all as a function "implementation is missing".
fn import_detail(error: &wasmtime::Error) -> String {
    let root = error.root_cause().to_string();
    if root.contains("implementation is missing") {
        "the host links no such interface".to_owned()
    } else {
        root
    }
}

/// What to do about an import the host does not provide, for the imports
/// authors meet: JavaScript and Python toolchains add `wasi:http` unless
/// told not to.
fn import_hint(import: &str) -> &'static str {
    if import.starts_with("wasi:http/") {
        ". Plugins reach the network through certwasm:issuer/http instead; build without \
         wasi:http (with componentize-js: `disableFeatures: [\"http\"]`)"
    } else {
        ". Build the plugin without it, or against the certwasm:issuer world alone \
         (`certwasm plugin wit --out wit/` writes it)"
    }
}
