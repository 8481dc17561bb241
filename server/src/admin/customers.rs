//! Customers in the admin API: create (owner CA and signer generated or imported and checked),
//! change, delete; their owner CA, redirect targets and response rules.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use ztp_certs::Cert;
use ztp_yang::BootstrapServer;

use super::context::{Call, Ctx, check_address, distinct, json, nullable, page};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::{CustomerPath, CustomerQuery, Page, TargetPath};
use super::owner_credentials::credentials;
use super::request::Request;
use crate::artifacts::{parse_onboarding, trust_anchor_bag};
use crate::domain::response::{Policy, Profile, Rule, Target, valid_name};
use crate::ldevid::ztp_ca::ZtpCa;
use crate::secrets::Secret;
use crate::store::timestamp;
use crate::store::{CustomerRecord, CustomerUpdate, LdevidIssuer, NewCustomer, TargetRecord};

/// A customer as the API shows it (never its signing key).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerView {
    /// The customer's name: its key in every path and filter.
    pub name: String,
    /// Response profile.
    pub profile: Profile,
    /// Whether conveyed information is signed.
    pub sign: bool,
    /// The owner CA (pinned-domain-cert).
    pub owner_ca: CertificateView,
    /// The owner signing certificate.
    pub signer: CertificateView,
    /// Default onboarding information (RFC 7951 JSON), if set.
    #[schema(required = true)]
    pub onboarding: Option<serde_json::Value>,
    /// Redirect targets, in order.
    pub targets: Vec<TargetView>,
    /// Response rules, in order.
    pub rules: Vec<Rule>,
    /// Where its devices' LDevIDs (RFC 9646 CSRs) come from: `off` (the default), `ztp-ca`
    /// or `command`.
    #[serde(default)]
    pub ldevid_issuer: LdevidIssuer,
    /// ztp's LDevID CA of the customer (PEM), once generated: what the customer's systems
    /// trust its devices' LDevIDs by.
    #[serde(default)]
    #[schema(required = true)]
    pub ldevid_ca_pem: Option<String>,
    /// Revision (bumped by every change).
    pub revision: i64,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it was last changed, RFC 3339.
    pub updated_at: String,
}

/// A certificate summary.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateView {
    /// Subject.
    pub subject: String,
    /// SHA-256 fingerprint, hex.
    pub fingerprint: String,
    /// Expiry.
    pub not_after: String,
}

/// A customer to create. Without certificates and key, an owner CA and signer are generated.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// Name: 1 to 64 of `[A-Za-z0-9._-]`.
    pub name: String,
    /// Response profile (default standard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Sign conveyed information (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<bool>,
    /// Imported owner CA certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_ca_pem: Option<String>,
    /// Imported signing certificate and chain (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_chain_pem: Option<String>,
    /// Imported signing key (PEM, PKCS#8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub signer_key_pem: Option<Secret>,
}

/// Changes to a customer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCustomer {
    /// New profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// New signing switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<bool>,
    /// New default onboarding information; `null` removes it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub onboarding: Option<Option<serde_json::Value>>,
    /// Where its devices' LDevIDs come from: `off`, `ztp-ca` (ztp's CA of the customer,
    /// generated the first time) or `command` (the configured `[ldevid] command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldevid_issuer: Option<LdevidIssuer>,
}

/// A redirect target.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetView {
    /// Name, unique per customer.
    pub name: String,
    /// Host name or IP address.
    pub address: String,
    /// Port (default 443).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Trust anchor chain (PEM) for the target's TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchor_pem: Option<String>,
}

/// A customer's response rules, replaced as a whole (`PUT /customers/{name}/rules`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// The rules, in the order they are tried (first match wins).
    pub rules: Vec<Rule>,
}

fn default_port() -> u16 {
    BootstrapServer::DEFAULT_PORT
}

impl Request for CreateCustomer {
    fn customer(&self) -> Option<&str> {
        Some(&self.name)
    }
}

impl Request for PatchCustomer {}

impl Request for TargetView {}

impl Request for RuleSet {}

/// The customer `name` as the API shows it (404 when there is none).
pub(super) async fn customer_view_named(ctx: &Ctx, name: &str) -> Result<CustomerView, ApiError> {
    let record = ctx.customer_record(name).await?;
    let targets = target_views(ctx, name).await?;
    let rules = ctx.store.rules(name).await?;
    customer_view(record, targets, rules)
}

