//! The module boundaries of `server/src`: which of ztp's own modules (and which crates of the
//! wire and the outside world) each top-level module may import. Arrows point inward, to the
//! domain: a module that reaches outward (the domain into the store, the store into HTTP) fails
//! here, with the file and the line.
//!
//! Every top-level module needs a line in [`RULES`], so a new module is placed deliberately.
//! Test code (`#[cfg(test)]` modules, inline or in their own `tests.rs`) is not held to the
//! rules.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// What any module may use without a rule: the crate root's macros and the module itself.
const EVERYWHERE: &[&str] = &[];

/// Crates that carry I/O, the wire or the outside world: the domain uses none of them.
const OUTSIDE: &[&str] = &[
    "ztp_yang",
    "ztp_nms_connector",
    "sqlx",
    "rusqlite",
    "hyper",
    "hyper_util",
    "http",
    "tokio",
    "rustls",
    "russh",
    "reqwest",
];

/// Each top-level module, the modules of ztp it may import, and whether it may use the
/// [`OUTSIDE`] crates. From the inside out.
const RULES: &[(&str, &[&str], bool)] = &[
    // Pure: plain types and rules.
    ("domain", &[], false),
    // Leaves: each does one thing and knows nothing of the rest of ztp.
    ("telemetry", &[], true),
    ("secrets", &[], true),
    ("csv_export", &[], true),
    ("address_policy", &[], true),
    ("dhcp", &[], true),
    ("cli", &[], true),
    // Persistence, behind the store.
    ("store", &["domain", "secrets", "telemetry"], true),
    // Who is calling.
    ("auth", &["domain", "store", "telemetry"], true),
    ("tls", &["auth"], true),
    // The use cases: what a device is answered, its licenses, its registration, its events.
    ("artifacts", &["domain"], true),
    ("ldevid", &[], true),
    (
        "licensing",
        &["domain", "store", "artifacts", "telemetry"],
        true,
    ),
    (
        "nms",
        &[
            "domain",
            "store",
            "config",
            "address_policy",
            "secrets",
            "telemetry",
        ],
        true,
    ),
    (
        "webhooks",
        &[
            "domain",
            "store",
            "config",
            "address_policy",
            "tls",
            "secrets",
            "telemetry",
        ],
        true,
    ),
    (
        "bootstrap",
        &[
            "domain",
            "store",
            "auth",
            "artifacts",
            "ldevid",
            "licensing",
            "nms",
            "telemetry",
        ],
        true,
    ),
    // The edges: transport, the device API, the admin API, the reference agent.
    ("http", &["auth", "telemetry"], true),
    (
        "restconf",
        &[
            "domain",
            "store",
            "auth",
            "bootstrap",
            "licensing",
            "nms",
            "http",
            "telemetry",
        ],
        true,
    ),
    (
        "admin",
        &[
            "domain",
            "store",
            "auth",
            "artifacts",
            "ldevid",
            "licensing",
            "nms",
            "webhooks",
            "http",
            "address_policy",
            "csv_export",
            "secrets",
            "telemetry",
            "tls",
        ],
        true,
    ),
    ("agent", &["domain", "dhcp", "tls"], true),
    // Configuration: the settings of each part, read by the composition root.
    (
        "config",
        &["domain", "store", "auth", "http", "telemetry"],
        true,
    ),
    // The command line: everything.
    ("commands", &["*"], true),
    ("startup", &["*"], true),
];

/// One import that breaks a rule.
#[derive(Debug)]
struct Breach {
    file: PathBuf,
    line: usize,
    text: String,
    why: String,
}

fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The `.rs` files under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The top-level module a file of `src` belongs to (`lib` and `main` for the roots).
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(source()).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_owned()
}

/// Whether `file` holds test code only: a `tests.rs`, or a file under a `tests/` folder.
fn is_test_code(file: &Path) -> bool {
    let relative = file.strip_prefix(source()).unwrap();
    file.ends_with("tests.rs") || relative.components().any(|c| c.as_os_str() == "tests")
}

/// `text` up to its test modules, with comment lines blanked (so lines keep their numbers).
fn code(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if !trimmed.starts_with("//") {
            kept.push_str(line);
        }
        kept.push('\n');
    }
    kept
}

/// The first segments of the paths that follow `prefix` in `code`, with the line each is on:
/// `crate::store::x` gives `store`, and `crate::{store, http::Body}` gives both.
fn paths_after(code: &str, prefix: &str) -> Vec<(usize, String)> {
    let segment = |rest: &str| -> String {
        let rest = rest.trim_start();
        let end = rest
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        rest[..end].to_owned()
    };
    let mut found = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        // A whole path segment: not `my_crate::`.
        let whole = code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        if !whole {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Up to the matching brace; the names at its top level.
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push((line, segment(&group[start..i])));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push((line, segment(&group[start..i])));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push((line, segment(rest)));
        }
    }
    found.retain(|(_, name)| !name.is_empty());
    found
}

fn breaches() -> Vec<Breach> {
    let mut found = Vec::new();
    for file in files(&source()) {
        let module = module_of(&file);
        if module == "lib" || module == "main" || is_test_code(&file) {
            continue;
        }
        let Some((_, allowed, outside)) = RULES.iter().find(|(name, ..)| *name == module) else {
            found.push(Breach {
                file: file.clone(),
                line: 0,
                text: String::new(),
                why: format!("module `{module}` has no line in RULES: place it"),
            });
            continue;
        };
        if allowed.contains(&"*") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let code = code(&text);
        let lines: Vec<&str> = text.lines().collect();
        let mut breach = |line: usize, why: String| {
            found.push(Breach {
                file: file.clone(),
                line,
                text: lines.get(line - 1).map_or("", |l| l.trim()).to_owned(),
                why,
            });
        };
        for (line, used) in paths_after(&code, "crate::") {
            let fine = used == module
                || allowed.contains(&used.as_str())
                || EVERYWHERE.contains(&used.as_str());
            if !fine {
                breach(line, format!("`{module}` may not import `{used}`"));
            }
        }
        if !outside {
            for krate in OUTSIDE {
                for (line, _) in paths_after(&code, &format!("{krate}::")) {
                    breach(line, format!("`{module}` may not use `{krate}`"));
                }
            }
        }
    }
    found
}

