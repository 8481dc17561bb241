//! The audit trail of the admin API: every change (any successful request but a GET) is
//! appended to the audit log with its token, role, address, the object it touched, the
//! customer concerned and the request's fields; and the log is read back, filtered by object,
//! customer and time, as JSON or CSV (`GET /audit`).
//!
//! The fields are the typed request as `parse` (in the module above) made it, serialised:
//! never the raw body, so what reaches the log is what the handler acted on, and a secret is a
//! [`Secret`](crate::secrets::Secret), which serialises as `[redacted]`.

use std::cell::RefCell;
use std::net::SocketAddr;

use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::context::{Call, Ctx, json, limit};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::AuditQuery;
use super::request::Request;
use super::routes::Audit;
use crate::csv_export::CsvExport;
use crate::domain::access::Principal;
use crate::store::audit::{AuditEntry, AuditFilter, NewAuditEntry};
use crate::store::timestamp;

/// An audit log entry as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    /// Sequence number (the key `?after=` pages by).
    pub id: i64,
    /// When, RFC 3339.
    pub at: String,
    /// The token's id (`bootstrap` for the bootstrap token).
    pub token: String,
    /// Its role.
    pub role: String,
    /// The client's address and port.
    pub peer: String,
    /// `create`, `update`, `replace`, `delete` or `action`.
    pub action: String,
    /// The resource path, e.g. `/customers/acme/nms/main`.
    pub object: String,
    /// The kind of object, e.g. `nms-connection`.
    pub object_kind: String,
    /// The customer concerned.
    #[schema(required = true)]
    pub customer: Option<String>,
    /// The request's fields, secrets redacted.
    #[schema(required = true)]
    pub fields: Option<Value>,
    /// One line about what happened.
    pub summary: String,
}

/// Who a request acts as, and what its handlers said they did.
#[derive(Debug)]
pub(super) struct Actor {
    pub(super) principal: Principal,
    pub(super) peer: SocketAddr,
    pub(super) said: RefCell<Vec<String>>,
    /// The typed request, serialised, and the customer its body names.
    pub(super) request: RefCell<Option<(Value, Option<String>)>>,
    /// The customers a handler changed things of (`None`: things of no customer), each with a
    /// line about what: one audit entry per customer (see [`touched`]).
    pub(super) touched: RefCell<Vec<(Option<String>, String)>>,
}

tokio::task_local! {
    pub(super) static ACTOR: Actor;
}

/// Notes the typed request of the running change, for its audit entry.
pub(super) fn note_request<T: Request>(request: &T) {
    let fields = match serde_json::to_value(request) {
        Ok(fields) => fields,
        Err(error) => {
            tracing::error!(%error, "could not note a request for the audit log");
            Value::Null
        }
    };
    let customer = request.customer().map(str::to_owned);
    // Outside a recorded change (a read) there is nothing to note it for.
    let _ = ACTOR.try_with(|a| *a.request.borrow_mut() = Some((fields, customer)));
}

/// Says that the running request changed things of `customer` (`None`: of no customer), in a
/// line such as "imported 1200 device(s) for acme". A request whose handler says so for any
/// customer is recorded as one audit entry per customer named, so that each customer's log
/// shows what was done to it; these entries are written even when the request then fails,
/// since what was changed stays changed. Outside a request it does nothing.
pub(super) fn touched(customer: Option<&str>, summary: impl Into<String>) {
    let summary = summary.into();
    let _ = ACTOR.try_with(|a| {
        a.touched
            .borrow_mut()
            .push((customer.map(str::to_owned), summary));
    });
}

/// What a change touches, worked out before it runs (a deleted device's owner is gone after).
#[derive(Debug, Clone)]
pub(super) struct Target {
    object: String,
    kind: &'static str,
    action: &'static str,
    customer: Option<String>,
}

impl Target {
    /// A change the route declares as `audit`, to `segments` (the path after the API prefix),
    /// that reaches `customer`'s objects, as tenancy found it.
    pub(super) fn new(audit: Audit, segments: &[&str], customer: Option<String>) -> Self {
        Self {
            object: format!("/{}", segments.join("/")),
            kind: audit.kind,
            action: audit.action.as_str(),
            customer,
        }
    }
}

