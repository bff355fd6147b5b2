//! The catalog's presets of the families that sign more than headers and a body: the
//! URL and sorted form fields (`verify/url_signed.rs`), the signature inside the body
//! (`verify/in_body.rs`), a canonical request (`verify/canonical.rs`).

use super::super::in_body::InBodySpec;
use super::super::url_signed::FormSpec;
use super::super::Algorithm::Sha1;
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, Scheme, SecretForm};

pub(super) const TWILIO: Preset = Preset {
    name: "twilio",
    title: "Twilio",
    scheme: Scheme::Form(&FormSpec {
        header: "x-twilio-signature",
        algorithm: Sha1,
        body_hash_param: Some("bodySHA256"),
    }),
    secret: SecretForm::Text,
    event_id: &[H("i-twilio-idempotency-token")],
    event_type: &[],
    handshake: Handshake::None,
    docs: "https://www.twilio.com/docs/usage/webhooks/webhooks-security",
    secret_hint: "the account's Auth Token (Console > Account > API keys & tokens)",
};

pub(super) const MANDRILL: Preset = Preset {
    name: "mandrill",
    title: "Mandrill (Mailchimp Transactional)",
    scheme: Scheme::Form(&FormSpec {
        header: "x-mandrill-signature",
        algorithm: Sha1,
        body_hash_param: None,
    }),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[],
    handshake: Handshake::None,
    docs: "https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests",
    secret_hint: "the webhook's Key (Mandrill > Settings > Webhooks)",
};

pub(super) const MAILGUN: Preset = Preset {
    name: "mailgun",
    title: "Mailgun",
    scheme: Scheme::InBody(InBodySpec::Mailgun),
    secret: SecretForm::Text,
    event_id: &[J("/event-data/id")],
    event_type: &[J("/event-data/event")],
    handshake: Handshake::None,
    docs: "https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks",
    secret_hint: "the HTTP webhook signing key (Sending > Webhooks, or Account > API Security)",
};

pub(super) const ADYEN: Preset = Preset {
    name: "adyen",
    title: "Adyen (standard notifications)",
    scheme: Scheme::InBody(InBodySpec::Adyen),
    secret: SecretForm::Hex,
    // A retried notification is the same body: its hash names it.
    event_id: &[],
    event_type: &[J("/notificationItems/0/NotificationRequestItem/eventCode")],
    handshake: Handshake::None,
    docs: "https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures/",
    secret_hint: "the webhook's HMAC key, hex, generated in the Customer Area (Developers > Webhooks > the webhook > Security)",
};

pub(super) const MICROSOFT_GRAPH: Preset = Preset {
    name: "microsoft-graph",
    title: "Microsoft Graph (change notifications)",
    // Graph signs nothing: each notification carries the clientState the subscription
    // was created with, compared in constant time.
    scheme: Scheme::InBody(InBodySpec::GraphClientState),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/value/0/changeType")],
    handshake: Handshake::GraphValidation,
    docs: "https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks",
    secret_hint: "the clientState you set when creating the subscription (POST /subscriptions)",
};

pub(super) const CONTENTFUL: Preset = Preset {
    name: "contentful",
    title: "Contentful",
    // The method, path, the headers it names and the body; the path is the one
    // Contentful called (the route's `public_url`'s path behind a rewriting proxy).
    scheme: Scheme::Canonical,
    secret: SecretForm::Text,
    event_id: &[H("x-contentful-idempotency-key")],
    event_type: &[H("x-contentful-topic")],
    handshake: Handshake::None,
    docs: "https://www.contentful.com/developers/docs/webhooks/request-verification/",
    secret_hint: "the space's webhook signing secret, 64 characters (Settings > Webhooks > Settings > Enable request verification)",
};

pub(super) const PAYPAL: Preset = Preset {
    name: "paypal",
    title: "PayPal (REST webhooks)",
    // RSA over the transmission id and time, the route's `webhook_id` and the body's
    // CRC32, checked against the pinned certificate in `secrets`; the certificate URL
    // in the request is never fetched.
    scheme: Scheme::Certificate,
    secret: SecretForm::Certificate,
    event_id: &[J("/id")],
    event_type: &[J("/event_type")],
    handshake: Handshake::None,
    docs: "https://developer.paypal.com/api/rest/webhooks/rest/#link-verifysignature",
    secret_hint: "PayPal's signing certificate, PEM, downloaded once from the PAYPAL-CERT-URL of a delivery you trust; and the webhook's ID (Developer Dashboard > Apps & Credentials > the app > Webhooks) as the route's webhook_id",
};
