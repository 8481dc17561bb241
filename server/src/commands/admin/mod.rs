//! The inventory commands (`ztp customer|target|rules|events`, `ztp device add|list|…`): calls
//! to the admin API of a running `ztp serve`, printing its JSON answers in the `--output` asked
//! for; an empty list in a table or CSV is printed as the header row of the columns the API
//! documents for it ([`columns`]).

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use http::Method;
use serde_json::{Value, json};
use ztp_certs::Cert;

use super::output::{self, Output};
use crate::admin::client::AdminClient;
use crate::admin::{CreateToken, PREFIX};
use crate::cli::{
    AdminConnection, AuditArgs, CustomerCommand, DeviceCommand, EventsArgs, LicenseCommand,
    NmsCommand, Page, RegistrationCommand, RulesCommand, TargetCommand, TokenCommand,
    WebhookCommand,
};
use crate::domain::access::Role;

mod columns;
mod customers;
mod devices;

use customers::{customer, nms, rules, target, webhook};
use devices::{device, license, registration};

/// Runs an inventory command, printing its answer in `output`.
pub fn run(command: Inventory, output: Output) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let value = runtime.block_on(call(command, output))?;
    let columns = match &value {
        Value::Array(items) if items.is_empty() => LAST_GET
            .with(|path| path.borrow().as_deref().and_then(columns::of_answer))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    output::answer(&value, output, &columns)
}

thread_local! {
    /// The path of the command's last GET: the answer's resource, whose documented columns
    /// head an empty list. The command runs on this thread alone (a current-thread runtime).
    static LAST_GET: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// GETs `path` from the admin API (remembered as the answer's resource).
async fn get(admin: &AdminConnection, path: &str) -> anyhow::Result<Value> {
    let value = client(admin)?.get(path).await?;
    LAST_GET.with(|last| *last.borrow_mut() = Some(path.to_owned()));
    Ok(value)
}

/// The CLI's own configuration file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CliConfig {
    admin_url: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    admin_ca: Option<PathBuf>,
    admin_cert: Option<PathBuf>,
    admin_key: Option<PathBuf>,
}

impl CliConfig {
    /// `ZTP_CLI_CONFIG` (which must exist), else `$XDG_CONFIG_HOME/ztp/cli.toml` or
    /// `~/.config/ztp/cli.toml` if there is one.
    fn load() -> anyhow::Result<Self> {
        use figment::providers::{Format, Toml};
        let (path, required) = match std::env::var_os("ZTP_CLI_CONFIG") {
            Some(path) => (PathBuf::from(path), true),
            None => {
                let base = std::env::var_os("XDG_CONFIG_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
                match base {
                    Some(base) => (base.join("ztp/cli.toml"), false),
                    None => return Ok(Self::default()),
                }
            }
        };
        if !required && !path.exists() {
            return Ok(Self::default());
        }
        figment::Figment::from(Toml::file_exact(&path))
            .extract()
            .with_context(|| format!("reading the CLI configuration {}", path.display()))
    }
}

/// One inventory command.
#[derive(Debug)]
pub enum Inventory {
    /// `ztp customer …`.
    Customer(CustomerCommand),
    /// `ztp target …`.
    Target(TargetCommand),
    /// `ztp rules …`.
    Rules(RulesCommand),
    /// `ztp events`.
    Events(EventsArgs),
    /// `ztp device add|list|show|set|remove|progress`.
    Device(DeviceCommand),
    /// `ztp nms …`.
    Nms(NmsCommand),
    /// `ztp registration …`.
    Registration(RegistrationCommand),
    /// `ztp webhook …`.
    Webhook(WebhookCommand),
    /// `ztp license …`.
    License(LicenseCommand),
    /// `ztp token …`.
    Token(TokenCommand),
    /// `ztp audit`.
    Audit(AuditArgs),
}

fn client(admin: &AdminConnection) -> anyhow::Result<AdminClient> {
    let config = CliConfig::load()?;
    let url = admin
        .admin_url
        .clone()
        .or(config.admin_url)
        .unwrap_or_else(|| "http://127.0.0.1:8444".into());
    let ca = admin.admin_ca.clone().or(config.admin_ca);
    let identity = match (&admin.admin_cert, &admin.admin_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        _ => config.admin_cert.zip(config.admin_key),
    };
    let token = match (admin.token.clone(), config.token) {
        (Some(token), _) | (None, Some(token)) => token,
        (None, None) => {
            let path = match (&admin.data_dir, config.token_file, config.data_dir) {
                (Some(dir), _, _) => dir.join("admin-token"),
                (None, Some(file), _) => file,
                (None, None, Some(dir)) => dir.join("admin-token"),
                (None, None, None) => PathBuf::from("ztp-data/admin-token"),
            };
            fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading the admin token from {} (give --token or ZTP_ADMIN_TOKEN, \
                     --data-dir where `ztp serve` keeps its data, or a CLI configuration \
                     file)",
                    path.display()
                )
            })?
        }
    };
    let tls = crate::admin::client::ClientTls {
        ca: ca.as_deref(),
        identity: identity
            .as_ref()
            .map(|(cert, key)| (cert.as_path(), key.as_path())),
    };
    Ok(AdminClient::with_tls(&url, &token, &tls)?)
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn pin_of(path: &Path) -> anyhow::Result<String> {
    let chain =
        Cert::chain_from_pem(&read(path)?).with_context(|| format!("{}", path.display()))?;
    let leaf = chain
        .first()
        .with_context(|| format!("{} holds no certificate", path.display()))?;
    Ok(leaf.fingerprint().to_hex())
}

