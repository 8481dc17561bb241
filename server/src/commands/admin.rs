//! The inventory commands (`ztp customer|target|rules|events`, `ztp device add|list|…`): calls
//! to the admin API of a running `ztp serve`, printing its JSON answers.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use ztp_certs::Cert;

use super::output::{Output, render};
use crate::admin::client::AdminClient;
use crate::admin::{
    CreatePool, CreateToken, ImportReport, PREFIX, PatchPool, RetryRegistrations, RevokeLicense,
    TransferLicenses,
};
use crate::cli::{
    AdminConnection, AuditArgs, CustomerCommand, DeviceCommand, DeviceImportArgs, EventsArgs,
    LicenseCommand, NmsCommand, Page, RegistrationCommand, RulesCommand, SerialArgs, TargetCommand,
    TokenCommand, WebhookCommand,
};
use crate::domain::access::Role;
use crate::domain::delivery::RegistrationState;
use crate::domain::licensing::Term;

/// Runs an inventory command, printing its answer in `output`.
pub fn run(command: Inventory, output: Output) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let value = runtime.block_on(call(command))?;
    print!("{}", render(&value, output));
    Ok(())
}

/// The CLI's own configuration file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CliConfig {
    admin_url: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
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
    Ok(AdminClient::new(&url, &token)?)
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

async fn call(command: Inventory) -> anyhow::Result<Value> {
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
            client(&args.admin)?
                .get(&format!("{PREFIX}/events?{query}"))
                .await?
        }
        Inventory::Device(command) => device(command).await?,
        Inventory::Nms(command) => nms(command).await?,
        Inventory::Webhook(command) => webhook(command).await?,
        Inventory::Registration(command) => registration(command).await?,
        Inventory::License(command) => license(command).await?,
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
            let client = client(&args.admin)?;
            let path = format!("{PREFIX}/audit?{query}");
            if args.csv {
                Value::String(client.get_text(&format!("{path}&format=csv")).await?)
            } else {
                client.get(&path).await?
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
            client(&args.admin)?
                .get(&paged(&format!("{PREFIX}/tokens"), &args.page)?)
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

async fn license(command: LicenseCommand) -> anyhow::Result<Value> {
    let pools = |customer: &str| -> anyhow::Result<String> {
        Ok(format!(
            "{PREFIX}/customers/{}/license-pools",
            segment(customer)?
        ))
    };
    Ok(match command {
        LicenseCommand::PoolAdd(args) => {
            let create = CreatePool {
                name: args.name,
                feature: args.feature,
                term: args.term.parse::<Term>().map_err(|e| anyhow::anyhow!(e))?,
                seats: args.seats,
                starts_at: args.starts,
                ends_at: args.ends,
                evaluation_days: args.evaluation_days,
                models: args.models,
                serials: args.serials,
            };
            client(&args.admin)?
                .send(Method::POST, &pools(&args.customer)?, &create)
                .await?
        }
        LicenseCommand::Pools(args) => {
            client(&args.admin)?
                .get(&paged(&pools(&args.name)?, &args.page)?)
                .await?
        }
        LicenseCommand::Pool(args) => {
            client(&args.admin)?
                .get(&format!(
                    "{}/{}",
                    pools(&args.customer)?,
                    segment(&args.name)?
                ))
                .await?
        }
        LicenseCommand::PoolSet(args) => {
            let patch = PatchPool {
                seats: args.seats,
                uncounted: args.uncounted,
                ends_at: args.ends,
                evaluation_days: args.evaluation_days,
            };
            client(&args.admin)?
                .send(
                    Method::PATCH,
                    &format!("{}/{}", pools(&args.customer)?, segment(&args.name)?),
                    &patch,
                )
                .await?
        }
        LicenseCommand::Revoke(args) => {
            client(&args.admin)?
                .send(
                    Method::POST,
                    &format!("{PREFIX}/licenses/{}/revoke", segment(&args.id)?),
                    &RevokeLicense {
                        reason: args.reason,
                    },
                )
                .await?
        }
        LicenseCommand::Rma(args) => {
            client(&args.admin)?
                .send(
                    Method::POST,
                    &format!(
                        "{PREFIX}/devices/{}/licenses/transfer",
                        segment(&args.from)?
                    ),
                    &TransferLicenses {
                        to: segment(&args.to)?.to_owned(),
                    },
                )
                .await?
        }
        LicenseCommand::Expiring(args) => {
            client(&args.admin)?
                .get(&format!(
                    "{PREFIX}/customers/{}/licenses/expiring?days={}",
                    segment(&args.customer)?,
                    args.days
                ))
                .await?
        }
        LicenseCommand::Usage(args) => {
            let path = format!(
                "{PREFIX}/customers/{}/license-usage?days={}",
                segment(&args.customer)?,
                args.days
            );
            let client = client(&args.admin)?;
            match (args.csv, args.table) {
                (true, _) => Value::String(client.get_text(&format!("{path}&format=csv")).await?),
                (_, true) => Value::String(client.get_text(&format!("{path}&format=table")).await?),
                _ => client.get(&path).await?,
            }
        }
        LicenseCommand::Device(args) => {
            client(&args.admin)?
                .get(&format!(
                    "{PREFIX}/devices/{}/licenses",
                    segment(&args.serial)?
                ))
                .await?
        }
    })
}

/// `GET /devices/{serial}/{what}`.
async fn device_resource(args: &SerialArgs, what: &str) -> anyhow::Result<Value> {
    Ok(client(&args.admin)?
        .get(&format!(
            "{PREFIX}/devices/{}/{what}",
            segment(&args.serial)?
        ))
        .await?)
}

/// Streams a CSV file to the import resource, with a progress bar of the bytes sent.
async fn import(args: &DeviceImportArgs) -> anyhow::Result<Value> {
    use tokio::io::AsyncReadExt;

    let mut file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let progress = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(size).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    };
    let (mut sender, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
    let bar = progress.clone();
    let send = tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buffer).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            if sender
                .send_data(Bytes::copy_from_slice(&buffer[..n]))
                .await
                .is_err()
            {
                // The server stopped reading: its answer says why.
                return Ok(());
            }
            bar.inc(n as u64);
        }
    });
    let mode = if args.all_or_nothing {
        "all-or-nothing"
    } else {
        "partial"
    };
    let answer = client(&args.admin)?
        .upload(
            &format!("{PREFIX}/devices/import?mode={mode}"),
            "text/csv",
            body,
        )
        .await;
    progress.finish_and_clear();
    let report: ImportReport = match answer {
        Ok((_, report)) => {
            // The server read the whole file.
            send.await?
                .with_context(|| format!("reading {}", args.file.display()))?;
            report
        }
        Err(e) => {
            // The server stopped reading (a limit, an error): its answer says why.
            send.abort();
            return Err(e.into());
        }
    };
    eprintln!(
        "{} row(s): {} imported, {} bad{}",
        report.rows,
        report.imported,
        report.bad_rows,
        if report.committed {
            ""
        } else {
            " (all-or-nothing: nothing kept)"
        }
    );
    // The report goes to standard output whatever happened; bad rows make the exit status 1.
    println!("{}", serde_json::to_string_pretty(&report)?);
    anyhow::ensure!(
        report.bad_rows == 0,
        "{} bad row(s), listed by line in the report{}",
        report.bad_rows,
        if report.committed {
            "; the good rows were imported"
        } else {
            "; nothing was kept"
        }
    );
    Ok(Value::Null)
}

