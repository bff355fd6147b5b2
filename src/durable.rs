//! Where an accepted event becomes durable, and what is kept: the embedded store
//! (`store`, over the event `journal` and the `dedup` ledger's database), RabbitMQ with
//! publisher confirms (`broker`), the outage `spool`, the replicas' shared Redis
//! (`shared`), and the hand-off that picks among them (`handoff`). The rejection log
//! (`rejections`) lives in the store's database too. Nothing here knows the pipeline or
//! delivery.

pub(crate) mod broker;
pub(crate) mod dedup;
pub(crate) mod handoff;
pub(crate) mod journal;
pub(crate) mod rejections;
pub(crate) mod shared;
pub(crate) mod spool;
pub(crate) mod store;
