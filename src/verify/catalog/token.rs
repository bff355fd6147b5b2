//! The catalog's presets of one family: a shared token in a header (`verify/token.rs`).

use super::Src::Header as H;
use super::{Preset, Scheme, SecretForm};

pub const GITLAB: Preset = Preset {
    name: "gitlab",
    title: "GitLab",
    scheme: Scheme::Token {
        header: "x-gitlab-token",
    },
    secret: SecretForm::Text,
    event_id: &[H("idempotency-key")],
    event_type: &[H("x-gitlab-event")],
    docs: "https://docs.gitlab.com/user/project/integrations/webhooks/",
    secret_hint: "the Secret token you type in the project's Settings > Webhooks",
};