/// A customer's redirect targets, in order.
async fn target_views(ctx: &Ctx, customer: &str) -> Result<Vec<TargetView>, ApiError> {
    Ok(ctx
        .store
        .targets(customer)
        .await?
        .into_iter()
        .map(target_view)
        .collect())
}

/// List customers.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers",
    params(CustomerQuery, Page),
    responses(
        (status = 200, description = "One page of customers, by name", body = Vec<CustomerView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
    ))]
pub(super) async fn list_customers(ctx: &Ctx, call: Call) -> ApiResult {
    let query = &call.query;
    let only = query.get("customer");
    let customers: Vec<CustomerRecord> = ctx
        .store
        .customers()
        .await?
        .into_iter()
        .filter(|c| only.is_none_or(|o| *o == c.name))
        .collect();
    let mut views = Vec::new();
    for record in page(customers, |c| &c.name, query)? {
        let targets = target_views(ctx, &record.name).await?;
        let rules = ctx.store.rules(&record.name).await?;
        views.push(customer_view(record, targets, rules)?);
    }
    Ok(json(StatusCode::OK, &views))
}

/// Create a customer.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers",
    description = "Without certificates and key, an owner CA and signer are generated; \
                   imported ones must be given together and chain to the owner CA.",
    request_body = CreateCustomer,
    responses(
        (status = 201, description = "Created", body = CustomerView),
        (status = 400, description = "A bad name, or unusable owner credentials", body = ErrorBody),
        (status = 409, description = "The customer exists", body = ErrorBody),
    ))]
pub(super) async fn create_customer(ctx: &Ctx, _call: Call, create: CreateCustomer) -> ApiResult {
    if !valid_name(&create.name) {
        return Err(ApiError::bad_request(format!(
            "customer name {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
            create.name
        )));
    }
    let customers = ctx.store.customers().await?;
    distinct(
        "customer",
        &create.name,
        customers.iter().map(|c| c.name.as_str()),
    )?;
    let credentials = credentials(
        &create.name,
        (
            create.owner_ca_pem,
            create.signer_chain_pem,
            create.signer_key_pem,
        ),
        &ctx.owner_key_modules,
    )?;
    let record = ctx
        .store
        .insert_customer(&NewCustomer {
            name: create.name.clone(),
            owner_ca_pem: credentials.owner_ca_pem,
            signer_chain_pem: credentials.signer_chain_pem,
            signer_key_pem: credentials.signer_key_pem,
            profile: create.profile.unwrap_or_default(),
            sign: create.sign.unwrap_or(true),
        })
        .await?;
    let how = if credentials.generated {
        "generated"
    } else {
        "imported"
    };
    ctx.audit(
        None,
        format!("created customer {} ({how} owner CA)", create.name),
    )
    .await;
    Ok(json(
        StatusCode::CREATED,
        &customer_view(record, Vec::new(), Vec::new())?,
    ))
}

