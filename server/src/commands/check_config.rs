//! `ztp check-config FILE`: loads a configuration as `ztp serve --config FILE` would (the file,
//! then the `ZTP_*` environment) and reports every problem at once, one line each, with its
//! key: unknown keys, values that do not parse as their key's type, files `ztp serve` would
//! read that are missing or unreadable, and the rules between keys ([`Config::problems`]). It
//! opens no database and binds no port.
//!
//! Loading stops at the first error, so each key is checked on its own: every key of the
//! merged sources is looked up among [`Config::every_key`], and each known one is extracted
//! alone over the defaults. The keys that pass make the configuration whose files are checked.

use std::fmt;
use std::path::Path;
use std::process::ExitCode;

use figment::providers::Serialized;
use figment::value::{Dict, Value};
use figment::{Figment, Source};
use ztp_certs::dev_pki::layout;

use super::output::print;
use crate::cli::CheckConfigArgs;
use crate::config::{Config, ENV_PREFIX, Overrides};

/// Runs `ztp check-config`: "ok" and status 0, or a line per problem and status 1.
pub fn run(args: &CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        ..Overrides::default()
    };
    let report = check(&args.file, &overrides);
    if report.problems.is_empty() {
        print(&format!(
            "ok: {}: {} keys, {} files checked\n",
            args.file.display(),
            report.keys,
            report.files
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let lines: String = report.problems.iter().map(|p| format!("{p}\n")).collect();
    print(&lines)?;
    eprintln!(
        "{}: {} problem(s)",
        args.file.display(),
        report.problems.len()
    );
    Ok(ExitCode::FAILURE)
}

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Every problem, in the order of the keys.
    pub problems: Vec<Problem>,
    /// How many keys were checked (sections not counted).
    pub keys: usize,
    /// How many files were checked.
    pub files: usize,
}

/// One problem: the key, what is wrong, and where the value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key (`device_api.listen`), or none for a file that does not load at all.
    pub key: Option<String>,
    /// What is wrong.
    pub reason: String,
    /// The file or the environment variable that gave the value; none for the defaults.
    pub origin: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.reason)?;
        match &self.origin {
            Some(origin) => write!(f, " ({origin})"),
            None => Ok(()),
        }
    }
}

/// Checks `file` with the process's `ZTP_*` environment and `overrides`, as `ztp serve` would
/// load them.
pub fn check(file: &Path, overrides: &Overrides) -> Report {
    let figment = Config::figment(Some(file), &[], overrides);
    let mut report = Report::default();
    let merged = match figment.extract::<Dict>() {
        Ok(merged) => merged,
        Err(error) => {
            report.problems.push(Problem {
                key: None,
                reason: error.to_string(),
                origin: None,
            });
            return report;
        }
    };
    let mut keys = Keys {
        figment: &figment,
        good: Figment::from(Serialized::defaults(Config::default())),
        report,
    };
    if let serde_json::Value::Object(known) = Config::every_key() {
        keys.walk(&known, &merged, "");
    }
    let Keys {
        good, mut report, ..
    } = keys;
    let config = match good.extract::<Config>() {
        Ok(config) => config,
        Err(error) => {
            report.problems.push(Problem {
                key: None,
                reason: error.to_string(),
                origin: None,
            });
            return report;
        }
    };
    check_files(&config, &figment, &mut report);
    for problem in config.problems() {
        let origin = origin(&figment, &problem.key);
        report.problems.push(Problem {
            key: Some(problem.key),
            reason: problem.reason,
            origin,
        });
    }
    if report.problems.is_empty() {
        // Whatever the checks above could miss, loading itself finds.
        if let Err(error) = figment.extract::<Config>() {
            report.problems.push(Problem {
                key: None,
                reason: error.to_string(),
                origin: None,
            });
        }
    }
    // The trust material, as a start loads it; a development PKI not made yet is ztp's to make.
    let dev_pki_pending = config.dev_pki.enabled
        && !config
            .path(&config.dev_pki.dir)
            .join(layout::MANIFEST)
            .exists();
    if report.problems.is_empty()
        && !dev_pki_pending
        && let Err(error) = crate::startup::check_trust(&config)
    {
        report.problems.push(Problem {
            key: None,
            reason: format!("{:#}", anyhow::Error::from(error)),
            origin: None,
        });
    }
    report
}

