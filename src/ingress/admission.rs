//! Admission: what one request may hold while it is read and checked. A body must be
//! buffered before its signature can be checked, so an unauthenticated sender could
//! otherwise fill the memory (stalled 1 MiB bodies) or every in-flight slot (HTTP/2
//! streams that send HEADERS and no body). Each client (its key from
//! [`crate::checks::allowlist::client_key`]) may have `max_in_flight_per_client` requests in
//! flight and hold `body_memory_per_client` bytes of bodies; all clients together hold
//! at most `body_memory` bytes. Past a limit the request is answered 503 (`unavailable`,
//! with `Retry-After`) before more is read.
//!
//! One mutex guards the counts: a request takes it twice (admit with its declared
//! length, release), and a chunked body once per chunk that grows past its reservation.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::config::Limits;
use crate::obs::metrics::UnavailableCause;

pub(crate) struct Admission {
    per_client_requests: usize,
    per_client_bytes: usize,
    total_bytes: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bytes: usize,
    clients: HashMap<IpAddr, Usage>,
}

#[derive(Default)]
struct Usage {
    requests: usize,
    bytes: usize,
}

/// Which limit refused a request (the log line's reason; the answer is 503 for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    ClientInFlight,
    ClientBodyMemory,
    BodyMemory,
}

impl Refused {
    /// The cause of the 503.
    pub fn cause(self) -> UnavailableCause {
        match self {
            Refused::ClientInFlight => UnavailableCause::ClientInFlight,
            Refused::ClientBodyMemory => UnavailableCause::ClientBodyMemory,
            Refused::BodyMemory => UnavailableCause::BodyMemory,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Refused::ClientInFlight => "max_in_flight_per_client reached",
            Refused::ClientBodyMemory => "body_memory_per_client reached",
            Refused::BodyMemory => "body_memory reached",
        }
    }
}

/// One admitted request: its slot and the body bytes reserved for it, given back on drop
/// (also when the client goes away mid-body).
pub(crate) struct Ticket<'a> {
    admission: &'a Admission,
    client: IpAddr,
    bytes: usize,
}

impl Admission {
    pub(crate) fn new(l: &Limits) -> Admission {
        Admission {
            per_client_requests: l.max_in_flight_per_client,
            per_client_bytes: l.body_memory_per_client,
            total_bytes: l.body_memory,
            state: Mutex::new(State::default()),
        }
    }

    /// Admit one request of `client` that will need `bytes` of body (its declared
    /// length; 0 when unknown, reserved as it arrives).
    pub(crate) fn admit(&self, client: IpAddr, bytes: usize) -> Result<Ticket<'_>, Refused> {
        let mut st = self.lock();
        let State {
            bytes: total,
            clients,
        } = &mut *st;
        let usage = clients.entry(client).or_default();
        let refused = if usage.requests >= self.per_client_requests {
            Some(Refused::ClientInFlight)
        } else {
            self.fits(*total, usage, bytes).err()
        };
        if let Some(r) = refused {
            if usage.requests == 0 {
                clients.remove(&client);
            }
            return Err(r);
        }
        usage.requests += 1;
        usage.bytes += bytes;
        *total += bytes;
        Ok(Ticket {
            admission: self,
            client,
            bytes,
        })
    }

    fn fits(&self, total: usize, usage: &Usage, more: usize) -> Result<(), Refused> {
        if usage.bytes + more > self.per_client_bytes {
            Err(Refused::ClientBodyMemory)
        } else if total + more > self.total_bytes {
            Err(Refused::BodyMemory)
        } else {
            Ok(())
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The counts stay consistent under a panic elsewhere: every update is one step.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Body bytes held now, all clients together.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

impl Ticket<'_> {
    /// Reserve `more` bytes of body for this request.
    pub(crate) fn reserve(&mut self, more: usize) -> Result<(), Refused> {
        let a = self.admission;
        let mut st = a.lock();
        let State {
            bytes: total,
            clients,
        } = &mut *st;
        let usage = clients.entry(self.client).or_default();
        a.fits(*total, usage, more)?;
        usage.bytes += more;
        *total += more;
        self.bytes += more;
        Ok(())
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut st = self.admission.lock();
        st.bytes -= self.bytes;
        if let Some(u) = st.clients.get_mut(&self.client) {
            u.requests -= 1;
            u.bytes -= self.bytes;
            if u.requests == 0 {
                st.clients.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(per_req: usize, per_bytes: usize, total: usize) -> Admission {
        Admission {
            per_client_requests: per_req,
            per_client_bytes: per_bytes,
            total_bytes: total,
            state: Mutex::new(State::default()),
        }
    }

    #[test]
    fn a_client_is_held_to_its_share_and_others_still_get_in() {
        let a = admission(2, 100, 150);
        let (x, y): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t1 = a.admit(x, 60).unwrap();
        let mut t2 = a.admit(x, 0).unwrap();
        assert_eq!(a.admit(x, 0).err(), Some(Refused::ClientInFlight));
        assert_eq!(t2.reserve(41).err(), Some(Refused::ClientBodyMemory));
        t2.reserve(40).unwrap();
        assert_eq!(a.admit(y, 51).err(), Some(Refused::BodyMemory));
        let t3 = a.admit(y, 50).unwrap();
        assert_eq!(a.bytes(), 150);
        drop((t1, t2, t3));
        assert_eq!(a.bytes(), 0);
        assert!(
            a.lock().clients.is_empty(),
            "no entry outlives its requests"
        );
        assert_eq!(a.admit(x, 101).err(), Some(Refused::ClientBodyMemory));
        assert!(a.lock().clients.is_empty());
    }
}
