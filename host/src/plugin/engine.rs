//! The one wasmtime [`Engine`] of the process, its epoch clock, and the
//! linker every plugin is instantiated against.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, OptLevel};

use super::bindings::{v0_1, v0_2, v0_3, v0_4};
use super::cache::ComponentCache;
use super::error::PluginError;
use super::host_state::HostState;

/// How often the epoch advances. A call's deadline is rounded up to a whole
/// number of ticks, so this is the granularity of timeouts (and the CPU a
/// runaway plugin can burn past its deadline).
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The largest wasm stack a call may use; deeper recursion traps with
/// "call stack exhausted" instead of taking the host thread down.
const MAX_WASM_STACK: usize = 1 << 20;

/// The shared engine: configuration, compiled-component cache and linker.
///
/// Cheap to clone (an `Arc`). One per process: every plugin compiled for it
/// shares code memory, and one thread ticks the epoch for all of them.
#[derive(Clone)]
pub struct PluginEngine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) cache: Option<ComponentCache>,
    /// Keys parsed from Secrets, shared by every call.
    pub(crate) parsed_keys: Arc<super::keyring::ParsedKeyCache>,
    /// What plugins keep between calls through the `cache` import.
    pub(crate) issuer_cache: Arc<super::issuer_cache::IssuerCache>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("cache", &self.inner.cache.as_ref().map(ComponentCache::dir))
            .finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// Creates the engine. With a `cache_dir`, compiled components are kept
    /// there by content digest, so later starts skip compilation; without
    /// one, every load compiles.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .cranelift_opt_level(OptLevel::Speed)
            .parallel_compilation(true);
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(format!("{e:#}")))?;
        spawn_epoch_ticker(&engine);

        let mut linker = Linker::new(&engine);
        // WASI is linked because Rust's std (and other languages' runtimes)
        // import it; the context built per call grants nothing through it.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Engine(format!("linking WASI: {e:#}")))?;
        // Every contract version the host loads is linked at once: their
        // imports have versioned names (`certwasm:issuer/http@0.1.0`), so
        // they do not collide, and a component picks its own.
        v0_4::Issuer::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| PluginError::Engine(format!("linking host imports (0.4.0): {e:#}")))?;
        v0_3::Issuer::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| PluginError::Engine(format!("linking host imports (0.3.0): {e:#}")))?;
        v0_2::Issuer::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| PluginError::Engine(format!("linking host imports (0.2.0): {e:#}")))?;
        v0_1::Issuer::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| PluginError::Engine(format!("linking host imports (0.1.0): {e:#}")))?;

        let cache = cache_dir
            .map(|dir| ComponentCache::open(dir, &engine))
            .transpose()?;
        Ok(Self {
            inner: Arc::new(EngineInner {
                engine,
                linker,
                cache,
                parsed_keys: Arc::default(),
                issuer_cache: Arc::default(),
            }),
        })
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the
/// engine lives; each store's deadline is a number of ticks.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = thread::Builder::new()
        .name("certwasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(err) = spawned {
        // Without the ticker, deadlines never fire; refuse to run plugins
        // unbounded rather than carry on silently.
        panic!("could not start the plugin deadline thread: {err}");
    }
}
