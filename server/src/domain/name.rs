//! Names that people read: customers, license pools, NMS connections and webhooks. Two names
//! are one if they differ only in case, in separators (`-`, `_`, `.`, a trailing one) or in
//! characters that look alike (`I`, `l`, `1`; `O`, `0`; `rn`, `m`; `vv`, `w`), so that a name
//! such as `hostiIe-a` or `Hostile_A.` cannot stand beside `hostile-a` in a list, a log or an
//! audit trail and be taken for it.

/// The form names are compared in.
pub fn skeleton(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    for c in name.chars() {
        let c = match c.to_ascii_lowercase() {
            '_' | '.' => '-',
            '1' | 'i' | '|' => 'l',
            '0' => 'o',
            c => c,
        };
        if !(c == '-' && folded.ends_with('-')) {
            folded.push(c);
        }
    }
    folded
        .trim_matches('-')
        .replace("rn", "m")
        .replace("vv", "w")
}

/// The first of `existing` that `name` would be taken for, if any.
pub fn lookalike<'a>(name: &str, existing: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = skeleton(name);
    existing.into_iter().find(|other| skeleton(other) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_share_a_skeleton() {
        for twin in [
            "hostile-a",
            "Hostile-A",
            "hostile_a",
            "hostiIe-a",
            "host1le-a",
            "hostile-a.",
            "hostile--a",
            "HOSTILE.A",
        ] {
            assert_eq!(
                lookalike(twin, ["acme", "hostile-a"]),
                Some("hostile-a"),
                "{twin}"
            );
        }
        assert_eq!(skeleton("modern"), skeleton("rnodern"));
        assert_eq!(skeleton("vvest-0"), "west-o");
    }

    #[test]
    fn different_names_stay_different() {
        assert_eq!(lookalike("hostile-b", ["hostile-a", "acme"]), None);
        assert_eq!(lookalike("nms-2", ["nms-1"]), None);
        assert_eq!(lookalike("acme-eu", ["acme-us", "acme"]), None);
    }
}
