//! Named IP sets for `allow_ips` (`allow_ips: [github, stripe, 10.0.0.0/8]`): the
//! source ranges providers publish for their webhooks, shipped with the binary as data
//! ([`PUBLISHED`], each with the date it was taken), and refreshed on demand by `hookgate
//! ips update` into a file the configuration names (`ip_sets: FILE`). Nothing is fetched
//! at request time or at start: a provider's list changing is an operator's decision to
//! run the update and reload.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Why a sets file or a provider's published document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SetsError {
    #[error("{0}")]
    Json(String),
    #[error("set {name:?}: {error}")]
    InSet { name: String, error: Box<SetsError> },
    #[error("{0:?} is not an IP address or CIDR")]
    NotAddress(String),
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("no {0:?} in the document")]
    NoPath(String),
    #[error("{0:?} is not a list")]
    NotList(String),
    #[error("{0} is not a string")]
    NotString(String),
    #[error("no items in the document")]
    NoItems,
    #[error("published on a page, not fetched")]
    Page,
    #[error("not text")]
    NotText,
    #[error("the list is empty")]
    Empty,
}

/// How a provider publishes its list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    /// A JSON document; the ranges are the strings at this path of object keys.
    Json(&'static [&'static str]),
    /// One address or CIDR per line (blank lines and `#` comments skipped).
    Lines,
    /// Atlassian's ip-ranges document: the `cidr` of each of `items` whose `direction`
    /// includes `egress` (the addresses Atlassian's products connect out from).
    AtlassianEgress,
    /// Published only on a documentation page, not in a form a program can read: `ips
    /// update` keeps the shipped ranges (check `source` now and then by hand).
    Page,
}

/// One provider's published list, as shipped.
#[derive(Debug)]
pub(crate) struct Published {
    pub name: &'static str,
    pub title: &'static str,
    /// Where `hookgate ips update` reads it.
    pub source: &'static str,
    pub format: Format,
    /// When the shipped ranges were taken from `source`.
    pub taken: &'static str,
    pub ranges: &'static [&'static str],
}

/// The file `hookgate ips update` writes and `ip_sets:` reads.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetsFile {
    /// When the update ran (RFC 3339).
    pub taken: String,
    pub sets: BTreeMap<String, SetEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetEntry {
    pub source: String,
    pub ranges: Vec<String>,
}

/// The sets a configuration can name: the shipped ones, overridden by a file's.
#[derive(Debug, Default)]
pub(crate) struct Sets {
    file: BTreeMap<String, Vec<IpNet>>,
}

