//! Wall-clock instants as plain values.
//!
//! The domain never reads a clock: every rule that depends on time takes a
//! [`Timestamp`] argument. Timestamps are UTC with microsecond resolution,
//! which is exactly what Postgres `timestamptz` stores, so a value survives a
//! round trip through any store unchanged.

use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with microsecond resolution.
///
/// Serialized as an RFC 3339 string (`2026-11-23T17:18:33.000000Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

/// The input could not be read as a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: expected RFC 3339, e.g. 2026-11-23T17:18:33Z")]
pub struct TimestampParseError {
    /// The rejected input.
    pub input: String,
}

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { micros: 0 };

    /// A timestamp `micros` microseconds after the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Timestamp { micros }
    }

    /// A timestamp `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// A timestamp `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn unix_micros(self) -> i64 {
        self.micros
    }

    /// Milliseconds since the Unix epoch (truncated).
    pub const fn unix_millis(self) -> i64 {
        self.micros.div_euclid(1_000)
    }

    /// Converts from chrono, truncating below a microsecond.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Timestamp {
            micros: dt.timestamp_micros(),
        }
    }

    /// Converts to chrono.
    pub fn to_datetime(self) -> DateTime<Utc> {
        // Every i64 microsecond count that chrono cannot represent lies
        // hundreds of thousands of years away; clamp rather than panic.
        Utc.timestamp_micros(self.micros)
            .single()
            .unwrap_or(if self.micros < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
    }

    /// Parses RFC 3339 (any offset; the result is UTC).
    pub fn parse_rfc3339(input: &str) -> Result<Self, TimestampParseError> {
        DateTime::parse_from_rfc3339(input.trim())
            .map(|dt| Self::from_datetime(dt.with_timezone(&Utc)))
            .map_err(|_| TimestampParseError {
                input: input.to_owned(),
            })
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-23T17:18:33.000000Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        let delta = self.micros.saturating_sub(earlier.micros);
        if delta <= 0 {
            Duration::ZERO
        } else {
            // delta is positive, so the cast cannot lose the sign.
            Duration::from_micros(delta.unsigned_abs())
        }
    }

    /// `self + d`, saturating at the representable range.
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        let add = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Timestamp {
            micros: self.micros.saturating_add(add),
        }
    }

    /// `self - d`, saturating at the representable range.
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        let sub = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Timestamp {
            micros: self.micros.saturating_sub(sub),
        }
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        self.saturating_add(rhs)
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        self.saturating_sub(rhs)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

impl FromStr for Timestamp {
    type Err = TimestampParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for durations written as milliseconds (`"timeout_ms": 30000`)
/// or as humane strings (`"timeout": "30s"`).
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Parses `"250ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"`, or a bare number of
    /// seconds. Fractions are allowed (`"1.5s"`).
    pub fn parse(input: &str) -> Result<Duration, String> {
        let s = input.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let unit_ms: u64 = match unit.trim() {
            "" | "s" | "sec" | "secs" => 1_000,
            "ms" => 1,
            "m" | "min" | "mins" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            other => {
                return Err(format!(
                    "invalid duration {input:?}: unknown unit {other:?} (use ms, s, m, h or d)"
                ));
            }
        };
        let out_of_range = || format!("invalid duration {input:?}: out of range");
        // Whole numbers are computed exactly; fractions go through f64.
        if let Ok(whole) = num.parse::<u64>() {
            return whole
                .checked_mul(unit_ms)
                .filter(|ms| *ms <= 1_000_000_000_000_000)
                .map(Duration::from_millis)
                .ok_or_else(out_of_range);
        }
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {input:?}: expected e.g. 30s, 250ms, 5m"))?;
        let secs = value * unit_ms as f64 / 1_000.0;
        if !secs.is_finite() || !(0.0..=1.0e15).contains(&secs) {
            return Err(out_of_range());
        }
        Ok(Duration::from_secs_f64(secs))
    }

