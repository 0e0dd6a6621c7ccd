//! Conversions between domain values and column values.
//!
//! Postgres has no unsigned integers: counters are `bigint` and a `u64` above
//! `i64::MAX` is refused as `Invalid` rather than wrapped. Enumerations are
//! stored as their serde wire names, the same strings the API and the JSON
//! columns use. A stored value that cannot be read back (a row edited by
//! hand into something the domain does not accept) is reported as `Invalid`
//! naming the column.

use chrono::{DateTime, Utc};
use hale_domain::{ResourceRef, Timestamp};
use hale_engine::ports::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::error;

/// A domain timestamp as a `timestamptz` value, or `Invalid` if it lies
/// outside what chrono can represent (the conversion would clamp it and the
/// value would read back different). Postgres refuses the part of chrono's
/// range beyond its own (before 4713 BC) with a data exception, which is
/// `Invalid` too.
pub(crate) fn ts(t: Timestamp) -> Result<DateTime<Utc>, StoreError> {
    let dt = t.to_datetime();
    if Timestamp::from_datetime(dt) == t {
        Ok(dt)
    } else {
        Err(StoreError::Invalid(format!(
            "timestamp {t:?} is out of the storable range"
        )))
    }
}

/// An optional timestamp.
pub(crate) fn ts_opt(t: Option<Timestamp>) -> Result<Option<DateTime<Utc>>, StoreError> {
    t.map(ts).transpose()
}

/// A `u64` as `bigint`, or `Invalid` if it does not fit.
pub(crate) fn int(what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Invalid(format!("{what} {v} exceeds the largest storable value")))
}

/// An optional `u64` as `bigint`.
pub(crate) fn int_opt(what: &str, v: Option<u64>) -> Result<Option<i64>, StoreError> {
    v.map(|v| int(what, v)).transpose()
}

/// A plain enum's serde wire name (`"pending"`, `"HEALING"`, `"P1"`).
pub(crate) fn wire<T: Serialize>(v: &T) -> Result<String, StoreError> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Err(StoreError::Invalid(format!(
            "expected an enum wire name, got {other}"
        ))),
        Err(e) => Err(StoreError::Invalid(e.to_string())),
    }
}

/// An optional enum's wire name.
pub(crate) fn wire_opt<T: Serialize>(v: Option<&T>) -> Result<Option<String>, StoreError> {
    v.map(wire).transpose()
}

/// Typed accessors for a result row; every error names the column.
pub(crate) struct Cols<'r> {
    row: &'r PgRow,
    table: &'static str,
}

impl<'r> Cols<'r> {
    /// Reads columns of `row` from `table`.
    pub(crate) fn new(row: &'r PgRow, table: &'static str) -> Self {
        Cols { row, table }
    }

    fn corrupt(&self, col: &str, why: impl std::fmt::Display) -> StoreError {
        StoreError::Invalid(format!("stored {}.{col} cannot be read: {why}", self.table))
    }

    fn get<T>(&self, col: &str) -> Result<T, StoreError>
    where
        T: for<'a> sqlx::Decode<'a, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.row
            .try_get::<T, _>(col)
            .map_err(|e| error::context(error::db(e), &format!("{}.{col}", self.table)))
    }

    /// A text column.
    pub(crate) fn text(&self, col: &str) -> Result<String, StoreError> {
        self.get(col)
    }

    /// A nullable text column.
    pub(crate) fn text_opt(&self, col: &str) -> Result<Option<String>, StoreError> {
        self.get(col)
    }

    /// A boolean column.
    pub(crate) fn bool(&self, col: &str) -> Result<bool, StoreError> {
        self.get(col)
    }

    /// A `bigint` column holding an unsigned value.
    pub(crate) fn u64(&self, col: &str) -> Result<u64, StoreError> {
        let v: i64 = self.get(col)?;
        u64::try_from(v).map_err(|_| self.corrupt(col, format!("negative value {v}")))
    }

    /// A nullable `bigint` column holding an unsigned value.
    pub(crate) fn u64_opt(&self, col: &str) -> Result<Option<u64>, StoreError> {
        let v: Option<i64> = self.get(col)?;
        v.map(|v| u64::try_from(v).map_err(|_| self.corrupt(col, format!("negative value {v}"))))
            .transpose()
    }

    /// A `bigint` column holding a `u32`.
    pub(crate) fn u32(&self, col: &str) -> Result<u32, StoreError> {
        let v = self.u64(col)?;
        u32::try_from(v).map_err(|_| self.corrupt(col, format!("{v} is out of range")))
    }

    /// A `timestamptz` column.
    pub(crate) fn ts(&self, col: &str) -> Result<Timestamp, StoreError> {
        let v: DateTime<Utc> = self.get(col)?;
        Ok(Timestamp::from_datetime(v))
    }

    /// A nullable `timestamptz` column.
    pub(crate) fn ts_opt(&self, col: &str) -> Result<Option<Timestamp>, StoreError> {
        let v: Option<DateTime<Utc>> = self.get(col)?;
        Ok(v.map(Timestamp::from_datetime))
    }

    /// A `timestamptz[]` column.
    pub(crate) fn ts_vec(&self, col: &str) -> Result<Vec<Timestamp>, StoreError> {
        let v: Vec<DateTime<Utc>> = self.get(col)?;
        Ok(v.into_iter().map(Timestamp::from_datetime).collect())
    }

    /// A text column holding a resource key (`namespace:kind/name`).
    pub(crate) fn resource(&self, col: &str) -> Result<ResourceRef, StoreError> {
        ResourceRef::parse(&self.text(col)?).map_err(|e| self.corrupt(col, e))
    }

    /// A `jsonb` column decoded into a domain type.
    pub(crate) fn json<T: DeserializeOwned>(&self, col: &str) -> Result<T, StoreError> {
        let v: serde_json::Value = self.get(col)?;
        serde_json::from_value(v).map_err(|e| self.corrupt(col, e))
    }

    /// A nullable `jsonb` column decoded into a domain type.
    pub(crate) fn json_opt<T: DeserializeOwned>(&self, col: &str) -> Result<Option<T>, StoreError> {
        let v: Option<serde_json::Value> = self.get(col)?;
        v.map(|v| serde_json::from_value(v).map_err(|e| self.corrupt(col, e)))
            .transpose()
    }

    /// A text column holding an enum's wire name, or any type with a
    /// `FromStr` (ids, resources).
    pub(crate) fn parse<T: DeserializeOwned>(&self, col: &str) -> Result<T, StoreError> {
        let s = self.text(col)?;
        serde_json::from_value(serde_json::Value::String(s)).map_err(|e| self.corrupt(col, e))
    }

    /// A nullable text column holding an enum's wire name or an id.
    pub(crate) fn parse_opt<T: DeserializeOwned>(
        &self,
        col: &str,
    ) -> Result<Option<T>, StoreError> {
        self.text_opt(col)?
            .map(|s| {
                serde_json::from_value(serde_json::Value::String(s))
                    .map_err(|e| self.corrupt(col, e))
            })
            .transpose()
    }
}

/// A value to bind into a `jsonb` column. Serializing first (rather than
/// binding `Json<T>`) turns a serialization failure into `Invalid` here.
pub(crate) fn json<T: Serialize>(v: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(v).map_err(|e| StoreError::Invalid(format!("cannot encode as JSON: {e}")))
}

/// An optional value for a nullable `jsonb` column.
pub(crate) fn json_opt<T: Serialize>(
    v: Option<&T>,
) -> Result<Option<serde_json::Value>, StoreError> {
    v.map(json).transpose()
}
