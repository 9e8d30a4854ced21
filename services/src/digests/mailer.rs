//! Handing a digest to the SMTP server (lettre, over rustls on ring). The outcome says whether
//! the server took the message, refused it for good, or could not be reached (try again later).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncTransport, Tokio1Executor};

use super::compose::Text;
use super::settings::{SmtpConfig, SmtpSecurity};

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The server accepted it.
    Accepted,
    /// The server refused it for good (a 5xx reply, an address it will never take).
    Refused(String),
    /// It could not be handed over now (connection, timeout, a 4xx reply): try again.
    Later(String),
}

/// The SMTP transport, built once from `[digest.smtp]`.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The host part of each Message-ID (the broker's public host).
    id_host: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("`digest.from` is not a mailbox (`Name <address>`)")]
    From,
    #[error("cannot set up the SMTP connection to `{host}`: {reason}")]
    Smtp { host: String, reason: String },
}

impl Mailer {
    pub fn new(smtp: &SmtpConfig, from: &str, public_url: &str) -> Result<Self, MailerError> {
        let from: Mailbox = from.parse().map_err(|_| MailerError::From)?;
        let setup = |e: lettre::transport::smtp::Error| MailerError::Smtp {
            host: smtp.host.clone(),
            reason: e.to_string(),
        };
        let builder = match smtp.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(setup)?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(setup)?
            }
        };
        let mut builder = builder
            .port(smtp.port)
            .timeout(Some(Duration::from_secs(smtp.timeout_secs.max(1))));
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let id_host = url::Url::parse(public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        Ok(Self {
            transport: builder.build(),
            from,
            id_host,
        })
    }

    /// Sends `text` to `to`, with a Message-ID made of `digest_id` (the same digest always has
    /// the same Message-ID, so a mailbox can tell a repeat).
    pub async fn send(&self, to: &str, lang: &str, digest_id: &str, text: &Text) -> Sent {
        let Ok(to) = to.parse::<Mailbox>() else {
            return Sent::Refused("the citizen's e-mail address is not usable".to_owned());
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(text.subject.clone())
            .message_id(Some(format!("<digest-{digest_id}@{}>", self.id_host)))
            .header(ContentType::TEXT_PLAIN)
            .header(ContentLanguage(lang.to_owned()))
            .body(text.body.clone());
        let message = match message {
            Ok(m) => m,
            Err(e) => return Sent::Refused(format!("cannot build the message: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Sent::Accepted,
            // Only the server's reply code is kept: a reply may quote the address.
            Err(e) if e.is_permanent() => Sent::Refused(reply(&e, "refused by the SMTP server")),
            Err(e) => Sent::Later(reply(&e, "the SMTP server cannot take it now")),
        }
    }
}

fn reply(e: &lettre::transport::smtp::Error, what: &str) -> String {
    match e.status() {
        Some(code) => format!("{what} ({code})"),
        None if e.is_timeout() => format!("{what} (timeout)"),
        None => format!("{what} (no reply)"),
    }
}

/// `Content-Language`, so mail clients read the digest in its language.
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl lettre::message::header::Header for ContentLanguage {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Content-Language")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}