impl Sets {
    /// Read a file written by `hookgate ips update`; every range must parse.
    pub(crate) fn from_file(text: &str) -> Result<Sets, SetsError> {
        let f: SetsFile = serde_json::from_str(text).map_err(|e| SetsError::Json(e.to_string()))?;
        let mut file = BTreeMap::new();
        for (name, entry) in f.sets {
            let nets = entry
                .ranges
                .iter()
                .map(|r| {
                    parse(r).map_err(|e| SetsError::InSet {
                        name: name.clone(),
                        error: Box::new(e),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            file.insert(name, nets);
        }
        Ok(Sets { file })
    }

    /// The ranges of the set `name`, or `None` when there is no such set.
    pub(crate) fn get(&self, name: &str) -> Option<Vec<IpNet>> {
        if let Some(nets) = self.file.get(name) {
            return Some(nets.clone());
        }
        PUBLISHED
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.ranges.iter().filter_map(|r| parse(r).ok()).collect())
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = PUBLISHED.iter().map(|p| p.name.to_string()).collect();
        n.extend(self.file.keys().cloned());
        n.sort();
        n.dedup();
        n
    }
}

/// An address or CIDR (an address alone is its /32 or /128).
pub(crate) fn parse(t: &str) -> Result<IpNet, SetsError> {
    let t = t.trim();
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| SetsError::NotAddress(t.to_string()))
}

/// The ranges in a provider's published document.
pub(crate) fn extract(format: Format, body: &[u8]) -> Result<Vec<String>, SetsError> {
    let ranges: Vec<String> = match format {
        Format::Json(path) => {
            let doc: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| SetsError::NotJson(e.to_string()))?;
            let mut v = &doc;
            for key in path {
                v = v
                    .get(key)
                    .ok_or_else(|| SetsError::NoPath(path.join(".")))?;
            }
            v.as_array()
                .ok_or_else(|| SetsError::NotList(path.join(".")))?
                .iter()
                .map(|r| {
                    r.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| SetsError::NotString(r.to_string()))
                })
                .collect::<Result<_, _>>()?
        }
        Format::AtlassianEgress => {
            let doc: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| SetsError::NotJson(e.to_string()))?;
            doc.get("items")
                .and_then(|i| i.as_array())
                .ok_or(SetsError::NoItems)?
                .iter()
                .filter(|item| {
                    item.get("direction")
                        .and_then(|d| d.as_array())
                        .is_some_and(|d| d.iter().any(|x| x == "egress"))
                })
                .filter_map(|item| item.get("cidr").and_then(|c| c.as_str()))
                .map(str::to_string)
                .collect()
        }
        Format::Page => return Err(SetsError::Page),
        Format::Lines => std::str::from_utf8(body)
            .map_err(|_| SetsError::NotText)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
    };
    for r in &ranges {
        parse(r)?;
    }
    if ranges.is_empty() {
        return Err(SetsError::Empty);
    }
    Ok(ranges)
}

