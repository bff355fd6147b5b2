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

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        match s {
            "accepted" => Ok(Status::Accepted),
            "delivered" => Ok(Status::Delivered),
            "pending" => Ok(Status::Pending),
            "dead" => Ok(Status::Dead),
            _ => Err(format!(
                "--status is one of accepted, delivered, pending, dead; got {s:?}"
            )),
        }
    }
}