/// Runs `change` as `principal` from `peer`; when it succeeds and has a `target` (every
/// request but a GET), it is appended to the audit log: one entry, or one per customer its
/// handler [`touched`] (then also when it failed after changing something).
pub(super) async fn recorded(
    ctx: &Ctx,
    principal: &Principal,
    peer: SocketAddr,
    target: Option<Target>,
    change: impl Future<Output = ApiResult>,
) -> ApiResult {
    let actor = Actor {
        principal: principal.clone(),
        peer,
        said: RefCell::new(Vec::new()),
        request: RefCell::new(None),
        touched: RefCell::new(Vec::new()),
    };
    let (result, said, touched, request) = ACTOR
        .scope(actor, async {
            let result = change.await;
            let (said, touched, request) =
                ACTOR.with(|a| (a.said.take(), a.touched.take(), a.request.take()));
            (result, said, touched, request)
        })
        .await;
    let Some(target) = target else {
        return result;
    };
    let (fields, named) = request.unzip();
    let fields = fields.map(|f| f.to_string());
    let target_customer = target.customer.clone().or(named.flatten());
    let changed = result.as_ref().is_ok_and(|r| r.status().is_success());
    let entries = if !touched.is_empty() {
        by_customer(touched)
    } else if changed {
        let summary = if said.is_empty() {
            format!("{} {}", target.action, target.object)
        } else {
            said.join("; ")
        };
        vec![(target_customer, summary)]
    } else {
        Vec::new()
    };
    for (customer, summary) in entries {
        let entry = NewAuditEntry {
            token: principal.token.clone(),
            role: principal.role.as_str().to_owned(),
            peer: peer.to_string(),
            action: target.action.into(),
            object: target.object.clone(),
            object_kind: target.kind.into(),
            customer,
            fields: fields.clone(),
            summary,
        };
        if let Err(error) = ctx.store.append_audit(&entry).await {
            // The change is made; losing its record is an operator's problem to know of.
            tracing::error!(%error, object = entry.object, "could not append to the audit log");
        }
    }
    result
}

/// The (customer, summary) of each entry for what a handler [`touched`]: one per customer, its
/// lines joined, in the order the customers were first named.
fn by_customer(touched: Vec<(Option<String>, String)>) -> Vec<(Option<String>, String)> {
    let mut by_customer: Vec<(Option<String>, Vec<String>)> = Vec::new();
    for (customer, summary) in touched {
        match by_customer.iter_mut().find(|(c, _)| *c == customer) {
            Some((_, lines)) => lines.push(summary),
            None => by_customer.push((customer, vec![summary])),
        }
    }
    by_customer
        .into_iter()
        .map(|(customer, lines)| (customer, lines.join("; ")))
        .collect()
}

/// The audit log (`?object=&customer=&since=&until=&after=&limit=&format=json|csv`).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    description = "Every successful change (any request but a GET), oldest first.",
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of entries", content(
            (Vec<AuditEntryView> = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A bad time, `after`, `limit` or `format`", body = ErrorBody),
    ))]
pub(super) async fn audit_log(ctx: &Ctx, call: Call) -> ApiResult {
    let query = &call.query;
    let time = |key: &str| {
        query
            .get(key)
            .map(|t| super::licenses::when(t).map(crate::store::licenses::ms_of))
            .transpose()
    };
    let filter = AuditFilter {
        object: query.get("object").cloned(),
        customer: query.get("customer").cloned(),
        since: time("since")?,
        until: time("until")?,
        after: query
            .get("after")
            .map(|a| {
                a.parse()
                    .map_err(|_| ApiError::bad_request("after must be an entry id"))
            })
            .transpose()?
            .unwrap_or(0),
        limit: limit(query, 1000, 100_000)?,
    };
    let entries = ctx.store.audit_entries(&filter).await?;
    match query.get("format").map(String::as_str) {
        None | Some("json") => {
            let views: Vec<AuditEntryView> = entries.iter().map(entry_view).collect();
            Ok(json(StatusCode::OK, &views))
        }
        Some("csv") => Ok(crate::http::response(
            StatusCode::OK,
            "text/csv; charset=utf-8",
            entries_csv(&entries),
        )),
        Some(other) => Err(ApiError::bad_request(format!(
            "format {other:?}: use json or csv"
        ))),
    }
}

fn entry_view(stored: &AuditEntry) -> AuditEntryView {
    let e = &stored.entry;
    AuditEntryView {
        id: stored.id,
        at: timestamp(stored.at),
        token: e.token.clone(),
        role: e.role.clone(),
        peer: e.peer.clone(),
        action: e.action.clone(),
        object: e.object.clone(),
        object_kind: e.object_kind.clone(),
        customer: e.customer.clone(),
        fields: e
            .fields
            .as_deref()
            .and_then(|f| serde_json::from_str::<Value>(f).ok()),
        summary: e.summary.clone(),
    }
}

fn entries_csv(entries: &[AuditEntry]) -> String {
    let mut out = CsvExport::new();
    out.row([
        "id",
        "at",
        "token",
        "role",
        "peer",
        "action",
        "object",
        "object_kind",
        "customer",
        "fields",
        "summary",
    ]);
    for stored in entries {
        let e = &stored.entry;
        out.row([
            stored.id.to_string(),
            timestamp(stored.at),
            e.token.clone(),
            e.role.clone(),
            e.peer.clone(),
            e.action.clone(),
            e.object.clone(),
            e.object_kind.clone(),
            e.customer.clone().unwrap_or_default(),
            e.fields.clone().unwrap_or_default(),
            e.summary.clone(),
        ]);
    }
    out.finish()
}
