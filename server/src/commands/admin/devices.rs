//! The commands about devices: `ztp device` (the inventory, and the streamed CSV import),
//! `license` and `registration`.

use anyhow::Context;
use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use super::{client, get, paged, pin_of, segment};
use crate::admin::{
    CreatePool, ImportReport, PREFIX, PatchPool, RetryRegistrations, RevokeLicense,
    TransferLicenses,
};
use crate::cli::{
    ActivationCodeCommand, DeviceCommand, DeviceImportArgs, LicenseCommand, PoolAddArgs,
    PoolSetArgs, RegistrationCommand, RmaArgs, SerialArgs, UsageArgs, VoucherCommand,
};
use crate::commands::output::{self, Output};
use crate::domain::delivery::RegistrationState;
use crate::domain::licensing::Term;

pub(super) async fn license(command: LicenseCommand, output: Output) -> anyhow::Result<Value> {
    let pools = |customer: &str| -> anyhow::Result<String> {
        Ok(format!(
            "{PREFIX}/customers/{}/license-pools",
            segment(customer)?
        ))
    };
    Ok(match command {
        LicenseCommand::PoolAdd(args) => {
            let path = pools(&args.customer)?;
            let admin = args.admin.clone();
            client(&admin)?
                .send(Method::POST, &path, &pool_to_add(args)?)
                .await?
        }
        LicenseCommand::Pools(args) => {
            get(&args.admin, &paged(&pools(&args.name)?, &args.page)?).await?
        }
        LicenseCommand::Pool(args) => {
            get(
                &args.admin,
                &format!("{}/{}", pools(&args.customer)?, segment(&args.name)?),
            )
            .await?
        }
        LicenseCommand::PoolSet(args) => pool_set(args).await?,
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
        LicenseCommand::Rma(args) => rma(args).await?,
        LicenseCommand::Expiring(args) => {
            get(
                &args.admin,
                &format!(
                    "{PREFIX}/customers/{}/licenses/expiring?days={}",
                    segment(&args.customer)?,
                    args.days
                ),
            )
            .await?
        }
        LicenseCommand::Usage(args) => usage(&args, output).await?,
        LicenseCommand::Device(args) => {
            get(
                &args.admin,
                &format!("{PREFIX}/devices/{}/licenses", segment(&args.serial)?),
            )
            .await?
        }
    })
}

/// `ztp license pool-set`: changes the pool's seats, counting or end.
async fn pool_set(args: PoolSetArgs) -> anyhow::Result<Value> {
    let path = format!(
        "{PREFIX}/customers/{}/license-pools/{}",
        segment(&args.customer)?,
        segment(&args.name)?
    );
    let patch = PatchPool {
        seats: args.seats,
        uncounted: args.uncounted,
        ends_at: args.ends,
        evaluation_days: args.evaluation_days,
    };
    Ok(client(&args.admin)?
        .send(Method::PATCH, &path, &patch)
        .await?)
}

/// `ztp license rma`: moves a device's licenses to its replacement.
async fn rma(args: RmaArgs) -> anyhow::Result<Value> {
    let path = format!(
        "{PREFIX}/devices/{}/licenses/transfer",
        segment(&args.from)?
    );
    let transfer = TransferLicenses {
        to: segment(&args.to)?.to_owned(),
    };
    Ok(client(&args.admin)?
        .send(Method::POST, &path, &transfer)
        .await?)
}

/// The body that creates the pool `args` describe.
fn pool_to_add(args: PoolAddArgs) -> anyhow::Result<CreatePool> {
    Ok(CreatePool {
        name: args.name,
        feature: args.feature,
        term: args.term.parse::<Term>().map_err(|e| anyhow::anyhow!(e))?,
        seats: args.seats,
        starts_at: args.starts,
        ends_at: args.ends,
        evaluation_days: args.evaluation_days,
        models: args.models,
        serials: args.serials,
    })
}

/// `ztp license usage`: the report as JSON, or in the CSV or table the server writes for it.
async fn usage(args: &UsageArgs, output: Output) -> anyhow::Result<Value> {
    let path = format!(
        "{PREFIX}/customers/{}/license-usage?days={}",
        segment(&args.customer)?,
        args.days
    );
    let output = match (args.csv, args.table) {
        (true, _) => Output::Csv,
        (_, true) => Output::Table,
        _ => output,
    };
    Ok(match output {
        Output::Csv | Output::Table => {
            let format = if output == Output::Csv {
                "csv"
            } else {
                "table"
            };
            let path = format!("{path}&format={format}");
            Value::String(client(&args.admin)?.get_text(&path).await?)
        }
        Output::Json => get(&args.admin, &path).await?,
    })
}

