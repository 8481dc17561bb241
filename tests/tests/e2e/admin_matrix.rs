//! Every route of the admin API × every kind of caller × every kind of object × both shapes of
//! body, against the real server: who gets what answer, and that a refused request changes
//! nothing in the database.
//!
//! The routes come from the server: its OpenAPI document (which a unit test holds equal to the
//! route table) lists each with the access and tenancy the route table declares for it
//! (`x-ztp-access`, `x-ztp-tenancy`). Those must equal [`POLICY`] below, written here and not
//! read from the server, so that a change to the table must be matched here; then every route
//! is called as `POLICY` says it answers. A route the server has and this table lacks fails
//! the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use ztp_tests::admin_http::{Answer, request};
use ztp_tests::{Server, temp_dir};

/// Who may call a route, as this test expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Any valid token.
    AnyToken,
    /// Manufacturer admins only.
    Admins,
    /// Manufacturer admins change; read-only tokens not limited to a customer read.
    Manufacturer,
    /// Also customer admins, within their own customer.
    Tenant,
}

/// How the server finds the customer a route's object belongs to, as this test expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    /// No customer in the request: the manufacturer's own objects, or one the body names.
    Unscoped,
    /// `?customer=` (or `customer` in the body); a customer's token gets its own.
    Filter,
    /// The path's `{name}`.
    Path,
    /// The owner of the path's `{serial}`.
    Device,
    /// The customer of the registration `{id}`.
    Registration,
}