/// The walk over the merged keys.
struct Keys<'a> {
    /// The sources as `ztp serve` merges them.
    figment: &'a Figment,
    /// The defaults, with every key that passed.
    good: Figment,
    report: Report,
}

impl Keys<'_> {
    /// Checks the keys of `data` (the section at `prefix`) against `known`.
    fn walk(
        &mut self,
        known: &serde_json::Map<String, serde_json::Value>,
        data: &Dict,
        prefix: &str,
    ) {
        for (name, value) in data {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match (known.get(name), value) {
                (None, _) => self.report.problems.push(Problem {
                    reason: "unknown key".to_owned(),
                    origin: origin(self.figment, &key),
                    key: Some(key),
                }),
                (Some(serde_json::Value::Object(section)), Value::Dict(_, inner)) => {
                    // An empty section given is a section present (`[device_api.proxy]`).
                    let empty = Serialized::default(&key, Dict::new());
                    self.good = std::mem::take(&mut self.good).merge(empty);
                    self.walk(section, inner, &key);
                }
                (Some(_), value) => self.value(key, value),
            }
        }
    }

    /// Checks one known key's `value` on its own, over the defaults.
    fn value(&mut self, key: String, value: &Value) {
        self.report.keys += 1;
        let alone = Serialized::default(&key, value);
        let checked = Figment::from(Serialized::defaults(Config::default()))
            .merge(alone.clone())
            .extract::<Config>();
        match checked {
            Ok(_) => self.good = std::mem::take(&mut self.good).merge(alone),
            Err(error) => self.report.problems.push(Problem {
                reason: error.kind.to_string(),
                origin: origin(self.figment, &key),
                key: Some(key),
            }),
        }
    }
}

/// Checks that each file `ztp serve` reads exists and can be read, and that each file it
/// creates can be read if it exists. While the development PKI is on and its directory holds
/// none yet, `ztp serve` generates the files in that directory: they are not looked for.
fn check_files(config: &Config, figment: &Figment, report: &mut Report) {
    let dev_pki = config
        .dev_pki
        .enabled
        .then(|| config.path(&config.dev_pki.dir));
    let generated = dev_pki
        .as_ref()
        .filter(|dir| !dir.join(layout::MANIFEST).exists());
    let read = config.files_read().into_iter().map(|file| (file, true));
    let created = config.files_created().into_iter().map(|file| (file, false));
    for ((key, path), required) in read.chain(created) {
        if generated.is_some_and(|dir| path.starts_with(dir)) {
            continue;
        }
        report.files += 1;
        let reason = match std::fs::metadata(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                required.then(|| format!("{} does not exist", path.display()))
            }
            Err(error) => Some(format!("{}: {error}", path.display())),
            Ok(metadata) if metadata.is_dir() => {
                Some(format!("{} is a directory, not a file", path.display()))
            }
            Ok(_) => std::fs::File::open(&path)
                .err()
                .map(|error| format!("{} cannot be read: {error}", path.display())),
        };
        if let Some(reason) = reason {
            // The key of a list's entry (`manufacturer.crls[0]`) came from the list's source.
            let origin = origin(figment, key.split('[').next().unwrap_or(&key));
            report.problems.push(Problem {
                key: Some(key),
                reason,
                origin,
            });
        }
    }
}

/// Where `key`'s value came from: the file's path, or the environment variable's name; none
/// for a default.
fn origin(figment: &Figment, key: &str) -> Option<String> {
    let metadata = figment.find_metadata(key)?;
    if let Some(Source::File(path)) = &metadata.source {
        return Some(path.display().to_string());
    }
    metadata.name.contains("environment").then(|| {
        format!(
            "{ENV_PREFIX}{}",
            key.to_ascii_uppercase().replace('.', "__")
        )
    })
}

