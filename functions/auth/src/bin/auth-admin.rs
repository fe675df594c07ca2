//! auth-admin: operator commands for auth-svc — the signing key sets and the staging
//! seed. Only argument parsing and AWS wiring here; the commands are auth::ops.
//! Credentials, region and `AWS_ENDPOINT_URL` come from the standard AWS environment.

use std::{process::ExitCode, sync::Arc};

use auth::ops::{self, KeySecretIds, OpsError, Stage};
use clap::{Args, Parser, Subcommand};
use shared::{secrets::SecretsManager, store::dynamo::DynamoStore};

#[derive(Parser)]
#[command(name = "auth-admin", about = "auth-svc signing keys and staging seed")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The JWT signing key sets in Secrets Manager.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Creates the staging tenants and accounts that are missing (never on prod).
    Seed(SeedArgs),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generates a first key and writes both key secrets.
    Init {
        #[command(flatten)]
        secrets: SecretArgs,
        /// Replace keys that already exist (every token in circulation stops verifying).
        #[arg(long)]
        force: bool,
    },
    /// Adds a new active key and keeps the newest `--keep` keys.
    Rotate {
        #[command(flatten)]
        secrets: SecretArgs,
        #[arg(long, default_value_t = ops::DEFAULT_KEEP)]
        keep: usize,
    },
}

#[derive(Args)]
struct SecretArgs {
    /// dev, staging or prod.
    #[arg(long)]
    stage: Stage,
    /// Default: <stage>/eventzr/jwt-private-keys.
    #[arg(long)]
    private_secret_id: Option<String>,
    /// Default: <stage>/eventzr/jwt-public-keys.
    #[arg(long)]
    public_secret_id: Option<String>,
}

impl SecretArgs {
    fn ids(self) -> KeySecretIds {
        let default = KeySecretIds::for_stage(self.stage);
        KeySecretIds {
            private: self.private_secret_id.unwrap_or(default.private),
            public: self.public_secret_id.unwrap_or(default.public),
        }
    }
}

#[derive(Args)]
struct SeedArgs {
    /// dev or staging.
    #[arg(long)]
    stage: Stage,
    /// The same stage again: seeding is never implicit.
    #[arg(long)]
    confirm_stage: String,
    /// Default: <stage>-auth.
    #[arg(long)]
    table: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("auth-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<String, OpsError> {
    let sdk = shared::platform::sdk_config().await;
    let secrets = || SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk));
    match command {
        Command::Keys(KeysCommand::Init {
            secrets: args,
            force,
        }) => {
            let ids = args.ids();
            let report = ops::keys_init(&secrets(), &ids, force).await?;
            Ok(format!("{}: active key {}", ids.private, report.active))
        }
        Command::Keys(KeysCommand::Rotate {
            secrets: args,
            keep,
        }) => {
            let ids = args.ids();
            let report = ops::keys_rotate(&secrets(), &ids, keep).await?;
            Ok(format!(
                "{}: active key {}, keys {}",
                ids.private,
                report.active,
                report.kids.join(", ")
            ))
        }
        Command::Seed(args) => {
            ops::check_seed_stage(args.stage, &args.confirm_stage)?;
            let table = args.table.unwrap_or_else(|| args.stage.auth_table());
            let store = Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                table.clone(),
            ));
            let now = shared::clock::rfc3339_millis(chrono::Utc::now());
            let seeded = ops::seed(store.as_ref(), args.stage, &args.confirm_stage, &now).await?;
            Ok(format!(
                "{table}: created {} tenants, {} accounts",
                seeded.tenants, seeded.accounts
            ))
        }
    }
}