/// (method, path template, who, whose, allowed status for a valid request to an existing
/// object).
const POLICY: &[(&str, &str, Who, Whose, u16)] = &[
    (
        "GET",
        "/api/v1/openapi.json",
        Who::AnyToken,
        Whose::Unscoped,
        200,
    ),
    ("GET", "/api/v1/customers", Who::Tenant, Whose::Filter, 200),
    (
        "POST",
        "/api/v1/customers",
        Who::Manufacturer,
        Whose::Unscoped,
        201,
    ),
    (
        "GET",
        "/api/v1/customers/{name}",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "PATCH",
        "/api/v1/customers/{name}",
        Who::Manufacturer,
        Whose::Path,
        200,
    ),
    (
        "DELETE",
        "/api/v1/customers/{name}",
        Who::Manufacturer,
        Whose::Path,
        204,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/owner-ca",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "PUT",
        "/api/v1/customers/{name}/owner-credentials",
        Who::Manufacturer,
        Whose::Path,
        200,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/targets",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "POST",
        "/api/v1/customers/{name}/targets",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "DELETE",
        "/api/v1/customers/{name}/targets/{target}",
        Who::Tenant,
        Whose::Path,
        204,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/rules",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "PUT",
        "/api/v1/customers/{name}/rules",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/nms",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "POST",
        "/api/v1/customers/{name}/nms",
        Who::Tenant,
        Whose::Path,
        201,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/nms/{conn}",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "PATCH",
        "/api/v1/customers/{name}/nms/{conn}",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "DELETE",
        "/api/v1/customers/{name}/nms/{conn}",
        Who::Tenant,
        Whose::Path,
        204,
    ),
    (
        "POST",
        "/api/v1/customers/{name}/nms/{conn}/test",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "GET",
        "/api/v1/ssh-fingerprint",
        Who::Admins,
        Whose::Unscoped,
        502,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/webhooks",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "POST",
        "/api/v1/customers/{name}/webhooks",
        Who::Tenant,
        Whose::Path,
        201,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/webhooks/{hook}",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "PATCH",
        "/api/v1/customers/{name}/webhooks/{hook}",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "DELETE",
        "/api/v1/customers/{name}/webhooks/{hook}",
        Who::Tenant,
        Whose::Path,
        204,
    ),
    (
        "POST",
        "/api/v1/customers/{name}/webhooks/{hook}/test",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "POST",
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries/retry",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "POST",
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries/{id}/retry",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/license-pools",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "POST",
        "/api/v1/customers/{name}/license-pools",
        Who::Manufacturer,
        Whose::Path,
        201,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/license-pools/{pool}",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "PATCH",
        "/api/v1/customers/{name}/license-pools/{pool}",
        Who::Manufacturer,
        Whose::Path,
        200,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/licenses/expiring",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "GET",
        "/api/v1/customers/{name}/license-usage",
        Who::Tenant,
        Whose::Path,
        200,
    ),
    (
        "GET",
        "/api/v1/devices/{serial}/licenses",
        Who::Tenant,
        Whose::Device,
        200,
    ),
    (
        "POST",
        "/api/v1/licenses/{id}/revoke",
        Who::Manufacturer,
        Whose::Unscoped,
        200,
    ),
    (
        "POST",
        "/api/v1/devices/{serial}/licenses/transfer",
        Who::Manufacturer,
        Whose::Device,
        200,
    ),
    ("GET", "/api/v1/devices", Who::Tenant, Whose::Filter, 200),
    (
        "POST",
        "/api/v1/devices",
        Who::Manufacturer,
        Whose::Unscoped,
        201,
    ),
    (
        "POST",
        "/api/v1/devices/import",
        Who::Manufacturer,
        Whose::Unscoped,
        200,
    ),
    (
        "GET",
        "/api/v1/devices/{serial}",
        Who::Tenant,
        Whose::Device,
        200,
    ),
    (
        "PATCH",
        "/api/v1/devices/{serial}",
        Who::Manufacturer,
        Whose::Device,
        200,
    ),
    (
        "DELETE",
        "/api/v1/devices/{serial}",
        Who::Manufacturer,
        Whose::Device,
        204,
    ),
    (
        "GET",
        "/api/v1/devices/{serial}/progress",
        Who::Tenant,
        Whose::Device,
        200,
    ),
    (
        "GET",
        "/api/v1/devices/{serial}/timeline",
        Who::Tenant,
        Whose::Device,
        200,
    ),
    // Activation codes: set (then shown); a removal goes to a spare device, which has none.
    (
        "PUT",
        "/api/v1/devices/{serial}/activation-code",
        Who::Manufacturer,
        Whose::Device,
        200,
    ),
    (
        "GET",
        "/api/v1/devices/{serial}/activation-code",
        Who::Tenant,
        Whose::Device,
        200,
    ),
    (
        "DELETE",
        "/api/v1/devices/{serial}/activation-code",
        Who::Manufacturer,
        Whose::Device,
        404,
    ),
    // The matrix configures no anchor to import vouchers under: none is imported, and there
    // is none to show or remove.
    (
        "PUT",
        "/api/v1/devices/{serial}/voucher",
        Who::Manufacturer,
        Whose::Device,
        409,
    ),
    (
        "GET",
        "/api/v1/devices/{serial}/voucher",
        Who::Tenant,
        Whose::Device,
        404,
    ),
    (
        "DELETE",
        "/api/v1/devices/{serial}/voucher",
        Who::Manufacturer,
        Whose::Device,
        404,
    ),
    ("GET", "/api/v1/events", Who::Tenant, Whose::Filter, 200),
    (
        "GET",
        "/api/v1/registrations",
        Who::Tenant,
        Whose::Filter,
        200,
    ),
    (
        "POST",
        "/api/v1/registrations/retry",
        Who::Tenant,
        Whose::Filter,
        200,
    ),
    (
        "GET",
        "/api/v1/registrations/{id}",
        Who::Tenant,
        Whose::Registration,
        200,
    ),
    (
        "POST",
        "/api/v1/registrations/{id}/retry",
        Who::Tenant,
        Whose::Registration,
        200,
    ),
    ("GET", "/api/v1/audit", Who::Tenant, Whose::Filter, 200),
    ("POST", "/api/v1/reload", Who::Admins, Whose::Unscoped, 200),
    ("GET", "/api/v1/tokens", Who::Admins, Whose::Unscoped, 200),
    ("POST", "/api/v1/tokens", Who::Admins, Whose::Unscoped, 201),
    (
        "DELETE",
        "/api/v1/tokens/{id}",
        Who::Admins,
        Whose::Unscoped,
        200,
    ),
];

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Manufacturer,
    /// A customer admin of `alpha`, the owner of the "own" objects.
    AdminOfAlpha,
    /// A customer admin of `bravo`, the owner of the "other" objects.
    AdminOfBravo,
    Reader,
    Nobody,
}

