//! What every service's state is built from, once per cold start: config, clock,
//! secrets, the token verifier, cursors, mailer and (in AWS) the SDK configuration.

use std::{sync::Arc, time::Duration};

use aws_smithy_runtime_api::client::{
    connector_metadata::ConnectorMetadata,
    http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector},
    runtime_components::RuntimeComponents,
};

use crate::{
    auth::{SecretKeys, Verifier},
    clock::{Clock, SystemClock},
    config::Config,
    mail::{Mailer, SesMailer},
    paging::Cursors,
    secrets::{Secrets, SecretsManager},
    service::Service,
    store::{Store, dynamo::DynamoStore},
};

#[derive(Clone)]
pub struct Platform {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<dyn Secrets>,
    pub verifier: Arc<Verifier>,
    pub cursors: Arc<Cursors>,
    pub mailer: Arc<dyn Mailer>,
    aws: Option<aws_config::SdkConfig>,
}

impl Platform {
    /// From parts (local gateway, tests): the verifier and cursors read their keys
    /// from `secrets` on first use.
    pub fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn Secrets>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        let verifier = Arc::new(Verifier::new(
            Arc::new(SecretKeys {
                secrets: secrets.clone(),
                secret_id: config.jwt_public_keys_secret_id.clone(),
            }),
            clock.clone(),
            &config.jwt_issuer,
            &config.jwt_audience,
        ));
        let cursors = Arc::new(Cursors::from_secret(
            secrets.clone(),
            config.cursor_secret_id.clone(),
            clock.clone(),
        ));
        Platform {
            config: Arc::new(config),
            clock,
            secrets,
            verifier,
            cursors,
            mailer,
            aws: None,
        }
    }

    /// In AWS: Secrets Manager, SES, DynamoDB through one SDK configuration. No network
    /// calls here (credentials and keys resolve on first use); the SES client is built on
    /// the first send, since most functions send none.
    pub async fn aws(config: Config) -> Self {
        let sdk = sdk_config().await;
        let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            &sdk,
        )));
        let mailer = Arc::new(SesMailer::on_first_send(&sdk, config.mail_sender.clone()));
        let mut platform = Platform::new(config, Arc::new(SystemClock), secrets, mailer);
        platform.aws = Some(sdk);
        platform
    }

    /// The AWS SDK configuration, when running against AWS (or an emulator).
    pub fn sdk(&self) -> Option<&aws_config::SdkConfig> {
        self.aws.as_ref()
    }

    /// `service`'s DynamoDB table (AWS only; `None` for a local platform).
    pub fn dynamo_store(&self, service: Service) -> Option<Arc<dyn Store>> {
        self.dynamo_table(self.config.table_for(service))
    }

    /// The DynamoDB table named `table` (another service's, for what it lets us read).
    pub fn dynamo_table(&self, table: String) -> Option<Arc<dyn Store>> {
        let sdk = self.aws.as_ref()?;
        Some(Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            table,
        )))
    }
}

/// One SDK configuration for every client: standard retries (3 attempts, jittered
/// backoff) and bounded timeouts, so a slow dependency ends in 503, not a Lambda timeout.
/// Honours the standard `AWS_ENDPOINT_URL` (emulators) and region/credential variables.
pub async fn sdk_config() -> aws_config::SdkConfig {
    use aws_config::{retry::RetryConfig, timeout::TimeoutConfig};
    use aws_smithy_http_client::tls;
    // One HTTP client (one connection pool, one TLS configuration with the root
    // certificates loaded once) for every AWS client of the process: left unset, each
    // service client builds its own default stack at cold start.
    let http = SharedHttpClient::new(ConnectOnFirstUse(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https(),
    ));
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    // Lambda (and `sam local`) hand the region and the role's session credentials to the
    // process as variables, which the default chains would pick first anyway; naming them
    // skips building those chains at init (a region chain, and a credentials chain with
    // its own STS client for web identity, profile and IMDS providers).
    let set = |name| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if let Ok(region) = std::env::var("AWS_REGION")
        && !region.is_empty()
    {
        loader = loader.region(aws_config::Region::new(region));
    }
    if set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY") {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    loader
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        )
        .load()
        .await
}

/// The SDK's hyper client, minus its eager validation: for every service client built
/// from the configuration, `validate_base_client_config` builds a whole TLS connector
/// and throws it away — loading the OS root store and parsing each certificate again
/// (4 times at a notify cold start, ~150-300 certificates each on Debian). Left to
/// `http_connector`, the connector is built once, on the first AWS call, and cached
/// by the inner client for every later one (all our clients share one timeout
/// configuration, hence one cache entry). Measured in BENCHMARKS.md ("Cold start").
#[derive(Debug)]
struct ConnectOnFirstUse(SharedHttpClient);

impl HttpClient for ConnectOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The state of a service that needs only its table (every service starts here; a
/// service grows its own state type when it has repositories).
#[derive(Clone)]
pub struct ServiceState {
    pub platform: Platform,
    pub store: Arc<dyn Store>,
}

impl ServiceState {
    /// A deployed function: its own DynamoDB table (`TABLE_NAME`).
    pub fn aws(platform: Platform, service: Service) -> Self {
        let store = platform
            .dynamo_store(service)
            .expect("an AWS platform has an SDK configuration");
        ServiceState { platform, store }
    }
}
