//! The catalog's presets that sign the raw body alone with HMAC (`verify/hmac.rs`'s plainest
//! form), developer tools and work management. Each names its header, algorithm, prefix and encoding.

use super::super::hmac::Encoding;
use super::super::Algorithm::{Sha1, Sha256, Sha512};
use super::hmac::body_hmac;
use super::Src::{Header as H, Json as J};
use super::{Handshake, Preset, Scheme, SecretForm};

pub(super) const HEROKU: Preset = Preset {
    name: "heroku",
    title: "Heroku (app webhooks)",
    scheme: body_hmac(
        &[("heroku-webhook-hmac-sha256", Sha256, "")],
        Encoding::Base64,
    ),
    secret: SecretForm::Text,
    event_id: &[H("heroku-webhook-id"), J("/id")],
    event_type: &[J("/resource")],
    handshake: Handshake::None,
    docs: "https://devcenter.heroku.com/articles/app-webhooks#securing-webhook-requests",
    secret_hint: "the secret set with heroku webhooks:add --secret (or generated and shown once)",
};

pub(super) const CIRCLECI: Preset = Preset {
    name: "circleci",
    title: "CircleCI",
    // A comma-separated list of versioned signatures; v1 is HMAC-SHA256 of the body.
    scheme: Scheme::Hmac {
        headers: &[("circleci-signature", Sha256, "v1=")],
        encoding: Encoding::Hex,
        signed: "{body}",
        timestamp: None,
        separator: Some(","),
    },
    secret: SecretForm::Text,
    event_id: &[J("/id")],
    event_type: &[H("circleci-event-type"), J("/type")],
    handshake: Handshake::None,
    docs: "https://circleci.com/docs/outbound-webhooks/",
    secret_hint: "the webhook's Secret token (Project Settings > Webhooks > the webhook)",
};

