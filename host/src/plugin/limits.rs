//! Per-call resource limits.

use std::time::Duration;

/// Limits every plugin call runs under.
///
/// The defaults are generous for an issuer (a CA signing takes well under a
/// millisecond; an ACME step waits on the network) and small enough that a
/// misbehaving plugin cannot starve the controller: 64 MiB of linear memory
/// and 10 s of wall-clock time per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Largest total linear memory a call's instance may grow to.
    pub memory_bytes: usize,
    /// Wall-clock deadline for the whole call, host imports included.
    pub deadline: Duration,
    /// Largest result (certificate chain, CA, state, events) accepted back.
    pub max_result_bytes: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            deadline: Duration::from_secs(10),
            max_result_bytes: 1 << 20,
        }
    }
}
