//! The audit trail of the admin API: every change (any successful request but a GET) is
//! appended to the audit log with its token, role, address, the object it touched, the
//! customer concerned and the request's fields (secrets redacted); and the log is read back,
//! filtered by object, customer and time, as JSON or CSV (`GET /audit`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;

use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::{AdminApi, ApiError, ApiResult, json, limit, timestamp};
use crate::csv_export::CsvExport;
use crate::domain::access::Principal;
use crate::store::audit::{AuditEntry, AuditFilter, NewAuditEntry};

/// Field names whose values never reach the audit log.
const SECRET_FIELDS: [&str; 7] = [
    "password",
    "secret",
    "private_key_pem",
    "signer_key_pem",
    "owner_ca_key_pem",
    "token",
    "master_key",
];

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
}

tokio::task_local! {
    pub(super) static ACTOR: Actor;
}

/// What a change touches, worked out before it runs (a deleted device's owner is gone after).
#[derive(Debug, Clone)]
pub(super) struct Target {
    object: String,
    kind: &'static str,
    action: &'static str,
    customer: Option<String>,
    fields: Option<String>,
}

impl AdminApi {
    /// What a change to `segments` with `body` touches.
    pub(super) async fn target(&self, method: &Method, segments: &[&str], body: &[u8]) -> Target {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let from_body = |key: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let kind = match segments {
            ["customers"] | ["customers", _] | ["customers", _, "owner-ca"] => "customer",
            ["customers", _, "targets", ..] => "redirect-target",
            ["customers", _, "rules"] => "rules",
            ["customers", _, "nms", ..] => "nms-connection",
            ["customers", _, "webhooks", ..] => "webhook",
            ["customers", _, "license-pools", ..] => "license-pool",
            ["devices", "import"] => "device-import",
            ["devices", _, "licenses", ..] | ["licenses", ..] => "license",
            ["devices", ..] => "device",
            ["registrations", ..] => "registration",
            ["tokens", ..] => "token",
            _ => "other",
        };
        let customer = match segments {
            ["customers"] => from_body("name"),
            ["customers", c, ..] => Some((*c).to_owned()),
            ["devices", "import"] => None,
            ["devices"] | ["tokens"] | ["registrations", "retry"] => from_body("customer"),
            ["devices", serial, ..] => self
                .store
                .device(serial)
                .await
                .ok()
                .flatten()
                .and_then(|d| d.customer),
            ["registrations", id, ..] => match id.parse() {
                Ok(id) => self.store.registration(id).await.ok().map(|r| r.customer),
                Err(_) => None,
            },
            _ => None,
        };
        let action = match (method, segments.last()) {
            (&Method::POST, Some(&("test" | "retry" | "revoke" | "transfer" | "import"))) => {
                "action"
            }
            (&Method::POST, _) => "create",
            (&Method::PATCH, _) => "update",
            (&Method::PUT, _) => "replace",
            (&Method::DELETE, _) => "delete",
            _ => "action",
        };
        Target {
            object: format!("/{}", segments.join("/")),
            kind,
            action,
            customer,
            fields: parsed.map(redact).map(|v| v.to_string()),
        }
    }

    /// Runs `change` as `principal` from `peer`; when it succeeds and has a `target` (every
    /// request but a GET), it is appended to the audit log.
    pub(super) async fn recorded(
        &self,
        principal: &Principal,
        peer: SocketAddr,
        target: Option<Target>,
        change: impl Future<Output = ApiResult>,
    ) -> ApiResult {
        let actor = Actor {
            principal: principal.clone(),
            peer,
            said: RefCell::new(Vec::new()),
        };
        let (result, said) = ACTOR
            .scope(actor, async {
                let result = change.await;
                (result, ACTOR.with(|a| a.said.take()))
            })
            .await;
        let changed = result.as_ref().is_ok_and(|r| r.status().is_success());
        if let Some(target) = target
            && changed
        {
            let entry = NewAuditEntry {
                token: principal.token.clone(),
                role: principal.role.as_str().to_owned(),
                peer: peer.to_string(),
                action: target.action.into(),
                object: target.object.clone(),
                object_kind: target.kind.into(),
                customer: target.customer,
                fields: target.fields,
                summary: if said.is_empty() {
                    format!("{} {}", target.action, target.object)
                } else {
                    said.join("; ")
                },
            };
            if let Err(error) = self.store.append_audit(&entry).await {
                // The change is made; losing its record is an operator's problem to know of.
                tracing::error!(%error, object = entry.object, "could not append to the audit log");
            }
        }
        result
    }

    /// `GET /audit?object=&customer=&since=&until=&after=&limit=&format=json|csv`.
    pub(super) async fn audit_log(&self, query: &HashMap<String, String>) -> ApiResult {
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
        let entries = self.store.audit_entries(&filter).await?;
        match query.get("format").map(String::as_str) {
            None | Some("json") => {
                let views: Vec<AuditEntryView> = entries.iter().map(entry_view).collect();
                Ok(json(StatusCode::OK, &views))
            }
            Some("csv") => Ok(super::super::response(
                StatusCode::OK,
                "text/csv; charset=utf-8",
                entries_csv(&entries),
            )),
            Some(other) => Err(ApiError::bad_request(format!(
                "format {other:?}: use json or csv"
            ))),
        }
    }
}

/// `value` with every secret field's value replaced.
fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if SECRET_FIELDS.contains(&k.as_str()) {
                        (k, Value::String("[redacted]".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let body = serde_json::json!({
            "name": "main",
            "password": "hunter2",
            "nested": [{"private_key_pem": "-----BEGIN"}],
        });
        let redacted = redact(body).to_string();
        assert!(
            !redacted.contains("hunter2") && !redacted.contains("BEGIN"),
            "{redacted}"
        );
        assert!(redacted.contains("\"name\":\"main\""));
    }
}
