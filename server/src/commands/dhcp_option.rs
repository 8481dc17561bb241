//! `ztp dhcp-option`: the DHCP option value that points devices at ztp.

use std::fmt::Write;

use super::output::print;
use crate::cli::DhcpOptionArgs;
use crate::dhcp::{self, BootstrapUri};

/// Encodes or decodes, as the arguments say.
pub fn run(args: &DhcpOptionArgs) -> anyhow::Result<()> {
    if let Some(hex) = &args.decode {
        let mut out = String::new();
        for uri in dhcp::decode(&dhcp::parse_hex(hex)?)? {
            writeln!(out, "{uri}")?;
        }
        return print(&out);
    }
    let uris = args
        .uris
        .iter()
        .map(|u| BootstrapUri::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    let value = dhcp::encode(&uris)?;
    let hex = dhcp::colon_hex(&value);
    let list = uris
        .iter()
        .map(BootstrapUri::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::new();
    writeln!(out, "option value ({} octets): {hex}\n", value.len())?;
    writeln!(out, "# ISC dhcpd (DHCPv4)")?;
    writeln!(out, "option sztp-redirect-urls code 143 = string;")?;
    writeln!(out, "option sztp-redirect-urls {hex};\n")?;
    writeln!(out, "# dnsmasq (DHCPv4)")?;
    writeln!(out, "dhcp-option-force=143,{hex}\n")?;
    writeln!(out, "# Kea (DHCPv4 and DHCPv6 know the option by name)")?;
    writeln!(out, r#"{{ "name": "v4-sztp-redirect", "data": "{list}" }}"#)?;
    writeln!(out, r#"{{ "name": "v6-sztp-redirect", "data": "{list}" }}"#)?;
    if value.len() > 255 {
        writeln!(
            out,
            "\nThe value is longer than 255 octets: DHCPv4 servers must split it into several \
             option instances (RFC 3396)."
        )?;
    }
    print(&out)
}
