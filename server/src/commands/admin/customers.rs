//! The commands about a customer's objects: `ztp customer`, `target`, `rules`, `nms` and
//! `webhook`.

use anyhow::Context;
use http::Method;
use serde_json::{Value, json};

use super::{client, customer_object, get, paged, read, read_secret, run_test, segment};
use crate::admin::PREFIX;
use crate::cli::{
    CustomerCommand, NmsCommand, RulesCommand, TargetCommand, WebhookAddArgs, WebhookCommand,
    WebhookSetArgs,
};
use crate::commands::output::Output;

pub(super) async fn webhook(command: WebhookCommand, output: Output) -> anyhow::Result<Value> {
    let path = |customer: &str, name: &str| customer_object(customer, "webhooks", name);
    Ok(match command {
        WebhookCommand::Add(args) => {
            let body = webhook_to_add(&args)?;
            client(&args.admin)?
                .send(
                    Method::POST,
                    &format!("{PREFIX}/customers/{}/webhooks", segment(&args.customer)?),
                    &body,
                )
                .await?
        }
        WebhookCommand::Set(args) => {
            let body = webhook_changes(&args)?;
            client(&args.admin)?
                .send(Method::PATCH, &path(&args.customer, &args.name)?, &body)
                .await?
        }
        WebhookCommand::List(args) => {
            let path = format!("{PREFIX}/customers/{}/webhooks", segment(&args.name)?);
            get(&args.admin, &paged(&path, &args.page)?).await?
        }
        WebhookCommand::Show(args) => get(&args.admin, &path(&args.customer, &args.name)?).await?,
        WebhookCommand::Remove(args) => {
            client(&args.admin)?
                .delete(&path(&args.customer, &args.name)?)
                .await?;
            Value::Null
        }
        WebhookCommand::Test(args) => {
            let path = path(&args.customer, &args.name)?;
            let failure = "the receiver did not accept the test delivery";
            run_test(&args.admin, &path, failure, output).await?
        }
        WebhookCommand::Deliveries(args) => {
            let mut url = paged(
                &format!("{}/deliveries", path(&args.customer, &args.name)?),
                &args.page,
            )?;
            if let Some(state) = &args.state {
                url.push_str(&format!("&state={}", segment(state)?));
            }
            get(&args.admin, &url).await?
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

/// The body that creates the webhook `args` describe.
fn webhook_to_add(args: &WebhookAddArgs) -> anyhow::Result<Value> {
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
    Ok(body)
}

/// The body that changes a webhook as `args` ask (only the fields given).
fn webhook_changes(args: &WebhookSetArgs) -> anyhow::Result<Value> {
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
    Ok(body)
}

pub(super) async fn nms(command: NmsCommand, output: Output) -> anyhow::Result<Value> {
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
            get(&args.admin, &paged(&path, &args.page)?).await?
        }
        NmsCommand::Show(args) => get(&args.admin, &path(&args.customer, &args.name)?).await?,
        NmsCommand::Remove(args) => {
            client(&args.admin)?
                .delete(&path(&args.customer, &args.name)?)
                .await?;
            Value::Null
        }
        NmsCommand::Test(args) => {
            let path = path(&args.customer, &args.name)?;
            let failure = "the connection test failed; the steps above say where";
            run_test(&args.admin, &path, failure, output).await?
        }
        NmsCommand::Fingerprint(args) => {
            let (host, port) = split_address(&args.address)?;
            get(
                &args.admin,
                &format!("{PREFIX}/ssh-fingerprint?host={host}&port={port}"),
            )
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

pub(super) async fn customer(command: CustomerCommand) -> anyhow::Result<Value> {
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
            get(&args.admin, &paged(&path, &args.page)?).await?
        }
        CustomerCommand::Show(args) => {
            get(
                &args.admin,
                &format!("{PREFIX}/customers/{}", segment(&args.name)?),
            )
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
            if let Some(issuer) = &args.ldevid_issuer {
                body["ldevid_issuer"] = json!(issuer);
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

pub(super) async fn target(command: TargetCommand) -> anyhow::Result<Value> {
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
            get(
                &args.admin,
                &format!("{PREFIX}/customers/{}/targets", segment(&args.name)?),
            )
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

pub(super) async fn rules(command: RulesCommand) -> anyhow::Result<Value> {
    Ok(match command {
        RulesCommand::Show(args) => {
            get(
                &args.admin,
                &format!("{PREFIX}/customers/{}/rules", segment(&args.name)?),
            )
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