pub(super) const GITEA: Preset = Preset {
    name: "gitea",
    title: "Gitea",
    // Gitea signs the JSON payload: use the application/json content type.
    scheme: body_hmac(&[("x-gitea-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("x-gitea-delivery")],
    event_type: &[H("x-gitea-event")],
    handshake: Handshake::None,
    docs: "https://docs.gitea.com/usage/webhooks",
    secret_hint: "the Secret you type on the repository's webhook (Settings > Webhooks > the webhook); content type application/json",
};

pub(super) const GOGS: Preset = Preset {
    name: "gogs",
    title: "Gogs",
    // Gogs signs the JSON payload: use the application/json content type.
    scheme: body_hmac(&[("x-gogs-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("x-gogs-delivery")],
    event_type: &[H("x-gogs-event")],
    handshake: Handshake::None,
    docs: "https://gogs.io/docs/features/webhook.html",
    secret_hint: "the Secret you type on the repository's webhook (Settings > Webhooks > the webhook); content type application/json",
};

pub(super) const TERRAFORM_CLOUD: Preset = Preset {
    name: "terraform-cloud",
    title: "HCP Terraform",
    // HCP Terraform signs with HMAC-SHA512.
    scheme: body_hmac(&[("x-tfe-notification-signature", Sha512, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/notifications/0/trigger")],
    handshake: Handshake::None,
    docs: "https://developer.hashicorp.com/terraform/cloud-docs/workspaces/settings/notifications#notification-authenticity",
    secret_hint: "the notification configuration's Token (Workspace > Settings > Notifications > the webhook)",
};

pub(super) const PULUMI: Preset = Preset {
    name: "pulumi",
    title: "Pulumi Cloud",
    scheme: body_hmac(&[("pulumi-webhook-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("pulumi-webhook-id")],
    event_type: &[H("pulumi-webhook-kind")],
    handshake: Handshake::None,
    docs: "https://www.pulumi.com/docs/pulumi-cloud/webhooks/",
    secret_hint: "the webhook's Secret (Organization or Stack Settings > Webhooks > the webhook)",
};

pub(super) const SONARQUBE: Preset = Preset {
    name: "sonarqube",
    title: "SonarQube",
    scheme: body_hmac(&[("x-sonar-webhook-hmac-sha256", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[J("/taskId")],
    event_type: &[J("/status")],
    handshake: Handshake::None,
    docs: "https://docs.sonarsource.com/sonarqube-server/latest/project-administration/webhooks/",
    secret_hint: "the webhook's Secret (Project Settings > Webhooks, or Administration > Configuration > Webhooks)",
};

pub(super) const SNYK: Preset = Preset {
    name: "snyk",
    title: "Snyk",
    scheme: body_hmac(&[("x-hub-signature", Sha256, "sha256=")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("x-snyk-transport-id")],
    event_type: &[H("x-snyk-event")],
    handshake: Handshake::None,
    docs: "https://docs.snyk.io/snyk-api/using-specific-snyk-apis/webhooks-apis/validation-and-versioning-of-payloads",
    secret_hint: "the secret you pass when creating the webhook (POST /v1/org/{orgId}/webhooks)",
};

pub(super) const DISCOURSE: Preset = Preset {
    name: "discourse",
    title: "Discourse",
    scheme: body_hmac(&[("x-discourse-event-signature", Sha256, "sha256=")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[H("x-discourse-event-id")],
    event_type: &[H("x-discourse-event")],
    handshake: Handshake::None,
    docs: "https://meta.discourse.org/t/configure-webhooks-that-trigger-on-discourse-events-to-integrate-with-external-services/49045",
    secret_hint: "the webhook's Secret (Admin > API > Webhooks > the webhook)",
};

pub(super) const STORYBLOK: Preset = Preset {
    name: "storyblok",
    title: "Storyblok",
    // Storyblok's only scheme is HMAC-SHA1.
    scheme: body_hmac(&[("webhook-signature", Sha1, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/action")],
    handshake: Handshake::None,
    docs: "https://www.storyblok.com/docs/guide/in-depth/webhooks",
    secret_hint: "the Webhook secret you set (Space > Settings > Webhooks > the webhook)",
};

pub(super) const CAL_COM: Preset = Preset {
    name: "cal-com",
    title: "Cal.com",
    scheme: body_hmac(&[("x-cal-signature-256", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/triggerEvent")],
    handshake: Handshake::None,
    docs: "https://cal.com/docs/developing/guides/automation/webhooks#verifying-the-authenticity-of-the-received-payload",
    secret_hint: "the Secret you set on the webhook (Settings > Developer > Webhooks > the webhook)",
};

pub(super) const ASANA: Preset = Preset {
    name: "asana",
    title: "Asana",
    scheme: body_hmac(&[("x-hook-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/events/0/action")],
    handshake: Handshake::None,
    docs: "https://developers.asana.com/docs/webhooks-guide",
    secret_hint: "the X-Hook-Secret value Asana sent in the handshake when the webhook was created (store it then)",
};

pub(super) const AIRTABLE: Preset = Preset {
    name: "airtable",
    title: "Airtable",
    // The secret is base64 and is decoded to bytes before use.
    scheme: body_hmac(&[("x-airtable-content-mac", Sha256, "hmac-sha256=")], Encoding::Hex),
    secret: SecretForm::Base64,
    event_id: &[],
    event_type: &[],
    handshake: Handshake::None,
    docs: "https://airtable.com/developers/web/api/webhooks-overview",
    secret_hint: "the macSecretBase64 returned once by the create-webhook API call (POST /v0/bases/{baseId}/webhooks), base64",
};

pub(super) const CLICKUP: Preset = Preset {
    name: "clickup",
    title: "ClickUp",
    scheme: body_hmac(&[("x-signature", Sha256, "")], Encoding::Hex),
    secret: SecretForm::Text,
    event_id: &[],
    event_type: &[J("/event")],
    handshake: Handshake::None,
    docs: "https://developer.clickup.com/docs/webhooksignature",
    secret_hint: "webhook.secret in the response of the Create Webhook API call (POST /api/v2/team/{team_id}/webhook)",
};

pub(super) const TODOIST: Preset = Preset {
    name: "todoist",
    title: "Todoist",
    scheme: body_hmac(&[("x-todoist-hmac-sha256", Sha256, "")], Encoding::Base64),
    secret: SecretForm::Text,
    event_id: &[H("x-todoist-delivery-id")],
    event_type: &[J("/event_name")],
    handshake: Handshake::None,
    docs: "https://developer.todoist.com/api/v1/#tag/Webhooks",
    secret_hint: "the app's Client secret (App Management Console > the app)",
};
