//! Route group `jobs`: `POST /jobs/dispatch`, for the scheduler only (internal API key).

use std::time::Duration;

use axum::{Router, extract::State, routing::post};
use http::HeaderMap;
use shared::{ApiError, Envelope, openapi::Data};
use utoipa::OpenApi;

use crate::{dispatch, state::NotifyState};

pub const ROUTES: &[(&str, &str)] = &[("POST", "/notify/v1/jobs/dispatch")];

pub fn router(_st: &NotifyState) -> Router<NotifyState> {
    Router::new().route("/notify/v1/jobs/dispatch", post(run_dispatch))
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(run_dispatch))]
    struct Doc;
    Doc::openapi()
}

/// How long a run through this route may send: under the jobs function's 10 s timeout
/// (and API Gateway's 30 s), so a run is never cut off mid-send. A backlog is left to the
/// next run; the scheduled dispatcher function has its own, longer budget.
pub const HTTP_RUN_BUDGET: Duration = Duration::from_secs(7);

/// Checks `x-internal-api-key` against the secret, in constant time. A missing or
/// unreadable secret refuses every caller (fails closed): 401 when there is no secret
/// (no key can be right), 503 when Secrets Manager cannot be read (a caller holding the
/// right key should retry, and the operator sees a 5xx, not a caller's mistake).
pub async fn require_internal_key(st: &NotifyState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get("x-internal-api-key")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let expected = match st.internal_key.get().await {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "internal API key secret unreadable: refusing jobs");
            return Err(unreadable_key(e, !given.is_empty()));
        }
    };
    if given.is_empty() || !shared::ids::secure_eq(&given, expected.trim().as_bytes()) {
        return Err(ApiError::unauthorized(
            "a valid internal API key is required",
        ));
    }
    Ok(())
}

/// The refusal when the key's secret cannot be read (see [`require_internal_key`]).
fn unreadable_key(e: shared::secrets::SecretsError, key_given: bool) -> ApiError {
    match e {
        shared::secrets::SecretsError::Unavailable(_) if key_given => ApiError::unavailable(e),
        _ => ApiError::unauthorized("a valid internal API key is required"),
    }
}

#[utoipa::path(
    post,
    path = "/notify/v1/jobs/dispatch",
    operation_id = "dispatch",
    tag = "jobs",
    summary = "Send due deliveries, retry queued ones",
    description = "Claims each due `scheduled` delivery and each `queued` one whose retry time has \
        come (a conditional update: concurrent runs never send one twice), sends it, and records \
        the outcome; a provider failure is retried with exponential backoff and ends `failed` \
        after 5 attempts. Runs every minute from an EventBridge schedule. No body.",
    security(("internalApiKey" = [])),
    responses(
        (status = 200, description = "What the run did", body = Data<dispatch::Report>),
        (status = 401, description = "`ERR_NOTIFY_UNAUTHORIZED`: missing or wrong `x-internal-api-key`"),
        (status = 503, description = "`ERR_NOTIFY_UNAVAILABLE`: the key's secret cannot be read now (retry)"),
    )
)]
pub async fn run_dispatch(
    State(st): State<NotifyState>,
    headers: HeaderMap,
) -> Result<Envelope<dispatch::Report>, ApiError> {
    require_internal_key(&st, &headers).await?;
    let report = dispatch::run(&st, HTTP_RUN_BUDGET).await?;
    tracing::info!(
        due = report.due,
        sent = report.sent,
        retried = report.retried,
        failed = report.failed,
        "dispatch run"
    );
    Ok(Envelope::ok(report))
}

#[cfg(test)]
mod tests {
    use shared::secrets::SecretsError;

    use super::unreadable_key;

    #[test]
    fn an_unreadable_key_secret_is_503_for_a_key_holder_and_401_otherwise() {
        let down = || SecretsError::Unavailable("throttled".into());
        let status = |e, given| unreadable_key(e, given).status.as_u16();
        assert_eq!(status(down(), true), 503);
        assert_eq!(status(down(), false), 401);
        assert_eq!(status(SecretsError::NotFound("k".into()), true), 401);
    }
}
