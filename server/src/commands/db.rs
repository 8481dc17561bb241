//! `ztp db`: the database as a whole.

use anyhow::Context;

use super::output::print;
use crate::cli::{DbCommand, DbCopyArgs};
use crate::secrets::{self, SecretBox};
use crate::store::schema::Migrations;
use crate::store::{Options, Store, copy};

/// Runs a `ztp db` command.
pub fn run(command: DbCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match command {
        DbCommand::Copy(args) => runtime.block_on(copy_database(&args)),
    }
}

/// Opens `url` as `migrations` say. Copying opens no secret (sealed values are copied as
/// stored): a key of the moment, used for nothing.
async fn open(url: &str, migrations: Migrations) -> anyhow::Result<Store> {
    let secrets = SecretBox::new(&secrets::generate_key()?, &[])?;
    let options = Options {
        migrations,
        ..Options::new(2)
    };
    Store::open_with(url, secrets, options)
        .await
        .with_context(|| format!("opening {}", redacted(url)))
}

async fn copy_database(args: &DbCopyArgs) -> anyhow::Result<()> {
    // The source as it is (a source at an older schema: `ztp migrate` it first); the target
    // gets the schema.
    let from = open(&args.from, Migrations::Verify).await?;
    let to = open(&args.to, Migrations::Apply).await?;
    let copied = copy::copy(&from, &to).await.context("copying")?;
    let mut out = format!("{:<20} {:>10}  checksum\n", "table", "rows");
    for table in &copied {
        out.push_str(&format!(
            "{:<20} {:>10}  {}\n",
            table.table, table.rows, table.checksum
        ));
    }
    out.push_str(&format!(
        "copied {} to {}: every table's rows and checksum verified\n",
        redacted(&args.from),
        redacted(&args.to)
    ));
    print(&out)
}

/// `url` without its password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            redacted("postgres://ztp:s3cret@db:5432/ztp"),
            "postgres://ztp:***@db:5432/ztp"
        );
        assert_eq!(redacted("postgres://ztp@db/ztp"), "postgres://ztp@db/ztp");
        assert_eq!(
            redacted("sqlite://ztp-data/ztp.sqlite"),
            "sqlite://ztp-data/ztp.sqlite"
        );
    }
}
