//! `ztp dhcp-option`: the DHCP option value that points devices at ztp.

use crate::cli::DhcpOptionArgs;
use crate::dhcp::{self, BootstrapUri};

/// Encodes or decodes, as the arguments say.
pub fn run(args: &DhcpOptionArgs) -> anyhow::Result<()> {
    if let Some(hex) = &args.decode {
        for uri in dhcp::decode(&dhcp::parse_hex(hex)?)? {
            println!("{uri}");
        }
        return Ok(());
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
    println!("option value ({} octets): {hex}\n", value.len());
    println!("# ISC dhcpd (DHCPv4)");
    println!("option sztp-redirect-urls code 143 = string;");
    println!("option sztp-redirect-urls {hex};\n");
    println!("# dnsmasq (DHCPv4)");
    println!("dhcp-option-force=143,{hex}\n");
    println!("# Kea (DHCPv4 and DHCPv6 know the option by name)");
    println!(r#"{{ "name": "v4-sztp-redirect", "data": "{list}" }}"#);
    println!(r#"{{ "name": "v6-sztp-redirect", "data": "{list}" }}"#);
    if value.len() > 255 {
        println!(
            "\nThe value is longer than 255 octets: DHCPv4 servers must split it into several \
             option instances (RFC 3396)."
        );
    }
    Ok(())
}
