//! The catalog's presets of one family: the shared secret itself, in a header, as Basic
//! credentials or in the URL (`verify/token.rs`).

use super::super::token::TokenIn;
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, Scheme, SecretForm};

pub(super) const GITLAB: Preset = Preset {
    name: "gitlab",
    title: "GitLab",
    scheme: Scheme::Token(TokenIn::Header("x-gitlab-token")),
    secret: SecretForm::Text,
    event_id: &[H("idempotency-key")],
    event_type: &[H("x-gitlab-event")],
    handshake: Handshake::None,
    docs: "https://docs.gitlab.com/user/project/integrations/webhooks/",
    secret_hint: "the Secret token you type in the project's Settings > Webhooks",
};

pub(super) const OKTA: Preset = Preset {
    name: "okta",
    title: "Okta (event hooks)",
    // Okta sends the configured header value verbatim; `Authorization` by default.
    scheme: Scheme::Token(TokenIn::Header("authorization")),
    secret: SecretForm::Text,
    event_id: &[J("/eventId")],
    event_type: &[J("/eventType")],
    handshake: Handshake::OktaVerification,
    docs: "https://developer.okta.com/docs/concepts/event-hooks/",
    secret_hint: "the Authentication field value you set on the event hook (Workflow > Event Hooks > the hook), written here exactly as there",
};

pub(super) const POSTMARK: Preset = Preset {
    name: "postmark",
    title: "Postmark",
    // Postmark signs nothing: Basic credentials in the webhook URL are its protection.
    scheme: Scheme::Token(TokenIn::Basic),
    secret: SecretForm::Text,
    event_id: &[J("/MessageID")],
    event_type: &[J("/RecordType")],
    handshake: Handshake::None,
    docs: "https://postmarkapp.com/developer/webhooks/webhooks-overview",
    secret_hint: "the user:password you put in the webhook URL (https://user:password@host/path) in the server's Webhooks settings; written here as user:password",
};

pub(super) const MAILCHIMP: Preset = Preset {
    name: "mailchimp",
    title: "Mailchimp (audience webhooks)",
    // Mailchimp signs nothing: the secret is the `token` parameter of the URL you give it.
    scheme: Scheme::Token(TokenIn::Query("token")),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[],
    handshake: Handshake::ValidationGet,
    docs: "https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/",
    secret_hint: "a random string you choose and append to the webhook URL as ?token=... (Audience > Settings > Webhooks)",
};

pub(super) const TELEGRAM: Preset = Preset {
    name: "telegram",
    title: "Telegram Bot API",
    scheme: Scheme::Token(TokenIn::Header("x-telegram-bot-api-secret-token")),
    secret: SecretForm::Text,
    event_id: &[J("/update_id")],
    event_type: &[],
    handshake: Handshake::None,
    docs: "https://core.telegram.org/bots/api#setwebhook",
    secret_hint: "the secret_token you pass to setWebhook (1-256 of A-Z, a-z, 0-9, _ and -)",
};
