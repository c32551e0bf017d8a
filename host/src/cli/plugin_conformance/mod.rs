//! `certwasm plugin conformance`: runs a fixed battery of checks against
//! any issuer plugin (bundled or a `.wasm` file, in any language) and says,
//! row by row, whether it behaves as cert-manager's issuers do — before a
//! user finds out. See `docs/plugins/conformance.md` for what each row
//! checks and why.
//!
//! Split by idea: [`checks`] decides (pure functions from answers to
//! verdicts), [`runner`] calls the plugin, [`capture`] watches its
//! requests and warnings, [`output`] prints, [`verdict`] is the report.

mod capture;
pub mod checks;
mod output;
mod runner;
pub mod verdict;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::plugin_harness::{CallArgs, read_setup};
use super::plugin_load;
use crate::go_duration;
pub use verdict::{Report, Row, Status};

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// The plugin: a bundled name (see `certwasm plugin list`) or a `.wasm`
    /// path.
    pub plugin: String,
    /// The Issuer or ClusterIssuer manifest (cert-manager.io/v1 YAML) the
    /// battery runs with.
    #[arg(long)]
    pub issuer: PathBuf,
    /// Secret manifests the issuer references (repeatable).
    #[arg(long = "secret")]
    pub secrets: Vec<PathBuf>,
    /// `table` for people, `json` for CI.
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// The domain the requested names are made under
    /// (`conformance.<domain>`, `conformance@<domain>`, ...): one the
    /// issuer may sign for.
    #[arg(long, default_value = "example.com")]
    pub domain: String,
    /// `spec.duration` of every request (Go duration).
    #[arg(long, default_value = "100h")]
    pub duration: String,
    /// Give up on a pending issuance after this long (Go duration).
    #[arg(long, default_value = "2m")]
    pub timeout: String,
    #[command(flatten)]
    pub call: CallArgs,
}

/// Runs the battery and returns the report (what `--output json` prints).
pub fn conform(args: &ConformanceArgs) -> Result<Report> {
    let setup = read_setup(&args.issuer, &args.secrets)?;
    let plan = runner::Plan {
        domain: args.domain.clone(),
        duration: go_duration::parse(&args.duration).context("--duration")?,
        limits: args.call.limits()?,
        give_up: go_duration::parse(&args.timeout).context("--timeout")?,
    };
    let (plugin, _, _) = plugin_load::load(&args.plugin, args.call.cache_dir())?;
    let rows = runner::run(&plugin, &setup, &plan)?;
    let info = plugin.info();
    let summary = verdict::PluginSummary {
        name: info.name.clone(),
        version: info.version.clone(),
        issuer_types: info.issuer_types.clone(),
        wit_version: plugin.wit_version().as_str().to_owned(),
    };
    Ok(Report::new(summary, setup.label.clone(), rows))
}

/// `certwasm plugin conformance`: exits 1 when any row failed.
pub fn run(args: ConformanceArgs) -> Result<i32> {
    let report = conform(&args)?;
    match args.output {
        OutputFormat::Table => print!("{}", output::table(&report)),
        OutputFormat::Json => println!("{}", output::json(&report)?),
    }
    Ok(if report.passed { 0 } else { 1 })
}