/// Change a customer.
#[utoipa::path(patch, path = "/api/v1/customers/{name}", tag = "customers",
    params(CustomerPath),
    request_body = PatchCustomer,
    responses(
        (status = 200, description = "Changed", body = CustomerView),
        (status = 400, description = "Bad onboarding information", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn patch_customer(ctx: &Ctx, call: Call, patch: PatchCustomer) -> ApiResult {
    let name = call.param("name");
    let onboarding_json = match patch.onboarding {
        None => None,
        Some(None) => Some(None),
        Some(Some(value)) => {
            parse_onboarding(&value)
                .map_err(|e| ApiError::bad_request(format!("onboarding: {e}")))?;
            Some(Some(value.to_string()))
        }
    };
    let ldevid_ca = ldevid_ca_to_generate(ctx, name, patch.ldevid_issuer).await?;
    let generated = ldevid_ca.is_some();
    ctx.store
        .update_customer(
            name,
            &CustomerUpdate {
                profile: patch.profile,
                sign: patch.sign,
                onboarding_json,
                ldevid_issuer: patch.ldevid_issuer,
                ldevid_ca,
            },
        )
        .await?;
    let what = match patch.ldevid_issuer {
        Some(issuer) if generated => format!(
            "changed customer {name} (LDevIDs {}, LDevID CA generated)",
            issuer.as_str()
        ),
        Some(issuer) => format!("changed customer {name} (LDevIDs {})", issuer.as_str()),
        None => format!("changed customer {name}"),
    };
    ctx.audit(None, what).await;
    Ok(json(StatusCode::OK, &customer_view_named(ctx, name).await?))
}

/// The LDevID CA to generate for `name` when `issuer` is ztp's CA and it has none yet.
async fn ldevid_ca_to_generate(
    ctx: &Ctx,
    name: &str,
    issuer: Option<LdevidIssuer>,
) -> Result<Option<(String, String)>, ApiError> {
    if issuer != Some(LdevidIssuer::ZtpCa) {
        return Ok(None);
    }
    let Some(record) = ctx.store.customer(name).await? else {
        return Ok(None); // The update says it is not found.
    };
    if record.ldevid_ca.is_some() {
        return Ok(None);
    }
    ZtpCa::generate(name).map(Some).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("customer {name}: the LDevID CA could not be generated: {e}"),
        )
    })
}

/// Add or replace a redirect target.
#[utoipa::path(post, path = "/api/v1/customers/{name}/targets", tag = "customers",
    description = "A target of the same name is replaced.",
    params(CustomerPath),
    request_body = TargetView,
    responses(
        (status = 200, description = "Stored", body = TargetView),
        (status = 400, description = "A bad name, address, port or trust anchor", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn put_target(ctx: &Ctx, call: Call, target: TargetView) -> ApiResult {
    let customer = call.param("name");
    if !valid_name(&target.name) {
        return Err(ApiError::bad_request(format!(
            "target name {:?} is not valid",
            target.name
        )));
    }
    check_address("address", &target.address, target.port)?;
    if let Some(pem) = &target.trust_anchor_pem {
        trust_anchor_bag(pem)
            .map_err(|e| ApiError::bad_request(format!("trust_anchor_pem: {e}")))?;
    }
    ctx.customer_record(customer).await?;
    ctx.store
        .put_target(
            customer,
            &TargetRecord {
                name: target.name.clone(),
                address: target.address.clone(),
                port: target.port,
                trust_anchor_pem: target.trust_anchor_pem.clone(),
            },
        )
        .await?;
    ctx.audit(
        None,
        format!(
            "set redirect target {customer}/{} to {}:{}",
            target.name, target.address, target.port
        ),
    )
    .await;
    Ok(json(StatusCode::OK, &target))
}

/// Remove a redirect target.
#[utoipa::path(delete, path = "/api/v1/customers/{name}/targets/{target}", tag = "customers",
    params(CustomerPath, TargetPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such customer or target", body = ErrorBody),
        (status = 409, description = "A rule redirects to it", body = ErrorBody),
    ))]
pub(super) async fn delete_target(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, target) = (call.param("name"), call.param("target"));
    let rules = ctx.store.rules(customer).await?;
    if let Some(rule) = rules.iter().find(|r| {
        r.redirect
            .as_ref()
            .is_some_and(|t| t.iter().any(|t| t == target))
    }) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "rule {:?} redirects to target {target:?}; change the rules first",
                rule.name
            ),
        ));
    }
    ctx.store.delete_target(customer, target).await?;
    ctx.audit(None, format!("removed redirect target {customer}/{target}"))
        .await;
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}

