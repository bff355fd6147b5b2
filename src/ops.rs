//! Running it: the process's start and shutdown (`gateway`), reloading (`reload`), the
//! admin port (`admin`: health, metrics, the dashboard), its JSON API (`api`) and the
//! charts' ring of recent traffic (`series`). The top of the library: it assembles
//! every other part.

pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod gateway;
pub(crate) mod reload;
pub(crate) mod series;
