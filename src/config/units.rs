//! Units and expansion used by configuration values: `${VAR}` / `${VAR:-default}`,
//! durations (`250ms`, `5s`, `10m`, `72h`) and sizes (`1024`, `64KiB`, `1MiB`).

use std::time::Duration;

/// Expand `${VAR}` and `${VAR:-default}`. `$$` is a literal `$`. An unset variable
/// without a default is an error naming the variable (never its would-be value).
pub(crate) fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    expand_tracked(s, env).map(|(t, _)| t)
}

/// [`expand`], also naming the first variable whose `:-default` was used (unset or
/// empty), so that a secret taken from a default can be refused.
pub(crate) fn expand_tracked(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Option<String>), String> {
    if !s.contains('$') {
        return Ok((s.to_owned(), None));
    }
    let mut defaulted = None;
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .ok_or_else(|| "unterminated ${...} in value".to_string())?;
            let expr = &inner[..end];
            let (name, default) = match expr.find(":-") {
                Some(j) => (&expr[..j], Some(&expr[j + 2..])),
                None => (expr, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid variable name in ${{{name}}}"));
            }
            match (env(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => {
                    defaulted.get_or_insert_with(|| name.to_string());
                    out.push_str(d)
                }
                (None, None) => {
                    return Err(format!("environment variable {name} is not set"));
                }
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok((out, defaulted))
}

/// The longest duration any setting takes: ten years.
const MAX_DURATION_SECS: f64 = 3650.0 * 86400.0;

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 250ms, 5s, 10m, 72h"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        "" => return Err(format!("duration {s:?} needs a unit (ms, s, m, h, d)")),
        u => {
            return Err(format!(
                "unknown duration unit {u:?} in {s:?} (ms, s, m, h, d)"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration {s:?}"));
    }
    // Bounded so that `now + d` never overflows an `Instant` anywhere it is used.
    if secs > MAX_DURATION_SECS {
        return Err(format!("duration {s:?} is too long (at most 3650d)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected bytes or e.g. 64KiB, 1MiB"))?;
    let mult: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" | "kB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        u => {
            return Err(format!(
                "unknown size unit {u:?} in {s:?} (B, KiB, MiB, GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A byte rate: `8KiB/s` (a size per second).
pub(crate) fn parse_byte_rate(s: &str) -> Result<usize, String> {
    let size = s
        .trim()
        .strip_suffix("/s")
        .ok_or_else(|| format!("expected a rate like 8KiB/s, got {s:?}"))?;
    parse_size(size)
}

/// `50/s`, `600/m`, `10000/h`.
pub(crate) fn parse_rate(s: &str) -> Result<crate::checks::ratelimit::Rate, String> {
    let err = || format!("expected a rate like 50/s, 600/m or 1000/h, got {s:?}");
    let (n, unit) = s.trim().split_once('/').ok_or_else(err)?;
    let n: u32 = n.trim().parse().map_err(|_| err())?;
    if n == 0 {
        return Err("a rate must allow at least 1 request".into());
    }
    let period = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(err()),
    };
    Ok(crate::checks::ratelimit::Rate { n, period })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_defaults() {
        assert_eq!(expand("a ${SET} b", &env).unwrap(), "a value b");
        assert_eq!(expand("${UNSET:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(expand("${EMPTY:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(expand("$$5 and $x", &env).unwrap(), "$5 and $x");
        assert_eq!(
            expand("${UNSET}", &env).unwrap_err(),
            "environment variable UNSET is not set"
        );
        assert!(expand("${SET", &env).is_err());
        assert_eq!(
            expand_tracked("${SET:-a}${EMPTY:-b}${UNSET:-c}", &env).unwrap(),
            ("valuebc".to_string(), Some("EMPTY".to_string()))
        );
        assert_eq!(expand_tracked("${SET:-a}", &env).unwrap().1, None);
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_duration("72h").unwrap(),
            Duration::from_secs(72 * 3600)
        );
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5y").is_err());
        // Found by fuzzing: a number past `Duration`'s range was a panic.
        assert!(parse_duration(&format!("1{}s", "7".repeat(100))).is_err());
        assert!(parse_duration("3651d").is_err());
        assert_eq!(parse_duration("3650d").unwrap().as_secs(), 3650 * 86400);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("64KiB").unwrap(), 65536);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("1PB").is_err());
        assert_eq!(parse_byte_rate("8KiB/s").unwrap(), 8192);
        assert!(parse_byte_rate("8KiB").is_err());
    }
}
