//! The Mailer port: SES in AWS; an outbox (memory, optionally mirrored to a folder as
//! JSON files) for local runs and tests, which read mail back from it.

use std::{
    path::PathBuf,
    sync::{Arc, LazyLock, Mutex},
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A mail the outbox holds, with its id and send time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMail {
    pub id: String,
    pub from: String,
    pub sent_at: String,
    #[serde(flatten)]
    pub mail: Mail,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("mail rejected: {0}")]
    Rejected(String),
    #[error("mail provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends and returns the provider's message id.
    async fn send(&self, mail: &Mail) -> Result<String, MailError>;
}

/// Amazon SES (`SendEmail`) from one verified sender identity.
pub struct SesMailer {
    client: LazyLock<aws_sdk_ses::Client, Box<dyn FnOnce() -> aws_sdk_ses::Client + Send>>,
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_ses::Client, from: impl Into<String>) -> Self {
        SesMailer {
            client: LazyLock::new(Box::new(move || client)),
            from: from.into(),
        }
    }

    /// The client built on the first send, from `sdk`: most functions never send mail
    /// (their IAM grants no `ses:SendEmail`), and building an SDK client is ~0.1 ms of a
    /// cold start (BENCHMARKS.md), while the first send pays a TLS handshake anyway.
    pub fn on_first_send(sdk: &aws_config::SdkConfig, from: impl Into<String>) -> Self {
        let sdk = sdk.clone();
        SesMailer {
            client: LazyLock::new(Box::new(move || aws_sdk_ses::Client::new(&sdk))),
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        use aws_sdk_ses::{
            error::ProvideErrorMetadata,
            types::{Body, Content, Destination, Message},
        };
        let content = |s: &str| {
            Content::builder()
                .data(s)
                .charset("UTF-8")
                .build()
                .map_err(|e| MailError::Rejected(e.to_string()))
        };
        let mut body = Body::builder().text(content(&mail.text)?);
        if let Some(html) = &mail.html {
            body = body.html(content(html)?);
        }
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(body.build())
            .build();
        let out = self
            .client
            .send_email()
            .source(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(mail.to.iter().map(|a| ascii_domain(a)).collect()))
                    .build(),
            )
            .message(message)
            .send()
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or("transport error").to_owned();
                match code.as_str() {
                    "MessageRejected"
                    | "MailFromDomainNotVerifiedException"
                    | "InvalidParameterValue" => MailError::Rejected(code),
                    _ => MailError::Unavailable(code),
                }
            })?;
        Ok(out.message_id)
    }
}

/// `address` with its domain in the ASCII form SES requires (`d@exämple.com` ->
/// `d@xn--exmple-cua.com`). Only on the way out: accounts, locks and suppressions keep the
/// address as it was given, so records stored before this conversion still match.
fn ascii_domain(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => match url::Host::parse(domain) {
            Ok(url::Host::Domain(d)) => format!("{local}@{d}"),
            _ => address.to_owned(),
        },
        _ => address.to_owned(),
    }
}

/// The local outbox: keeps every mail in memory (and as `<id>.json` in `dir` if set).
#[derive(Clone, Default)]
pub struct Outbox {
    mails: Arc<Mutex<Vec<SentMail>>>,
    dir: Option<PathBuf>,
    from: String,
}

impl Outbox {
    pub fn new(from: impl Into<String>) -> Self {
        Outbox {
            from: from.into(),
            ..Default::default()
        }
    }
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }
    /// Every mail sent so far, oldest first.
    pub fn sent(&self) -> Vec<SentMail> {
        self.mails.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Mails addressed to `to`, oldest first.
    pub fn sent_to(&self, to: &str) -> Vec<SentMail> {
        self.sent()
            .into_iter()
            .filter(|m| m.mail.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        if mail.to.is_empty() {
            return Err(MailError::Rejected("no recipient".into()));
        }
        let sent = SentMail {
            id: crate::ids::new_id().to_string(),
            from: self.from.clone(),
            sent_at: crate::clock::rfc3339_millis(chrono::Utc::now()),
            mail: mail.clone(),
        };
        if let Some(dir) = &self.dir {
            let json =
                serde_json::to_vec_pretty(&sent).map_err(|e| MailError::Rejected(e.to_string()))?;
            tokio::fs::create_dir_all(dir)
                .await
                .and(tokio::fs::write(dir.join(format!("{}.json", sent.id)), json).await)
                .map_err(|e| MailError::Unavailable(e.to_string()))?;
        }
        let id = sent.id.clone();
        self.mails
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sent);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internationalised_domain_goes_to_ses_in_ascii() {
        assert_eq!(ascii_domain("d@exämple.com"), "d@xn--exmple-cua.com");
        assert_eq!(ascii_domain("ann@example.com"), "ann@example.com");
        // Whatever IDNA refuses goes as given: SES answers for it.
        assert_eq!(ascii_domain("a@exa mple.com"), "a@exa mple.com");
    }

    fn welcome(to: &str) -> Mail {
        Mail {
            to: vec![to.into()],
            subject: "Welcome".into(),
            text: "Hello".into(),
            html: None,
        }
    }

    #[tokio::test]
    async fn the_outbox_keeps_mail_in_order_and_on_disk() {
        let dir = std::env::temp_dir().join(format!("ezr-outbox-{}", uuid::Uuid::new_v4()));
        let outbox = Outbox::new("no-reply@eventzr.com").with_dir(&dir);
        let id = outbox.send(&welcome("a@x.io")).await.unwrap();
        outbox.send(&welcome("b@x.io")).await.unwrap();
        assert_eq!(outbox.sent().len(), 2);
        assert_eq!(outbox.sent_to("A@x.io")[0].id, id);
        let on_disk: SentMail =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.json"))).unwrap())
                .unwrap();
        assert_eq!(on_disk.mail.subject, "Welcome");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn the_outbox_refuses_mail_without_recipients() {
        let outbox = Outbox::new("x@y.z");
        let mut m = welcome("a@x.io");
        m.to.clear();
        assert!(matches!(outbox.send(&m).await, Err(MailError::Rejected(_))));
        assert!(outbox.sent().is_empty());
    }
}