/// Whose object the path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    /// alpha's.
    Alphas,
    /// bravo's.
    Bravos,
    Missing,
}

/// The shape of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Object,
    Array,
}

/// The answer this test expects.
fn expected(
    who: Who,
    allowed: u16,
    method: &str,
    templated: bool,
    caller: Caller,
    object: Object,
    shape: Shape,
) -> u16 {
    let read = method == "GET";
    let owner = match object {
        Object::Alphas => Some(Caller::AdminOfAlpha),
        Object::Bravos => Some(Caller::AdminOfBravo),
        Object::Missing => None,
    };
    let permitted = match (caller, who) {
        (Caller::Nobody, _) => return 401,
        (_, Who::AnyToken) => true,
        (Caller::Reader, Who::Admins) => false,
        (Caller::Reader, _) => read,
        (Caller::Manufacturer, _) => true,
        (Caller::AdminOfAlpha | Caller::AdminOfBravo, Who::Tenant) => true,
        (Caller::AdminOfAlpha | Caller::AdminOfBravo, _) => false,
    };
    if !permitted {
        return 403;
    }
    // A customer's token is held to its own objects before its body is read; the manufacturer
    // reaches every object, so its body is typed before the handler looks the object up.
    let customer = matches!(caller, Caller::AdminOfAlpha | Caller::AdminOfBravo);
    if templated && customer && owner != Some(caller) {
        return 404;
    }
    if shape == Shape::Array && !read {
        return 400;
    }
    if templated && object == Object::Missing {
        return 404;
    }
    allowed
}

/// The fixtures' names and ids, per owner.
#[derive(Debug, Clone)]
struct Fixture {
    customer: String,
    serial: String,
    spare_serial: String,
    registration: String,
    license: String,
    delivery: String,
}

struct Matrix {
    server: Server,
    tokens: BTreeMap<&'static str, String>,
    alpha: Fixture,
    bravo: Fixture,
    counter: u32,
    token_to_revoke: String,
}

impl Matrix {
    fn call(&self, caller: Caller, method: &str, path: &str, body: &[u8], csv: bool) -> Answer {
        let token = match caller {
            Caller::Manufacturer => Some(self.tokens["manufacturer"].as_str()),
            Caller::AdminOfAlpha => Some(self.tokens["alpha"].as_str()),
            Caller::AdminOfBravo => Some(self.tokens["bravo"].as_str()),
            Caller::Reader => Some(self.tokens["reader"].as_str()),
            Caller::Nobody => None,
        };
        request(&self.server.admin_url, token, method, path, body, csv)
    }

    fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let answer = self.call(
            Caller::Manufacturer,
            method,
            path,
            body.to_string().as_bytes(),
            false,
        );
        assert!(
            (200..300).contains(&answer.status),
            "{method} {path}: {} {}",
            answer.status,
            answer.body
        );
        serde_json::from_str(&answer.body).unwrap_or(Value::Null)
    }

    fn next(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    fn fixture(&self, object: Object) -> Option<&Fixture> {
        match object {
            Object::Alphas => Some(&self.alpha),
            Object::Bravos => Some(&self.bravo),
            Object::Missing => None,
        }
    }

    /// The path of `template` for `object`; a request that deletes gets a spare object of the
    /// same owner, made now, so that the fixtures stay.
    fn path(&mut self, method: &str, template: &str, object: Object, caller: Caller) -> String {
        let fixture = self.fixture(object).cloned();
        let spare = method == "DELETE"
            && fixture.is_some()
            && expected_allows(template, method, caller, object);
        let customer = fixture
            .as_ref()
            .map_or("ghost", |f| f.customer.as_str())
            .to_owned();
        let mut parts = Vec::new();
        for part in template.split('/') {
            let value = match part {
                "{name}" if spare && template == "/api/v1/customers/{name}" => {
                    let name = format!("spare-{}", self.next());
                    self.admin("POST", "/api/v1/customers", json!({"name": name}));
                    name
                }
                "{name}" => customer.clone(),
                "{target}" | "{conn}" | "{hook}" if spare => {
                    let name = format!("spare-{}", self.next());
                    let collection = match part {
                        "{target}" => "targets",
                        "{conn}" => "nms",
                        _ => "webhooks",
                    };
                    let body = self.create_body(collection, &name, &customer);
                    self.admin(
                        "POST",
                        &format!("/api/v1/customers/{customer}/{collection}"),
                        body,
                    );
                    name
                }
                "{target}" | "{conn}" | "{hook}" | "{pool}" => match fixture {
                    Some(_) => "one".into(),
                    None => "ghost".into(),
                },
                "{serial}" if spare => {
                    let serial = format!("SN-SPARE-{}", self.next());
                    self.admin(
                        "POST",
                        "/api/v1/devices",
                        json!({"serial": serial, "model": "uCPE-100", "customer": customer}),
                    );
                    serial
                }
                "{serial}" => fixture
                    .as_ref()
                    .map_or("SN-GHOST".into(), |f| f.serial.clone()),
                "{id}" if template.starts_with("/api/v1/tokens") => match fixture {
                    Some(_) if spare => {
                        let name = format!("spare-{}", self.next());
                        let created = self.admin(
                            "POST",
                            "/api/v1/tokens",
                            json!({"name": name, "role": "read-only"}),
                        );
                        created["id"].as_str().unwrap().to_owned()
                    }
                    Some(_) => self.token_to_revoke.clone(),
                    None => "000000000000".into(),
                },
                "{id}" if template.starts_with("/api/v1/registrations") => fixture
                    .as_ref()
                    .map_or("999999".into(), |f| f.registration.clone()),
                "{id}" if template.starts_with("/api/v1/licenses") => fixture
                    .as_ref()
                    .map_or("LIC-GHOST".into(), |f| f.license.clone()),
                "{id}" => fixture
                    .as_ref()
                    .map_or("999999".into(), |f| f.delivery.clone()),
                other => other.to_owned(),
            };
            parts.push(value);
        }
        let path = parts.join("/");
        if template == "/api/v1/ssh-fingerprint" {
            // Nothing listens there: the probe reports that, once it may run at all.
            return format!("{path}?host=127.0.0.1&port=9");
        }
        path
    }

    /// A valid body to create `name` in `collection` of `customer`.
    fn create_body(&self, collection: &str, name: &str, customer: &str) -> Value {
        match collection {
            "targets" => json!({"name": name, "address": "192.0.2.10", "port": 443}),
            "nms" => json!({
                "name": name, "host": "127.0.0.1", "port": 9, "username": "ztp",
                "password": "matrix-password", "pins": [PIN], "policy": "parallel",
            }),
            "webhooks" => json!({
                "name": name, "url": format!("https://127.0.0.1:9/{customer}"),
                "secret": "matrix-secret-0123456789",
            }),
            other => panic!("no body for {other}"),
        }
    }

    /// A valid body for `method` on `template`, for a caller acting on `object`.
    fn body(&mut self, method: &str, template: &str, object: Object) -> (Vec<u8>, bool) {
        let n = self.next();
        let fixture = self.fixture(object).cloned();
        let customer = fixture
            .as_ref()
            .map_or("ghost", |f| f.customer.as_str())
            .to_owned();
        let value = match (method, template) {
            ("POST", "/api/v1/customers") => json!({"name": format!("new-{n}")}),
            ("PATCH", "/api/v1/customers/{name}") => json!({"sign": true}),
            ("POST", "/api/v1/customers/{name}/targets") => {
                self.create_body("targets", &format!("t-{n}"), &customer)
            }
            ("PUT", "/api/v1/customers/{name}/rules") => json!({"rules": []}),
            ("POST", "/api/v1/customers/{name}/nms") => {
                self.create_body("nms", &format!("n-{n}"), &customer)
            }
            ("PATCH", "/api/v1/customers/{name}/nms/{conn}") => json!({"policy": "parallel"}),
            ("POST", "/api/v1/customers/{name}/webhooks") => {
                self.create_body("webhooks", &format!("w-{n}"), &customer)
            }
            ("PATCH", "/api/v1/customers/{name}/webhooks/{hook}") => json!({"enabled": true}),
            ("POST", "/api/v1/customers/{name}/license-pools") => json!({
                "name": format!("p-{n}"), "feature": "F-MATRIX", "type": "perpetual", "seats": 1,
            }),
            ("PATCH", "/api/v1/customers/{name}/license-pools/{pool}") => json!({"seats": 5}),
            ("POST", "/api/v1/devices/{serial}/licenses/transfer") => json!({
                "to": fixture.as_ref().map_or("SN-GHOST-2".into(), |f| f.spare_serial.clone()),
            }),
            ("POST", "/api/v1/licenses/{id}/revoke") => json!({"reason": "matrix"}),
            ("POST", "/api/v1/devices") => json!({
                "serial": format!("SN-NEW-{n}"), "model": "uCPE-100", "customer": customer,
            }),
            ("POST", "/api/v1/devices/import") => {
                let csv = format!("serial,model,customer\nSN-IMP-{n},uCPE-100,{customer}\n");
                return (csv.into_bytes(), true);
            }
            ("PATCH", "/api/v1/devices/{serial}") => json!({"model": "uCPE-100"}),
            ("PUT", "/api/v1/devices/{serial}/voucher") => json!({"voucher": "MA=="}),
            ("PUT", "/api/v1/devices/{serial}/activation-code") => {
                json!({"code": "MATRIX-CODE-0001"})
            }
            ("POST", "/api/v1/registrations/retry") => json!({"state": "dead"}),
            ("POST", "/api/v1/tokens") => json!({"name": format!("k-{n}"), "role": "read-only"}),
            _ => json!({}),
        };
        (value.to_string().into_bytes(), false)
    }
}

