//! What an `issue` call fails with.

use super::bindings::types::PluginError as PluginFailure;
use super::runtime::PluginCallError;

/// Why an `issue` call produced no outcome: the plugin's own error, given
/// through the contract, or a failure of the call in the sandbox. One enum
/// rather than a `Result` inside a `Result`, so that callers match issued,
/// pending, refused and crashed at one level.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IssueError {
    /// The plugin answered with its own error; `retryable` says whether
    /// the host may call again.
    #[error("{}: {}", .0.reason, .0.message)]
    Plugin(PluginFailure),
    /// The call failed in the sandbox (deadline, memory, trap, oversized
    /// result, setup); the plugin stays usable.
    #[error(transparent)]
    Call(#[from] PluginCallError),
}
