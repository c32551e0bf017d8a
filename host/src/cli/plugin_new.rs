//! `certwasm plugin new`: a plugin project that builds as it stands.
//!
//! The templates live in `templates/plugin/<lang>/` of the source tree and
//! are carried by the binary (see `build.rs`), so a project made by a given
//! `certwasm` matches the contract that binary loads. A template is plain
//! files with a few literal placeholders (no template language: what an
//! author reads in the repository is what they get):
//!
//! - `{{name}}`: the plugin's name, as Issuers ask for it (`my-ca`);
//! - `{{module}}`: the same with `_` for `-`, for languages whose
//!   identifiers cannot hold a dash (`my_ca`);
//! - `{{wit_package}}`: the contract, `certwasm:issuer@0.4.0`;
//! - `{{sdk_dependency}}`: for Rust, how Cargo finds the SDK (a TOML
//!   inline table).
//!
//! The contract itself is written to `wit/issuer.wit` beside them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::plugin_wit::write_wit;
use crate::plugin::WitVersion;

/// Every template file: `(language, path in the project, contents)`.
const TEMPLATES: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// Where the SDK is published, for projects made away from a source tree.
const SDK_GIT: &str = "https://github.com/certwasm/certwasm";

/// The languages a project can be made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust, on the certwasm plugin SDK (`cargo`, target wasm32-wasip2).
    Rust,
    /// JavaScript, made a component by componentize-js (npm).
    Js,
    /// Python, made a component by componentize-py (PyPI).
    Python,
}

impl Lang {
    fn dir(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Js => "js",
            Self::Python => "python",
        }
    }
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: what Issuers ask for in `spec.plugin.name` and
    /// the component's file name (lowercase letters, digits and `-`).
    pub name: String,
    /// The language of the project.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// The directory to create (default: ./NAME). It must not exist, or be
    /// empty.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Rust only: the SDK crate to depend on (`plugins/sdk` of a certwasm
    /// source tree). Default: the source tree this binary was built from,
    /// if it is still there; otherwise the SDK's git repository.
    #[arg(long)]
    pub sdk: Option<PathBuf>,
}

/// Why a project cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NewError {
    #[error(
        "invalid plugin name {0:?}: use lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most 63 characters"
    )]
    InvalidName(String),
    #[error("this certwasm carries no {0} template (it was built without templates/plugin/{0})")]
    NoTemplate(&'static str),
}

/// The values the placeholders take.
#[derive(Debug, Clone)]
pub struct Placeholders {
    pub name: String,
    pub sdk_dependency: String,
}

pub fn run(args: NewArgs) -> Result<i32> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    check_target(&dir)?;
    let sdk_dependency = sdk_dependency(args.sdk.as_deref())?;
    let files = render(
        args.lang,
        &Placeholders {
            name: args.name.clone(),
            sdk_dependency,
        },
    )?;
    for (relative, contents) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        if relative.ends_with(".sh") {
            make_executable(&path)?;
        }
    }
    write_wit(&dir.join("wit"))?;
    println!(
        "Created {} plugin {:?} in {} ({} files and wit/issuer.wit, certwasm:issuer@{}).",
        args.lang.dir(),
        args.name,
        dir.display(),
        files.len(),
        WitVersion::CURRENT.as_str()
    );
    println!(
        "Next: {}/README.md says how to build and test it.",
        dir.display()
    );
    Ok(0)
}

/// The project's files for `lang` with the placeholders filled in, in a
/// stable order. Pure: writing them is the caller's business.
pub fn render(lang: Lang, values: &Placeholders) -> Result<Vec<(String, String)>, NewError> {
    check_name(&values.name)?;
    let module = values.name.replace('-', "_");
    let wit_package = format!("certwasm:issuer@{}", WitVersion::CURRENT.as_str());
    let fill = |text: &str| {
        text.replace("{{name}}", &values.name)
            .replace("{{module}}", &module)
            .replace("{{wit_package}}", &wit_package)
            .replace("{{sdk_dependency}}", &values.sdk_dependency)
    };
    let files: Vec<(String, String)> = TEMPLATES
        .iter()
        .filter(|(template_lang, _, _)| *template_lang == lang.dir())
        .map(|(_, path, contents)| (fill(path), fill(contents)))
        .collect();
    if files.is_empty() {
        return Err(NewError::NoTemplate(lang.dir()));
    }
    Ok(files)
}

