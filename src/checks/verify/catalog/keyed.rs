//! The catalog's presets of one family: `t=…,v1=…` style headers (`verify/keyed.rs`).

use super::super::keyed::{KeyedSpec, STRIPE as STRIPE_SPEC};
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, Scheme, SecretForm};

const MUX_SPEC: KeyedSpec = KeyedSpec {
    header: "mux-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
    millis: false,
    base64url: false,
};

const PADDLE_SPEC: KeyedSpec = KeyedSpec {
    header: "paddle-signature",
    separator: b';',
    ts_key: "ts",
    sig_key: "h1",
    joiner: ":",
    millis: false,
    base64url: false,
};

const CALENDLY_SPEC: KeyedSpec = KeyedSpec {
    header: "calendly-webhook-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
    millis: false,
    base64url: false,
};

pub(super) const STRIPE: Preset = Preset {
    name: "stripe",
    title: "Stripe",
    scheme: Scheme::Keyed(&STRIPE_SPEC),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://docs.stripe.com/webhooks#verify-events",
    secret_hint: "the endpoint's Signing secret (whsec_…) in the Dashboard's Workbench > Webhooks",
};

pub(super) const PADDLE: Preset = Preset {
    name: "paddle",
    title: "Paddle Billing",
    scheme: Scheme::Keyed(&PADDLE_SPEC),
    secret: SecretForm::Text,
    event_id: &[J("/event_id")],
    event_type: &[J("/event_type")],
    handshake: Handshake::None,
    docs: "https://developer.paddle.com/webhooks/signature-verification",
    secret_hint: "the notification destination's secret key in Developer tools > Notifications",
};

pub(super) const MUX: Preset = Preset {
    name: "mux",
    title: "Mux",
    scheme: Scheme::Keyed(&MUX_SPEC),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://www.mux.com/docs/core/verify-webhook-signatures",
    secret_hint: "the webhook's Signing Secret in the Mux Dashboard > Settings > Webhooks",
};

pub(super) const CALENDLY: Preset = Preset {
    name: "calendly",
    title: "Calendly",
    scheme: Scheme::Keyed(&CALENDLY_SPEC),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures",
    secret_hint: "the signing_key you give when creating the webhook subscription (or the OAuth app's webhook signing key)",
};

const PERSONA_SPEC: KeyedSpec = KeyedSpec {
    header: "persona-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
    millis: false,
    base64url: false,
};

const WORKOS_SPEC: KeyedSpec = KeyedSpec {
    header: "workos-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
    millis: true,
    base64url: false,
};

const BUILDKITE_SPEC: KeyedSpec = KeyedSpec {
    header: "x-buildkite-signature",
    separator: b',',
    ts_key: "timestamp",
    sig_key: "signature",
    joiner: ".",
    millis: false,
    base64url: false,
};

pub(super) const PERSONA: Preset = Preset {
    name: "persona",
    title: "Persona",
    scheme: Scheme::Keyed(&PERSONA_SPEC),
    secret: SecretForm::Text,
    event_id: &[J("/data/id")],
    event_type: &[J("/data/attributes/name")],
    handshake: Handshake::None,
    docs: "https://docs.withpersona.com/docs/webhooks-best-practices",
    secret_hint:
        "the webhook's secret (wbhsec_…, used verbatim) in the Dashboard's Webhooks section",
};

pub(super) const WORKOS: Preset = Preset {
    name: "workos",
    title: "WorkOS",
    // `t=<ms>, v1=<hex>`: the timestamp in milliseconds, items split by comma and space.
    scheme: Scheme::Keyed(&WORKOS_SPEC),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://workos.com/docs/events/data-syncing/webhooks",
    secret_hint: "the endpoint's webhook secret (WorkOS Dashboard > Webhooks > the endpoint)",
};

pub(super) const BUILDKITE: Preset = Preset {
    name: "buildkite",
    title: "Buildkite",
    // The webhook set to send its token as an X-Buildkite-Signature HMAC (not as
    // X-Buildkite-Token, which carries the token itself).
    scheme: Scheme::Keyed(&BUILDKITE_SPEC),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[H("x-buildkite-event"), J("/event")],
    handshake: Handshake::None,
    docs: "https://buildkite.com/docs/apis/webhooks/pipelines#webhook-signature",
    secret_hint: "the webhook's Token (Settings > Notification Services > the webhook), sent as an X-Buildkite-Signature HMAC",
};

const SANITY_SPEC: KeyedSpec = KeyedSpec {
    header: "sanity-webhook-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
    millis: true,
    base64url: true,
};

pub(super) const SANITY: Preset = Preset {
    name: "sanity",
    title: "Sanity (GROQ-powered webhooks)",
    // `t=<ms>,v1=<base64url>`; the body is the webhook's GROQ projection, so no fixed
    // event id or type: name them with the route's `event_id` / `event_type`.
    scheme: Scheme::Keyed(&SANITY_SPEC),
    secret: SecretForm::Text,
    event_id: &[H("idempotency-key")],
    event_type: &[H("sanity-operation")],
    handshake: Handshake::None,
    docs: "https://www.sanity.io/docs/webhooks",
    secret_hint:
        "the Secret you set on the webhook (sanity.io/manage > the project > API > Webhooks)",
};
