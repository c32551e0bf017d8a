//! The wasmtime plugin runtime: loads issuer components, links the host
//! imports, and runs each call in a fresh, limited instance.
//!
//! Why a fresh instance per call: a plugin is stateless by contract, and an
//! instance that trapped, ran out of memory or was interrupted must never
//! serve another request. Instantiating from a pre-linked [`IssuerPre`] costs
//! microseconds, so isolation is nearly free.
//!
//! [`IssuerPre`]: bindings::IssuerPre

pub mod bindings;
mod bundled;
mod cache;
mod convert;
pub mod egress;
mod engine;
mod error;
mod guest_output;
pub use guest_output::OUTPUT_TARGET;
pub mod grants;
mod host_state;
mod issue_error;
pub mod issuer_cache;
mod keyring;
mod legacy;
mod limits;
pub mod outbound;
mod pinned_tls;
mod runtime;
pub mod secrets;
pub mod selection;

pub use bindings::WitVersion;
pub use bundled::{BUNDLED, BundledPlugin, bundled_plugin};
pub use cache::LoadSource;
pub use engine::PluginEngine;
pub use error::PluginError;
pub use grants::{GrantDenied, Grants};
pub use issue_error::IssueError;
pub use limits::CallLimits;
pub use runtime::{
    CallEffects, CallStats, IssueCall, IssueReply, Plugin, PluginCallError, Validated,
};
