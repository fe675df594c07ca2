//! OpenAPI 3.1 documents generated from the code (utoipa).
//!
//! Each handler carries a `#[utoipa::path]` with what only it knows: its body, its success
//! answer and the errors of its own rules. [`document`] then adds what the shared pipeline
//! does for every route, so no route has to repeat it (or can forget it): the envelope's
//! error answers of authentication, validation, idempotency and an unavailable store,
//! `Retry-After` wherever 402/423/429/503 (and a running duplicate's 409) can occur,
//! `Idempotent-Replayed` on routes that take an Idempotency-Key, `x-request-id`, the security schemes and
//! the health and document routes themselves. The drift test holds the documents' routes
//! equal to the routers', template.yaml's and events/'.

use std::collections::BTreeSet;

use axum::{Router, response::IntoResponse, routing::get};
use http::{HeaderValue, header};
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{
        Components, Content, HttpMethod, Info, OpenApi, PathItem, RefOr, Required, Response,
        Schema, Server,
        header::Header,
        path::{Operation, ParameterIn},
        schema::{Object, ObjectBuilder, Type},
        security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme},
    },
};

use crate::service::Service;

/// The security scheme of routes that take the platform's access token.
pub const BEARER: &str = "bearerAuth";
/// The security scheme of internal job routes (`x-internal-api-key`).
pub const INTERNAL_KEY: &str = "internalApiKey";
/// The server every document lists first: relative, so it is wherever the document was
/// served from — the local gateway on whichever port it listens, or the stage's API in
/// AWS — and "Test Request" in `/docs` calls the server that served the page.
const SAME_ORIGIN: &str = "/";

fn same_origin() -> Server {
    let mut server = Server::new(SAME_ORIGIN);
    server.description = Some("the server this document was served from".into());
    server
}

/// `meta` of every envelope.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: documents what `envelope::meta` writes
pub struct Meta {
    /// The request's id (also the `x-request-id` header).
    #[schema(format = "uuid")]
    request_id: String,
    /// The X-Ray trace id, when there is one.
    trace_id: Option<String>,
    /// The tenant the request acted on, once authenticated.
    #[schema(format = "uuid")]
    tenant_id: Option<String>,
    /// When the request started (RFC 3339, milliseconds, UTC).
    #[schema(format = DateTime)]
    timestamp: String,
    /// `<svc>-svc` (or `gateway` for the local gateway's own answers).
    service: String,
}

/// `error` of a failed request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorObject {
    /// `ERR_<SVC>_<NAME>`; each route lists the codes it answers.
    #[schema(example = "ERR_AUTH_VALIDATION")]
    code: String,
    /// For people; never contains secrets or another tenant's data.
    message: String,
    /// Machine-readable details, e.g. `{"fields": [{"field", "issue"}]}` for validation.
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
}

/// The envelope of every error answer: `data` is null.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorEnvelope {
    #[schema(schema_with = null)]
    data: (),
    error: ErrorObject,
    meta: Meta,
}

/// The envelope of a successful answer: `data` holds the route's result, `error` is null.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Data<T: ToSchema> {
    data: T,
    #[schema(schema_with = null)]
    error: (),
    meta: Meta,
}

/// The envelope of one page of a list: `data` holds the items, `page` how to go on.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Paged<T: ToSchema> {
    data: Vec<T>,
    #[schema(schema_with = null)]
    error: (),
    page: crate::envelope::Page,
    meta: Meta,
}

/// A JSON `null`.
fn null() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}

/// `Idempotency-Key` on a write that honours it (API-CONVENTIONS: a retry with the same
/// key and body replays the first answer for 24 hours).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKey {
    /// 1–255 printable ASCII characters, unique per intended operation (a UUID is ideal).
    // Optional, but a string when sent: an `Option` field would document it as nullable,
    // and generated clients would take a null header.
    #[param(
        rename = "Idempotency-Key",
        value_type = String,
        required = false,
        min_length = 1,
        max_length = 255
    )]
    idempotency_key: String,
}

/// `?limit=&cursor=` of every list route (`shared::paging::PageParams`); a route's own
/// filters are a second `IntoParams` beside it: `params(PageQuery, Filters)`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// Items per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `page.next_cursor` of the previous page (bound to the same filters, caller and tenant).
    cursor: Option<String>,
}

/// `x-tenant-id`, optional outside search: when present it must be the token's tenant
/// (the `system` role may name another tenant on routes that allow it).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct TenantHeader {
    #[param(rename = "x-tenant-id", format = "uuid")]
    x_tenant_id: Option<String>,
}

