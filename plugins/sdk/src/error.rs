//! Plugin errors, worded the way cert-manager's controllers word them.
//!
//! cert-manager reports a failed step as `"<what it was doing>: <error>"`
//! with a CamelCase reason, and either fails the request for good
//! (`Failed`) or leaves it `Pending` to be retried. These helpers build the
//! same [`PluginError`]s, so the host can show them unchanged.

use std::fmt::Display;

use crate::types::{HostError, PluginError};

/// An error the host will not retry (cert-manager's `Failed`): a request the
/// issuer refuses, a configuration that cannot work as written.
pub fn failed(reason: &str, message: impl Into<String>) -> PluginError {
    PluginError {
        reason: reason.to_owned(),
        message: message.into(),
        retryable: false,
    }
}

/// An error worth retrying later (cert-manager leaves such a request
/// `Pending`): a Secret not there yet, a server that is down, a rate limit.
///
/// This is an *error* the host retries with back-off; it is not the
/// `pending` *outcome* ([`crate::issuer::Outcome::Pending`]), with which a
/// plugin that is making progress (an order being validated) says when to
/// call again and hands the host its state.
pub fn retry_later(reason: &str, message: impl Into<String>) -> PluginError {
    PluginError {
        reason: reason.to_owned(),
        message: message.into(),
        retryable: true,
    }
}

/// The former name of [`retry_later`], kept so that plugins written against
/// it still build; it was easy to confuse with the `pending` outcome.
#[deprecated(
    note = "renamed `retry_later`: it builds a retryable error, not the `pending` outcome"
)]
pub fn pending(reason: &str, message: impl Into<String>) -> PluginError {
    retry_later(reason, message)
}

/// Turns a failed import into a [`PluginError`] worded
/// `"<context>: <the host's sentence>"`, retryable exactly when the host's
/// error is a passing fault (`unavailable`): a refused grant or a missing
/// Secret needs a change first, so retrying it would only repeat it.
///
/// ```
/// use certwasm_plugin_sdk::host_failure;
/// use certwasm_plugin_sdk::types::HostError;
/// let read: Result<(), HostError> = Err(HostError::NotFound("secrets \"ca\" not found".into()));
/// let error = read.map_err(host_failure("ErrGetKeyPair", "Failed to read the CA Secret")).unwrap_err();
/// assert_eq!(error.message, "Failed to read the CA Secret: secrets \"ca\" not found");
/// assert!(!error.retryable);
/// ```
pub fn host_failure<'a>(
    reason: &'a str,
    context: &'a str,
) -> impl FnOnce(HostError) -> PluginError + 'a {
    move |error| PluginError {
        reason: reason.to_owned(),
        message: format!("{context}: {}", error.message()),
        retryable: error.is_retryable(),
    }
}

/// Turns any displayable error into a [`PluginError`] with a reason and
/// cert-manager's `"<context>: <error>"` message.
///
/// ```
/// use certwasm_plugin_sdk::ResultExt;
/// let parsed: Result<u32, _> = "x".parse::<u32>().or_fail("ErrorParsing", "Failed to parse the count");
/// let error = parsed.unwrap_err();
/// assert_eq!(error.message, "Failed to parse the count: invalid digit found in string");
/// assert!(!error.retryable);
/// ```
pub trait ResultExt<T> {
    /// A permanent error: see [`failed`].
    fn or_fail(self, reason: &str, context: &str) -> Result<T, PluginError>;
    /// A retryable error: see [`retry_later`].
    fn or_retry(self, reason: &str, context: &str) -> Result<T, PluginError>;
}

impl<T, E: Display> ResultExt<T> for Result<T, E> {
    fn or_fail(self, reason: &str, context: &str) -> Result<T, PluginError> {
        self.map_err(|e| failed(reason, format!("{context}: {e}")))
    }

    fn or_retry(self, reason: &str, context: &str) -> Result<T, PluginError> {
        self.map_err(|e| retry_later(reason, format!("{context}: {e}")))
    }
}
