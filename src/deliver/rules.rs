//! What a destination's rules decide about an event before it is read into the
//! window: its `filter` (`checks::filter`). Its `rate` is `pace`.

use super::metrics::Handles;
use crate::checks::event::Event;
use crate::config::Destination;

/// Does `ev` go to `dest`? No `filter`: every event. A `false`, or a filter that could
/// not decide (a missing field), is counted and finishes the event for `dest`.
pub(crate) fn passes(dest: &Destination, metrics: &Handles, ev: &Event) -> bool {
    let Some(f) = &dest.filter else {
        return true;
    };
    match f.matches(ev) {
        Ok(true) => true,
        Ok(false) => {
            metrics.filtered.inc();
            false
        }
        Err(e) => {
            metrics.filter_errors.inc();
            tracing::debug!(route = %ev.route, destination = %dest.name, id = ?ev.id, error = %e, "filter did not decide; not delivered here");
            false
        }
    }
}
