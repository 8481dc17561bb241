//! Remote file names, derived from device serials without ever "repairing" them.
//!
//! A serial names a file only if it is already safe as one: repairing (dropping or replacing
//! characters) could give two devices the same file, and one registration would overwrite the
//! other. Anything unusual is refused.

use crate::error::InvalidInput;

/// Longest serial that names a file.
pub const MAX_SERIAL_LEN: usize = 64;
/// Longest remote file name that [`check_remote_name`] accepts.
pub const MAX_FILE_NAME_LEN: usize = 128;

/// The registration file name for a device: `<serial>.xml`.
///
/// The serial must be 1 to [`MAX_SERIAL_LEN`] characters of `A-Z a-z 0-9 . _ -`, starting with a
/// letter or digit; so the name cannot climb out of the directory (`..`, `/`), cannot be hidden
/// (`.name`) and cannot carry control characters.
pub fn file_name(serial: &str) -> Result<String, InvalidInput> {
    check_safe(serial, MAX_SERIAL_LEN).map_err(|why| InvalidInput::Serial(why.into()))?;
    Ok(format!("{serial}.xml"))
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

    #[test]
    fn plain_serials_name_files() {
        assert_eq!(file_name("FDO1234X0AB").unwrap(), "FDO1234X0AB.xml");
        assert_eq!(file_name("a").unwrap(), "a.xml");
        assert_eq!(file_name("9-x_y.z").unwrap(), "9-x_y.z.xml");
        let longest = "A".repeat(MAX_SERIAL_LEN);
        assert_eq!(file_name(&longest).unwrap(), format!("{longest}.xml"));
    }

    #[test]
    fn hostile_serials_are_refused_not_repaired() {
        let huge = "A".repeat(4096);
        let too_long = "A".repeat(MAX_SERIAL_LEN + 1);
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
        for serial in hostile {
            let err = file_name(serial).unwrap_err();
            assert!(matches!(err, InvalidInput::Serial(_)), "{serial:?}");
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
