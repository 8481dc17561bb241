//! The admin API's OpenAPI document: served by the real server to any valid token, valid by an
//! independent validator (`openapi-spec-validator`), and true to the router: every documented
//! operation reaches a handler, while a path the API lacks is answered 404 and a method it lacks
//! 405 with `Allow`.

use serde_json::Value;
use ztp_tests::{Server, curl, success, temp_dir, tool, transcript};

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Header lines, lower-cased names.
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The router's own refusal (not a handler's "does not exist").
    fn is_routers_refusal(&self) -> bool {
        self.status == 405
            || (self.status == 404
                && self.json()["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("no resource")))
    }
}

/// Sends `method path` to the admin API, with `token` if given and a `(content type, body)`.
fn call(
    server: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> Answer {
    let mut args = vec!["-i".to_owned(), "-X".to_owned(), method.to_owned()];
    if let Some(token) = token {
        args.extend(["-H".into(), format!("Authorization: Bearer {token}")]);
    }
    if let Some((content_type, body)) = body {
        args.extend([
            "-H".into(),
            format!("Content-Type: {content_type}"),
            "--data-binary".into(),
            body.to_owned(),
        ]);
    }
    args.push(format!("{}{path}", server.admin_url));
    let output = curl(&args);
    assert!(output.status.success(), "{}", transcript(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn bootstrap_token(server: &Server) -> String {
    std::fs::read_to_string(server.data_dir.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn the_served_document_is_valid_openapi_and_every_operation_is_routed() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let token = bootstrap_token(&server);

    let served = call(&server, Some(&token), "GET", "/api/v1/openapi.json", None);
    assert_eq!(served.status, 200, "{served:?}");
    assert_eq!(served.header("content-type"), Some("application/json"));
    let document = served.json();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &served.body).unwrap();
    let validated = tool("openapi-spec-validator", [&file]);
    assert!(
        validated.status.success(),
        "openapi-spec-validator refuses the document:\n{}",
        transcript(&validated)
    );

    let mut operations = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        // Placeholders for the parameters: objects that do not exist, which handlers answer
        // with their own 404 (or 400), never the router's.
        let path: String = template
            .split('/')
            .map(|part| match part.strip_prefix('{') {
                Some(name) => format!("no-such-{}", name.trim_end_matches('}')),
                None => part.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            let public = operation["security"] == serde_json::json!([]);
            let body = operation.get("requestBody").map(|body| {
                if body["content"].get("text/csv").is_some() {
                    ("text/csv", "serial,model\n")
                } else {
                    ("application/json", "{}")
                }
            });
            let answer = call(
                &server,
                (!public).then_some(token.as_str()),
                &method.to_ascii_uppercase(),
                &path,
                body,
            );
            assert!(
                !answer.is_routers_refusal() && ![401, 429].contains(&answer.status),
                "{method} {template} is documented but not answered by a handler: {answer:?}"
            );
            operations += 1;
        }
    }
    assert!(operations >= 40, "{operations} operations documented");

    // Any valid token reads it, whatever its role or customer; reading it is not audited.
    for (name, role) in [("reader", "read-only"), ("ops", "customer-admin")] {
        let created: Value = serde_json::from_str(&success(server.admin([
            "token",
            "create",
            name,
            "--role",
            role,
            "--customer",
            "example-customer",
        ])))
        .unwrap();
        let other = created["token"].as_str().unwrap();
        let served = call(&server, Some(other), "GET", "/api/v1/openapi.json", None);
        assert_eq!(served.status, 200, "{role}: {served:?}");
    }
    let audit = call(
        &server,
        Some(&token),
        "GET",
        "/api/v1/audit?object=/openapi.json",
        None,
    );
    assert_eq!(audit.json(), serde_json::json!([]), "{audit:?}");
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let token = bootstrap_token(&server);

    let unknown = call(&server, Some(&token), "GET", "/api/v1/nothing/here", None);
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(
        unknown.json(),
        serde_json::json!({"error": {"status": 404, "message": "no resource at /api/v1/nothing/here"}})
    );
    assert_eq!(
        call(&server, Some(&token), "GET", "/metric", None).status,
        404
    );

    let wrong = call(
        &server,
        Some(&token),
        "PUT",
        "/api/v1/customers/example-customer",
        Some(("application/json", "{}")),
    );
    assert_eq!(wrong.status, 405, "{wrong:?}");
    assert_eq!(wrong.header("allow"), Some("GET, PATCH, DELETE"));
    assert_eq!(wrong.json()["error"]["status"], 405);
    let wrong = call(&server, Some(&token), "PUT", "/api/v1/devices/import", None);
    assert_eq!(wrong.status, 405, "{wrong:?}");
    assert_eq!(
        wrong.header("allow"),
        Some("POST, GET, PATCH, DELETE"),
        "the literal route's methods and those of /devices/{{serial}}"
    );
    let wrong = call(&server, Some(&token), "POST", "/healthz", None);
    assert_eq!(wrong.status, 405, "{wrong:?}");
    assert_eq!(wrong.header("allow"), Some("GET"));

    // Without a token nothing is told about paths, only the probes answer.
    assert_eq!(call(&server, None, "GET", "/healthz", None).status, 200);
    assert_eq!(call(&server, None, "GET", "/readyz", None).status, 200);
    for (method, path) in [("GET", "/api/v1/nothing"), ("PUT", "/api/v1/customers/x")] {
        let answer = call(&server, None, method, path, None);
        assert_eq!(answer.status, 401, "{method} {path}: {answer:?}");
    }
    assert_eq!(
        call(&server, None, "GET", "/api/v1/openapi.json", None).status,
        401
    );
}
