//! Watching what a plugin does besides answering: every outbound request
//! it makes, every one the host refused, and the warnings it logs.
//!
//! Requests that pass the host's egress check reach the call's
//! [`Outbound`] effect, which [`RecordingOutbound`] wraps. Requests the
//! egress check refuses never get that far: the runtime answers the plugin
//! `denied` and logs `outbound request refused: ...`. The runtime offers no
//! hook for that, so [`Watch`] is a tracing layer, installed for the
//! battery's thread only, that picks those lines (and the plugin's own
//! warn-level log lines) out of the log. Plugin calls run on the calling
//! thread, so nothing else's logs are mixed in.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::plugin::outbound::{Outbound, OutboundRequest, OutboundResponse};

/// The runtime's log line for a request its egress check refused.
const REFUSED_PREFIX: &str = "outbound request refused: ";

/// An [`Outbound`] that notes the URL of every request, then sends it.
pub struct RecordingOutbound {
    inner: Arc<dyn Outbound>,
    sent: Mutex<Vec<String>>,
}

impl std::fmt::Debug for RecordingOutbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingOutbound").finish_non_exhaustive()
    }
}

impl RecordingOutbound {
    pub fn new(inner: Arc<dyn Outbound>) -> Self {
        Self {
            inner,
            sent: Mutex::default(),
        }
    }

    /// The URLs requested so far, in order.
    pub fn sent(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Outbound for RecordingOutbound {
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        self.inner.resolve(host, port)
    }

    fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.url.to_string());
        self.inner.send(request)
    }
}

/// What [`Watch`] collected.
#[derive(Debug, Default)]
pub struct Seen {
    /// Why each refused request was refused, as the runtime worded it.
    pub refused: Vec<String>,
    /// Warn-level (and worse) lines logged during plugin calls, with the
    /// plugin field set: the plugin's own `log` lines, and the runtime's
    /// remarks about the call.
    pub warnings: Vec<String>,
}

/// A tracing layer that collects into a shared [`Seen`], and passes every
/// event on to the subscriber it displaced (the `--log` output), so the
/// user still sees what the plugin logs.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    seen: Arc<Mutex<Seen>>,
    forward: Option<tracing::Dispatch>,
}

impl Watch {
    /// Collects, and forwards to `forward` (the subscriber in force).
    pub fn forwarding_to(forward: tracing::Dispatch) -> Self {
        Self {
            seen: Arc::default(),
            forward: Some(forward),
        }
    }

    /// Takes the warnings collected since the last call.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().warnings)
    }

    /// Every refusal collected so far.
    pub fn refused(&self) -> Vec<String> {
        self.lock().refused.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    plugin: bool,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field.name(), format!("{value:?}"));
    }
}

impl Fields {
    fn record(&mut self, name: &str, value: String) {
        match name {
            "message" => self.message = value,
            "plugin" => self.plugin = true,
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for Watch {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if let Some(forward) = &self.forward
            && forward.enabled(event.metadata())
        {
            forward.event(event);
        }
        if *event.metadata().level() > Level::WARN {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if !fields.plugin {
            return;
        }
        let mut seen = self.lock();
        match fields.message.strip_prefix(REFUSED_PREFIX) {
            Some(why) => seen.refused.push(why.to_owned()),
            None => seen.warnings.push(fields.message),
        }
    }
}
