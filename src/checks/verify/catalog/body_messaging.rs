//! The catalog's presets that sign the raw body alone with HMAC (`verify/hmac.rs`'s plainest
//! form), messaging, mail, files and data. Each names its header, algorithm, prefix and encoding.

use super::super::hmac::Encoding;
use super::super::Algorithm::{Sha1, Sha256};
use super::hmac::body_hmac;
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, SecretForm};

pub(super) const HELP_SCOUT: Preset = Preset {
    name: "help-scout",
    title: "Help Scout",
    // Help Scout's only scheme is HMAC-SHA1.
    scheme: body_hmac(&[("x-helpscout-signature", Sha1, "")], Encoding::Base64),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[H("x-helpscout-event")],
    handshake: Handshake::None,
    docs: "https://developer.helpscout.com/webhooks/",
    secret_hint: "the Secret Key you set in the Webhooks app (Manage > Apps > Webhooks)",
};

pub(super) const NYLAS: Preset = Preset {
    name: "nylas",
    title: "Nylas",
    scheme: body_hmac(&[("x-nylas-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    handshake: Handshake::EchoChallenge,
    docs: "https://developer.nylas.com/docs/v3/notifications/webhooks/",
    secret_hint:
        "the webhook_secret in the Create Webhook Destination response (POST /v3/webhooks)",
};

pub(super) const WEBEX: Preset = Preset {
    name: "webex",
    title: "Webex",
    // Webex's only scheme is HMAC-SHA1.
    scheme: body_hmac(&[("x-spark-signature", Sha1, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/resource")],
    handshake: Handshake::None,
    docs: "https://developer.webex.com/docs/receive-and-verify-webhooks",
    secret_hint: "the secret you set when creating the webhook (POST /v1/webhooks, field secret)",
};

pub(super) const LINE: Preset = Preset {
    name: "line",
    title: "LINE Messaging API",
    scheme: body_hmac(&[("x-line-signature", Sha256, "")], Encoding::Base64),
    secret: SecretForm::Text,
    event_id: &[J("/events/0/webhookEventId")],
    event_type: &[J("/events/0/type")],
    handshake: Handshake::None,
    docs: "https://developers.line.biz/en/reference/messaging-api/#signature-validation",
    secret_hint: "the channel secret (LINE Developers Console > the channel > Basic settings)",
};

pub(super) const VIBER: Preset = Preset {
    name: "viber",
    title: "Viber",
    scheme: body_hmac(&[("x-viber-content-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[J("/message_token")],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://developers.viber.com/docs/api/rest-bot-api/#callbacks",
    secret_hint: "the bot's authentication token (Viber Admin Panel > the bot)",
};

pub(super) const DROPBOX: Preset = Preset {
    name: "dropbox",
    title: "Dropbox",
    scheme: body_hmac(&[("x-dropbox-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[],
    handshake: Handshake::EchoChallenge,
    docs: "https://www.dropbox.com/developers/reference/webhooks",
    secret_hint: "the app's App secret (App Console > the app > Settings)",
};

pub(super) const SEGMENT: Preset = Preset {
    name: "segment",
    title: "Segment",
    // Segment's only scheme is HMAC-SHA1.
    scheme: body_hmac(&[("x-signature", Sha1, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[J("/messageId")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://segment.com/docs/connections/destinations/catalog/actions-webhook/",
    secret_hint: "the destination's Shared Secret (Connections > Destinations > the Webhooks destination > Settings)",
};

pub(super) const ATTIO: Preset = Preset {
    name: "attio",
    title: "Attio",
    scheme: body_hmac(&[("attio-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("idempotency-key")],
    event_type: &[J("/events/0/event_type")],
    handshake: Handshake::None,
    docs: "https://docs.attio.com/rest-api/how-to/webhooks",
    secret_hint:
        "the webhook's secret (Workspace settings > Developers > the integration > Webhooks)",
};

pub(super) const OUTREACH: Preset = Preset {
    name: "outreach",
    title: "Outreach",
    scheme: body_hmac(&[("outreach-webhook-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("outreach-webhook-id")],
    event_type: &[J("/meta/eventName")],
    handshake: Handshake::None,
    docs: "https://developers.outreach.io/api/webhooks/",
    secret_hint:
        "the secret you set on the webhook (Settings > Webhooks, or POST /api/v2/webhooks)",
};
