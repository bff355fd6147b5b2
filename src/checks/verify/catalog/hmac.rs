//! The catalog's presets of one family: HMAC over a template (`verify/hmac.rs`).

use super::super::hmac::{
    Encoding,
    TsFormat::{Rfc3339, Secs},
};
use super::super::Algorithm::{self, Sha1, Sha256};
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, Scheme, SecretForm};

/// The plainest HMAC scheme: the body, one signature in one of `headers`.
pub(super) const fn body_hmac(
    headers: &'static [(&'static str, Algorithm, &'static str)],
    encoding: Encoding,
) -> Scheme {
    Scheme::Hmac {
        headers,
        encoding,
        signed: "{body}",
        timestamp: None,
        separator: None,
    }
}

pub(super) const GITHUB: Preset = Preset {
    name: "github",
    title: "GitHub",
    // SHA-256 only: GitHub has sent X-Hub-Signature-256 with every delivery since
    // 2020, and accepting the SHA-1 header alone would let a request downgrade to the
    // weaker MAC. A sender that signs only with SHA-1 gets a custom `verify: hmac`.
    scheme: Scheme::Hmac {
        headers: &[("x-hub-signature-256", Sha256, "sha256=")],
        encoding: Encoding::Hex,
        signed: "{body}",
        timestamp: None,
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[H("x-github-delivery")],
    event_type: &[H("x-github-event")],
    handshake: Handshake::None,
    docs: "https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries",
    secret_hint: "the Secret you type in the repository's or organization's Settings > Webhooks",
};

pub(super) const SHOPIFY: Preset = Preset {
    name: "shopify",
    title: "Shopify",
    scheme: Scheme::Hmac {
        headers: &[
            ("x-shopify-hmac-sha256", Sha256, ""),
            ("shopify-hmac-sha256", Sha256, ""),
        ],
        encoding: Encoding::Base64,
        signed: "{body}",
        timestamp: None,
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[H("x-shopify-event-id"), H("shopify-event-id")],
    event_type: &[H("x-shopify-topic"), H("shopify-topic")],
    handshake: Handshake::None,
    docs: "https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify",
    secret_hint: "the app's client secret (Partner Dashboard > the app > API credentials)",
};

pub(super) const SLACK: Preset = Preset {
    name: "slack",
    title: "Slack",
    scheme: Scheme::Hmac {
        headers: &[("x-slack-signature", Sha256, "v0=")],
        encoding: Encoding::Hex,
        signed: "v0:{timestamp}:{body}",
        timestamp: Some(("x-slack-request-timestamp", Secs, 300)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[J("/event_id")],
    event_type: &[J("/event/type"), J("/type")],
    handshake: Handshake::SlackUrlVerification,
    docs: "https://docs.slack.dev/authentication/verifying-requests-from-slack/",
    secret_hint: "the app's Signing Secret (api.slack.com/apps > the app > Basic Information)",
};

pub(super) const KONTENT: Preset = Preset {
    name: "kontent",
    title: "Kontent.ai",
    scheme: Scheme::Hmac {
        headers: &[
            ("x-kontent-ai-signature", Sha256, ""),
            ("x-kc-signature", Sha256, ""),
        ],
        encoding: Encoding::Base64,
        signed: "{body}",
        timestamp: None,
        separator: None,
    },
    // Kontent's base64-looking secret is used as UTF-8 text (providers.md).
    secret: SecretForm::Text,
    event_id: &[J("/message/id"), J("/notifications/0/message/id")],
    event_type: &[
        J("/message/type"),
        J("/notifications/0/message/object_type"),
    ],
    handshake: Handshake::None,
    docs: "https://kontent.ai/learn/docs/webhooks/webhooks-management/verify-webhook-notifications",
    secret_hint: "the webhook's Secret in Kontent.ai's Project settings > Webhooks",
};

pub(super) const COINBASE_COMMERCE: Preset = Preset {
    name: "coinbase-commerce",
    title: "Coinbase Commerce",
    scheme: Scheme::Hmac {
        headers: &[("x-cc-webhook-signature", Sha256, "")],
        encoding: Encoding::Hex,
        signed: "{body}",
        timestamp: None,
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[J("/event/id"), J("/id")],
    event_type: &[J("/event/type"), J("/type")],
    handshake: Handshake::None,
    docs: "https://docs.cdp.coinbase.com/commerce/docs/webhooks-security",
    secret_hint: "the Shared Secret under Settings > Webhook subscriptions",
};

pub(super) const BITBUCKET: Preset = Preset {
    name: "bitbucket",
    title: "Bitbucket Cloud",
    // Bitbucket's X-Hub-Signature is SHA-256 (GitHub's header of that name is SHA-1).
    scheme: body_hmac(&[("x-hub-signature", Sha256, "sha256=")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("x-request-uuid")],
    event_type: &[H("x-event-key")],
    handshake: Handshake::None,
    docs: "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/",
    secret_hint: "the Secret you set on the repository's webhook (Repository settings > Webhooks)",
};

pub(super) const JIRA: Preset = Preset {
    name: "jira",
    title: "Jira Cloud (admin webhooks)",
    scheme: body_hmac(&[("x-hub-signature", Sha256, "sha256=")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("x-atlassian-webhook-identifier")],
    event_type: &[J("/webhookEvent")],
    handshake: Handshake::None,
    docs: "https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks",
    secret_hint: "the Secret you set when creating the webhook (Jira settings > System > WebHooks)",
};

pub(super) const INTERCOM: Preset = Preset {
    name: "intercom",
    title: "Intercom",
    // SHA-1 is Intercom's only scheme.
    scheme: body_hmac(&[("x-hub-signature", Sha1, "sha1=")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/topic")],
    handshake: Handshake::None,
    docs: "https://developers.intercom.com/docs/webhooks/setting-up-webhooks",
    secret_hint: "the app's client_secret (Developer Hub > the app > Basic information)",
};

pub(super) const META: Preset = Preset {
    name: "meta",
    title: "Meta (Facebook, Instagram, WhatsApp)",
    scheme: body_hmac(&[("x-hub-signature-256", Sha256, "sha256=")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/object")],
    handshake: Handshake::MetaHubChallenge,
    docs: "https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
    secret_hint: "the App Secret (App Dashboard > App settings > Basic)",
};

pub(super) const LINEAR: Preset = Preset {
    name: "linear",
    title: "Linear",
    scheme: body_hmac(&[("linear-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("linear-delivery")],
    event_type: &[H("linear-event"), J("/type")],
    handshake: Handshake::None,
    docs: "https://linear.app/developers/webhooks",
    secret_hint: "the webhook's signing secret (Settings > API > Webhooks > the webhook)",
};

pub(super) const TYPEFORM: Preset = Preset {
    name: "typeform",
    title: "Typeform",
    scheme: body_hmac(
        &[("typeform-signature", Sha256, "sha256=")],
        Encoding::Base64,
    ),
    secret: SecretForm::Text,
    event_id: &[J("/event_id")],
    event_type: &[J("/event_type")],
    handshake: Handshake::None,
    docs: "https://www.typeform.com/developers/webhooks/secure-your-webhooks/",
    secret_hint: "the secret you set on the form's webhook (Connect > Webhooks > Edit)",
};

pub(super) const PAGERDUTY: Preset = Preset {
    name: "pagerduty",
    title: "PagerDuty (v3 webhooks)",
    scheme: Scheme::Hmac {
        headers: &[("x-pagerduty-signature", Sha256, "v1=")],
        encoding: Encoding::Hex,
        signed: "{body}",
        timestamp: None,
        separator: Some(","),
    },
    secret: SecretForm::Text,
    event_id: &[J("/event/id")],
    event_type: &[J("/event/event_type")],
    handshake: Handshake::None,
    docs: "https://developer.pagerduty.com/docs/webhooks/webhook-signatures/",
    secret_hint: "the subscription's secret, shown once when the webhook subscription is created",
};

pub(super) const SENTRY: Preset = Preset {
    name: "sentry",
    title: "Sentry (integration platform)",
    scheme: body_hmac(&[("sentry-hook-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("request-id")],
    event_type: &[H("sentry-hook-resource")],
    handshake: Handshake::None,
    docs: "https://docs.sentry.io/organization/integrations/integration-platform/webhooks/",
    secret_hint:
        "the integration's Client Secret (Settings > Developer Settings > the integration)",
};

pub(super) const VERCEL: Preset = Preset {
    name: "vercel",
    title: "Vercel",
    // SHA-1 is Vercel's only scheme.
    scheme: body_hmac(&[("x-vercel-signature", Sha1, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks",
    secret_hint: "the webhook's secret, shown once when it is created (Team settings > Webhooks)",
};

pub(super) const DOCUSIGN: Preset = Preset {
    name: "docusign",
    title: "DocuSign Connect",
    // One header per active HMAC key; any may match.
    scheme: body_hmac(
        &[
            ("x-docusign-signature-1", Sha256, ""),
            ("x-docusign-signature-2", Sha256, ""),
            ("x-docusign-signature-3", Sha256, ""),
        ],
        Encoding::Base64,
    ),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://developers.docusign.com/platform/webhooks/connect/validate/",
    secret_hint: "a Connect HMAC key (Settings > Connect > Connect Keys), shown once",
};

pub(super) const XERO: Preset = Preset {
    name: "xero",
    title: "Xero",
    scheme: body_hmac(&[("x-xero-signature", Sha256, "")], Encoding::Base64),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/events/0/eventType")],
    handshake: Handshake::None,
    docs: "https://developer.xero.com/documentation/guides/webhooks/overview/",
    secret_hint: "the app's Webhook key (developer.xero.com > My Apps > the app > Webhooks)",
};

pub(super) const ZENDESK: Preset = Preset {
    name: "zendesk",
    title: "Zendesk",
    // The timestamp is ISO 8601 and signed verbatim before the body; it is part of
    // what is signed, not checked for freshness (Zendesk documents no window).
    scheme: Scheme::Hmac {
        headers: &[("x-zendesk-webhook-signature", Sha256, "")],
        encoding: Encoding::Base64,
        signed: "{timestamp}{body}",
        timestamp: Some(("x-zendesk-webhook-signature-timestamp", Rfc3339, 0)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[H("x-zendesk-webhook-invocation-id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://developer.zendesk.com/documentation/webhooks/verifying/",
    secret_hint: "the webhook's signing secret (Admin Center > Apps and integrations > Webhooks > the webhook > Reveal secret)",
};

pub(super) const GENERIC_HMAC: Preset = Preset {
    name: "generic-hmac",
    title: "Any HMAC sender",
    scheme: Scheme::Hmac {
        headers: &[("x-signature", Sha256, "sha256=")],
        encoding: Encoding::Hex,
        signed: "{body}",
        timestamp: None,
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[],
    handshake: Handshake::None,
    docs: "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#signature-scheme",
    secret_hint: "the secret you share with the sender; it signs the body with HMAC-SHA256 into X-Signature: sha256=<hex>",
};

pub(super) const LEMON_SQUEEZY: Preset = Preset {
    name: "lemon-squeezy",
    title: "Lemon Squeezy",
    scheme: body_hmac(&[("x-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[H("x-event-name"), J("/meta/event_name")],
    handshake: Handshake::None,
    docs: "https://docs.lemonsqueezy.com/help/webhooks/signing-requests",
    secret_hint: "the Signing secret you set on the webhook (Settings > Webhooks)",
};

pub(super) const X: Preset = Preset {
    name: "x",
    title: "X (Account Activity API)",
    scheme: body_hmac(
        &[("x-twitter-webhooks-signature", Sha256, "sha256=")],
        Encoding::Base64,
    ),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[],
    handshake: Handshake::XCrc,
    docs: "https://docs.x.com/x-api/webhooks/introduction",
    secret_hint: "the app's API Key Secret (consumer secret) in the Developer Portal > the app > Keys and tokens",
};
