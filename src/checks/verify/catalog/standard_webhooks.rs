//! The catalog's presets of one family: Standard Webhooks and the providers built on it (`verify/standard_webhooks.rs`).

use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, Scheme, SecretForm};

pub(super) const STANDARD_WEBHOOKS: Preset = Preset {
    name: "standard-webhooks",
    title: "Standard Webhooks",
    scheme: Scheme::StandardWebhooks { prefix: "webhook" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("webhook-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs:
        "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
    secret_hint: "the sender's signing secret, whsec_ and base64",
};

pub(super) const SVIX: Preset = Preset {
    name: "svix",
    title: "Svix",
    scheme: Scheme::StandardWebhooks { prefix: "svix" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("svix-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://docs.svix.com/receiving/verifying-payloads/how-manual",
    secret_hint: "the endpoint's Signing Secret (whsec_…) in the sender's Svix app portal",
};

pub(super) const CLERK: Preset = Preset {
    name: "clerk",
    title: "Clerk",
    scheme: Scheme::StandardWebhooks { prefix: "svix" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("svix-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://clerk.com/docs/webhooks/sync-data",
    secret_hint: "the endpoint's Signing Secret (whsec_…) in the Clerk Dashboard > Webhooks",
};

pub(super) const RESEND: Preset = Preset {
    name: "resend",
    title: "Resend",
    scheme: Scheme::StandardWebhooks { prefix: "svix" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("svix-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests",
    secret_hint: "the webhook's Signing Secret (whsec_…) in Resend's Webhooks page",
};

pub(super) const OPENAI: Preset = Preset {
    name: "openai",
    title: "OpenAI",
    scheme: Scheme::StandardWebhooks { prefix: "webhook" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("webhook-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://platform.openai.com/docs/guides/webhooks",
    secret_hint: "the endpoint's signing secret (whsec_…), shown once when it is created (platform.openai.com > project Settings > Webhooks)",
};

pub(super) const REPLICATE: Preset = Preset {
    name: "replicate",
    title: "Replicate",
    scheme: Scheme::StandardWebhooks { prefix: "webhook" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("webhook-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://replicate.com/docs/topics/webhooks/verify-webhook",
    secret_hint: "the account's webhook signing key (whsec_…), from GET https://api.replicate.com/v1/webhooks/default/secret",
};

pub(super) const LIVEBLOCKS: Preset = Preset {
    name: "liveblocks",
    title: "Liveblocks",
    scheme: Scheme::StandardWebhooks { prefix: "webhook" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("webhook-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://liveblocks.io/docs/platform/webhooks",
    secret_hint: "the endpoint's Signing secret (whsec_…) in the project's Webhooks tab",
};

pub(super) const SUPABASE: Preset = Preset {
    name: "supabase",
    title: "Supabase (Auth hooks)",
    scheme: Scheme::StandardWebhooks { prefix: "webhook" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("webhook-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://supabase.com/docs/guides/auth/auth-hooks",
    secret_hint: "the hook's secret (v1,whsec_…, written as shown) from Authentication > Hooks > Generate secret",
};

pub(super) const POLAR: Preset = Preset {
    name: "polar",
    title: "Polar",
    // Standard Webhooks headers, but the HMAC key is the secret's text itself: Polar's
    // SDK base64-encodes it before handing it to the standardwebhooks library.
    scheme: Scheme::StandardWebhooks { prefix: "webhook" },
    secret: SecretForm::Text,
    event_id: &[H("webhook-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://docs.polar.sh/integrate/webhooks/delivery",
    secret_hint:
        "the endpoint's secret (Organization Settings > Webhooks > the endpoint), used as text",
};