/// Completes a service's document: info, servers, security schemes, the shared routes
/// (health, this document) and every answer the pipeline adds to a route.
pub fn document(service: Service, routes: OpenApi) -> OpenApi {
    let mut doc = routes;
    let mut info = Info::new(service.name(), env!("CARGO_PKG_VERSION"));
    info.description = Some(format!(
        "EventZR {} API. Every answer is a JSON envelope `{{data, error, page?, meta}}`; \
         errors carry `ERR_{}_<NAME>` codes. A query parameter a route reads is given at most once \
         (a repeated one is 400 `VALIDATION` naming it). Tokens come from `POST /auth/v1/login` \
         (staging account partner@eventzr.com / Password123!).",
        service.name(),
        service.code()
    ));
    doc.info = info;
    doc.servers = Some(vec![same_origin()]);
    let components = doc.components.get_or_insert_with(Components::new);
    components.add_security_scheme(BEARER, {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some(
            "The access token of `POST /auth/v1/login` (RS256, 15 minutes): \
             `Authorization: Bearer <accessToken>`."
                .into(),
        );
        SecurityScheme::Http(http)
    });
    components.add_security_scheme(
        INTERNAL_KEY,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-internal-api-key",
            "The internal API key of scheduled jobs (a Secrets Manager secret).",
        ))),
    );
    // The shared schemas, and every schema they refer to.
    let mut schemas = vec![
        ("ErrorEnvelope".to_owned(), ErrorEnvelope::schema()),
        ("Health".to_owned(), crate::health::Health::schema()),
    ];
    ErrorEnvelope::schemas(&mut schemas);
    Data::<crate::health::Health>::schemas(&mut schemas);
    Paged::<crate::health::Health>::schemas(&mut schemas);
    components.schemas.extend(schemas);
    add_shared_routes(&mut doc, service);
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            complete(service, op);
        }
    }
    doc
}

/// `GET /<svc>/v1/openapi.json`: the document, built once on first request (nothing at
/// cold start), listing its own origin and the stage's public URL as servers.
pub fn router(service: Service, build: fn() -> OpenApi, public_url: Option<String>) -> Router {
    let json = std::sync::Arc::new(std::sync::OnceLock::<Vec<u8>>::new());
    Router::new().route(
        &format!("{}/openapi.json", service.base_path()),
        get(move || {
            let json = json.clone();
            let public_url = public_url.clone();
            async move {
                let body = json
                    .get_or_init(|| {
                        let mut doc = build();
                        if let Some(url) = public_url {
                            doc.servers
                                .get_or_insert_with(Vec::new)
                                .push(Server::new(url));
                        }
                        serde_json::to_vec(&doc).unwrap_or_default()
                    })
                    .clone();
                let mut resp = body.into_response();
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                resp.extensions_mut().insert(crate::envelope::Enveloped);
                resp
            }
        }),
    )
}

/// The routes of every service's `health` group: `GET /health`, `GET /openapi.json`
/// and the reference UI over it (`GET /docs`, `GET /docs/scalar.js`).
pub fn health_group(
    service: Service,
    store: std::sync::Arc<dyn crate::store::Store>,
    build: fn() -> OpenApi,
    platform: &crate::platform::Platform,
) -> Router {
    crate::health::router(service, store)
        .merge(router(
            service,
            build,
            platform.config.public_api_url.clone(),
        ))
        .merge(crate::docs::router(service))
}

/// One document for several services (the local gateway's `/openapi.json`).
pub fn merge(docs: impl IntoIterator<Item = OpenApi>) -> OpenApi {
    let mut merged = OpenApi::default();
    for mut doc in docs {
        prefix_tags(&mut doc);
        merged.merge(doc);
    }
    let mut info = Info::new("EventZR API", env!("CARGO_PKG_VERSION"));
    info.description = Some(
        "Every EventZR service in one document, as the local gateway serves them. \
         Each service also serves its own at `/<svc>/v1/openapi.json`."
            .into(),
    );
    merged.info = info;
    merged.servers = Some(vec![same_origin()]);
    merged
}

/// Services name their groups alike (`admin`, `health`): in one document each tag is
/// prefixed with its service (`notify admin`), so tag names stay unique and group by service.
fn prefix_tags(doc: &mut OpenApi) {
    let Some(svc) = doc.paths.paths.keys().find_map(|p| {
        p.trim_start_matches('/')
            .split('/')
            .next()
            .map(str::to_owned)
    }) else {
        return;
    };
    let rename = |t: &str| format!("{svc} {t}");
    for tag in doc.tags.iter_mut().flatten() {
        tag.name = rename(&tag.name);
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            for t in op.tags.iter_mut().flatten() {
                *t = rename(t);
            }
        }
    }
}

