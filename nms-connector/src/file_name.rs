//! Remote file names, derived from device serials without ever "repairing" them.
//!
//! A serial names a file only if it is already safe as one: repairing (dropping or replacing
//! characters) could give two devices the same file, and one registration would overwrite the
//! other. Anything unusual is refused.

use ztp_certs::Serial;

use crate::error::InvalidInput;

/// Longest remote file name that [`check_remote_name`] accepts.
pub const MAX_FILE_NAME_LEN: usize = 128;

/// The registration file name for a device: `<serial>.xml`.
///
/// A [`Serial`] is 1 to 64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or digit
/// (`ztp_certs::identity`); so the name cannot climb out of the directory (`..`, `/`), cannot be
/// hidden (`.name`) and cannot carry control characters. The rule is the serial's own: a value
/// that breaks it never becomes a `Serial`, so it never names a file.
pub fn file_name(serial: &Serial) -> String {
    format!("{serial}.xml")
}

/// Checks a name given for upload or removal: one visible file name of safe characters (the
/// rule of [`file_name`], up to [`MAX_FILE_NAME_LEN`] characters).
pub fn check_remote_name(name: &str) -> Result<(), InvalidInput> {
    check_safe(name, MAX_FILE_NAME_LEN).map_err(|why| InvalidInput::FileName(why.into()))
}

fn check_safe(text: &str, max_len: usize) -> Result<(), &'static str> {
    let Some(first) = text.bytes().next() else {
        return Err("empty");
    };
    if text.len() > max_len {
        return Err("too long");
    }
    if !first.is_ascii_alphanumeric() {
        return Err("must start with a letter or digit");
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("only letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(text: &str) -> Serial {
        Serial::parse(text).unwrap()
    }

    #[test]
    fn serials_name_files_as_they_are() {
        assert_eq!(file_name(&serial("FDO1234X0AB")), "FDO1234X0AB.xml");
        assert_eq!(file_name(&serial("a")), "a.xml");
        assert_eq!(file_name(&serial("9-x_y.z")), "9-x_y.z.xml");
        let longest = "A".repeat(ztp_certs::identity::MAX_SERIAL_LEN);
        assert_eq!(file_name(&serial(&longest)), format!("{longest}.xml"));
    }

    #[test]
    fn hostile_serials_never_become_serials_so_never_name_files() {
        let huge = "A".repeat(4096);
        let too_long = "A".repeat(ztp_certs::identity::MAX_SERIAL_LEN + 1);
        let hostile = [
            "",
            "../../etc/passwd",
            "..",
            ".",
            "a/b",
            "/abs",
            "a\\b",
            huge.as_str(),
            too_long.as_str(),
            "a\0b",
            "a\nb",
            "a\rb",
            "a b",
            ".hidden",
            "-rf",
            "_x",
            "sérial",
            "a:b",
            "a*",
        ];
        for text in hostile {
            assert!(Serial::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn remote_names_follow_the_same_rule() {
        assert!(check_remote_name("FDO1.xml").is_ok());
        for name in [
            "",
            ".x.tmp",
            "../x",
            "a/b",
            "a\0",
            &"a".repeat(MAX_FILE_NAME_LEN + 1),
        ] {
            assert!(check_remote_name(name).is_err(), "{name:?}");
        }
    }
}
