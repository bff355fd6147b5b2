//! The provider catalog, as data: one entry per provider (its scheme family and that
//! family's parameters, how its secret is read, where its event id and type are, its
//! documentation and where a user finds the secret). Adding a provider whose scheme fits
//! a family is one entry here and one test. `hookgate providers` lists it; the README's
//! provider table is checked against it (`tests/it/cli.rs`).

use http::HeaderName;

use super::hmac::Encoding;
use super::keyed::{KeyedSpec, STRIPE};
use super::Algorithm;
use crate::event::Source;

pub struct Preset {
    pub name: &'static str,
    /// The provider's own spelling, for listings.
    pub title: &'static str,
    pub scheme: Scheme,
    pub secret: SecretForm,
    /// Where the event id is, first found wins (else the body's SHA-256).
    pub event_id: &'static [Src],
    pub event_type: &'static [Src],
    pub docs: &'static str,
    /// Where the provider shows the secret to its user.
    pub secret_hint: &'static str,
}

/// A scheme family and its parameters (each family is a file of `verify/`).
pub enum Scheme {
    /// `hmac.rs`: HMAC over a template, the signature in one of `headers` (name,
    /// algorithm, prefix), optionally with a timestamp header checked for freshness.
    Hmac {
        headers: &'static [(&'static str, Algorithm, &'static str)],
        encoding: Encoding,
        signed: &'static str,
        timestamp: Option<&'static str>,
        /// Several signatures in one header (one per active secret), split by this.
        separator: Option<&'static str>,
    },
    /// `keyed.rs`: `t=…,v1=…` style headers.
    Keyed(&'static KeyedSpec),
    /// `standard_webhooks.rs`, with headers `<prefix>-id`, `-timestamp`, `-signature`.
    StandardWebhooks { prefix: &'static str },
    /// `token.rs`: a shared token in a header, compared in constant time.
    Token { header: &'static str },
}

/// How a configured secret becomes key bytes.
#[derive(Clone, Copy)]
pub enum SecretForm {
    /// The text as written.
    Text,
    /// `whsec_` and base64.
    StandardWebhooks,
}

pub enum Src {
    Header(&'static str),
    Json(&'static str),
}

impl Src {
    pub fn source(&self) -> Source {
        match self {
            Src::Header(h) => Source::Header(HeaderName::from_static(h)),
            Src::Json(p) => Source::Json(p.to_string()),
        }
    }

    /// `header:NAME` or `json:/pointer`, for listings.
    pub fn describe(&self) -> String {
        match self {
            Src::Header(h) => format!("header:{h}"),
            Src::Json(p) => format!("json:{p}"),
        }
    }
}

const MUX: KeyedSpec = KeyedSpec {
    header: "mux-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
};

const PADDLE: KeyedSpec = KeyedSpec {
    header: "paddle-signature",
    separator: b';',
    ts_key: "ts",
    sig_key: "h1",
    joiner: ":",
};

use Algorithm::{Sha1, Sha256};

/// The plainest HMAC scheme: the body, one signature in one of `headers`.
const fn body_hmac(
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

const CALENDLY: KeyedSpec = KeyedSpec {
    header: "calendly-webhook-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
};
use Src::{Header as H, Json as J};

pub static PRESETS: &[Preset] = &[
    Preset {
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
        docs: "https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries",
        secret_hint: "the Secret you type in the repository's or organization's Settings > Webhooks",
    },
    Preset {
        name: "gitlab",
        title: "GitLab",
        scheme: Scheme::Token { header: "x-gitlab-token" },
        secret: SecretForm::Text,
        event_id: &[H("idempotency-key")],
        event_type: &[H("x-gitlab-event")],
        docs: "https://docs.gitlab.com/user/project/integrations/webhooks/",
        secret_hint: "the Secret token you type in the project's Settings > Webhooks",
    },
    Preset {
        name: "stripe",
        title: "Stripe",
        scheme: Scheme::Keyed(&STRIPE),
        secret: SecretForm::Text,
        event_id: &[J("/id")],
        event_type: &[J("/type")],
        docs: "https://docs.stripe.com/webhooks#verify-events",
        secret_hint: "the endpoint's Signing secret (whsec_…) in the Dashboard's Workbench > Webhooks",
    },
    Preset {
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
        docs: "https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify",
        secret_hint: "the app's client secret (Partner Dashboard > the app > API credentials)",
    },
    Preset {
        name: "slack",
        title: "Slack",
        scheme: Scheme::Hmac {
            headers: &[("x-slack-signature", Sha256, "v0=")],
            encoding: Encoding::Hex,
            signed: "v0:{timestamp}:{body}",
            timestamp: Some("x-slack-request-timestamp"),
            separator: None,
        },
        secret: SecretForm::Text,
        event_id: &[J("/event_id")],
        event_type: &[J("/event/type"), J("/type")],
        docs: "https://docs.slack.dev/authentication/verifying-requests-from-slack/",
        secret_hint: "the app's Signing Secret (api.slack.com/apps > the app > Basic Information)",
    },
    Preset {
        name: "standard-webhooks",
        title: "Standard Webhooks",
        scheme: Scheme::StandardWebhooks { prefix: "webhook" },
        secret: SecretForm::StandardWebhooks,
        event_id: &[H("webhook-id")],
        event_type: &[J("/type")],
        docs: "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
        secret_hint: "the sender's signing secret, whsec_ and base64",
    },
    Preset {
        name: "svix",
        title: "Svix",
        scheme: Scheme::StandardWebhooks { prefix: "svix" },
        secret: SecretForm::StandardWebhooks,
        event_id: &[H("svix-id")],
        event_type: &[J("/type")],
        docs: "https://docs.svix.com/receiving/verifying-payloads/how-manual",
        secret_hint: "the endpoint's Signing Secret (whsec_…) in the sender's Svix app portal",
    },
    Preset {
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
        event_type: &[J("/message/type"), J("/notifications/0/message/object_type")],
        docs: "https://kontent.ai/learn/docs/webhooks/webhooks-management/verify-webhook-notifications",
        secret_hint: "the webhook's Secret in Kontent.ai's Project settings > Webhooks",
    },
    Preset {
        name: "clerk",
        title: "Clerk",
        scheme: Scheme::StandardWebhooks { prefix: "svix" },
        secret: SecretForm::StandardWebhooks,
        event_id: &[H("svix-id")],
        event_type: &[J("/type")],
        docs: "https://clerk.com/docs/webhooks/sync-data",
        secret_hint: "the endpoint's Signing Secret (whsec_…) in the Clerk Dashboard > Webhooks",
    },
    Preset {
        name: "resend",
        title: "Resend",
        scheme: Scheme::StandardWebhooks { prefix: "svix" },
        secret: SecretForm::StandardWebhooks,
        event_id: &[H("svix-id")],
        event_type: &[J("/type")],
        docs: "https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests",
        secret_hint: "the webhook's Signing Secret (whsec_…) in Resend's Webhooks page",
    },
    Preset {
        name: "paddle",
        title: "Paddle Billing",
        scheme: Scheme::Keyed(&PADDLE),
        secret: SecretForm::Text,
        event_id: &[J("/event_id")],
        event_type: &[J("/event_type")],
        docs: "https://developer.paddle.com/webhooks/signature-verification",
        secret_hint: "the notification destination's secret key in Developer tools > Notifications",
    },
    Preset {
        name: "mux",
        title: "Mux",
        scheme: Scheme::Keyed(&MUX),
        secret: SecretForm::Text,
        event_id: &[J("/id")],
        event_type: &[J("/type")],
        docs: "https://www.mux.com/docs/core/verify-webhook-signatures",
        secret_hint: "the webhook's Signing Secret in the Mux Dashboard > Settings > Webhooks",
    },
    Preset {
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
        docs: "https://docs.cdp.coinbase.com/commerce/docs/webhooks-security",
        secret_hint: "the Shared Secret under Settings > Webhook subscriptions",
    },
    Preset {
        name: "bitbucket",
        title: "Bitbucket Cloud",
        // Bitbucket's X-Hub-Signature is SHA-256 (GitHub's header of that name is SHA-1).
        scheme: body_hmac(&[("x-hub-signature", Sha256, "sha256=")], Encoding::Hex),
        secret: SecretForm::Text,
        event_id: &[H("x-request-uuid")],
        event_type: &[H("x-event-key")],
        docs: "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/",
        secret_hint: "the Secret you set on the repository's webhook (Repository settings > Webhooks)",
    },
    Preset {
        name: "jira",
        title: "Jira Cloud (admin webhooks)",
        scheme: body_hmac(&[("x-hub-signature", Sha256, "sha256=")], Encoding::Hex),
        secret: SecretForm::Text,
        event_id: &[H("x-atlassian-webhook-identifier")],
        event_type: &[J("/webhookEvent")],
        docs: "https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks",
        secret_hint: "the Secret you set when creating the webhook (Jira settings > System > WebHooks)",
    },
    Preset {
        name: "intercom",
        title: "Intercom",
        // SHA-1 is Intercom's only scheme.
        scheme: body_hmac(&[("x-hub-signature", Sha1, "sha1=")], Encoding::Hex),
        secret: SecretForm::Text,
        event_id: &[J("/id")],
        event_type: &[J("/topic")],
        docs: "https://developers.intercom.com/docs/webhooks/setting-up-webhooks",
        secret_hint: "the app's client_secret (Developer Hub > the app > Basic information)",
    },
    Preset {
        name: "meta",
        title: "Meta (Facebook, Instagram, WhatsApp)",
        scheme: body_hmac(&[("x-hub-signature-256", Sha256, "sha256=")], Encoding::Hex),
        secret: SecretForm::Text,
        event_id: &[],
        event_type: &[J("/object")],
        docs: "https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
        secret_hint: "the App Secret (App Dashboard > App settings > Basic)",
    },
    Preset {
        name: "linear",
        title: "Linear",
        scheme: body_hmac(&[("linear-signature", Sha256, "")], Encoding::Hex),
        secret: SecretForm::Text,
        event_id: &[H("linear-delivery")],
        event_type: &[H("linear-event"), J("/type")],
        docs: "https://linear.app/developers/webhooks",
        secret_hint: "the webhook's signing secret (Settings > API > Webhooks > the webhook)",
    },
    Preset {
        name: "typeform",
        title: "Typeform",
        scheme: body_hmac(&[("typeform-signature", Sha256, "sha256=")], Encoding::Base64),
        secret: SecretForm::Text,
        event_id: &[J("/event_id")],
        event_type: &[J("/event_type")],
        docs: "https://www.typeform.com/developers/webhooks/secure-your-webhooks/",
        secret_hint: "the secret you set on the form's webhook (Connect > Webhooks > Edit)",
    },
    Preset {
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
        docs: "https://developer.pagerduty.com/docs/webhooks/webhook-signatures/",
        secret_hint: "the subscription's secret, shown once when the webhook subscription is created",
    },
    Preset {
        name: "sentry",
        title: "Sentry (integration platform)",
        scheme: body_hmac(&[("sentry-hook-signature", Sha256, "")], Encoding::Hex),
        secret: SecretForm::Text,
        event_id: &[H("request-id")],
        event_type: &[H("sentry-hook-resource")],
        docs: "https://docs.sentry.io/organization/integrations/integration-platform/webhooks/",
        secret_hint: "the integration's Client Secret (Settings > Developer Settings > the integration)",
    },
    Preset {
        name: "vercel",
        title: "Vercel",
        // SHA-1 is Vercel's only scheme.
        scheme: body_hmac(&[("x-vercel-signature", Sha1, "")], Encoding::Hex),
        secret: SecretForm::Text,
        event_id: &[J("/id")],
        event_type: &[J("/type")],
        docs: "https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks",
        secret_hint: "the webhook's secret, shown once when it is created (Team settings > Webhooks)",
    },
    Preset {
        name: "calendly",
        title: "Calendly",
        scheme: Scheme::Keyed(&CALENDLY),
        secret: SecretForm::Text,
        event_id: &[],
        event_type: &[J("/event")],
        docs: "https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures",
        secret_hint: "the signing_key you give when creating the webhook subscription (or the OAuth app's webhook signing key)",
    },
    Preset {
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
        docs: "https://developers.docusign.com/platform/webhooks/connect/validate/",
        secret_hint: "a Connect HMAC key (Settings > Connect > Connect Keys), shown once",
    },
    Preset {
        name: "xero",
        title: "Xero",
        scheme: body_hmac(&[("x-xero-signature", Sha256, "")], Encoding::Base64),
        secret: SecretForm::Text,
        event_id: &[],
        event_type: &[J("/events/0/eventType")],
        docs: "https://developer.xero.com/documentation/guides/webhooks/overview/",
        secret_hint: "the app's Webhook key (developer.xero.com > My Apps > the app > Webhooks)",
    },
    Preset {
        name: "zendesk",
        title: "Zendesk",
        // The timestamp is ISO 8601 and signed verbatim before the body; it is part of
        // what is signed, not checked for freshness (Zendesk documents no window).
        scheme: Scheme::Hmac {
            headers: &[("x-zendesk-webhook-signature", Sha256, "")],
            encoding: Encoding::Base64,
            signed: "{header:x-zendesk-webhook-signature-timestamp}{body}",
            timestamp: None,
            separator: None,
        },
        secret: SecretForm::Text,
        event_id: &[H("x-zendesk-webhook-invocation-id")],
        event_type: &[J("/type")],
        docs: "https://developer.zendesk.com/documentation/webhooks/verifying/",
        secret_hint: "the webhook's signing secret (Admin Center > Apps and integrations > Webhooks > the webhook > Reveal secret)",
    },
    Preset {
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
        docs: "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#signature-scheme",
        secret_hint: "the secret you share with the sender; it signs the body with HMAC-SHA256 into X-Signature: sha256=<hex>",
    },
];
