//! Registrations delivered per second to one NMS, beside OpenSSH's own `sftp -b` uploading the
//! same number of files of the same size over one connection (the practical ceiling), in the same
//! run against the same sshd on loopback.
//!
//! ```text
//! cargo bench -p ztp --bench nms_delivery            # 500 registrations
//! ZTP_BENCH_REGISTRATIONS=2000 cargo bench -p ztp --bench nms_delivery
//! ```
//!
//! ztp's figure is end to end through the outbox: each registration is committed to SQLite, the
//! courier claims it, uploads it over the pooled sessions (temporary name, then rename) and
//! records the delivery and its event. A third figure shows the connector's pool alone (no
//! database), to tell the SFTP cost from the bookkeeping.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use ztp::config::NmsConfig;
use ztp::domain::delivery::DeliveryPolicy;
use ztp::domain::response::Profile;
use ztp::nms::{Courier, CourierSettings, Registrar, host_policy};
use ztp::store::{NewCustomer, NewRegistration, NmsConnectionRecord, Store};
use ztp_nms_connector::{Pool, generate_client_key};
use ztp_tests::sshd::{Sshd, tree};

const SESSIONS: usize = 4;

fn main() {
    let count: usize = std::env::var("ZTP_BENCH_REGISTRATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sshd = Sshd::start();
    let key = generate_client_key().expect("key");
    sshd.authorize(&key);
    let work = tempfile::tempdir().expect("temp dir");
    let document = sample_document();
    println!(
        "NMS delivery: {count} registrations of {} bytes to one OpenSSH sshd on loopback",
        document.len()
    );

    // OpenSSH's sftp: one connection, one `put` per file.
    let sftp = sftp_batch(
        &sshd,
        &key.to_openssh_pem().unwrap(),
        work.path(),
        &document,
        count,
    );

    // ztp end to end: outbox, courier, pool.
    let target = sshd.root().join("ztp");
    fs::create_dir(&target).unwrap();
    let ztp = runtime.block_on(outbox_run(
        &sshd,
        &key.to_openssh_pem().unwrap(),
        &target,
        work.path(),
        &document,
        count,
    ));
    assert_eq!(
        tree(&target).len(),
        count,
        "every registration is in the NMS directory"
    );

    // The connector's pool alone.
    let pooled = sshd.root().join("pool");
    fs::create_dir(&pooled).unwrap();
    let pool_only = runtime.block_on(pool_run(&sshd, &pooled, &document, count));

    let rate = |t: Duration| count as f64 / t.as_secs_f64();
    println!(
        "  sftp -b, one connection        {:>8.1} files/s  ({:.2} s)",
        rate(sftp),
        sftp.as_secs_f64()
    );
    println!(
        "  ztp outbox -> courier -> pool  {:>8.1} registrations/s  ({:.2} s, {SESSIONS} sessions)",
        rate(ztp),
        ztp.as_secs_f64()
    );
    println!(
        "  connector pool only            {:>8.1} files/s  ({:.2} s, {SESSIONS} sessions)",
        rate(pool_only),
        pool_only.as_secs_f64()
    );
    println!(
        "  ratio ztp / sftp -b            {:>8.2}",
        rate(ztp) / rate(sftp)
    );
    println!(
        "  ratio pool only / sftp -b      {:>8.2}",
        rate(pool_only) / rate(sftp)
    );
}

/// A registration document of realistic size (a P-256 IDevID certificate, like the dev PKI's).
fn sample_document() -> Vec<u8> {
    use ztp_yang::{DeviceRegistration, Document};
    let certificate = ztp_certs::CertificateAuthority::new_root(
        "bench",
        "ztp",
        ztp_certs::KeyAlgorithm::EcdsaP256,
    )
    .expect("a certificate")
    .cert()
    .der()
    .to_vec();
    DeviceRegistration {
        serial_number: "SN-BENCH-000000".into(),
        model_name: "uCPE-100".into(),
        owner: "bench-customer".into(),
        idevid_certificate: Some(certificate),
        registered_at: time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap(),
        ssh_host_keys: Vec::new(),
    }
    .to_xml()
    .into_bytes()
}

fn sftp_batch(sshd: &Sshd, key_pem: &str, work: &Path, document: &[u8], count: usize) -> Duration {
    let local = work.join("sftp-files");
    fs::create_dir(&local).unwrap();
    let remote = sshd.root().join("sftp");
    fs::create_dir(&remote).unwrap();
    let mut batch = String::new();
    for i in 0..count {
        let name = format!("SN-{i:06}.xml");
        fs::write(local.join(&name), document).unwrap();
        batch.push_str(&format!(
            "put {} {}\n",
            local.join(&name).display(),
            remote.join(&name).display()
        ));
    }
    let batch_file = work.join("batch");
    fs::write(&batch_file, batch).unwrap();
    let key_file = work.join("id_ed25519");
    fs::write(&key_file, key_pem).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let started = Instant::now();
    let status = Command::new("sftp")
        .arg("-q")
        .arg("-b")
        .arg(&batch_file)
        .arg("-i")
        .arg(&key_file)
        .args(["-P", &sshd.port().to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg("root@127.0.0.1")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("sftp runs (openssh-client)");
    let elapsed = started.elapsed();
    assert!(status.success(), "sftp -b failed");
    assert_eq!(tree(&remote).len(), count);
    elapsed
}

async fn outbox_run(
    sshd: &Sshd,
    key_pem: &str,
    target: &Path,
    work: &Path,
    document: &[u8],
    count: usize,
) -> Duration {
    let url = format!("sqlite://{}?mode=rwc", work.join("bench.sqlite").display());
    let key = ztp::secrets::generate_key().expect("a key");
    let secrets = ztp::secrets::SecretBox::new(&key, &[]).expect("a secret box");
    let store = Store::open(&url, 8, secrets).await.expect("store");
    store
        .insert_customer(&NewCustomer {
            name: "bench".into(),
            owner_ca_pem: String::new(),
            signer_chain_pem: String::new(),
            signer_key_pem: String::new(),
            profile: Profile::Standard,
            sign: true,
        })
        .await
        .expect("customer");
    store
        .put_nms_connection(&NmsConnectionRecord {
            customer: "bench".into(),
            name: "main".into(),
            host: "127.0.0.1".into(),
            port: sshd.port(),
            username: "root".into(),
            password: None,
            private_key_pem: Some(key_pem.to_owned()),
            pins: vec![sshd.host_fingerprint().to_string()],
            directory: target.display().to_string(),
            policy: DeliveryPolicy::Parallel,
            created_at: 0,
            updated_at: 0,
        })
        .await
        .expect("connection");
    let outbox = Arc::new(Registrar::new(store.clone()));
    let config = NmsConfig {
        max_sessions: SESSIONS,
        // The sshd is on loopback, which NMS hosts may not be unless allowed.
        allowed_private_networks: vec!["127.0.0.0/8".parse().unwrap()],
        ..NmsConfig::default()
    };
    let (stop, stopped) = watch::channel(false);
    let courier = tokio::spawn(
        Courier::new(
            Arc::clone(&outbox),
            CourierSettings::from(&config),
            &host_policy(&config),
        )
        .run(stopped),
    );
    let content = String::from_utf8(document.to_vec()).unwrap();

    let started = Instant::now();
    for i in 0..count {
        let serial = format!("SN-{i:06}");
        let registration = NewRegistration {
            file_name: format!("{serial}.xml"),
            serial: ztp_certs::Serial::parse(&serial).unwrap(),
            customer: "bench".into(),
            connection: "main".into(),
            content: content.clone(),
        };
        store
            .put_registration(&registration, outbox.clock().now_ms())
            .await
            .expect("queued");
        outbox.wake();
    }
    let queued = started.elapsed();
    let deadline = started + Duration::from_secs(600);
    loop {
        let status = store
            .connection_status("bench", "main")
            .await
            .expect("status");
        if usize::try_from(status.delivered).unwrap() == count {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered within 10 minutes: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    let _ = courier.await;
    println!(
        "  (ztp: the last of {count} registrations was committed to the outbox after {:.2} s, \
         one transaction each, as devices call in one by one)",
        queued.as_secs_f64()
    );
    elapsed
}

async fn pool_run(sshd: &Sshd, target: &Path, document: &[u8], count: usize) -> Duration {
    let mut endpoint = sshd.key_endpoint();
    endpoint.directory = target.display().to_string();
    let pool = Pool::new(endpoint, SESSIONS);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let pool = pool.clone();
        let document = document.to_vec();
        tasks.spawn(async move { pool.upload(&format!("SN-{i:06}.xml"), &document).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("task").expect("upload");
    }
    let elapsed = started.elapsed();
    pool.close().await;
    elapsed
}