#[test]
fn arrows_point_inward() {
    let found = breaches();
    let report: Vec<String> = found
        .iter()
        .map(|b| format!("{}:{}: {}: {}", b.file.display(), b.line, b.why, b.text))
        .collect();
    assert!(
        found.is_empty(),
        "imports that break the module rules:\n{}",
        report.join("\n")
    );
}

#[test]
fn every_module_has_a_rule_and_every_rule_a_module() {
    let modules: BTreeSet<String> = files(&source())
        .iter()
        .map(|f| module_of(f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let ruled: BTreeSet<String> = RULES.iter().map(|(m, ..)| (*m).to_owned()).collect();
    let stale: Vec<_> = ruled.difference(&modules).collect();
    assert!(
        stale.is_empty(),
        "rules for modules that do not exist: {stale:?}"
    );
    let unruled: Vec<_> = modules.difference(&ruled).collect();
    assert!(unruled.is_empty(), "modules without a rule: {unruled:?}");
}

#[test]
fn the_check_sees_an_outward_import() {
    let names = |code: &str, prefix: &str| -> Vec<String> {
        paths_after(code, prefix)
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    };
    let line = "use crate::store::EventKind; let x = ztp_yang::Binary::from(y);";
    assert_eq!(names(line, "crate::"), ["store"]);
    assert_eq!(names(line, "ztp_yang::"), ["Binary"]);
    assert!(names("use my_crate::store;", "crate::").is_empty());
    let grouped = "use crate::{\n    domain::x,\n    http::{Body, empty},\n    store,\n};";
    assert_eq!(names(grouped, "crate::"), ["domain", "http", "store"]);
    let text = "use crate::domain;\n// crate::http in a comment\n#[cfg(test)]\nuse crate::http;";
    assert_eq!(
        paths_after(&code(text), "crate::"),
        [(1, "domain".to_owned())]
    );
}

/// Database drivers that only their backend's folder of the store uses, and the files beside
/// it that may name the driver too (the error type, rows of either driver): the rest of the
/// store goes through the seam and the SQL every backend shares.
const DRIVERS: &[(&str, &str, &[&str])] = &[(
    "rusqlite",
    "store/sqlite",
    &["store/mod.rs", "store/columns.rs"],
)];

#[test]
fn each_database_driver_stays_in_its_backend() {
    let mut found = Vec::new();
    for file in files(&source()) {
        let relative = file.strip_prefix(source()).unwrap();
        if is_test_code(&file) {
            continue;
        }
        let code = code(&fs::read_to_string(&file).unwrap());
        for (driver, folder, beside) in DRIVERS {
            let inside =
                relative.starts_with(folder) || beside.iter().any(|b| relative == Path::new(b));
            if inside {
                continue;
            }
            for (line, _) in paths_after(&code, &format!("{driver}::")) {
                found.push(format!(
                    "{}:{line}: `{driver}` belongs in {folder}",
                    file.display()
                ));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The longest a file of `server/src` may be, tests included.
const MAX_FILE_LINES: usize = 600;

#[test]
fn no_file_is_longer_than_the_limit() {
    let long: Vec<String> = files(&source())
        .into_iter()
        .filter_map(|file| {
            let lines = fs::read_to_string(&file).unwrap().lines().count();
            (lines > MAX_FILE_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines (split them by concept):\n{}",
        long.join("\n")
    );
}

/// The root file of a top-level module.
fn root_of(module: &str) -> PathBuf {
    let flat = source().join(format!("{module}.rs"));
    if flat.exists() {
        flat
    } else {
        source().join(module).join("mod.rs")
    }
}

/// The modules a root file's doc says it may import: the backquoted names of the paragraph
/// that starts `May import:` (or `# What it may import`), `*` for "everything".
fn declared_imports(text: &str) -> Option<BTreeSet<String>> {
    let doc: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim())
        .collect();
    let start = doc
        .iter()
        .position(|l| l.starts_with("May import:") || l.starts_with("# What it may import"))?;
    let mut paragraph = String::new();
    for line in &doc[start..] {
        if line.is_empty() && !paragraph.is_empty() {
            break;
        }
        paragraph.push_str(line);
        paragraph.push(' ');
    }
    let mut names: BTreeSet<String> = paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .filter(|name| RULES.iter().any(|(module, ..)| module == name))
        .collect();
    if paragraph.contains("everything") {
        names.insert("*".to_owned());
    }
    Some(names)
}

#[test]
fn each_module_doc_says_what_it_may_import_as_the_rules_do() {
    let mut wrong = Vec::new();
    for (module, allowed, _) in RULES {
        let root = root_of(module);
        let text = fs::read_to_string(&root).unwrap();
        let allowed: BTreeSet<String> = allowed.iter().map(|m| (*m).to_owned()).collect();
        match declared_imports(&text) {
            None => wrong.push(format!("{}: no \"May import:\" line", root.display())),
            Some(declared) if declared != allowed => wrong.push(format!(
                "{}: the doc says {declared:?}, the rules {allowed:?}",
                root.display()
            )),
            Some(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
