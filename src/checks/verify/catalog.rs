//! The provider catalog, as data: one entry per provider (its scheme family and that
//! family's parameters, how its secret is read, where its event id and type are, its
//! documentation and where a user finds the secret), in a file per family under
//! `catalog/`, listed in [`PRESETS`]. Adding a provider whose scheme fits a family is one
//! entry there, one line in [`PRESETS`] and one test. `hookgate providers` lists it; the README's
//! provider table and docs/providers.md are checked against it (`tests/it/interop.rs`).

use http::HeaderName;

use super::hmac::{Encoding, TsFormat};
use super::keyed::KeyedSpec;
use super::Algorithm;
use crate::checks::event::Source;

mod body_devtools;
mod body_messaging;
mod body_payments;
mod hmac;
mod hmac_timed;
mod keyed;
mod public_key;
mod standard_webhooks;
mod token;
mod url_signed;

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
    /// The endpoint check the gateway answers itself (`pipeline/handshake.rs`).
    pub handshake: Handshake,
}

/// A provider's endpoint check, answered by the gateway (docs/handshakes.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    None,
    /// Slack: a signed POST `{"type":"url_verification","challenge":C}` gets `{"challenge":C}`.
    SlackUrlVerification,
    /// Zoom: a signed POST `{"event":"endpoint.url_validation","payload":{"plainToken":P}}`
    /// gets `{"plainToken":P,"encryptedToken":hex HMAC-SHA256(secret, P)}`.
    ZoomUrlValidation,
    /// Twitch: a signed POST with `Twitch-Eventsub-Message-Type:
    /// webhook_callback_verification` gets its body's `challenge`, as text.
    TwitchCallback,
    /// Meta: `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` gets C when T is
    /// the route's `verify_token`.
    MetaHubChallenge,
    /// Okta: a GET with `X-Okta-Verification-Challenge: C` and the route's authorization
    /// header gets `{"verification":C}`.
    OktaVerification,
    /// Dropbox, Nylas: `GET ?challenge=C` gets C, as text.
    EchoChallenge,
    /// X: `GET ?crc_token=T` gets `{"response_token":"sha256=" base64 HMAC-SHA256(secret, T)}`.
    XCrc,
    /// Microsoft Graph: `POST ?validationToken=T` gets T, as text.
    GraphValidation,
    /// Mailchimp: a GET on saving the webhook gets 200 once the URL's token matches.
    ValidationGet,
}

