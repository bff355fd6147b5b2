//! Where an archived event's delivery stands, as `store list --status` and the API
//! filter and show it (computed by `deliver::status` from the destinations' cursors).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Accepted,
    Delivered,
    Pending,
    Dead,
}

/// A status that is not one of the four.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("--status is one of accepted, delivered, pending, dead; got {0:?}")]
pub struct UnknownStatus(String);

impl std::str::FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Status, UnknownStatus> {
        match s {
            "accepted" => Ok(Status::Accepted),
            "delivered" => Ok(Status::Delivered),
            "pending" => Ok(Status::Pending),
            "dead" => Ok(Status::Dead),
            _ => Err(UnknownStatus(s.to_string())),
        }
    }
}