/// Every set shipped with the binary, in `hookgate ips` order.
pub(crate) static PUBLISHED: &[Published] = &[
    Published {
        name: "github",
        title: "GitHub (webhooks)",
        source: "https://api.github.com/meta",
        format: Format::Json(&["hooks"]),
        // The six ranges of /meta's `hooks` (copy of 2026-09-16), and the three GitHub
        // added to it on 2026-10-29 (changelog "Webhook IP ranges added to the Meta API").
        taken: "2026-10-29",
        ranges: &[
            "140.82.112.0/20",
            "143.55.64.0/20",
            "185.199.108.0/22",
            "192.30.252.0/22",
            "2606:50c0::/32",
            "2a0a:a440::/29",
            "9.234.98.160/28",
            "9.234.98.176/28",
            "9.234.106.48/28",
        ],
    },
    Published {
        name: "stripe",
        title: "Stripe (webhooks)",
        source: "https://stripe.com/files/ips/ips_webhooks.json",
        format: Format::Json(&["WEBHOOKS"]),
        taken: "2026-09-16",
        ranges: &[
            "3.18.12.63",
            "3.69.109.8",
            "3.120.168.93",
            "3.130.192.231",
            "13.235.14.237",
            "13.235.122.149",
            "18.211.135.69",
            "35.154.171.200",
            "35.157.207.129",
            "52.15.183.38",
            "54.88.130.119",
            "54.88.130.237",
            "54.187.174.169",
            "54.187.205.235",
            "54.187.216.72",
        ],
    },
    Published {
        name: "atlassian",
        title: "Atlassian (Jira, Confluence, Bitbucket)",
        source: "https://ip-ranges.atlassian.com/",
        format: Format::AtlassianEgress,
        // The IPv4 egress ranges of Atlassian's "Outgoing connections" documentation;
        // `hookgate ips update` takes every egress range of the live document.
        taken: "2026-06-18",
        ranges: &[
            "13.52.5.96/28",
            "13.236.8.224/28",
            "18.136.214.96/28",
            "18.184.99.224/28",
            "18.234.32.224/28",
            "18.246.31.224/28",
            "52.215.192.224/28",
            "104.192.137.240/28",
            "104.192.138.240/28",
            "104.192.140.240/28",
            "104.192.142.240/28",
            "104.192.143.240/28",
            "185.166.143.240/28",
            "185.166.142.240/28",
        ],
    },
    Published {
        name: "gitlab",
        title: "GitLab.com",
        source: "https://docs.gitlab.com/user/gitlab_com/#ip-range",
        format: Format::Page,
        taken: "2026-09-01",
        ranges: &["34.74.90.64/28", "34.74.226.0/24"],
    },
    Published {
        name: "pagerduty-us",
        title: "PagerDuty (US service region)",
        source: "https://developer.pagerduty.com/ip-safelists/webhooks-us-service-region",
        format: Format::Lines,
        taken: "2026-08-19",
        ranges: &[
            "44.242.69.192",
            "52.89.71.166",
            "54.213.187.133",
            "35.86.21.47",
            "52.88.94.18",
            "44.238.89.29",
            "54.241.68.46",
            "54.176.72.216",
            "54.177.81.67",
            "13.56.49.27",
            "34.210.57.30",
            "34.210.242.134",
            "52.34.208.156",
        ],
    },
    Published {
        name: "pagerduty-eu",
        title: "PagerDuty (EU service region)",
        source: "https://developer.pagerduty.com/ip-safelists/webhooks-eu-service-region",
        format: Format::Lines,
        taken: "2026-08-19",
        ranges: &[
            "18.192.91.93",
            "18.158.120.237",
            "18.194.177.30",
            "18.158.199.216",
            "3.126.25.87",
            "18.197.187.16",
            "54.76.3.62",
            "54.170.2.90",
            "52.213.188.110",
            "54.195.179.238",
            "34.250.91.200",
            "54.76.225.71",
        ],
    },
    Published {
        name: "paddle",
        title: "Paddle (live)",
        source: "https://developer.paddle.com/webhooks/about/respond-to-webhooks",
        format: Format::Page,
        taken: "2026-09-01",
        ranges: &[
            "34.232.58.13",
            "34.195.105.136",
            "34.237.3.244",
            "35.155.119.135",
            "52.11.166.252",
            "34.212.5.7",
        ],
    },
    Published {
        name: "paddle-sandbox",
        title: "Paddle (sandbox)",
        source: "https://developer.paddle.com/webhooks/about/respond-to-webhooks",
        format: Format::Page,
        taken: "2026-09-01",
        ranges: &[
            "34.194.127.46",
            "54.234.237.108",
            "3.208.120.145",
            "44.226.236.210",
            "44.241.183.62",
            "100.20.172.113",
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_ranges_parse_and_documents_are_read_by_their_format() {
        for p in PUBLISHED {
            assert!(!p.ranges.is_empty(), "{}", p.name);
            for r in p.ranges {
                assert!(parse(r).is_ok(), "{}: {r}", p.name);
            }
        }
        let meta = br#"{"hooks":["192.30.252.0/22","2a0a:a440::/29"],"web":["1.2.3.4/32"]}"#;
        assert_eq!(
            extract(Format::Json(&["hooks"]), meta).unwrap(),
            ["192.30.252.0/22", "2a0a:a440::/29"]
        );
        assert!(extract(Format::Json(&["api"]), meta).is_err());
        assert_eq!(
            extract(Format::Lines, b"# ips\n3.18.12.63\n\n13.235.14.237\n").unwrap(),
            ["3.18.12.63", "13.235.14.237"]
        );
        assert!(extract(Format::Lines, b"not-an-ip\n").is_err());
        let atlassian = br#"{"items":[{"cidr":"104.192.137.240/28","direction":["egress"]},{"cidr":"13.52.5.0/25","direction":["ingress"]}]}"#;
        assert_eq!(
            extract(Format::AtlassianEgress, atlassian).unwrap(),
            ["104.192.137.240/28"]
        );
        let f = Sets::from_file(
            r#"{"taken":"2026-12-03T00:00:00Z","sets":{"custom":{"source":"x","ranges":["10.0.0.1"]}}}"#,
        )
        .unwrap();
        assert_eq!(f.get("custom").unwrap(), [parse("10.0.0.1/32").unwrap()]);
        assert!(f.get("nope").is_none());
    }
}
