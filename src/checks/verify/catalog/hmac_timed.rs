//! The catalog's HMAC presets whose signed content is more than the body: a timestamp
//! (checked for freshness), the URL, or both (`verify/hmac.rs` templates).

use super::super::hmac::{
    Encoding,
    TsFormat::{Millis, Rfc3339, Secs},
};
use super::super::Algorithm::{Sha1, Sha256};
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, Scheme, SecretForm};

pub(super) const REVOLUT: Preset = Preset {
    name: "revolut",
    title: "Revolut Business",
    scheme: Scheme::Hmac {
        // During a secret's rotation, one signature per secret, comma-separated.
        headers: &[("revolut-signature", Sha256, "v1=")],
        encoding: Encoding::Hex,
        signed: "v1.{timestamp}.{body}",
        timestamp: Some(("revolut-request-timestamp", Millis, 300)),
        separator: Some(","),
    },
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://developer.revolut.com/docs/guides/manage-accounts/webhooks/verify-the-payload-signature",
    secret_hint: "the webhook's signing secret (wsk_…, used verbatim), returned when the webhook is created or retrieved through the API",
};

pub(super) const WEBFLOW: Preset = Preset {
    name: "webflow",
    title: "Webflow",
    scheme: Scheme::Hmac {
        headers: &[("x-webflow-signature", Sha256, "")],
        encoding: Encoding::Hex,
        signed: "{timestamp}:{body}",
        timestamp: Some(("x-webflow-timestamp", Millis, 300)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/triggerType")],
    handshake: Handshake::None,
    docs: "https://developers.webflow.com/data/docs/working-with-webhooks",
    secret_hint: "the OAuth app's Client Secret (Workspace settings > Apps & Integrations > App development), or the webhook's own signing secret",
};

pub(super) const FRONT: Preset = Preset {
    name: "front",
    title: "Front",
    scheme: Scheme::Hmac {
        headers: &[("x-front-signature", Sha256, "")],
        encoding: Encoding::Base64,
        signed: "{timestamp}:{body}",
        timestamp: Some(("x-front-request-timestamp", Millis, 300)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://dev.frontapp.com/docs/application-webhooks",
    secret_hint: "the app's App secret (Settings > Developers > the app > Basic information)",
};

pub(super) const CUSTOMER_IO: Preset = Preset {
    name: "customer-io",
    title: "Customer.io (reporting webhooks)",
    scheme: Scheme::Hmac {
        headers: &[("x-cio-signature", Sha256, "")],
        encoding: Encoding::Hex,
        signed: "v0:{timestamp}:{body}",
        timestamp: Some(("x-cio-timestamp", Secs, 300)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[J("/event_id")],
    event_type: &[J("/metric")],
    handshake: Handshake::None,
    docs: "https://docs.customer.io/api/webhooks/#section/Securely-Verifying-Requests",
    secret_hint: "the reporting webhook's signing key (Data & Integrations > Integrations > Reporting Webhooks > the webhook)",
};

pub(super) const FRAME_IO: Preset = Preset {
    name: "frame-io",
    title: "Frame.io",
    scheme: Scheme::Hmac {
        headers: &[("x-frameio-signature", Sha256, "v0=")],
        encoding: Encoding::Hex,
        signed: "v0:{timestamp}:{body}",
        timestamp: Some(("x-frameio-request-timestamp", Secs, 300)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://developer.adobe.com/frameio/guides/Webhooks/",
    secret_hint: "the webhook's signing secret, returned once when the webhook is created",
};

pub(super) const TRELLO: Preset = Preset {
    name: "trello",
    title: "Trello",
    // The body, then the callbackURL exactly as given when the webhook was created:
    // set the route's `public_url` to it.
    scheme: Scheme::Hmac {
        headers: &[("x-trello-webhook", Sha1, "")],
        encoding: Encoding::Base64,
        signed: "{body}{url}",
        timestamp: None,
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[J("/action/id")],
    event_type: &[J("/action/type")],
    handshake: Handshake::None,
    docs: "https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/",
    secret_hint: "the Power-Up's OAuth 1.0 secret (trello.com/power-ups/admin > the Power-Up > API key > Secret)",
};

pub(super) const BOX: Preset = Preset {
    name: "box",
    title: "Box",
    // Two signature keys (primary, secondary), each signing into its own header: put
    // both in `secrets`; the primary header is checked against every secret.
    scheme: Scheme::Hmac {
        headers: &[
            ("box-signature-primary", Sha256, ""),
            ("box-signature-secondary", Sha256, ""),
        ],
        encoding: Encoding::Base64,
        signed: "{body}{timestamp}",
        // Box: "reject if the timestamp is older than 10 minutes".
        timestamp: Some(("box-delivery-timestamp", Rfc3339, 600)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[J("/trigger")],
    handshake: Handshake::None,
    docs: "https://developer.box.com/guides/webhooks/v2/signatures-v2/",
    secret_hint: "the app's primary and secondary signature keys (Developer Console > the app > Webhooks > Manage signature keys)",
};

pub(super) const SQUARE: Preset = Preset {
    name: "square",
    title: "Square",
    // The notification URL exactly as configured on the subscription, then the body:
    // behind a proxy, set the route's `public_url` to that URL.
    scheme: Scheme::Hmac {
        headers: &[("x-square-hmacsha256-signature", Sha256, "")],
        encoding: Encoding::Base64,
        signed: "{url}{body}",
        timestamp: None,
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[J("/event_id")],
    event_type: &[J("/type")],
    handshake: Handshake::None,
    docs: "https://developer.squareup.com/docs/webhooks/step3validate",
    secret_hint: "the subscription's Signature Key (Developer Console > the application > Webhooks > Subscriptions > the subscription)",
};

pub(super) const HUBSPOT: Preset = Preset {
    name: "hubspot",
    title: "HubSpot (v3 signatures)",
    scheme: Scheme::Hmac {
        headers: &[("x-hubspot-signature-v3", Sha256, "")],
        encoding: Encoding::Base64,
        signed: "{method}{url}{body}{timestamp}",
        timestamp: Some(("x-hubspot-request-timestamp", Millis, 300)),
        separator: None,
    },
    secret: SecretForm::Text,
    // A delivery is an array of events; the first one's id and type name it.
    event_id: &[J("/0/eventId")],
    event_type: &[J("/0/subscriptionType")],
    handshake: Handshake::None,
    docs: "https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation",
    secret_hint: "the app's Client secret (developer account > Apps > the app > Auth)",
};

pub(super) const ZOOM: Preset = Preset {
    name: "zoom",
    title: "Zoom",
    scheme: Scheme::Hmac {
        headers: &[("x-zm-signature", Sha256, "v0=")],
        encoding: Encoding::Hex,
        signed: "v0:{timestamp}:{body}",
        timestamp: Some(("x-zm-request-timestamp", Secs, 300)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/event")],
    handshake: Handshake::ZoomUrlValidation,
    docs: "https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events",
    secret_hint: "the app's Secret Token (Zoom App Marketplace > the app > Features > Access)",
};

pub(super) const TWITCH: Preset = Preset {
    name: "twitch",
    title: "Twitch EventSub",
    scheme: Scheme::Hmac {
        headers: &[("twitch-eventsub-message-signature", Sha256, "sha256=")],
        encoding: Encoding::Hex,
        signed: "{id}{timestamp}{body}",
        // Twitch: "make sure the message isn't older than 10 minutes".
        timestamp: Some(("twitch-eventsub-message-timestamp", Rfc3339, 600)),
        separator: None,
    },
    secret: SecretForm::Text,
    event_id: &[H("twitch-eventsub-message-id")],
    event_type: &[H("twitch-eventsub-subscription-type")],
    handshake: Handshake::TwitchCallback,
    docs:
        "https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message",
    secret_hint:
        "the secret you passed in transport.secret when creating the EventSub subscription",
};
