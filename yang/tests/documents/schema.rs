//! The module files: parse with yang-rs, compile with yanglint, shadows in sync.

use std::fs;

use ztp_yang::modules::{self, ALL};

use crate::support::{SHADOW_DIR, Schemas};

#[test]
fn every_module_parses_with_yang_rs() {
    for module in ALL {
        let parsed = yang_rs::parser::Parser::parse_yang_from_string(
            module.text.to_owned(),
            yang_rs::config::Config::new(),
        );
        assert!(parsed.is_ok(), "{}: {:?}", module.name, parsed.err());
    }
}

#[test]
fn every_module_compiles_with_yanglint() {
    let schemas = Schemas::real();
    let files: Vec<_> = ALL.iter().map(|m| schemas.module(m.name)).collect();
    let paths: Vec<_> = files.iter().map(|p| p.as_path()).collect();
    schemas
        .lint(&[], &paths)
        .unwrap_or_else(|e| panic!("yanglint refused the modules:\n{e}"));
}

#[test]
fn embedded_texts_match_the_module_directory() {
    for module in ALL {
        let on_disk = fs::read_to_string(format!("{}/{}", modules::DIR, module.file_name()))
            .expect("module file");
        assert_eq!(on_disk, module.text, "{}", module.name);
    }
}

/// Removes the line `opener` and the first following line that is exactly `  }`.
fn unwrap_block(text: &str, opener: &str, replacement: &[&str]) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let start = lines.iter().position(|l| *l == opener).expect("opener");
    let end = start
        + lines[start..]
            .iter()
            .position(|l| *l == "  }")
            .expect("closer");
    let mut out: Vec<&str> = lines[..start].to_vec();
    if replacement.is_empty() {
        out.extend(&lines[start + 1..end]);
    } else {
        out.extend(replacement);
    }
    out.extend(&lines[end + 1..]);
    out.join("\n")
}

#[test]
fn shadow_modules_differ_only_by_the_yang_data_wrapper() {
    let conveyed = modules::SZTP_CONVEYED_INFO;
    let expected = unwrap_block(conveyed.text, "  rc:yang-data conveyed-information {", &[]);
    let shadow =
        fs::read_to_string(format!("{SHADOW_DIR}/{}", conveyed.file_name())).expect("shadow");
    assert_eq!(shadow, expected);

    let restconf = modules::RESTCONF;
    let expected = unwrap_block(
        restconf.text,
        "  rc:yang-data yang-errors {",
        &[
            "  uses errors {",
            "    refine errors {",
            "      config false;",
            "    }",
            "  }",
        ],
    );
    let shadow =
        fs::read_to_string(format!("{SHADOW_DIR}/{}", restconf.file_name())).expect("shadow");
    assert_eq!(shadow, expected);

    // certs/ makes vouchers; the end-to-end tests validate them against this shadow.
    let voucher = modules::VOUCHER;
    let expected = unwrap_block(
        voucher.text,
        "  rc:yang-data voucher-artifact {",
        &["  uses voucher-artifact-grouping;"],
    );
    let shadow =
        fs::read_to_string(format!("{SHADOW_DIR}/{}", voucher.file_name())).expect("shadow");
    assert_eq!(shadow, expected);
}