#[cfg(test)]
// figment's test jail returns its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use std::path::PathBuf;

    use figment::Jail;

    use super::*;

    /// Checks `text` as a configuration file with `data_dir` at `data` beside it, in a jail (so
    /// that no other test's `ZTP_*` variables count), and passes the directory and the report
    /// to `inspect`.
    fn check_text(text: &str, inspect: impl FnOnce(&Path, &Report)) {
        Jail::expect_with(|jail| {
            let dir = jail.directory().to_owned();
            jail.create_file("ztp.toml", text)?;
            let overrides = Overrides {
                data_dir: Some(dir.join("data")),
                ..Overrides::default()
            };
            inspect(&dir, &check(&dir.join("ztp.toml"), &overrides));
            Ok(())
        });
    }

    fn lines(report: &Report) -> Vec<String> {
        report.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_unknown_key_and_bad_value_is_reported_with_its_key() {
        let text = "listen_port = 1\n\
             [device_api]\nmax_body_bytes = \"big\"\nread_timeout_secs = -1\n\
             [nms]\nmax_sesions = 4\n\
             [webhook]\ntimeout_secs = 1\n";
        check_text(text, |dir, report| {
            let file = dir.join("ztp.toml");
            let lines = lines(report);
            let from = |line: &str| format!("{line} ({})", file.display());
            assert!(
                lines.contains(&from("listen_port: unknown key")),
                "{lines:#?}"
            );
            assert!(
                lines.contains(&from("nms.max_sesions: unknown key")),
                "{lines:#?}"
            );
            assert!(lines.contains(&from("webhook: unknown key")), "{lines:#?}");
            let bad: Vec<&String> = lines
                .iter()
                .filter(|l| {
                    l.starts_with("device_api.max_body_bytes: ")
                        || l.starts_with("device_api.read_timeout_secs: ")
                })
                .collect();
            assert_eq!(bad.len(), 2, "{lines:#?}");
            assert_eq!(report.problems.len(), 5, "{lines:#?}");
        });
    }

    #[test]
    fn a_file_that_is_not_toml_is_one_problem() {
        check_text("[device_api\nlisten = ", |_, report| {
            assert_eq!(report.problems.len(), 1, "{:?}", lines(report));
            assert_eq!(report.problems[0].key, None);
        });
    }

    #[test]
    fn files_named_are_looked_for_in_the_data_directory() {
        let text = "[dev_pki]\nenabled = false\n\
             [manufacturer]\ncrls = [\"crl.pem\", \"/nowhere/crl.pem\"]\n";
        check_text(text, |dir, report| {
            let lines = lines(report);
            let data = dir.join("data");
            let missing = |key: &str, path: PathBuf| {
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("{key}: {} does not exist", path.display())))
            };
            assert!(
                missing("manufacturer.crls[0]", data.join("crl.pem")),
                "{lines:#?}"
            );
            assert!(
                missing("manufacturer.crls[1]", PathBuf::from("/nowhere/crl.pem")),
                "{lines:#?}"
            );
            assert!(
                missing("device_api.tls_key", data.join("pki/server/tls.key")),
                "{lines:#?}"
            );
            assert!(
                !lines.iter().any(|l| l.contains("master_key_file")),
                "created at start: {lines:#?}"
            );
        });
    }

    #[test]
    fn the_development_pki_it_would_generate_is_not_looked_for() {
        check_text("data_dir = \"ignored: --data-dir wins\"\n", |_, report| {
            assert!(report.problems.is_empty(), "{:?}", lines(report));
            assert!(report.keys > 50, "every key counted: {}", report.keys);
        });
    }

    #[test]
    fn values_that_load_but_would_not_start_are_reported() {
        let text = "[admin_api]\nlisten = \"0.0.0.0:8443\"\n\
             [database]\nurl = \"mysql://db/ztp\"\n\
             [device_api.proxy]\ncertificate_header = \"bad header\"\n";
        check_text(text, |_, report| {
            let lines = lines(report);
            for key in [
                "admin_api.listen",
                "database.url",
                "device_api.proxy.trusted_proxies",
                "device_api.proxy.certificate_header",
            ] {
                assert!(
                    lines.iter().any(|l| l.starts_with(&format!("{key}: "))),
                    "{key}: {lines:#?}"
                );
            }
        });
    }
}