fn add_shared_routes(doc: &mut OpenApi, service: Service) {
    let base = service.base_path();
    let mut health = Operation::new();
    health.tags = Some(vec!["health".into()]);
    health.summary = Some("Liveness and store reachability".into());
    health.operation_id = Some(format!("{}_health", service.slug()));
    health.responses.responses.insert(
        "200".into(),
        RefOr::T(json_response(
            "The service is up and its table answers",
            Data::<crate::health::Health>::schema(),
        )),
    );
    doc.paths.paths.insert(
        format!("{base}/health"),
        PathItem::new(HttpMethod::Get, health),
    );

    let mut spec = Operation::new();
    spec.tags = Some(vec!["health".into()]);
    spec.summary = Some("This OpenAPI 3.1 document".into());
    spec.operation_id = Some(format!("{}_openapi", service.slug()));
    spec.responses.responses.insert(
        "200".into(),
        RefOr::T(json_response(
            "The document (not in the envelope)",
            RefOr::T(Schema::Object(ObjectBuilder::new().build())),
        )),
    );
    doc.paths.paths.insert(
        format!("{base}/openapi.json"),
        PathItem::new(HttpMethod::Get, spec),
    );

    let mut page = Operation::new();
    page.tags = Some(vec!["health".into()]);
    page.summary = Some("The interactive reference (Scalar) over this document".into());
    page.operation_id = Some(format!("{}_docs", service.slug()));
    page.responses.responses.insert(
        "200".into(),
        RefOr::T(typed_response("An HTML page; works offline", "text/html")),
    );
    doc.paths
        .paths
        .insert(format!("{base}/docs"), PathItem::new(HttpMethod::Get, page));

    let mut script = Operation::new();
    script.tags = Some(vec!["health".into()]);
    script.summary = Some("The reference page's script (gzip-encoded)".into());
    script.operation_id = Some(format!("{}_docs_script", service.slug()));
    script.responses.responses.insert(
        "200".into(),
        RefOr::T(typed_response(
            "Scalar's bundle, `Content-Encoding: gzip`",
            "text/javascript",
        )),
    );
    script.responses.responses.insert(
        "406".into(),
        RefOr::T(error_response(&format!(
            "`ERR_{}_NOT_ACCEPTABLE`: `Accept-Encoding` refuses gzip",
            service.code()
        ))),
    );
    doc.paths.paths.insert(
        format!("{base}/docs/scalar.js"),
        PathItem::new(HttpMethod::Get, script),
    );
}

