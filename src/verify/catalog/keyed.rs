//! The catalog's presets of one family: `t=…,v1=…` style headers (`verify/keyed.rs`).

use super::super::keyed::{KeyedSpec, STRIPE as STRIPE_SPEC};
use super::Src::Json as J;
use super::{Preset, Scheme, SecretForm};

const MUX_SPEC: KeyedSpec = KeyedSpec {
    header: "mux-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
};

const PADDLE_SPEC: KeyedSpec = KeyedSpec {
    header: "paddle-signature",
    separator: b';',
    ts_key: "ts",
    sig_key: "h1",
    joiner: ":",
};

const CALENDLY_SPEC: KeyedSpec = KeyedSpec {
    header: "calendly-webhook-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
};

pub const STRIPE: Preset = Preset {
    name: "stripe",
    title: "Stripe",
    scheme: Scheme::Keyed(&STRIPE_SPEC),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    docs: "https://docs.stripe.com/webhooks#verify-events",
    secret_hint: "the endpoint's Signing secret (whsec_…) in the Dashboard's Workbench > Webhooks",
};

pub const PADDLE: Preset = Preset {
    name: "paddle",
    title: "Paddle Billing",
    scheme: Scheme::Keyed(&PADDLE_SPEC),
    secret: SecretForm::Text,
    event_id: &[J("/event_id")],
    event_type: &[J("/event_type")],
    docs: "https://developer.paddle.com/webhooks/signature-verification",
    secret_hint: "the notification destination's secret key in Developer tools > Notifications",
};

pub const MUX: Preset = Preset {
    name: "mux",
    title: "Mux",
    scheme: Scheme::Keyed(&MUX_SPEC),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    docs: "https://www.mux.com/docs/core/verify-webhook-signatures",
    secret_hint: "the webhook's Signing Secret in the Mux Dashboard > Settings > Webhooks",
};

pub const CALENDLY: Preset = Preset {
    name: "calendly",
    title: "Calendly",
    scheme: Scheme::Keyed(&CALENDLY_SPEC),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/event")],
    docs: "https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures",
    secret_hint: "the signing_key you give when creating the webhook subscription (or the OAuth app's webhook signing key)",
};