/// A scheme family and its parameters (each family is a file of `verify/`).
pub enum Scheme {
    /// `hmac.rs`: HMAC over a template, the signature in one of `headers` (name,
    /// algorithm, prefix), optionally with a timestamp header checked for freshness.
    Hmac {
        headers: &'static [(&'static str, Algorithm, &'static str)],
        encoding: Encoding,
        signed: &'static str,
        /// The signed timestamp's header, format and window in seconds (0: signed, but
        /// the provider documents no window, so freshness is not judged).
        timestamp: Option<(&'static str, TsFormat, u64)>,
        /// Several signatures in one header (one per active secret), split by this.
        separator: Option<&'static str>,
    },
    /// `keyed.rs`: `t=…,v1=…` style headers.
    Keyed(&'static KeyedSpec),
    /// `standard_webhooks.rs`, with headers `<prefix>-id`, `-timestamp`, `-signature`.
    StandardWebhooks { prefix: &'static str },
    /// `public_key.rs`: the provider's signature with its private key.
    PublicKey(&'static super::public_key::PublicKeySpec),
    /// `token.rs`: the shared secret itself (a header, Basic credentials, the URL),
    /// compared in constant time.
    Token(super::token::TokenIn),
    /// `url_signed.rs`: HMAC of the URL and the sorted form fields (Twilio).
    Form(&'static super::url_signed::FormSpec),
    /// `in_body.rs`: the signature inside the JSON body (Mailgun, Adyen).
    InBody(super::in_body::InBodySpec),
    /// `canonical.rs`: a signed canonical request (Contentful).
    Canonical,
    /// `certificate.rs`: RSA against a pinned certificate, over the route's `webhook_id`
    /// (PayPal).
    Certificate,
}

/// How a configured secret becomes key bytes.
#[derive(Clone, Copy)]
pub enum SecretForm {
    /// The text as written.
    Text,
    /// `whsec_` and base64.
    StandardWebhooks,
    /// Hex, decoded to bytes (Adyen's HMAC key).
    Hex,
    /// Base64, decoded to bytes (Airtable's macSecretBase64).
    Base64,
    /// A PEM certificate to trust (PayPal's, pinned).
    Certificate,
    /// The provider's public key, in that algorithm's form.
    PublicKey(super::public_key::KeyAlgorithm),
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

/// Every preset, in the order `hookgate providers` lists them.
pub(crate) static PRESETS: &[&Preset] = &[
    &hmac::GITHUB,
    &token::GITLAB,
    &keyed::STRIPE,
    &hmac::SHOPIFY,
    &hmac::SLACK,
    &standard_webhooks::STANDARD_WEBHOOKS,
    &standard_webhooks::SVIX,
    &public_key::STANDARD_WEBHOOKS_V1A,
    &hmac::KONTENT,
    &standard_webhooks::CLERK,
    &standard_webhooks::RESEND,
    &keyed::PADDLE,
    &keyed::MUX,
    &hmac::COINBASE_COMMERCE,
    &hmac::BITBUCKET,
    &hmac::JIRA,
    &hmac::INTERCOM,
    &hmac::META,
    &hmac::LINEAR,
    &hmac::TYPEFORM,
    &hmac::PAGERDUTY,
    &hmac::SENTRY,
    &hmac::VERCEL,
    &keyed::CALENDLY,
    &public_key::DISCORD,
    &public_key::SENDGRID,
    &public_key::TELNYX,
    &hmac::DOCUSIGN,
    &hmac::XERO,
    &hmac::ZENDESK,
    &hmac_timed::SQUARE,
    &hmac_timed::HUBSPOT,
    &hmac_timed::ZOOM,
    &hmac_timed::TWITCH,
    &hmac::LEMON_SQUEEZY,
    &url_signed::TWILIO,
    &url_signed::MANDRILL,
    &url_signed::MAILGUN,
    &url_signed::ADYEN,
    &token::OKTA,
    &token::POSTMARK,
    &token::MAILCHIMP,
    &keyed::PERSONA,
    &keyed::WORKOS,
    &keyed::BUILDKITE,
    &keyed::SANITY,
    &standard_webhooks::OPENAI,
    &standard_webhooks::REPLICATE,
    &standard_webhooks::LIVEBLOCKS,
    &standard_webhooks::SUPABASE,
    &standard_webhooks::POLAR,
    &hmac_timed::REVOLUT,
    &hmac_timed::WEBFLOW,
    &hmac_timed::FRONT,
    &hmac_timed::CUSTOMER_IO,
    &hmac_timed::FRAME_IO,
    &hmac_timed::TRELLO,
    &hmac_timed::BOX,
    &token::TELEGRAM,
    &body_payments::RAZORPAY,
    &body_payments::PAYSTACK,
    &body_payments::CHECKOUT_COM,
    &body_payments::GOCARDLESS,
    &body_payments::WOOCOMMERCE,
    &body_payments::SQUARESPACE,
    &body_payments::FASTSPRING,
    &body_payments::MODERN_TREASURY,
    &body_payments::DWOLLA,
    &body_payments::ONFIDO,
    &body_payments::EASYPOST,
    &body_payments::PUSHER,
    &body_payments::SENDBIRD,
    &body_devtools::HEROKU,
    &body_devtools::CIRCLECI,
    &body_devtools::GITEA,
    &body_devtools::GOGS,
    &body_devtools::TERRAFORM_CLOUD,
    &body_devtools::PULUMI,
    &body_devtools::SONARQUBE,
    &body_devtools::SNYK,
    &body_devtools::DISCOURSE,
    &body_devtools::STORYBLOK,
    &body_devtools::CAL_COM,
    &body_devtools::ASANA,
    &body_devtools::AIRTABLE,
    &body_devtools::CLICKUP,
    &body_devtools::TODOIST,
    &body_messaging::HELP_SCOUT,
    &body_messaging::NYLAS,
    &body_messaging::WEBEX,
    &body_messaging::LINE,
    &body_messaging::VIBER,
    &body_messaging::DROPBOX,
    &body_messaging::SEGMENT,
    &body_messaging::ATTIO,
    &body_messaging::OUTREACH,
    &hmac::X,
    &url_signed::CONTENTFUL,
    &url_signed::PAYPAL,
    &url_signed::MICROSOFT_GRAPH,
    &hmac::GENERIC_HMAC,
];
