//! The catalog's presets that sign the raw body alone with HMAC (`verify/hmac.rs`'s plainest
//! form), payments and commerce. Each names its header, algorithm, prefix and encoding.

use super::super::hmac::Encoding;
use super::super::Algorithm::{Sha256, Sha512};
use super::hmac::body_hmac;
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, SecretForm};

pub(super) const RAZORPAY: Preset = Preset {
    name: "razorpay",
    title: "Razorpay",
    scheme: body_hmac(&[("x-razorpay-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("x-razorpay-event-id")],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://razorpay.com/docs/webhooks/validate-test/",
    secret_hint: "the secret you type when adding the webhook (Dashboard > Accounts & Settings > Webhooks); not the API key secret",
};

pub(super) const PAYSTACK: Preset = Preset {
    name: "paystack",
    title: "Paystack",
    // Paystack signs with the account's API secret key, HMAC-SHA512.
    scheme: body_hmac(&[("x-paystack-signature", Sha512, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://paystack.com/docs/payments/webhooks/#verify-event-origin",
    secret_hint:
        "the account's API Secret key (sk_live_… or sk_test_…) in Settings > API Keys & Webhooks",
};

pub(super) const CHECKOUT_COM: Preset = Preset {
    name: "checkout-com",
    title: "Checkout.com",
    scheme: body_hmac(&[("cko-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver",
    secret_hint: "the signature key you set on the webhook (Dashboard > Workflows > the webhook action)",
};

pub(super) const GOCARDLESS: Preset = Preset {
    name: "gocardless",
    title: "GoCardless",
    // A delivery batches events; a retried batch is the same body, so its hash names it.
    scheme: body_hmac(&[("webhook-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/events/0/resource_type")],
    handshake: Handshake::None,
    docs: "https://developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks/",
    secret_hint:
        "the endpoint's secret (Dashboard > Developers > Webhook endpoints > the endpoint)",
};

pub(super) const WOOCOMMERCE: Preset = Preset {
    name: "woocommerce",
    title: "WooCommerce",
    scheme: body_hmac(&[("x-wc-webhook-signature", Sha256, "")], Encoding::Base64),
    secret: SecretForm::Text,
    event_id: &[H("x-wc-webhook-delivery-id")],
    event_type: &[H("x-wc-webhook-topic")],
    handshake: Handshake::None,
    docs: "https://woocommerce.com/document/webhooks/",
    secret_hint:
        "the webhook's Secret (WooCommerce > Settings > Advanced > Webhooks > the webhook)",
};

pub(super) const SQUARESPACE: Preset = Preset {
    name: "squarespace",
    title: "Squarespace",
    // The secret is hex and is decoded to bytes before use.
    scheme: body_hmac(&[("squarespace-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Hex,
    event_id: &[J("/id")],
    event_type: &[J("/topic")],
    handshake: Handshake::None,
    docs: "https://developers.squarespace.com/webhooks/verifying-notifications",
    secret_hint: "the subscription's secret, hex, returned by the Webhook Subscriptions API when the subscription is created or its secret rotated",
};

pub(super) const FASTSPRING: Preset = Preset {
    name: "fastspring",
    title: "FastSpring",
    scheme: body_hmac(&[("x-fs-signature", Sha256, "")], Encoding::Base64),
    secret: SecretForm::Text,
    event_id: &[J("/events/0/id")],
    event_type: &[J("/events/0/type")],
    handshake: Handshake::None,
    docs: "https://developer.fastspring.com/docs/message-security",
    secret_hint: "the HMAC SHA256 Secret you set on the webhook URL (Developer Tools > Webhooks > Configuration)",
};

pub(super) const MODERN_TREASURY: Preset = Preset {
    name: "modern-treasury",
    title: "Modern Treasury",
    scheme: body_hmac(&[("x-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://docs.moderntreasury.com/platform/docs/verifying-webhooks",
    secret_hint: "the webhook key (app.moderntreasury.com > Developers > Webhooks)",
};

pub(super) const DWOLLA: Preset = Preset {
    name: "dwolla",
    title: "Dwolla",
    scheme: body_hmac(
        &[("x-request-signature-sha-256", Sha256, "")],
        Encoding::Hex,
    ),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/topic")],
    handshake: Handshake::None,
    docs: "https://developers.dwolla.com/docs/balance/webhooks",
    secret_hint:
        "the secret you passed when creating the webhook subscription (POST /webhook-subscriptions)",
};

pub(super) const ONFIDO: Preset = Preset {
    name: "onfido",
    title: "Onfido (Entrust)",
    scheme: body_hmac(&[("x-sha2-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/payload/action")],
    handshake: Handshake::None,
    docs: "https://documentation.identity.entrust.com/api/manual-webhook-signature-verification/",
    secret_hint:
        "the webhook's token, shown when it is created (Dashboard > Developers > Webhooks)",
};

pub(super) const EASYPOST: Preset = Preset {
    name: "easypost",
    title: "EasyPost",
    scheme: body_hmac(&[("x-hmac-signature", Sha256, "hmac-sha256-hex=")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/description")],
    handshake: Handshake::None,
    docs: "https://docs.easypost.com/guides/webhooks-guide",
    secret_hint: "the webhook_secret you set on the webhook (API or the dashboard's webhook settings); EasyPost NFKD-normalizes it, which leaves ASCII secrets unchanged",
};

pub(super) const PUSHER: Preset = Preset {
    name: "pusher",
    title: "Pusher Channels",
    scheme: body_hmac(&[("x-pusher-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/events/0/name")],
    handshake: Handshake::None,
    docs: "https://pusher.com/docs/channels/server_api/webhooks/",
    secret_hint: "the Channels app's secret (dashboard > the app > App Keys)",
};

pub(super) const SENDBIRD: Preset = Preset {
    name: "sendbird",
    title: "Sendbird",
    scheme: body_hmac(&[("x-sendbird-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/category")],
    handshake: Handshake::None,
    docs: "https://sendbird.com/docs/chat/platform-api/v3/webhook/webhook-overview",
    secret_hint:
        "the application's master API token (Dashboard > Settings > Application > General)",
};
