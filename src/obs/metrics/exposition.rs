//! The two text formats `/metrics` speaks, chosen by the scraper's `Accept`: OpenMetrics
//! (what prometheus-client writes: `# TYPE x counter` above `x_total`, a final `# EOF`)
//! when asked for, else the classic Prometheus text format 0.0.4, in which a counter's
//! family is named with its `_total`, an info metric is a gauge named `_info`, and there
//! are no `# UNIT`, `_created` or `# EOF` lines. Serving OpenMetrics under the classic
//! content type made classic parsers lose the counters' types.

pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub(crate) const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Does `accept` ask for OpenMetrics (Prometheus sends it first when it can parse it)?
pub(crate) fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|t| {
            let t = t.trim();
            t.starts_with("application/openmetrics-text")
                && !t.replace(' ', "").contains(";q=0,")
                && !t.replace(' ', "").ends_with(";q=0")
        })
    })
}

/// OpenMetrics text -> the classic text format.
pub(crate) fn to_classic(om: &str) -> String {
    // The families whose name changes: counters gain `_total`, infos `_info`.
    let renamed: Vec<(&str, &str)> = om
        .lines()
        .filter_map(|l| {
            let mut it = l.strip_prefix("# TYPE ")?.split(' ');
            match (it.next()?, it.next()?) {
                (name, "counter") => Some((name, "_total")),
                (name, "info") => Some((name, "_info")),
                _ => None,
            }
        })
        .collect();
    let suffix = |name: &str| renamed.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            match suffix(name) {
                Some("_info") => out.push_str(&format!("# TYPE {name}_info gauge\n")),
                Some(s) => out.push_str(&format!("# TYPE {name}{s} {kind}\n")),
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            match suffix(name) {
                Some(s) => out.push_str(&format!("# HELP {name}{s} {help}\n")),
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            continue;
        }
        let metric = line.split(['{', ' ']).next().unwrap_or("");
        if metric.strip_suffix("_created").is_some_and(|base| {
            suffix(base).is_some() || suffix(&format!("{base}_total")).is_some()
        }) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_infos_are_renamed_and_openmetrics_only_lines_dropped() {
        let om = "# HELP hookgate_requests Webhook requests.\n# TYPE hookgate_requests counter\nhookgate_requests_total{route=\"a\"} 3\nhookgate_requests_created{route=\"a\"} 1.7e9\n# HELP hookgate_build Build.\n# TYPE hookgate_build info\nhookgate_build_info{version=\"1\"} 1\n# HELP x_seconds Time.\n# TYPE x_seconds histogram\n# UNIT x_seconds seconds\nx_seconds_count 1\n# EOF\n";
        assert_eq!(
            to_classic(om),
            "# HELP hookgate_requests_total Webhook requests.\n# TYPE hookgate_requests_total counter\nhookgate_requests_total{route=\"a\"} 3\n# HELP hookgate_build_info Build.\n# TYPE hookgate_build_info gauge\nhookgate_build_info{version=\"1\"} 1\n# HELP x_seconds Time.\n# TYPE x_seconds histogram\nx_seconds_count 1\n"
        );
    }

    #[test]
    fn accept_negotiation() {
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )));
        assert!(!wants_openmetrics(Some("text/plain")));
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some("application/openmetrics-text;q=0")));
    }
}