/// Replace a customer's response rules.
#[utoipa::path(put, path = "/api/v1/customers/{name}/rules", tag = "customers",
    params(CustomerPath),
    request_body = RuleSet,
    responses(
        (status = 200, description = "Replaced", body = Vec<Rule>),
        (status = 400, description = "A rule cannot be used (unknown target, bad onboarding, …)",
            body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn set_rules(ctx: &Ctx, call: Call, RuleSet { rules }: RuleSet) -> ApiResult {
    let customer = call.param("name");
    let record = ctx.customer_record(customer).await?;
    let targets: Vec<Target> = ctx
        .store
        .targets(customer)
        .await?
        .into_iter()
        .map(|t| Target {
            name: t.name,
            address: t.address,
            port: t.port,
            trust_anchor: None,
        })
        .collect();
    Policy::new(
        record.profile,
        record.sign,
        targets,
        None,
        &rules,
        parse_onboarding,
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    ctx.store.set_rules(customer, &rules).await?;
    ctx.audit(
        None,
        format!(
            "set {} response rule(s) of customer {customer}",
            rules.len()
        ),
    )
    .await;
    Ok(json(StatusCode::OK, &rules))
}

/// Show a customer.
#[utoipa::path(get, path = "/api/v1/customers/{name}", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, description = "The customer", body = CustomerView),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn show_customer(ctx: &Ctx, call: Call) -> ApiResult {
    let view = customer_view_named(ctx, call.param("name")).await?;
    Ok(json(StatusCode::OK, &view))
}

/// Delete a customer.
#[utoipa::path(delete, path = "/api/v1/customers/{name}", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 204, description = "Deleted, with its targets, rules, connections and pools"),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "Devices still belong to it", body = ErrorBody),
    ))]
pub(super) async fn delete_customer(ctx: &Ctx, call: Call) -> ApiResult {
    let name = call.param("name");
    ctx.store.delete_customer(name).await?;
    ctx.audit(None, format!("deleted customer {name}")).await;
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}

/// A customer's owner CA certificate.
#[utoipa::path(get, path = "/api/v1/customers/{name}/owner-ca", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, description = "The owner CA certificate (the vouchers' pinned-domain-cert)",
            body = String, content_type = "application/x-pem-file"),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn owner_ca(ctx: &Ctx, call: Call) -> ApiResult {
    let record = ctx.customer_record(call.param("name")).await?;
    Ok(crate::http::response(
        StatusCode::OK,
        "application/x-pem-file",
        record.owner_ca_pem,
    ))
}

/// List a customer's redirect targets.
#[utoipa::path(get, path = "/api/v1/customers/{name}/targets", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, description = "The redirect targets, in order", body = Vec<TargetView>),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn list_targets(ctx: &Ctx, call: Call) -> ApiResult {
    let name = call.param("name");
    ctx.customer_record(name).await?;
    Ok(json(StatusCode::OK, &target_views(ctx, name).await?))
}

/// A customer's response rules.
#[utoipa::path(get, path = "/api/v1/customers/{name}/rules", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, description = "The rules, in the order they are tried", body = Vec<Rule>),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn list_rules(ctx: &Ctx, call: Call) -> ApiResult {
    let name = call.param("name");
    ctx.customer_record(name).await?;
    Ok(json(StatusCode::OK, &ctx.store.rules(name).await?))
}

fn certificate_view(cert: &Cert) -> CertificateView {
    CertificateView {
        subject: cert.subject(),
        fingerprint: cert.fingerprint().to_hex(),
        not_after: cert.not_after().format(&Rfc3339).unwrap_or_default(),
    }
}

fn customer_view(
    record: CustomerRecord,
    targets: Vec<TargetView>,
    rules: Vec<Rule>,
) -> Result<CustomerView, ApiError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("customer {}: stored {what} is unusable: {e}", record.name),
        )
    };
    let ca = Cert::from_pem(&record.owner_ca_pem).map_err(|e| corrupt("owner CA", &e))?;
    let signer =
        Cert::chain_from_pem(&record.signer_chain_pem).map_err(|e| corrupt("signer", &e))?;
    let signer = signer
        .first()
        .ok_or_else(|| corrupt("signer", &"empty chain"))?;
    let onboarding = record
        .onboarding_json
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt("onboarding", &e))?;
    Ok(CustomerView {
        owner_ca: certificate_view(&ca),
        signer: certificate_view(signer),
        name: record.name,
        profile: record.profile,
        sign: record.sign,
        onboarding,
        targets,
        rules,
        ldevid_issuer: record.ldevid_issuer,
        ldevid_ca_pem: record.ldevid_ca.map(|(cert, _)| cert),
        revision: record.revision,
        created_at: timestamp(record.created_at),
        updated_at: timestamp(record.updated_at),
    })
}

fn target_view(t: TargetRecord) -> TargetView {
    TargetView {
        name: t.name,
        address: t.address,
        port: t.port,
        trust_anchor_pem: t.trust_anchor_pem,
    }
}