/// Whether the caller's request on `object` is expected to go through (for spare objects).
fn expected_allows(template: &str, method: &str, caller: Caller, object: Object) -> bool {
    let (_, _, who, _, allowed) = policy(method, template);
    expected(who, allowed, method, true, caller, object, Shape::Object) == allowed
}

fn policy(method: &str, template: &str) -> (&'static str, &'static str, Who, Whose, u16) {
    *POLICY
        .iter()
        .find(|(m, p, ..)| *m == method && *p == template)
        .unwrap_or_else(|| {
            panic!("{method} {template} is not in the matrix: add it to POLICY in admin_matrix.rs")
        })
}

const PIN: &str = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

/// The database's content, but what background work changes (attempts, health, last use) and
/// the event log (failed authentications are recorded there, by design).
fn snapshot(dir: &Path) -> String {
    let volatile = [
        "attempt",
        "last_",
        "updated_at",
        "lease",
        "status",
        "answer",
        "error",
    ];
    ztp_tests::database::snapshot(dir, &["events"], &volatile)
}

fn set_up(dir: &Path) -> Matrix {
    // Every anonymous request fails authentication: allow them all in the window. The webhook
    // dispatcher waits an hour between rounds, so no delivery changes state behind the
    // matrix's back: a refused request is proved harmless by the database not changing around
    // it, and a background attempt landing in that window (more likely the more loaded the
    // machine) would look like the request's doing.
    let server = Server::start_with(
        dir,
        &[
            ("ZTP_ADMIN_API__MAX_FAILED_AUTHS", "1000000"),
            ("ZTP_WEBHOOKS__POLL_INTERVAL_MS", "3600000"),
        ],
    );
    let bootstrap = std::fs::read_to_string(dir.join("admin-token")).unwrap();
    let mut tokens = BTreeMap::new();
    tokens.insert("manufacturer", bootstrap.trim().to_owned());
    let mut matrix = Matrix {
        server,
        tokens,
        alpha: Fixture {
            customer: "alpha".into(),
            serial: "SN-ALPHA-1".into(),
            spare_serial: "SN-ALPHA-2".into(),
            registration: String::new(),
            license: String::new(),
            delivery: String::new(),
        },
        bravo: Fixture {
            customer: "bravo".into(),
            serial: "SN-BRAVO-1".into(),
            spare_serial: "SN-BRAVO-2".into(),
            registration: String::new(),
            license: String::new(),
            delivery: String::new(),
        },
        counter: 0,
        token_to_revoke: String::new(),
    };
    for owner in [Object::Alphas, Object::Bravos] {
        let fixture = matrix.fixture(owner).unwrap().clone();
        let c = fixture.customer.as_str();
        matrix.admin("POST", "/api/v1/customers", json!({"name": c}));
        let base = format!("/api/v1/customers/{c}");
        for collection in ["targets", "nms", "webhooks"] {
            let body = matrix.create_body(collection, "one", c);
            matrix.admin("POST", &format!("{base}/{collection}"), body);
        }
        matrix.admin(
            "POST",
            &format!("{base}/license-pools"),
            json!({"name": "one", "feature": "F-1", "type": "perpetual", "seats": 5,
                   "models": ["uCPE-100"]}),
        );
        // One seat for two devices: the second's bootstrap is a license shortage, which the
        // webhook is told of (a delivery to retry).
        matrix.admin(
            "POST",
            &format!("{base}/license-pools"),
            json!({"name": "tight", "feature": "F-2", "type": "perpetual", "seats": 1,
                   "models": ["uCPE-100"]}),
        );
        for serial in [&fixture.serial, &fixture.spare_serial] {
            matrix.server.issue_device(serial);
            matrix.admin(
                "POST",
                "/api/v1/devices",
                json!({"serial": serial, "model": "uCPE-100", "customer": c}),
            );
        }
        for serial in [&fixture.serial, &fixture.spare_serial] {
            let booted = matrix.server.bootstrap(serial, &["--hw-model", "uCPE-100"]);
            assert!(
                booted.status.success(),
                "{}",
                ztp_tests::transcript(&booted)
            );
        }
        let registrations = matrix.admin(
            "GET",
            &format!("/api/v1/registrations?customer={c}"),
            json!({}),
        );
        let licenses = matrix.admin(
            "GET",
            &format!("/api/v1/devices/{}/licenses", fixture.serial),
            json!({}),
        );
        let deliveries = matrix.admin("GET", &format!("{base}/webhooks/one/deliveries"), json!({}));
        let fixture = match owner {
            Object::Alphas => &mut matrix.alpha,
            _ => &mut matrix.bravo,
        };
        fixture.registration = registrations[0]["id"].to_string();
        // The license the matrix revokes is the one of pool "one", which the replacement holds
        // too: the RMA then moves the other, of pool "tight", where the replacement has none.
        // (Two licenses issued in the same millisecond are listed in the order of their
        // random ids, so the first in the list is either.)
        fixture.license = licenses
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["feature"] == "F-1")
            .and_then(|l| l["id"].as_str())
            .expect("a license of pool \"one\"")
            .to_owned();
        fixture.delivery = deliveries[0]["id"].to_string();
    }
    for (key, args) in [
        (
            "alpha",
            json!({"name": "alpha-ops", "role": "customer-admin", "customer": "alpha"}),
        ),
        (
            "bravo",
            json!({"name": "bravo-ops", "role": "customer-admin", "customer": "bravo"}),
        ),
        ("reader", json!({"name": "auditor", "role": "read-only"})),
    ] {
        let created = matrix.admin("POST", "/api/v1/tokens", args);
        matrix
            .tokens
            .insert(key, created["token"].as_str().unwrap().to_owned());
    }
    let spare = matrix.admin(
        "POST",
        "/api/v1/tokens",
        json!({"name": "to-revoke", "role": "read-only"}),
    );
    matrix.token_to_revoke = spare["id"].as_str().unwrap().to_owned();
    matrix
}

