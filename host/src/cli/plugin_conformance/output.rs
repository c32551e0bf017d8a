//! The report as a table for a person, or as JSON for CI.

use super::verdict::{Report, Status};

/// The table: a header naming the plugin and issuer, one line per check,
/// and a count.
pub fn table(report: &Report) -> String {
    let plugin = &report.plugin;
    let mut out = format!(
        "Conformance of plugin {} {} (certwasm:issuer@{}) with {}\n\n",
        plugin.name, plugin.version, plugin.wit_version, report.issuer
    );
    let width = report
        .rows
        .iter()
        .map(|row| row.name.len())
        .max()
        .unwrap_or(0)
        .max("CHECK".len());
    out.push_str(&format!("{:<width$}  {:<6}  WHY\n", "CHECK", "RESULT"));
    for row in &report.rows {
        out.push_str(&format!(
            "{:<width$}  {:<6}  {}\n",
            row.name,
            row.status.as_str(),
            one_line(&row.why)
        ));
    }
    let count = |status| report.rows.iter().filter(|r| r.status == status).count();
    out.push_str(&format!(
        "\n{} passed, {} warned, {} failed, {} skipped\n",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    ));
    out
}

/// A why on one line: a crash's message can carry what the plugin printed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The report as pretty JSON (see `verdict` for the fields).
pub fn json(report: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

#[cfg(test)]
mod tests {
    use super::super::verdict::{PluginSummary, Row};
    use super::*;

    #[test]
    fn the_table_has_a_line_per_row_and_the_counts() {
        let report = Report::new(
            PluginSummary {
                name: "p".into(),
                version: "1.0.0".into(),
                issuer_types: vec!["plugin".into()],
                wit_version: "0.4.0".into(),
            },
            "Issuer default/p".into(),
            vec![
                Row::pass("info", "fine"),
                Row::fail("duration-long-name", "ignored"),
            ],
        );
        let text = table(&report);
        assert!(
            text.contains("info                PASS    fine\n"),
            "{text}"
        );
        assert!(
            text.contains("duration-long-name  FAIL    ignored\n"),
            "{text}"
        );
        assert!(
            text.ends_with("1 passed, 0 warned, 1 failed, 0 skipped\n"),
            "{text}"
        );
        assert!(!report.passed);
        let value: serde_json::Value = serde_json::from_str(&json(&report).unwrap()).unwrap();
        assert_eq!(value["rows"][1]["status"], "FAIL");
        assert_eq!(value["passed"], false);
    }
}