async fn registration(command: RegistrationCommand) -> anyhow::Result<Value> {
    Ok(match command {
        RegistrationCommand::List(args) => {
            let mut query = format!("after={}&limit={}", args.after, args.limit);
            for (key, value) in [
                ("state", &args.state),
                ("customer", &args.customer),
                ("connection", &args.connection),
                ("serial", &args.serial),
            ] {
                if let Some(value) = value {
                    query.push_str(&format!("&{key}={}", segment(value)?));
                }
            }
            client(&args.admin)?
                .get(&format!("{PREFIX}/registrations?{query}"))
                .await?
        }
        RegistrationCommand::Show(args) => {
            client(&args.admin)?
                .get(&format!("{PREFIX}/registrations/{}", args.id))
                .await?
        }
        RegistrationCommand::Retry(args) => {
            let client = client(&args.admin)?;
            match args.id {
                Some(id) => {
                    client
                        .send(
                            Method::POST,
                            &format!("{PREFIX}/registrations/{id}/retry"),
                            &json!({}),
                        )
                        .await?
                }
                None => {
                    let retry = RetryRegistrations {
                        state: Some(RegistrationState::Dead),
                        customer: args.customer,
                        connection: args.connection,
                        serial: None,
                    };
                    client
                        .send(
                            Method::POST,
                            &format!("{PREFIX}/registrations/retry"),
                            &retry,
                        )
                        .await?
                }
            }
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

/// POSTs to a `…/test` resource; a report without `"ok": true` is printed and fails the
/// command with `failure`.
async fn run_test(admin: &AdminConnection, path: &str, failure: &str) -> anyhow::Result<Value> {
    let report: Value = client(admin)?
        .send(Method::POST, &format!("{path}/test"), &json!({}))
        .await?;
    if report["ok"] != true {
        println!("{}", serde_json::to_string_pretty(&report)?);
        anyhow::bail!("{failure}");
    }
    Ok(report)
}

async fn webhook(command: WebhookCommand) -> anyhow::Result<Value> {
    let path = |customer: &str, name: &str| customer_object(customer, "webhooks", name);
    Ok(match command {
        WebhookCommand::Add(args) => {
            let mut body = json!({ "name": args.name, "url": args.url, "enabled": !args.disabled });
            if !args.events.is_empty() {
                body["events"] = json!(args.events);
            }
            if let Some(file) = &args.ca_file {
                body["ca_pem"] = json!(read(file)?);
            }
            if let Some(file) = &args.secret_file {
                body["secret"] = json!(read_secret(file)?);
            }
            client(&args.admin)?
                .send(
                    Method::POST,
                    &format!("{PREFIX}/customers/{}/webhooks", segment(&args.customer)?),
                    &body,
                )
                .await?
        }
        WebhookCommand::Set(args) => {
            let mut body = json!({});
            if let Some(url) = &args.url {
                body["url"] = json!(url);
            }
            if !args.events.is_empty() {
                body["events"] = json!(args.events);
            }
            if let Some(file) = &args.ca_file {
                body["ca_pem"] = json!(read(file)?);
            }
            if args.system_roots {
                body["ca_pem"] = Value::Null;
            }
            if args.enable || args.disable {
                body["enabled"] = json!(args.enable);
            }
            if args.rotate_secret {
                body["rotate_secret"] = json!(true);
            }
            client(&args.admin)?
                .send(Method::PATCH, &path(&args.customer, &args.name)?, &body)
                .await?
        }
        WebhookCommand::List(args) => {
            let path = format!("{PREFIX}/customers/{}/webhooks", segment(&args.name)?);
            client(&args.admin)?.get(&paged(&path, &args.page)?).await?
        }
        WebhookCommand::Show(args) => {
            client(&args.admin)?
                .get(&path(&args.customer, &args.name)?)
                .await?
        }
        WebhookCommand::Remove(args) => {
            client(&args.admin)?
                .delete(&path(&args.customer, &args.name)?)
                .await?;
            Value::Null
        }
        WebhookCommand::Test(args) => {
            let path = path(&args.customer, &args.name)?;
            let failure = "the receiver did not accept the test delivery";
            run_test(&args.admin, &path, failure).await?
        }
        WebhookCommand::Deliveries(args) => {
            let mut url = paged(
                &format!("{}/deliveries", path(&args.customer, &args.name)?),
                &args.page,
            )?;
            if let Some(state) = &args.state {
                url.push_str(&format!("&state={}", segment(state)?));
            }
            client(&args.admin)?.get(&url).await?
        }
        WebhookCommand::Retry(args) => {
            let base = path(&args.customer, &args.name)?;
            let url = match args.id {
                Some(id) => format!("{base}/deliveries/{id}/retry"),
                None => format!("{base}/deliveries/retry"),
            };
            client(&args.admin)?
                .send(Method::POST, &url, &json!({}))
                .await?
        }
    })
}

async fn nms(command: NmsCommand) -> anyhow::Result<Value> {
    let path = |customer: &str, name: &str| customer_object(customer, "nms", name);
    let password = read_secret;
    Ok(match command {
        NmsCommand::Add(args) => {
            let mut body = json!({
                "name": args.name, "host": args.host, "port": args.port, "username": args.user,
                "pins": args.pins, "directory": args.directory, "policy": args.policy,
            });
            if let Some(file) = &args.password_file {
                body["password"] = json!(password(file)?);
            }
            client(&args.admin)?
                .send(
                    Method::POST,
                    &format!("{PREFIX}/customers/{}/nms", segment(&args.customer)?),
                    &body,
                )
                .await?
        }
        NmsCommand::Set(args) => {
            let mut body = json!({});
            if let Some(host) = &args.host {
                body["host"] = json!(host);
            }
            if let Some(port) = args.port {
                body["port"] = json!(port);
            }
            if let Some(user) = &args.user {
                body["username"] = json!(user);
            }
            if let Some(file) = &args.password_file {
                body["password"] = json!(password(file)?);
            }
            if args.generate_key {
                body["generate_key"] = json!(true);
            }
            if !args.pins.is_empty() {
                body["pins"] = json!(args.pins);
            }
            if let Some(directory) = &args.directory {
                body["directory"] = json!(directory);
            }
            if let Some(policy) = &args.policy {
                body["policy"] = json!(policy);
            }
            client(&args.admin)?
                .send(Method::PATCH, &path(&args.customer, &args.name)?, &body)
                .await?
        }
        NmsCommand::List(args) => {
            let path = format!("{PREFIX}/customers/{}/nms", segment(&args.name)?);
            client(&args.admin)?.get(&paged(&path, &args.page)?).await?
        }
        NmsCommand::Show(args) => {
            client(&args.admin)?
                .get(&path(&args.customer, &args.name)?)
                .await?
        }
        NmsCommand::Remove(args) => {
            client(&args.admin)?
                .delete(&path(&args.customer, &args.name)?)
                .await?;
            Value::Null
        }
        NmsCommand::Test(args) => {
            let path = path(&args.customer, &args.name)?;
            let failure = "the connection test failed; the steps above say where";
            run_test(&args.admin, &path, failure).await?
        }
        NmsCommand::Fingerprint(args) => {
            let (host, port) = split_address(&args.address)?;
            client(&args.admin)?
                .get(&format!("{PREFIX}/ssh-fingerprint?host={host}&port={port}"))
                .await?
        }
    })
}

/// `HOST:PORT` or `[V6]:PORT`, with a host that cannot change the query string.
fn split_address(address: &str) -> anyhow::Result<(&str, u16)> {
    let (host, port) = address
        .rsplit_once(':')
        .with_context(|| format!("{address:?} is not HOST:PORT"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    anyhow::ensure!(
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':')),
        "{host:?} is not a host name or address"
    );
    let port = port
        .parse()
        .with_context(|| format!("{port:?} is not a port"))?;
    Ok((host, port))
}

async fn customer(command: CustomerCommand) -> anyhow::Result<Value> {
    Ok(match command {
        CustomerCommand::Add(args) => {
            let mut body = json!({"name": args.name});
            if let Some(profile) = &args.profile {
                body["profile"] = json!(profile);
            }
            if args.unsigned {
                body["sign"] = json!(false);
            }
            if let (Some(ca), Some(cert), Some(key)) =
                (&args.owner_ca, &args.signer_cert, &args.signer_key)
            {
                body["owner_ca_pem"] = json!(read(ca)?);
                body["signer_chain_pem"] = json!(read(cert)?);
                body["signer_key_pem"] = json!(read(key)?);
            }
            client(&args.admin)?
                .send(Method::POST, &format!("{PREFIX}/customers"), &body)
                .await?
        }
        CustomerCommand::List(args) => {
            let path = format!("{PREFIX}/customers");
            client(&args.admin)?.get(&paged(&path, &args.page)?).await?
        }
        CustomerCommand::Show(args) => {
            client(&args.admin)?
                .get(&format!("{PREFIX}/customers/{}", segment(&args.name)?))
                .await?
        }
        CustomerCommand::Set(args) => {
            let mut body = json!({});
            if let Some(profile) = &args.profile {
                body["profile"] = json!(profile);
            }
            if let Some(sign) = args.sign {
                body["sign"] = json!(sign);
            }
            if let Some(file) = &args.onboarding {
                let value: Value = serde_json::from_str(&read(file)?)
                    .with_context(|| format!("{} is not JSON", file.display()))?;
                body["onboarding"] = value;
            }
            if args.no_onboarding {
                body["onboarding"] = Value::Null;
            }
            client(&args.admin)?
                .send(
                    Method::PATCH,
                    &format!("{PREFIX}/customers/{}", segment(&args.name)?),
                    &body,
                )
                .await?
        }
        CustomerCommand::Remove(args) => {
            client(&args.admin)?
                .delete(&format!("{PREFIX}/customers/{}", segment(&args.name)?))
                .await?;
            Value::Null
        }
        CustomerCommand::OwnerCa(args) => Value::String(
            client(&args.admin)?
                .get_text(&format!(
                    "{PREFIX}/customers/{}/owner-ca",
                    segment(&args.name)?
                ))
                .await?,
        ),
    })
}

async fn target(command: TargetCommand) -> anyhow::Result<Value> {
    Ok(match command {
        TargetCommand::Add(args) => {
            let mut body = json!({"name": args.name, "address": args.address, "port": args.port});
            if let Some(file) = &args.trust_anchor {
                body["trust_anchor_pem"] = json!(read(file)?);
            }
            client(&args.admin)?
                .send(
                    Method::POST,
                    &format!("{PREFIX}/customers/{}/targets", segment(&args.customer)?),
                    &body,
                )
                .await?
        }
        TargetCommand::List(args) => {
            client(&args.admin)?
                .get(&format!(
                    "{PREFIX}/customers/{}/targets",
                    segment(&args.name)?
                ))
                .await?
        }
        TargetCommand::Remove(args) => {
            client(&args.admin)?
                .delete(&format!(
                    "{PREFIX}/customers/{}/targets/{}",
                    segment(&args.customer)?,
                    segment(&args.name)?
                ))
                .await?;
            Value::Null
        }
    })
}

async fn rules(command: RulesCommand) -> anyhow::Result<Value> {
    Ok(match command {
        RulesCommand::Show(args) => {
            client(&args.admin)?
                .get(&format!(
                    "{PREFIX}/customers/{}/rules",
                    segment(&args.name)?
                ))
                .await?
        }
        RulesCommand::Set(args) => {
            let rules: Value = serde_json::from_str(&read(&args.file)?)
                .with_context(|| format!("{} is not JSON", args.file.display()))?;
            // The file holds the list of rules; the API takes them as `{"rules": [...]}`.
            let rules = match rules {
                Value::Array(_) => json!({ "rules": rules }),
                other => other,
            };
            client(&args.admin)?
                .send(
                    Method::PUT,
                    &format!("{PREFIX}/customers/{}/rules", segment(&args.name)?),
                    &rules,
                )
                .await?
        }
    })
}

async fn device(command: DeviceCommand) -> anyhow::Result<Value> {
    Ok(match command {
        DeviceCommand::Import(args) => import(&args).await?,
        DeviceCommand::Add(args) => {
            let mut body = json!({"serial": args.serial, "model": args.model});
            if let Some(customer) = &args.customer {
                body["customer"] = json!(customer);
            }
            let pin = match (&args.pin, &args.pin_certificate) {
                (Some(pin), _) => Some(pin.clone()),
                (None, Some(file)) => Some(pin_of(file)?),
                (None, None) => None,
            };
            if let Some(pin) = pin {
                body["certificate_pin"] = json!(pin);
            }
            client(&args.admin)?
                .send(Method::POST, &format!("{PREFIX}/devices"), &body)
                .await?
        }
        DeviceCommand::List(args) => {
            let mut query = format!("limit={}", args.limit);
            if let Some(customer) = &args.customer {
                query.push_str(&format!("&customer={}", segment(customer)?));
            }
            if let Some(after) = &args.after {
                query.push_str(&format!("&after={}", segment(after)?));
            }
            client(&args.admin)?
                .get(&format!("{PREFIX}/devices?{query}"))
                .await?
        }
        DeviceCommand::Show(args) => {
            client(&args.admin)?
                .get(&format!("{PREFIX}/devices/{}", segment(&args.serial)?))
                .await?
        }
        DeviceCommand::Set(args) => {
            let mut body = json!({});
            if let Some(model) = &args.model {
                body["model"] = json!(model);
            }
            if let Some(customer) = &args.customer {
                body["customer"] = json!(customer);
            }
            if args.no_customer {
                body["customer"] = Value::Null;
            }
            if let Some(pin) = &args.pin {
                body["certificate_pin"] = json!(pin);
            }
            if let Some(file) = &args.pin_certificate {
                body["certificate_pin"] = json!(pin_of(file)?);
            }
            if args.no_pin {
                body["certificate_pin"] = Value::Null;
            }
            client(&args.admin)?
                .send(
                    Method::PATCH,
                    &format!("{PREFIX}/devices/{}", segment(&args.serial)?),
                    &body,
                )
                .await?
        }
        DeviceCommand::Remove(args) => {
            client(&args.admin)?
                .delete(&format!("{PREFIX}/devices/{}", segment(&args.serial)?))
                .await?;
            Value::Null
        }
        DeviceCommand::Progress(args) => device_resource(&args, "progress").await?,
        DeviceCommand::Timeline(args) => device_resource(&args, "timeline").await?,
        DeviceCommand::Bootstrap(_) => {
            anyhow::bail!("`ztp device bootstrap` is not an inventory command")
        }
    })
}