/// `path` with `?limit=` and, when given, `&after=`.
fn paged(path: &str, page: &Page) -> anyhow::Result<String> {
    Ok(match &page.after {
        Some(after) => format!("{path}?limit={}&after={}", page.limit, segment(after)?),
        None => format!("{path}?limit={}", page.limit),
    })
}

/// Path segments are names and serials; refuse anything that would change the path.
fn segment(value: &str) -> anyhow::Result<&str> {
    anyhow::ensure!(
        !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && value != "."
            && value != "..",
        "{value:?} is not a valid name or serial (letters, digits, '.', '_', '-')"
    );
    Ok(value)
}

async fn call(command: Inventory, output: Output) -> anyhow::Result<Value> {
    Ok(match command {
        Inventory::Customer(command) => customer(command).await?,
        Inventory::Target(command) => target(command).await?,
        Inventory::Rules(command) => rules(command).await?,
        Inventory::Events(args) => {
            let mut query = format!("limit={}", args.limit);
            if let Some(serial) = &args.serial {
                query.push_str(&format!("&serial={}", segment(serial)?));
            }
            if let Some(kind) = &args.kind {
                query.push_str(&format!("&kind={}", segment(kind)?));
            }
            get(&args.admin, &format!("{PREFIX}/events?{query}")).await?
        }
        Inventory::Device(command) => device(command, output).await?,
        Inventory::Nms(command) => nms(command, output).await?,
        Inventory::Webhook(command) => webhook(command, output).await?,
        Inventory::Registration(command) => registration(command).await?,
        Inventory::License(command) => license(command, output).await?,
        Inventory::Token(command) => token(command).await?,
        Inventory::Audit(args) => {
            let mut query = format!("after={}&limit={}", args.after, args.limit);
            for (key, value) in [
                ("object", &args.object),
                ("customer", &args.customer),
                ("since", &args.since),
                ("until", &args.until),
            ] {
                if let Some(value) = value {
                    query.push_str(&format!("&{key}={}", query_value(value)?));
                }
            }
            let path = format!("{PREFIX}/audit?{query}");
            // The server writes the CSV: the whole log streams, without a copy here.
            if args.csv || output == Output::Csv {
                let path = format!("{path}&format=csv");
                Value::String(client(&args.admin)?.get_text(&path).await?)
            } else {
                get(&args.admin, &path).await?
            }
        }
    })
}

/// A query value: names, paths and times only (letters, digits, `-._:/+`), percent-encoding
/// the `+` and `:` of a time.
fn query_value(value: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'_' | b':' | b'/' | b'+')),
        "{value:?}: only letters, digits and - . _ : / + are allowed"
    );
    Ok(value.replace('+', "%2B").replace(':', "%3A"))
}

async fn token(command: TokenCommand) -> anyhow::Result<Value> {
    Ok(match command {
        TokenCommand::Create(args) => {
            let create = CreateToken {
                name: args.name,
                role: args.role.parse::<Role>().map_err(|e| anyhow::anyhow!(e))?,
                customer: args.customer,
                expires_in_days: args.expires_in_days,
                expires_at: args.expires_at,
            };
            client(&args.admin)?
                .send(Method::POST, &format!("{PREFIX}/tokens"), &create)
                .await?
        }
        TokenCommand::List(args) => {
            get(
                &args.admin,
                &paged(&format!("{PREFIX}/tokens"), &args.page)?,
            )
            .await?
        }
        TokenCommand::Revoke(args) => {
            client(&args.admin)?
                .send(
                    Method::DELETE,
                    &format!("{PREFIX}/tokens/{}", segment(&args.id)?),
                    &json!({}),
                )
                .await?
        }
    })
}

/// `/api/v1/customers/{customer}/{collection}/{name}`.
fn customer_object(customer: &str, collection: &str, name: &str) -> anyhow::Result<String> {
    Ok(format!(
        "{PREFIX}/customers/{}/{collection}/{}",
        segment(customer)?,
        segment(name)?
    ))
}

/// A secret from a file, without the line end an editor leaves.
fn read_secret(file: &Path) -> anyhow::Result<String> {
    Ok(read(file)?.trim_end_matches(['\r', '\n']).to_owned())
}

/// POSTs to a `…/test` resource; a report without `"ok": true` is printed in `output` and
/// fails the command with `failure`.
async fn run_test(
    admin: &AdminConnection,
    path: &str,
    failure: &str,
    output: Output,
) -> anyhow::Result<Value> {
    let report: Value = client(admin)?
        .send(Method::POST, &format!("{path}/test"), &json!({}))
        .await?;
    if report["ok"] != true {
        output::answer(&report, output, &[])?;
        anyhow::bail!("{failure}");
    }
    Ok(report)
}