impl Who {
    /// The server's name for this access (`x-ztp-access`).
    fn declared(self) -> &'static str {
        match self {
            Self::AnyToken => "any-token",
            Self::Admins => "manufacturer-admin",
            Self::Manufacturer => "manufacturer",
            Self::Tenant => "customer",
        }
    }
}

impl Whose {
    /// The server's name for this tenancy (`x-ztp-tenancy`).
    fn declared(self) -> &'static str {
        match self {
            Self::Unscoped => "unscoped",
            Self::Filter => "filter",
            Self::Path => "path",
            Self::Device => "device",
            Self::Registration => "registration",
        }
    }
}

/// Each operation under `/api/v1/` of the served OpenAPI `document`, with the access and
/// tenancy the server's route table declares for it (`x-ztp-access`, `x-ztp-tenancy`).
fn declared_policy(document: &Value) -> BTreeMap<(String, String), (String, String)> {
    let mut declared = BTreeMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_ascii_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str())
                || !path.starts_with("/api/v1/")
            {
                continue;
            }
            let field = |name: &str| {
                operation[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} declares no {name}"))
                    .to_owned()
            };
            let policy = (field("x-ztp-access"), field("x-ztp-tenancy"));
            declared.insert((method, path.clone()), policy);
        }
    }
    declared
}

