//! `?tz=`: render every timestamp of a response in a fixed offset.
//!
//! Records are stored and sent in UTC. A read with `?tz=+08:00` (or
//! `-05:30`, `+0800`, `UTC`) gets the same instants written in that offset,
//! so an operator in Seoul reads local times without doing arithmetic.
//! Hale's timestamps serialize in exactly one shape
//! (`2026-11-23T17:18:33.000000Z`); the response JSON is walked and every
//! string of that shape is rewritten. Strings of any other shape (label
//! values, messages) are left alone.

use chrono::{FixedOffset, Offset, SecondsFormat};
use hale_domain::Timestamp;
use serde_json::Value;

/// A time zone for rendering: a fixed offset east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderZone(FixedOffset);

impl RenderZone {
    /// UTC.
    pub fn utc() -> Self {
        RenderZone(chrono::Utc.fix())
    }

    /// Reads `UTC`, `Z`, `+08:00`, `-0530`, `+8`. In a query string `+`
    /// decodes to a space, so a leading space is read as `+` (`?tz=+08:00`
    /// works unescaped).
    pub fn parse(input: &str) -> Result<Self, String> {
        let bad = || format!("tz {input:?}: expected UTC or an offset like +08:00 or -05:30");
        let s = input.trim_end();
        // Every accepted spelling is ASCII. Refusing anything else first
        // means the byte positions below always fall on character
        // boundaries: `+1é1` is four bytes but three characters, and
        // splitting it at byte 2 would panic.
        if !s.is_ascii() {
            return Err(bad());
        }
        if s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("z") {
            return Ok(RenderZone::utc());
        }
        let (sign, rest) = if let Some(rest) = s.strip_prefix(['+', ' ']) {
            (1, rest)
        } else if let Some(rest) = s.strip_prefix('-') {
            (-1, rest)
        } else {
            return Err(bad());
        };
        let rest = rest.trim_start();
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => rest.split_at_checked(2).ok_or_else(bad)?,
            None => (rest, "0"),
        };
        // `str::parse` takes a leading sign, so `+-1:+5` would read as
        // -1 hours and 5 minutes; only digits are offsets.
        if !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) || h.is_empty() || m.is_empty()
        {
            return Err(bad());
        }
        let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(RenderZone)
            .ok_or_else(bad)
    }

    /// Rewrites every timestamp in `value` into this zone.
    pub fn apply(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if is_timestamp(s)
                    && let Ok(t) = Timestamp::parse_rfc3339(s)
                {
                    *s = t
                        .to_datetime()
                        .with_timezone(&self.0)
                        .to_rfc3339_opts(SecondsFormat::Micros, true);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.apply(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.apply(v)),
            _ => {}
        }
    }
}

/// Exactly `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the way Hale writes UTC.
pub(crate) fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 30 || b[b.len() - 1] != b'Z' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let fixed = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let tail = &b[19..b.len() - 1];
    fixed
        && (tail.is_empty()
            || (tail[0] == b'.' && tail.len() > 1 && tail[1..].iter().all(u8::is_ascii_digit)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn offsets_parse_in_every_usual_spelling() {
        for (s, secs) in [
            ("UTC", 0),
            ("+08:00", 8 * 3600),
            (" 08:00", 8 * 3600),
            ("-05:30", -(5 * 3600 + 30 * 60)),
            ("+0530", 5 * 3600 + 30 * 60),
            ("+9", 9 * 3600),
        ] {
            assert_eq!(
                RenderZone::parse(s).unwrap().0.local_minus_utc(),
                secs,
                "{s}"
            );
        }
        for bad in [
            "Asia/Seoul",
            "+25:00",
            "08:00",
            "+08:61",
            "",
            // Multi-byte characters where digits belong: four bytes, three
            // characters (GET /v1/switches?tz=%2B1%C3%A91 used to panic).
            "+1\u{e9}1",
            "+\u{e9}\u{e9}",
            "-\u{1F600}",
            "\u{e9}",
            "+-1:+5",
            "+:",
        ] {
            assert!(RenderZone::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Whatever text arrives in `?tz=`, the parser answers; it never
        /// panics.
        #[test]
        fn prop_any_tz_text_parses_or_is_refused(input in "\\PC{0,12}") {
            let _ = RenderZone::parse(&input);
        }
    }

    #[test]
    fn only_timestamps_are_rewritten() {
        let mut v = json!({
            "started_at": "2026-11-23T17:18:33.000000Z",
            "nested": [{"at": "2026-11-23T23:30:00Z"}],
            "label": "2026-11-23",
            "message": "at 2026-11-23T17:18:33.000000Z it broke",
            "count": 3
        });
        RenderZone::parse("+08:00").unwrap().apply(&mut v);
        assert_eq!(v["started_at"], "2026-11-24T01:18:33.000000+08:00");
        assert_eq!(v["nested"][0]["at"], "2026-11-24T07:30:00.000000+08:00");
        assert_eq!(v["label"], "2026-11-23");
        assert_eq!(v["message"], "at 2026-11-23T17:18:33.000000Z it broke");
        assert_eq!(v["count"], 3);
    }

    #[test]
    fn utc_keeps_the_instant_and_the_zulu_suffix() {
        let mut v = json!("2026-11-23T17:18:33.000000Z");
        RenderZone::utc().apply(&mut v);
        assert_eq!(v, "2026-11-23T17:18:33.000000Z");
    }
}