    /// Formats a duration the way [`parse`] reads it.
    pub fn format(d: Duration) -> String {
        let ms = d.as_millis();
        if !ms.is_multiple_of(1_000) || ms == 0 {
            format!("{ms}ms")
        } else if ms.is_multiple_of(3_600_000) {
            format!("{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) {
            format!("{}m", ms / 60_000)
        } else {
            format!("{}s", ms / 1_000)
        }
    }

    /// Serializes as a humane string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// Deserializes a humane string or a number of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Secs(f64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
            Raw::Secs(v) => parse(&v.to_string()).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_alertmanager_timestamps() {
        let t = Timestamp::parse_rfc3339("2026-11-23T17:19:09.32Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-23T17:19:09.320000Z");
        let zero = Timestamp::parse_rfc3339("0001-01-01T00:00:00Z").unwrap();
        assert!(zero < Timestamp::UNIX_EPOCH);
    }

    #[test]
    fn rejects_garbage_with_the_input_named() {
        let err = Timestamp::parse_rfc3339("yesterday").unwrap_err();
        assert!(err.to_string().contains("yesterday"));
    }

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(
            duration::parse("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            duration::parse("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(duration::parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(duration::parse("30").unwrap(), Duration::from_secs(30));
        assert!(duration::parse("5 fortnights").is_err());
        assert!(duration::parse("-1s").is_err());
        assert_eq!(duration::format(Duration::from_secs(600)), "10m");
        assert_eq!(duration::format(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn constructors_and_accessors_agree_on_the_unit() {
        let t = Timestamp::from_unix_secs(1_800_000_000);
        assert_eq!(t.unix_micros(), 1_800_000_000_000_000);
        assert_eq!(t.unix_millis(), 1_800_000_000_000);
        assert_eq!(Timestamp::from_unix_millis(1_500).unix_micros(), 1_500_000);
        assert_eq!(
            Timestamp::from_unix_micros(-1).unix_millis(),
            -1,
            "millis round down"
        );
        assert_eq!(Timestamp::from_unix_micros(1_999).unix_millis(), 1);
        assert_eq!(
            Timestamp::from_datetime(t.to_datetime()),
            t,
            "chrono round trip"
        );
        assert_eq!(t.to_string(), "2027-01-15T08:00:00.000000Z");
        assert_eq!(format!("{t:?}"), "Timestamp(2027-01-15T08:00:00.000000Z)");
        assert_eq!("2027-01-15T08:00:00Z".parse::<Timestamp>(), Ok(t));
        assert_eq!(
            serde_json::to_value(t).unwrap(),
            serde_json::json!("2027-01-15T08:00:00.000000Z")
        );
        assert_eq!(
            serde_json::from_value::<Timestamp>(serde_json::json!("2027-01-15T09:00:00+01:00"))
                .unwrap(),
            t
        );
    }

    #[test]
    fn out_of_range_instants_clamp_to_chrono_limits() {
        assert_eq!(
            Timestamp::from_unix_micros(i64::MIN).to_datetime(),
            DateTime::<Utc>::MIN_UTC
        );
        assert_eq!(
            Timestamp::from_unix_micros(i64::MAX).to_datetime(),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn arithmetic_saturates_and_durations_since_never_go_negative() {
        let t = Timestamp::from_unix_secs(100);
        let d = Duration::from_secs(30);
        assert_eq!(t + d, Timestamp::from_unix_secs(130));
        assert_eq!(t - d, Timestamp::from_unix_secs(70));
        assert_eq!(t.saturating_add(d), t + d);
        assert_eq!(t.saturating_sub(d), t - d);
        assert_eq!((t + d).saturating_duration_since(t), d);
        assert_eq!(t.saturating_duration_since(t + d), Duration::ZERO);
        assert_eq!(t.saturating_duration_since(t), Duration::ZERO);
        let far = Timestamp::from_unix_micros(i64::MAX);
        assert_eq!(far + Duration::MAX, far);
        assert_eq!(
            Timestamp::from_unix_micros(i64::MIN) - Duration::MAX,
            Timestamp::from_unix_micros(i64::MIN)
        );
    }

    #[test]
    fn every_duration_unit_and_its_errors() {
        let ok = [
            ("250ms", Duration::from_millis(250)),
            ("30s", Duration::from_secs(30)),
            ("30 sec", Duration::from_secs(30)),
            ("2secs", Duration::from_secs(2)),
            ("5m", Duration::from_secs(300)),
            ("5min", Duration::from_secs(300)),
            ("2mins", Duration::from_secs(120)),
            ("2h", Duration::from_secs(7_200)),
            ("1d", Duration::from_secs(86_400)),
            (" 0.5m ", Duration::from_secs(30)),
            ("0.25", Duration::from_millis(250)),
            (
                "1000000000000000ms",
                Duration::from_millis(1_000_000_000_000_000),
            ),
        ];
        for (input, want) in ok {
            assert_eq!(duration::parse(input), Ok(want), "{input}");
        }
        for bad in [
            "",
            "s",
            "1.2.3s",
            "5w",
            "1000000000000001ms",
            "1e20",
            "99999999999999999999d",
        ] {
            assert!(duration::parse(bad).is_err(), "{bad}");
        }
        assert!(
            duration::parse("2000000000000000.5s").is_err(),
            "fraction out of range"
        );
        let formats = [
            (Duration::ZERO, "0ms"),
            (Duration::from_millis(999), "999ms"),
            (Duration::from_secs(7), "7s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7_200), "2h"),
            (Duration::from_secs(5_400), "90m"),
        ];
        for (d, text) in formats {
            assert_eq!(duration::format(d), text);
        }
    }

    #[test]
    fn durations_serialize_as_text_and_read_text_or_seconds() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Holder {
            #[serde(with = "duration")]
            d: Duration,
        }
        let h = Holder {
            d: Duration::from_secs(90),
        };
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            serde_json::json!({"d": "90s"})
        );
        for v in [
            serde_json::json!("90s"),
            serde_json::json!(90),
            serde_json::json!(90.0),
        ] {
            let back: Holder = serde_json::from_value(serde_json::json!({ "d": v })).unwrap();
            assert_eq!(back, h);
        }
        assert!(serde_json::from_value::<Holder>(serde_json::json!({"d": "soon"})).is_err());
    }

    proptest! {
        #[test]
        fn prop_timestamp_round_trips_through_rfc3339(micros in -62_135_596_800_000_000i64..253_402_300_799_000_000i64) {
            let t = Timestamp::from_unix_micros(micros);
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        }

        #[test]
        fn prop_duration_round_trips(ms in 0u64..10_000_000_000u64) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(duration::parse(&duration::format(d)).unwrap(), d);
        }
    }
}
