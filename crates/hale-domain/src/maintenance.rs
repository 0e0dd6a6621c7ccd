//! Maintenance windows: times when Hale records alerts and does not act on
//! its own.
//!
//! A window covers a tenant, or some of its namespaces, or some of its
//! strategies (both lists empty: the whole tenant). It is one-off (`start`
//! to `end`, instants) or weekly (on some days, from a local wall-clock
//! time, for a duration, in an IANA time zone). Its mode says what the
//! automatic path does while it is active: `block` (the guard's
//! `maintenance_window` stage: recorded, retried after the window) or
//! `approval_only` (the automatic run becomes an approval request, so a
//! human decides). Proposals and approved runs are never stopped by a
//! window: they are already a human's decision.
//!
//! Weekly windows follow the zone's clock, daylight saving time included,
//! the way iCalendar (RFC 5545) reads local times:
//!
//! * a start time that does not exist that day (the clock jumps over it)
//!   is read with the UTC offset in force before the jump, so it moves
//!   later by the jump's length (02:30 on a day Berlin jumps from 02:00 to
//!   03:00 starts at 03:30);
//! * a start time that exists twice (the clock falls back) starts at the
//!   first of the two;
//! * the duration is elapsed time: a window of 8 h lasts 8 h across a
//!   change, whatever the clock on the wall says at its end.
//!
//! Whether a window is active at an instant ([`MaintenanceWindow::is_active`])
//! is a pure function of the window and the instant.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{Actor, StrategyId};
use crate::time::Timestamp;
use crate::wire::wire_enum;

wire_enum!(
    /// What the automatic path does during a window.
    WindowMode {
        /// Nothing acts on its own: the guard blocks (`maintenance_window`).
        Block => "block",
        /// The automatic run becomes an approval request.
        ApprovalOnly => "approval_only",
    }
);

wire_enum!(
    /// A day of the week.
    Day {
        /// Monday.
        Mon => "mon",
        /// Tuesday.
        Tue => "tue",
        /// Wednesday.
        Wed => "wed",
        /// Thursday.
        Thu => "thu",
        /// Friday.
        Fri => "fri",
        /// Saturday.
        Sat => "sat",
        /// Sunday.
        Sun => "sun",
    }
);

impl Day {
    fn of(date: NaiveDate) -> Day {
        match date.weekday() {
            chrono::Weekday::Mon => Day::Mon,
            chrono::Weekday::Tue => Day::Tue,
            chrono::Weekday::Wed => Day::Wed,
            chrono::Weekday::Thu => Day::Thu,
            chrono::Weekday::Fri => Day::Fri,
            chrono::Weekday::Sat => Day::Sat,
            chrono::Weekday::Sun => Day::Sun,
        }
    }
}

/// A wall-clock time of day, `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(NaiveTime);

impl LocalTime {
    /// The time `hour:minute`, if valid.
    pub fn new(hour: u32, minute: u32) -> Option<LocalTime> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(LocalTime)
    }
}

impl FromStr for LocalTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid time of day {s:?}: expected HH:MM (24-hour clock)");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        LocalTime::new(h, m).ok_or_else(bad)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone (`Europe/Berlin`, `UTC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZoneName(Tz);

impl FromStr for TimeZoneName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<Tz>().map(TimeZoneName).map_err(|_| {
            format!("unknown time zone {s:?}: expected an IANA name such as Europe/Berlin or UTC")
        })
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl Serialize for TimeZoneName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZoneName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// When a window is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Schedule {
    /// Once, from `start` (inclusive) to `end` (exclusive).
    OneOff {
        /// Start.
        start: Timestamp,
        /// End.
        end: Timestamp,
    },
    /// Every week on `days`, from `start` local time for `duration`.
    Weekly {
        /// The days it starts on (local dates).
        days: Vec<Day>,
        /// The local start time.
        start: LocalTime,
        /// How long each occurrence lasts (elapsed time, at most 7 days).
        #[serde(with = "crate::time::duration")]
        duration: Duration,
        /// The zone the days and the start time are read in.
        time_zone: TimeZoneName,
    },
}

/// A schedule that can never be active, or is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A one-off window that ends before it starts.
    #[error("end {end} is not after start {start}")]
    EndNotAfterStart {
        /// Start.
        start: Timestamp,
        /// End.
        end: Timestamp,
    },
    /// A weekly window on no day.
    #[error("a weekly window needs at least one day")]
    NoDays,
    /// A weekly duration of zero or longer than a week.
    #[error("duration must be longer than 0s and at most 7d")]
    BadDuration,
}

impl Schedule {
    /// Checks that the schedule can be active at all.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        match self {
            Schedule::OneOff { start, end } if end <= start => {
                Err(ScheduleError::EndNotAfterStart {
                    start: *start,
                    end: *end,
                })
            }
            Schedule::OneOff { .. } => Ok(()),
            Schedule::Weekly { days, .. } if days.is_empty() => Err(ScheduleError::NoDays),
            Schedule::Weekly { duration, .. }
                if duration.is_zero() || *duration > Duration::from_secs(7 * 86_400) =>
            {
                Err(ScheduleError::BadDuration)
            }
            Schedule::Weekly { .. } => Ok(()),
        }
    }

    /// The occurrence that contains `now`, if any.
    pub fn occurrence_at(&self, now: Timestamp) -> Option<Occurrence> {
        match self {
            Schedule::OneOff { start, end } => {
                (*start <= now && now < *end).then_some(Occurrence {
                    start: *start,
                    end: *end,
                })
            }
            Schedule::Weekly {
                days,
                start,
                duration,
                time_zone,
            } => {
                let tz = time_zone.0;
                let today = now.to_datetime().with_timezone(&tz).date_naive();
                // An occurrence containing `now` started at most `duration`
                // ago, so on one of the last ceil(duration / 1 d) + 1 local
                // dates (one more each way for clocks that jump at midnight).
                let back = i64::try_from(duration.as_secs() / 86_400).unwrap_or(7) + 2;
                (-1..=back)
                    .filter_map(|d| today.checked_sub_signed(chrono::TimeDelta::days(d)))
                    .filter(|date| days.contains(&Day::of(*date)))
                    .filter_map(|date| {
                        let s = resolve_local(tz, date.and_time(start.0))?;
                        let e = s.saturating_add(*duration);
                        (s <= now && now < e).then_some(Occurrence { start: s, end: e })
                    })
                    .min_by_key(|o| o.start)
            }
        }
    }
}