#[test]
fn every_route_answers_every_caller_as_the_policy_says_and_refusals_change_nothing() {
    let dir = temp_dir();
    let mut matrix = set_up(dir.path());
    let db = dir.path().to_owned();

    // The routes the server has, with the access and tenancy its route table declares for
    // each, from its OpenAPI document (a unit test holds the document equal to the table).
    let document = matrix.admin("GET", "/api/v1/openapi.json", json!({}));
    let declared = declared_policy(&document);
    let written: BTreeMap<(String, String), (String, String)> = POLICY
        .iter()
        .map(|(m, p, who, whose, _)| {
            let route = ((*m).to_owned(), (*p).to_owned());
            (
                route,
                (who.declared().to_owned(), whose.declared().to_owned()),
            )
        })
        .collect();
    let routes: BTreeSet<_> = declared.keys().collect();
    let listed: BTreeSet<_> = written.keys().collect();
    let unlisted: Vec<_> = routes.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "routes missing from POLICY: {unlisted:?}"
    );
    let gone: Vec<_> = listed.difference(&routes).collect();
    assert!(
        gone.is_empty(),
        "POLICY lists routes the server lacks: {gone:?}"
    );
    let differ: Vec<String> = written
        .iter()
        .filter(|(route, policy)| declared[*route] != **policy)
        .map(|((m, p), (access, tenancy))| {
            let (got_access, got_tenancy) = &declared[&(m.clone(), p.clone())];
            format!(
                "{m} {p}: the server declares access {got_access}, tenancy {got_tenancy}; \
                 POLICY says {access}, {tenancy}"
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "the route table and POLICY disagree:\n{}",
        differ.join("\n")
    );

    let callers = [
        Caller::Nobody,
        Caller::Reader,
        Caller::AdminOfBravo,
        Caller::AdminOfAlpha,
        Caller::Manufacturer,
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, template, who, _, allowed) in POLICY {
        let templated = template.contains('{');
        let objects: &[Object] = if templated {
            &[Object::Missing, Object::Bravos, Object::Alphas]
        } else {
            &[Object::Alphas]
        };
        let csv = template.ends_with("/import");
        let shapes: &[Shape] = if *method == "GET" || csv {
            &[Shape::Object]
        } else {
            &[Shape::Array, Shape::Object]
        };
        for caller in callers {
            for &object in objects {
                for &shape in shapes {
                    let want = expected(*who, *allowed, method, templated, caller, object, shape);
                    let path = matrix.path(method, template, object, caller);
                    let (body, is_csv) = match shape {
                        Shape::Array => (br#"["alpha","bravo",null]"#.to_vec(), false),
                        Shape::Object if *method == "GET" => (Vec::new(), false),
                        Shape::Object => matrix.body(method, template, object),
                    };
                    let before = (want >= 400).then(|| snapshot(&db));
                    let answer = matrix.call(caller, method, &path, &body, is_csv);
                    checked += 1;
                    let case = format!("{caller:?} {method} {path} ({object:?}, {shape:?})");
                    if answer.status != want {
                        failures.push(format!(
                            "{case}: got {} (expected {want}): {}",
                            answer.status,
                            answer.body.trim()
                        ));
                        continue;
                    }
                    if let Some(before) = before {
                        let after = snapshot(&db);
                        if before != after {
                            let changed: Vec<&str> = after
                                .lines()
                                .filter(|line| !before.lines().any(|b| b == *line))
                                .collect();
                            failures.push(format!(
                                "{case}: refused with {want} but changed the database: {changed:?}"
                            ));
                        }
                        // A refusal says why in the API's terms, never in Rust's.
                        for leak in ["struct ", "enum ", "sqlx", "SQLITE", "u16", "rusqlite"] {
                            if answer.body.contains(leak) {
                                failures.push(format!(
                                    "{case}: the answer names {leak:?}: {}",
                                    answer.body
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 900, "only {checked} requests were checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} requests answered otherwise:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