fn typed_response(description: &str, content_type: &str) -> Response {
    let mut r = Response::new(description);
    r.content.insert(
        content_type.into(),
        RefOr::T(Content::new(Some(RefOr::T(Schema::Object(
            ObjectBuilder::new().schema_type(Type::String).build(),
        ))))),
    );
    r
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.patch.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// What the pipeline adds to one route's answers.
fn complete(service: Service, op: &mut Operation) {
    let err = |name: &str| format!("`ERR_{}_{name}`", service.code());
    let bearer = op.security.as_ref().is_some_and(|s| {
        serde_json::to_string(s)
            .unwrap_or_default()
            .contains(BEARER)
    });
    let params: Vec<String> = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p.name.clone()),
            RefOr::Ref(_) => None,
        })
        .collect();
    // A 422 of the route's own (a template that fails to render) is a final answer.
    let own_422 = op.responses.responses.contains_key("422");
    let mut shared: Vec<(&str, String)> = Vec::new();
    if bearer {
        shared.push((
            "401",
            format!(
                "{}, {}, {}: no, an expired or an invalid token",
                err("UNAUTHORIZED"),
                err("TOKEN_EXPIRED"),
                err("TOKEN_INVALID")
            ),
        ));
        shared.push((
            "403",
            format!(
                "{}: `x-tenant-id` is not the token's tenant",
                err("FORBIDDEN")
            ),
        ));
        if !params.iter().any(|p| p == "x-tenant-id") {
            let mut tenant = TenantHeader::into_params(|| Some(ParameterIn::Header));
            if service.requires_tenant_header() {
                for p in &mut tenant {
                    p.required = Required::True;
                }
            }
            op.parameters
                .get_or_insert_with(Vec::new)
                .extend(tenant.into_iter().map(RefOr::T));
        }
    }
    if op.request_body.is_some() {
        shared.push((
            "400",
            format!(
                "{}: the body or a parameter is invalid (`details.fields` names each field)",
                err("VALIDATION")
            ),
        ));
        shared.push((
            "413",
            format!("{}: body over 256 KiB", err("PAYLOAD_TOO_LARGE")),
        ));
        shared.push((
            "415",
            format!(
                "{}: the body is not JSON, or not UTF-8, or compressed (`Content-Encoding`)",
                err("UNSUPPORTED_MEDIA_TYPE")
            ),
        ));
    }
    if params.iter().any(|p| p == "Idempotency-Key") {
        shared.push((
            "400",
            format!(
                "{}: `Idempotency-Key` is not 1-255 printable ASCII characters",
                err("VALIDATION")
            ),
        ));
        shared.push((
            "409",
            format!(
                "{}: a request with this Idempotency-Key is still running; {}: it \
                 completed (`details.status`) with an answer too large to keep for replay, \
                 and was not run again",
                err("IDEMPOTENCY_IN_PROGRESS"),
                err("IDEMPOTENCY_ANSWER_NOT_KEPT")
            ),
        ));
        // A caller without a token is anybody: its key is bound to the request itself,
        // so another body is another request (it runs). A public route called with a
        // valid token anyway keys by its user, as a bearer route does.
        shared.push((
            "422",
            if bearer {
                format!(
                    "{}: this Idempotency-Key was used with another request",
                    err("IDEMPOTENCY_KEY_REUSED")
                )
            } else {
                format!(
                    "{}: this Idempotency-Key was used with another request by the same \
                     signed-in user (only when a valid bearer token is sent: without one, \
                     another body is another request, and runs)",
                    err("IDEMPOTENCY_KEY_REUSED")
                )
            },
        ));
    }
    let idempotent = params.iter().any(|p| p == "Idempotency-Key");
    // Answers the layer keeps for replay: final ones. 409, 429, refusals of the caller
    // (401, 403) and any answer that names a time to come back (402, 423) are not kept,
    // nor the layer's own 422, nor a 413 (refused by the body limit, before the layer).
    let replayable = |status: &str| {
        status.starts_with('2')
            || (status.starts_with('4')
                && !matches!(
                    status,
                    "401" | "402" | "403" | "409" | "413" | "423" | "429"
                )
                && (status != "422" || own_422))
    };
    // The document and its reference page touch nothing that can be unavailable.
    let static_content = op
        .operation_id
        .as_deref()
        .is_some_and(|id| id.ends_with("_openapi") || id.contains("_docs"));
    if !static_content {
        shared.push((
            "503",
        format!(
            "{}: a dependency (the table, the key set) is down or throttling; retry after `Retry-After` seconds",
            err("UNAVAILABLE")
            ),
        ));
    }
    for (status, text) in shared {
        match op.responses.responses.get_mut(status) {
            Some(RefOr::T(r)) => {
                if !r.description.contains(&text) {
                    r.description = format!("{}; {text}", r.description);
                }
            }
            _ => {
                op.responses
                    .responses
                    .insert(status.into(), RefOr::T(error_response(&text)));
            }
        }
    }
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(r) = response else { continue };
        r.headers.insert(
            "x-request-id".into(),
            RefOr::T(header_of(
                "The request's id (echoed when a valid UUID was sent)",
            )),
        );
        // 402: a quota starts afresh (notify); 409: a request with the same key is running.
        let waits = matches!(status.as_str(), "402" | "423" | "429" | "503")
            || (idempotent && status == "409");
        if waits {
            let text = if status == "409" {
                "With `IDEMPOTENCY_IN_PROGRESS`: seconds to wait before retrying"
            } else {
                "Seconds to wait before retrying"
            };
            r.headers
                .insert("Retry-After".into(), RefOr::T(header_of(text)));
        }
        if idempotent && replayable(status) {
            r.headers.insert(
                "Idempotent-Replayed".into(),
                RefOr::T(header_of(
                    "`true` when this is the stored answer of an earlier request with the same \
                     Idempotency-Key, replayed byte for byte (its `meta.request_id` is the \
                     first request's; the `x-request-id` header is this one's)",
                )),
            );
        }
        if (status.starts_with('4') || status.starts_with('5')) && r.content.is_empty() {
            r.content.insert(
                "application/json".into(),
                RefOr::T(Content::new(Some(error_ref()))),
            );
        }
    }
}

fn error_ref() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorEnvelope"))
}

fn error_response(description: &str) -> Response {
    let mut r = Response::new(description);
    r.content.insert(
        "application/json".into(),
        RefOr::T(Content::new(Some(error_ref()))),
    );
    r
}

fn json_response(description: &str, schema: RefOr<Schema>) -> Response {
    let mut r = Response::new(description);
    r.content.insert(
        "application/json".into(),
        RefOr::T(Content::new(Some(schema))),
    );
    r
}

fn header_of(description: &str) -> Header {
    let mut h = Header::new(RefOr::T(Schema::Object(
        ObjectBuilder::new().schema_type(Type::String).build(),
    )));
    h.description = Some(description.into());
    h
}

/// Every (METHOD, path) a document describes, for the drift test.
pub fn routes_of(doc: &OpenApi) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if op.is_some() {
                out.insert((method.to_owned(), path.clone()));
            }
        }
    }
    out
}