/// The instant a local wall-clock time names in `tz` (RFC 5545: the first
/// of two; a time in a gap read with the offset before the gap).
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<Timestamp> {
    let utc = match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.naive_utc(),
        LocalResult::None => {
            // The offset in force just before the gap: the latest earlier
            // local time that exists (gaps are at most a few hours).
            let before = (1..=48).find_map(|k| {
                let probe = local - chrono::TimeDelta::minutes(15 * k);
                tz.from_local_datetime(&probe).latest()
            })?;
            let offset = before.offset().fix();
            local - chrono::TimeDelta::seconds(i64::from(offset.local_minus_utc()))
        }
    };
    Some(Timestamp::from_datetime(utc.and_utc()))
}

/// One occurrence of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
}

/// What a window covers: both lists empty covers the whole tenant; a list
/// that is not empty narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowScope {
    /// Namespaces (empty: every namespace).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Strategies (empty: every strategy).
    #[serde(default)]
    pub strategies: Vec<StrategyId>,
}

impl WindowScope {
    /// Whether a run of `strategy` on a target in `namespace` is covered.
    pub fn covers(&self, namespace: &str, strategy: &StrategyId) -> bool {
        (self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace))
            && (self.strategies.is_empty() || self.strategies.contains(strategy))
    }
}

/// How a window was ended early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowEnd {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub by: Actor,
    /// Why.
    pub reason: String,
}

/// A maintenance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// Its id (the configuration's name, or an id given at creation).
    pub id: String,
    /// What the automatic path does during it.
    pub mode: WindowMode,
    /// What it covers.
    #[serde(default)]
    pub scope: WindowScope,
    /// When it is open.
    pub schedule: Schedule,
    /// Why it exists.
    pub reason: String,
    /// Who created it (`None` for a configured window).
    #[serde(default)]
    pub created_by: Option<Actor>,
    /// When it was created (`None` for a configured window).
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Set when a human ended it early; it is never active after that.
    #[serde(default)]
    pub ended: Option<WindowEnd>,
}

/// A window could not be ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndError {
    /// It was ended already.
    #[error("window {id} was already ended at {at}")]
    AlreadyEnded {
        /// The window.
        id: String,
        /// When.
        at: Timestamp,
    },
    /// A reason is required.
    #[error("ending a window needs a reason")]
    NoReason,
}

impl MaintenanceWindow {
    /// The occurrence that contains `now`, unless the window was ended.
    pub fn occurrence_at(&self, now: Timestamp) -> Option<Occurrence> {
        if self.ended.as_ref().is_some_and(|e| e.at <= now) {
            return None;
        }
        let o = self.schedule.occurrence_at(now)?;
        Some(match &self.ended {
            Some(e) if e.at < o.end => Occurrence { end: e.at, ..o },
            _ => o,
        })
    }

    /// Whether the window is active at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.occurrence_at(now).is_some()
    }

    /// Whether the window can never be active again after `now` (a one-off
    /// that is past, or any window that was ended).
    pub fn is_over(&self, now: Timestamp) -> bool {
        self.ended.as_ref().is_some_and(|e| e.at <= now)
            || matches!(self.schedule, Schedule::OneOff { end, .. } if end <= now)
    }

    /// A human ends the window (an active one closes now, a future one
    /// never opens).
    pub fn end(&mut self, by: &Actor, reason: &str, now: Timestamp) -> Result<(), EndError> {
        if let Some(e) = &self.ended {
            return Err(EndError::AlreadyEnded {
                id: self.id.clone(),
                at: e.at,
            });
        }
        if reason.trim().is_empty() {
            return Err(EndError::NoReason);
        }
        self.ended = Some(WindowEnd {
            at: now,
            by: by.clone(),
            reason: reason.to_owned(),
        });
        Ok(())
    }
}

/// A window active for a run, with its current occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveWindow<'a> {
    /// The window.
    pub window: &'a MaintenanceWindow,
    /// Its current occurrence.
    pub occurrence: Occurrence,
}

/// The window that decides for a run of `strategy` on `namespace` at
/// `now`: among the active windows covering it, a `block` window wins over
/// an `approval_only` one, then the one ending last.
pub fn deciding_window<'a>(
    windows: impl IntoIterator<Item = &'a MaintenanceWindow>,
    namespace: &str,
    strategy: &StrategyId,
    now: Timestamp,
) -> Option<ActiveWindow<'a>> {
    windows
        .into_iter()
        .filter(|w| w.scope.covers(namespace, strategy))
        .filter_map(|w| {
            w.occurrence_at(now).map(|occurrence| ActiveWindow {
                window: w,
                occurrence,
            })
        })
        .max_by_key(|a| (a.window.mode == WindowMode::Block, a.occurrence.end))
}

#[cfg(test)]
mod tests;
