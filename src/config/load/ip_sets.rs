//! `ip_sets:` and the named sets in `allow_ips`: a name (`github`) stands for the
//! provider's published webhook ranges, from the file `hookgate ips update` wrote, else
//! as shipped with the binary (`allowlist/sets.rs`).

use ipnet::IpNet;

use super::{parse_net, Validator};
use crate::checks::allowlist::sets::Sets;
use crate::config::raw::Scalar;

impl Validator<'_> {
    pub(super) fn load_ip_sets(&mut self, s: &Scalar) {
        let Some(t) = self.text("ip_sets", s) else {
            return;
        };
        let file = self.path_of(&t);
        match std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))
            .and_then(|text| Sets::from_file(&text).map_err(|e| e.to_string()))
        {
            Ok(sets) => {
                self.ip_sets = sets;
                self.files.push(file);
            }
            Err(m) => self.err("ip_sets", m),
        }
    }

    /// One `allow_ips` item: an address, a CIDR, or a set's name (all its ranges).
    pub(super) fn allow_item(&mut self, path: &str, s: &Scalar) -> Vec<IpNet> {
        let Some(t) = self.text(path, s) else {
            return Vec::new();
        };
        if let Ok(n) = parse_net(&t) {
            return vec![n];
        }
        match self.ip_sets.get(&t) {
            Some(nets) => nets,
            // What looks like an address is reported as one.
            None if t.contains(['.', ':', '/']) => {
                if let Err(m) = parse_net(&t) {
                    self.err(path, m);
                }
                Vec::new()
            }
            None => {
                let known = self.ip_sets.names().join(", ");
                self.err(
                    path,
                    format!("{t:?} is neither an IP address, a CIDR nor a known IP set ({known})"),
                );
                Vec::new()
            }
        }
    }
}
