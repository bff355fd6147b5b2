//! Integration tests: the real `hookgate` binary on free ports, real HTTP over sockets.
//! One test binary (one link) with a module per area.

// Benchmarks and tests may unwrap: a failure ends the run with its message.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

mod admin_token;
mod archive;
mod broker;
mod broker_failover;
mod broker_refused;
mod broker_tls;
mod chaos;
mod charts;
mod cli;
mod config_secrecy;
mod dashboard;
mod deliver;
mod delivery_rules;
mod deploy;
mod durability;
mod event_view;
mod first_run;
mod handshakes;
mod hostile;
mod interop;
mod interop_schemes;
mod ip_sets;
mod metrics_format;
mod monitoring;
mod node_sdk;
mod operator;
mod proxy;
mod rejections;
mod reload;
mod replay;
mod resource_limits;
mod sdk_verifiers;
mod shared;
mod sign_every;
mod spec_table;
mod store_limits;
mod traces;
mod transport;
mod under_attack;
