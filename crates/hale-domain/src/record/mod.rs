//! Durable records: incidents, the audit log, timeline events and knowledge
//! entries (seed 003's tables). Plain data; the engine writes them through
//! the store ports.

pub mod audit;
pub mod incident;
pub mod incident_change;
pub mod knowledge;
pub mod timeline;

pub(crate) use crate::wire::wire_enum;
