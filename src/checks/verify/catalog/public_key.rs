//! The catalog's presets of one family: public-key signatures (`verify/public_key.rs`).
//! The route's `secrets` hold the provider's public key.

use super::super::public_key::{KeyAlgorithm, PublicKeySpec};
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, Scheme, SecretForm};

const DISCORD_SPEC: PublicKeySpec = PublicKeySpec {
    algorithm: KeyAlgorithm::Ed25519,
    signature_header: "x-signature-ed25519",
    timestamp_header: "x-signature-timestamp",
    joiner: "",
    id_header: None,
    sig_prefix: "",
};

const SENDGRID_SPEC: PublicKeySpec = PublicKeySpec {
    algorithm: KeyAlgorithm::EcdsaP256,
    signature_header: "x-twilio-email-event-webhook-signature",
    timestamp_header: "x-twilio-email-event-webhook-timestamp",
    joiner: "",
    id_header: None,
    sig_prefix: "",
};

const TELNYX_SPEC: PublicKeySpec = PublicKeySpec {
    algorithm: KeyAlgorithm::Ed25519Base64,
    signature_header: "telnyx-signature-ed25519",
    timestamp_header: "telnyx-timestamp",
    joiner: "|",
    id_header: None,
    sig_prefix: "",
};

const STANDARD_WEBHOOKS_V1A_SPEC: PublicKeySpec = PublicKeySpec {
    algorithm: KeyAlgorithm::Ed25519Base64,
    signature_header: "webhook-signature",
    timestamp_header: "webhook-timestamp",
    joiner: ".",
    id_header: Some("webhook-id"),
    sig_prefix: "v1a,",
};

pub(super) const DISCORD: Preset = Preset {
    name: "discord",
    title: "Discord (interactions)",
    scheme: Scheme::PublicKey(&DISCORD_SPEC),
    secret: SecretForm::PublicKey(KeyAlgorithm::Ed25519),
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers",
    secret_hint: "the application's Public Key, 64 hex digits (Developer Portal > the application > General Information)",
};

pub(super) const SENDGRID: Preset = Preset {
    name: "sendgrid",
    title: "Twilio SendGrid (Event Webhook)",
    scheme: Scheme::PublicKey(&SENDGRID_SPEC),
    secret: SecretForm::PublicKey(KeyAlgorithm::EcdsaP256),
    event_id: &[J("/0/sg_event_id")],
    event_type: &[J("/0/event")],
    handshake: Handshake::None,
    docs: "https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features",
    secret_hint: "the Verification Key shown when Signed Event Webhook is enabled (Settings > Mail Settings > Event Webhook), base64",
};

pub(super) const TELNYX: Preset = Preset {
    name: "telnyx",
    title: "Telnyx",
    scheme: Scheme::PublicKey(&TELNYX_SPEC),
    secret: SecretForm::PublicKey(KeyAlgorithm::Ed25519Base64),
    event_id: &[J("/data/id")],
    event_type: &[J("/data/event_type")],
    handshake: Handshake::None,
    docs: "https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks",
    secret_hint: "the account's Public Key, base64 (Mission Control Portal > Account Settings > Keys & Credentials > Public Key)",
};

pub(super) const STANDARD_WEBHOOKS_V1A: Preset = Preset {
    name: "standard-webhooks-v1a",
    title: "Standard Webhooks (v1a, Ed25519)",
    scheme: Scheme::PublicKey(&STANDARD_WEBHOOKS_V1A_SPEC),
    secret: SecretForm::PublicKey(KeyAlgorithm::Ed25519Base64),
    event_id: &[H("webhook-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#signature-scheme",
    secret_hint: "the sender's public key, whpk_ and base64 of the 32-byte Ed25519 key",
};
