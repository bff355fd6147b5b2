//! The catalog's presets of one family: Standard Webhooks and the providers built on it (`verify/standard_webhooks.rs`).

use super::Src::{Header as H, Json as J};
use super::{Preset, Scheme, SecretForm};

pub const STANDARD_WEBHOOKS: Preset = Preset {
    name: "standard-webhooks",
    title: "Standard Webhooks",
    scheme: Scheme::StandardWebhooks { prefix: "webhook" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("webhook-id")],
    event_type: &[J("/type")],
    docs:
        "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
    secret_hint: "the sender's signing secret, whsec_ and base64",
};

pub const SVIX: Preset = Preset {
    name: "svix",
    title: "Svix",
    scheme: Scheme::StandardWebhooks { prefix: "svix" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("svix-id")],
    event_type: &[J("/type")],
    docs: "https://docs.svix.com/receiving/verifying-payloads/how-manual",
    secret_hint: "the endpoint's Signing Secret (whsec_…) in the sender's Svix app portal",
};

pub const CLERK: Preset = Preset {
    name: "clerk",
    title: "Clerk",
    scheme: Scheme::StandardWebhooks { prefix: "svix" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("svix-id")],
    event_type: &[J("/type")],
    docs: "https://clerk.com/docs/webhooks/sync-data",
    secret_hint: "the endpoint's Signing Secret (whsec_…) in the Clerk Dashboard > Webhooks",
};

pub const RESEND: Preset = Preset {
    name: "resend",
    title: "Resend",
    scheme: Scheme::StandardWebhooks { prefix: "svix" },
    secret: SecretForm::StandardWebhooks,
    event_id: &[H("svix-id")],
    event_type: &[J("/type")],
    docs: "https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests",
    secret_hint: "the webhook's Signing Secret (whsec_…) in Resend's Webhooks page",
};
