//! What an HMAC scheme signs, as data: the template of the signed content
//! (`"v0:{timestamp}:{body}"`) parsed once into parts, and the signed timestamp's header,
//! format and freshness window. Shared by the configured `verify.hmac` schemes and the
//! catalog's presets (`hmac.rs` feeds the parts to the MAC).

use std::time::{Duration, UNIX_EPOCH};

use http::HeaderName;

use super::{SetupError, VerifyError};

/// One piece of the signed content.
#[derive(Debug, Clone)]
pub enum Part {
    Lit(Vec<u8>),
    Body,
    Timestamp,
    Id,
    Url,
    /// The request method (HubSpot v3 signs it).
    Method,
    Header(HeaderName),
}

/// How a provider writes its signed timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsFormat {
    /// Unix seconds (Slack, most).
    Secs,
    /// Unix milliseconds (HubSpot v3).
    Millis,
    /// RFC 3339 / ISO 8601 in UTC, e.g. `2026-12-03T10:00:00.123Z` (Twitch, Zendesk).
    Rfc3339,
}

/// The signed timestamp: its header, format, and how far from now it may be
/// (`None`: signed, but the provider documents no window, so freshness is not judged).
#[derive(Debug, Clone)]
pub struct Stamp {
    pub header: HeaderName,
    pub format: TsFormat,
    pub tolerance: Option<Duration>,
}

impl Stamp {
    /// The header's value as Unix seconds.
    pub fn parse(&self, v: &[u8]) -> Result<i64, VerifyError> {
        match self.format {
            TsFormat::Secs => super::parse_unix(v),
            TsFormat::Millis => super::parse_unix(v).map(|ms| ms.div_euclid(1000)),
            TsFormat::Rfc3339 => std::str::from_utf8(v)
                .ok()
                .and_then(|s| rfc3339(s.trim()))
                .ok_or(VerifyError::Malformed("timestamp is not an RFC 3339 time")),
        }
    }

    /// `now` written the provider's way, for `hookgate sign`.
    pub fn format(&self, now: i64) -> String {
        match self.format {
            TsFormat::Secs => now.to_string(),
            TsFormat::Millis => (now * 1000).to_string(),
            TsFormat::Rfc3339 => humantime::format_rfc3339_seconds(
                UNIX_EPOCH + Duration::from_secs(now.max(0) as u64),
            )
            .to_string(),
        }
    }

    pub fn check(&self, ts: i64, now: i64) -> Result<(), VerifyError> {
        match self.tolerance {
            Some(t) => super::check_tolerance(ts, now, t),
            None => Ok(()),
        }
    }
}

/// Unix seconds of an RFC 3339 time, in UTC (`Z`) or with an offset (`-07:00`, Box).
fn rfc3339(s: &str) -> Option<i64> {
    // Header text is the sender's: only ASCII is split, so no cut falls inside a character.
    if !s.is_ascii() {
        return None;
    }
    let (base, offset) = match s.len().checked_sub(6).map(|i| s.split_at(i)) {
        Some((base, off))
            if off.len() == 6
                && matches!(off.as_bytes()[0], b'+' | b'-')
                && off.as_bytes()[3] == b':' =>
        {
            let h: i64 = off[1..3].parse().ok()?;
            let m: i64 = off[4..6].parse().ok()?;
            let secs = h * 3600 + m * 60;
            (base, if off.starts_with('-') { -secs } else { secs })
        }
        _ => (s, 0),
    };
    let utc = if base.ends_with(['Z', 'z']) {
        base.to_string()
    } else {
        format!("{base}Z")
    };
    let t = humantime::parse_rfc3339_weak(&utc).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64 - offset)
}

pub(super) fn header_name(h: &str) -> Result<HeaderName, SetupError> {
    HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes())
        .map_err(|_| SetupError::HeaderName(h.to_string()))
}

/// `"{timestamp}.{body}"` -> parts. Unknown placeholders are errors, not literals.
pub(crate) fn parse_template(t: &str) -> Result<Vec<Part>, SetupError> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        if i > 0 {
            parts.push(Part::Lit(rest.as_bytes()[..i].to_vec()));
        }
        let end = rest[i..]
            .find('}')
            .ok_or_else(|| SetupError::Unterminated(t.to_string()))?;
        let name = &rest[i + 1..i + end];
        parts.push(match name {
            "body" => Part::Body,
            "timestamp" => Part::Timestamp,
            "id" => Part::Id,
            "url" => Part::Url,
            "method" => Part::Method,
            _ => match name.strip_prefix("header:") {
                Some(h) => Part::Header(header_name(h)?),
                None => return Err(SetupError::UnknownPlaceholder(name.to_string())),
            },
        });
        rest = &rest[i + end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.as_bytes().to_vec()));
    }
    if !parts.iter().any(|p| matches!(p, Part::Body)) {
        return Err(SetupError::NoBody);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parsing() {
        assert!(parse_template("{timestamp}.{body}").is_ok());
        assert!(parse_template("{nope}.{body}")
            .unwrap_err()
            .to_string()
            .contains("unknown placeholder"));
        assert!(parse_template("{timestamp}")
            .unwrap_err()
            .to_string()
            .contains("{body}"));
        assert!(matches!(
            parse_template("{header:X-A}{body}").unwrap()[0],
            Part::Header(_)
        ));
        assert!(matches!(
            parse_template("{method}{url}{body}").unwrap()[0],
            Part::Method
        ));
    }

    #[test]
    fn timestamp_formats_round_trip() {
        for format in [TsFormat::Secs, TsFormat::Millis, TsFormat::Rfc3339] {
            let s = Stamp {
                header: HeaderName::from_static("x-ts"),
                format,
                tolerance: Some(Duration::from_secs(60)),
            };
            let v = s.format(1_700_000_000);
            assert_eq!(s.parse(v.as_bytes()), Ok(1_700_000_000), "{format:?}");
            assert!(s.check(1_700_000_000, 1_700_000_100).is_err());
        }
        let twitch = Stamp {
            header: HeaderName::from_static("x-ts"),
            format: TsFormat::Rfc3339,
            tolerance: None,
        };
        assert_eq!(
            twitch.parse(b"2023-11-14T22:13:20.634234626Z"),
            Ok(1_700_000_000)
        );
        assert!(twitch.parse(b"yesterday").is_err());
        // Box writes its offset; 10:10:33-07:00 is 17:10:33Z.
        assert_eq!(
            twitch.parse(b"2016-07-11T10:10:33-07:00"),
            twitch.parse(b"2016-07-11T17:10:33Z")
        );
        assert!(twitch.parse(b"2016-07-11T10:10:33+0x:00").is_err());
        // Multibyte text where an offset would be is refused, not split mid-character.
        assert!(twitch.parse("2016-07-11T10:10é:00".as_bytes()).is_err());
        assert!(twitch.parse("2016-07-11T10:1é0:00".as_bytes()).is_err());
        assert_eq!(twitch.check(0, 1_700_000_000), Ok(()));
    }
}
