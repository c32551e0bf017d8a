//! What the battery produces: one row per check, and the report that holds
//! them. Serialised as is for `--output json`.

use serde::Serialize;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The plugin behaves as cert-manager's issuers do.
    Pass,
    /// Acceptable, but different from the letter of the check; the row
    /// says how (e.g. a lifetime capped at the CA's own expiry, as
    /// cert-manager's CA issuer caps it). Does not fail the run.
    Warn,
    /// The plugin does not behave as cert-manager's issuers do.
    Fail,
    /// The check could not apply (e.g. the plugin never answers `pending`).
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// A stable, kebab-case name (`issue-ecdsa-p256`), for CI to match on.
    pub name: String,
    pub status: Status,
    /// One short sentence: why the row has its status.
    pub why: String,
}

impl Row {
    pub fn new(name: &str, status: Status, why: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status,
            why: why.into(),
        }
    }

    pub fn pass(name: &str, why: impl Into<String>) -> Self {
        Self::new(name, Status::Pass, why)
    }

    pub fn fail(name: &str, why: impl Into<String>) -> Self {
        Self::new(name, Status::Fail, why)
    }

    pub fn warn(name: &str, why: impl Into<String>) -> Self {
        Self::new(name, Status::Warn, why)
    }

    pub fn skip(name: &str, why: impl Into<String>) -> Self {
        Self::new(name, Status::Skip, why)
    }
}

/// The plugin the battery ran against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginSummary {
    pub name: String,
    pub version: String,
    pub issuer_types: Vec<String>,
    /// The contract version it was built against, e.g. `0.4.0`.
    pub wit_version: String,
}

/// Everything `plugin conformance` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub plugin: PluginSummary,
    /// `Issuer ns/name` the battery ran for.
    pub issuer: String,
    pub rows: Vec<Row>,
    /// No row failed.
    pub passed: bool,
}

impl Report {
    pub fn new(plugin: PluginSummary, issuer: String, rows: Vec<Row>) -> Self {
        let passed = rows.iter().all(|row| row.status != Status::Fail);
        Self {
            plugin,
            issuer,
            rows,
            passed,
        }
    }

    /// The names of the rows with `status`, in order.
    pub fn names_with(&self, status: Status) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|row| row.status == status)
            .map(|row| row.name.as_str())
            .collect()
    }
}
