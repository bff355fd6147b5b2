//! Why a request was answered 503: one closed set, whose labels are the values of
//! `hookgate_unavailable_total{cause}` and the log lines' `cause`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnavailableCause {
    /// `limits.max_in_flight` requests in flight.
    MaxInFlight,
    /// The client's share of in-flight requests or body memory (`admission`).
    ClientInFlight,
    ClientBodyMemory,
    /// `limits.body_memory`, all clients together.
    BodyMemory,
    /// The broker's answers with `when_unavailable: reject` (`handoff`).
    BrokerDisconnected,
    BrokerBlocked,
    BrokerNack,
    BrokerReturned,
    BrokerConfirmTimeout,
    BrokerChannelError,
    /// The store's failures.
    DiskFull,
    StoreWriteFailed,
    StoreClosed,
    DedupLedgerFailed,
}

impl UnavailableCause {
    pub const ALL: [UnavailableCause; 14] = [
        UnavailableCause::MaxInFlight,
        UnavailableCause::ClientInFlight,
        UnavailableCause::ClientBodyMemory,
        UnavailableCause::BodyMemory,
        UnavailableCause::BrokerDisconnected,
        UnavailableCause::BrokerBlocked,
        UnavailableCause::BrokerNack,
        UnavailableCause::BrokerReturned,
        UnavailableCause::BrokerConfirmTimeout,
        UnavailableCause::BrokerChannelError,
        UnavailableCause::DiskFull,
        UnavailableCause::StoreWriteFailed,
        UnavailableCause::StoreClosed,
        UnavailableCause::DedupLedgerFailed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UnavailableCause::MaxInFlight => "max_in_flight",
            UnavailableCause::ClientInFlight => "client_in_flight",
            UnavailableCause::ClientBodyMemory => "client_body_memory",
            UnavailableCause::BodyMemory => "body_memory",
            UnavailableCause::BrokerDisconnected => "broker_disconnected",
            UnavailableCause::BrokerBlocked => "broker_blocked",
            UnavailableCause::BrokerNack => "broker_nack",
            UnavailableCause::BrokerReturned => "broker_returned",
            UnavailableCause::BrokerConfirmTimeout => "broker_confirm_timeout",
            UnavailableCause::BrokerChannelError => "broker_channel_error",
            UnavailableCause::DiskFull => "disk_full",
            UnavailableCause::StoreWriteFailed => "store_write_failed",
            UnavailableCause::StoreClosed => "store_closed",
            UnavailableCause::DedupLedgerFailed => "dedup_ledger_failed",
        }
    }
}

impl fmt::Display for UnavailableCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
