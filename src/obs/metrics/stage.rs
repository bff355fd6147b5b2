//! The stages of a request whose time `hookgate_stage_duration_seconds` observes (the
//! pipeline times them; the metric names them, so the enum lives here, below both).

/// A pipeline stage, in the order requests go through them.
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    /// Route, method, source IP, rate limit, in-flight and memory admission.
    Admission,
    /// Reading the body, with its size limit.
    Body,
    /// The signature (and timestamp).
    Verify,
    /// JSON parse, schema, event id and type.
    Parse,
    /// Dedup and the durable hand-off (the store's fsync or the broker's confirm).
    Handoff,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Admission,
        Stage::Body,
        Stage::Verify,
        Stage::Parse,
        Stage::Handoff,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Admission => "admission",
            Stage::Body => "body",
            Stage::Verify => "verify",
            Stage::Parse => "parse",
            Stage::Handoff => "handoff",
        }
    }
}