/// `GET /devices/{serial}/{what}`.
/// `ztp device voucher …`.
async fn voucher(command: VoucherCommand) -> anyhow::Result<Value> {
    let args = match command {
        VoucherCommand::Import(args) => {
            let bytes = std::fs::read(&args.file)
                .with_context(|| format!("reading {}", args.file.display()))?;
            // DER starts with a SEQUENCE; anything else is taken as base64 text.
            let voucher = if bytes.first() == Some(&0x30) {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            } else {
                String::from_utf8(bytes)
                    .with_context(|| format!("{} is neither DER nor base64", args.file.display()))?
                    .split_whitespace()
                    .collect()
            };
            let path = format!("{PREFIX}/devices/{}/voucher", segment(&args.serial)?);
            return Ok(client(&args.admin)?
                .send(Method::PUT, &path, &json!({ "voucher": voucher }))
                .await?);
        }
        VoucherCommand::Show(args) => return device_resource(&args, "voucher").await,
        VoucherCommand::Remove(args) => args,
    };
    let path = format!("{PREFIX}/devices/{}/voucher", segment(&args.serial)?);
    client(&args.admin)?.delete(&path).await?;
    Ok(Value::Null)
}

/// `ztp device activation-code …`.
async fn activation_code(command: ActivationCodeCommand) -> anyhow::Result<Value> {
    let args = match command {
        ActivationCodeCommand::Set(args) => {
            let mut body = json!({ "only_factor": args.only_factor });
            if let Some(file) = &args.code_file {
                let code = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                body["code"] = json!(code.trim_end_matches(['\r', '\n']));
            }
            let path = format!(
                "{PREFIX}/devices/{}/activation-code",
                segment(&args.serial)?
            );
            return Ok(client(&args.admin)?.send(Method::PUT, &path, &body).await?);
        }
        ActivationCodeCommand::Show(args) => {
            return device_resource(&args, "activation-code").await;
        }
        ActivationCodeCommand::Remove(args) => args,
    };
    let path = format!(
        "{PREFIX}/devices/{}/activation-code",
        segment(&args.serial)?
    );
    client(&args.admin)?.delete(&path).await?;
    Ok(Value::Null)
}

async fn device_resource(args: &SerialArgs, what: &str) -> anyhow::Result<Value> {
    get(
        &args.admin,
        &format!("{PREFIX}/devices/{}/{what}", segment(&args.serial)?),
    )
    .await
}

/// Streams a CSV file to the import resource, with a progress bar of the bytes sent.
async fn import(args: &DeviceImportArgs, output: Output) -> anyhow::Result<Value> {
    use tokio::io::AsyncReadExt;

    let mut file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let progress = progress_bar(size, args.quiet);
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
    print_report(&report, output)
}

/// A bar of the bytes sent, on standard error (hidden when `quiet`).
fn progress_bar(size: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    indicatif::ProgressBar::new(size).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    )
}

/// The import's summary on standard error, its report on standard output in `output` (whatever
/// happened); bad rows make the exit status 1.
fn print_report(report: &ImportReport, output: Output) -> anyhow::Result<Value> {
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
    output::answer(&serde_json::to_value(report)?, output, &[])?;
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

pub(super) async fn registration(command: RegistrationCommand) -> anyhow::Result<Value> {
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
            get(&args.admin, &format!("{PREFIX}/registrations?{query}")).await?
        }
        RegistrationCommand::Show(args) => {
            get(&args.admin, &format!("{PREFIX}/registrations/{}", args.id)).await?
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

pub(super) async fn device(command: DeviceCommand, output: Output) -> anyhow::Result<Value> {
    Ok(match command {
        DeviceCommand::Import(args) => import(&args, output).await?,
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
            get(&args.admin, &format!("{PREFIX}/devices?{query}")).await?
        }
        DeviceCommand::Show(args) => {
            get(
                &args.admin,
                &format!("{PREFIX}/devices/{}", segment(&args.serial)?),
            )
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
        DeviceCommand::Voucher(command) => voucher(command).await?,
        DeviceCommand::ActivationCode(command) => activation_code(command).await?,
        DeviceCommand::Progress(args) => device_resource(&args, "progress").await?,
        DeviceCommand::Timeline(args) => device_resource(&args, "timeline").await?,
        DeviceCommand::Bootstrap(_) | DeviceCommand::Run(_) => {
            anyhow::bail!("`ztp device bootstrap` and `run` are not inventory commands")
        }
    })
}