/// A plugin name is a bundle entry name and an Issuer's `spec.plugin.name`,
/// a file stem, and (with `-` as `_`) an identifier in every template
/// language: a DNS label that starts with a letter satisfies all four.
pub fn check_name(name: &str) -> Result<(), NewError> {
    let bytes = name.as_bytes();
    let fits = !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.ends_with('-');
    if fits {
        Ok(())
    } else {
        Err(NewError::InvalidName(name.to_owned()))
    }
}

/// Refuses to write over anything: the directory must be new or empty.
fn check_target(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} already exists and is not empty; choose another --dir",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("reading {}", dir.display())),
    }
}

/// How the Rust project's Cargo.toml finds the SDK: `--sdk`, else the
/// source tree this binary was built from when it is still on disk (the
/// usual case for someone who built certwasm), else the git repository.
fn sdk_dependency(sdk: Option<&Path>) -> Result<String> {
    let path = match sdk {
        Some(path) => Some(
            path.canonicalize()
                .with_context(|| format!("--sdk {}", path.display()))?,
        ),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins/sdk")
            .canonicalize()
            .ok(),
    };
    Ok(match path {
        Some(path) => {
            if !path.join("Cargo.toml").exists() {
                bail!("--sdk {}: no Cargo.toml there", path.display());
            }
            format!("{{ path = {:?} }}", path.display().to_string())
        }
        None => format!(
            "{{ git = {SDK_GIT:?}, tag = \"v{}\" }}",
            env!("CARGO_PKG_VERSION")
        ),
    })
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str) -> Placeholders {
        Placeholders {
            name: name.to_owned(),
            sdk_dependency: "{ path = \"/src/certwasm/plugins/sdk\" }".to_owned(),
        }
    }

    #[test]
    fn names_must_fit_every_place_they_go() {
        for good in ["my-ca", "ca", "a1", "x-509-signer"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "My-CA",
            "1ca",
            "-ca",
            "ca-",
            "my_ca",
            "my ca",
            &"a".repeat(64),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_language_has_a_template_with_no_placeholder_left() {
        for lang in [Lang::Rust, Lang::Js, Lang::Python] {
            let files = render(lang, &values("my-ca")).unwrap();
            assert!(
                files.iter().any(|(path, _)| path == "README.md"),
                "{lang:?}"
            );
            for (path, contents) in &files {
                assert!(!path.contains("{{"), "{lang:?} {path}");
                assert!(!contents.contains("{{name}}"), "{lang:?} {path}");
                assert!(!contents.contains("{{module}}"), "{lang:?} {path}");
                assert!(!contents.contains("{{wit_package}}"), "{lang:?} {path}");
                assert!(!contents.contains("{{sdk_dependency}}"), "{lang:?} {path}");
            }
            // The name reaches the project: its issuer asks for it.
            assert!(
                files
                    .iter()
                    .any(|(_, contents)| contents.contains("name: my-ca")),
                "{lang:?}: no issuer.yaml asking for the plugin by name"
            );
        }
    }

    #[test]
    fn the_rust_project_depends_on_the_sdk_given() {
        let files = render(Lang::Rust, &values("my-ca")).unwrap();
        let cargo = files
            .iter()
            .find(|(path, _)| path == "Cargo.toml")
            .map(|(_, contents)| contents.as_str())
            .unwrap_or_default();
        assert!(
            cargo.contains("{ path = \"/src/certwasm/plugins/sdk\" }"),
            "{cargo}"
        );
    }

    #[test]
    fn an_invalid_name_writes_nothing() {
        assert_eq!(
            render(Lang::Js, &values("My CA")).unwrap_err(),
            NewError::InvalidName("My CA".to_owned())
        );
    }
}
