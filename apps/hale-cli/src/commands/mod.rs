//! The commands that talk to a server: each builds one request from its
//! arguments and renders the answer as a table, or passes it through as JSON
//! with `-o json`.

pub mod render;

use hale_domain::Timestamp;
use serde_json::{Value, json};

use crate::cli::{
    ApprovalsCommand, AttemptsCommand, AuditArgs, BreakersCommand, Command, DormantCommand,
    IncidentsCommand, KnowledgeCommand, NotificationsArgs, NotificationsCommand, OpenWindowArgs,
    OpsCommand, Output, Paging, SwitchState, SwitchesCommand, TimeRange, WindowsCommand,
};
use crate::client::{ApiClient, Query};
use crate::exit::CliError;

/// Runs a server command and returns what to print on stdout.
pub async fn run(client: &ApiClient, output: Output, cmd: Command) -> Result<String, CliError> {
    let (answer, table): (Value, fn(&Value) -> String) = match cmd {
        Command::Status => (
            client.get("/v1/status", &Query::new()).await?,
            render::status,
        ),
        Command::Ops(c) => ops(client, c).await?,
        Command::Incidents(c) => incidents(client, c).await?,
        Command::Knowledge(c) => knowledge(client, c).await?,
        Command::Approvals(c) => approvals(client, c).await?,
        Command::Switches(c) => switches(client, c).await?,
        Command::Dormant(c) => dormant(client, c).await?,
        Command::Breakers(c) => breakers(client, c).await?,
        Command::Windows(c) => windows(client, c).await?,
        Command::Attempts(AttemptsCommand::Reset {
            strategy,
            resource,
            reason,
        }) => {
            need_text("--reason", &reason)?;
            let body = json!({ "strategy": strategy, "resource": resource, "reason": reason });
            (
                client.post("/v1/attempts/reset", &body).await?,
                render::attempts_reset,
            )
        }
        Command::Audit(a) => (
            client.get("/v1/audit", &audit_query(&a)?).await?,
            render::audit,
        ),
        Command::Notifications(NotificationsArgs {
            command:
                Some(NotificationsCommand::Redrive {
                    channel,
                    reason,
                    notice,
                    kind,
                }),
            ..
        }) => {
            need_text("--reason", &reason)?;
            let body = json!({
                "channel": channel,
                "reason": reason,
                "notice_id": notice,
                "kind": kind,
            });
            (
                client.post("/v1/notifications/redrive", &body).await?,
                render::notifications_redriven,
            )
        }
        Command::Notifications(n) => {
            let q = Query::new()
                .opt("channel", n.channel.as_deref())
                .opt("kind", n.kind.as_deref())
                .opt("pending", n.pending);
            (
                client
                    .get("/v1/notifications", &paging(q, &n.paging))
                    .await?,
                render::notifications,
            )
        }
        Command::Migrate(_)
        | Command::Completions { .. }
        | Command::Policy(_)
        | Command::Replay(_) => {
            return Err(CliError::Usage(
                "internal: an offline command was sent to the server dispatcher".into(),
            ));
        }
    };
    Ok(match output {
        Output::Json => crate::out::json(&answer),
        Output::Table => table(&answer),
    })
}

type Answer = (Value, fn(&Value) -> String);

/// Path segments are ids chosen by the server; anything that could change
/// the path (`/`, `?`, `#`, `..`) is refused rather than escaped.
fn segment(kind: &str, id: &str) -> Result<String, CliError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(id.to_owned())
    } else {
        Err(CliError::Usage(format!(
            "{id:?} is not a valid {kind} (letters, digits, - _ . : only)"
        )))
    }
}

fn need_text(flag: &str, value: &str) -> Result<(), CliError> {
    if value.trim().is_empty() {
        Err(CliError::Usage(format!("{flag} must not be empty")))
    } else {
        Ok(())
    }
}

/// The wall clock, for relative `--since 1h` filters.
fn wall_now() -> Timestamp {
    // The CLI is the one place a relative time ("the last hour") has to be
    // turned into an absolute one, and only the host clock knows "now"; no
    // policy decision depends on it.
    #[allow(clippy::disallowed_methods)]
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_micros(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
}

/// `--since`/`--until`: RFC 3339, or an age such as `1h` (that long ago).
pub fn parse_time(flag: &str, value: &str) -> Result<String, CliError> {
    parse_time_at(flag, value, wall_now())
}

fn parse_time_at(flag: &str, value: &str, now: Timestamp) -> Result<String, CliError> {
    if let Ok(t) = Timestamp::parse_rfc3339(value) {
        return Ok(t.to_rfc3339());
    }
    match hale_domain::time::duration::parse(value) {
        Ok(age) => Ok((now - age).to_rfc3339()),
        Err(_) => Err(CliError::Usage(format!(
            "{flag} {value:?}: use RFC 3339 (2026-11-23T17:18:33Z) or an age (30m, 1h, 7d)"
        ))),
    }
}

fn range_query(q: Query, r: &TimeRange) -> Result<Query, CliError> {
    let since = r
        .since
        .as_deref()
        .map(|s| parse_time("--since", s))
        .transpose()?;
    let until = r
        .until
        .as_deref()
        .map(|s| parse_time("--until", s))
        .transpose()?;
    Ok(q.opt("since", since).opt("until", until))
}

fn paging(q: Query, p: &Paging) -> Query {
    q.set("limit", p.limit).set("offset", p.offset)
}

/// The audit filters as query parameters (names as in `docs/api.md`).
pub fn audit_query(a: &AuditArgs) -> Result<Query, CliError> {
    let q = Query::new()
        .opt("operation_type", a.operation_type.as_deref())
        .opt("operation_id", a.operation.as_deref())
        .opt("approval_id", a.approval.as_deref())
        .opt("incident_id", a.incident.as_deref())
        .opt("source_system", a.source.as_deref())
        .opt("channel", a.channel.as_deref())
        .opt("success", a.success);
    Ok(paging(range_query(q, &a.range)?, &a.paging))
}

async fn ops(client: &ApiClient, c: OpsCommand) -> Result<Answer, CliError> {
    Ok(match c {
        OpsCommand::List {
            state,
            strategy,
            resource,
            range,
            paging: p,
        } => {
            let q = Query::new()
                .opt("state", state)
                .opt("strategy", strategy)
                .opt("resource", resource);
            let q = paging(range_query(q, &range)?, &p);
            (client.get("/v1/operations", &q).await?, render::operations)
        }
        OpsCommand::Show { id } => {
            let path = format!("/v1/operations/{}", segment("operation id", &id)?);
            (client.get(&path, &Query::new()).await?, render::operation)
        }
    })
}

async fn incidents(client: &ApiClient, c: IncidentsCommand) -> Result<Answer, CliError> {
    Ok(match c {
        IncidentsCommand::List {
            status,
            severity,
            range,
            paging: p,
        } => {
            let q = Query::new().opt("status", status).opt("severity", severity);
            let q = paging(range_query(q, &range)?, &p);
            (client.get("/v1/incidents", &q).await?, render::incidents)
        }
        IncidentsCommand::Show { id } => {
            let path = format!("/v1/incidents/{}", segment("incident id", &id)?);
            (client.get(&path, &Query::new()).await?, render::incident)
        }
        IncidentsCommand::Close { id, reason } => {
            need_text("--reason", &reason)?;
            let path = format!("/v1/incidents/{}/close", segment("incident id", &id)?);
            (
                client.post(&path, &json!({ "reason": reason })).await?,
                render::incident,
            )
        }
    })
}

/// `--content`: the text itself, `@FILE`, or `-` for stdin.
fn content_arg(value: &str) -> Result<String, CliError> {
    let text = if value == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Usage(format!("--content -: could not read stdin: {e}")))?
    } else if let Some(file) = value.strip_prefix('@') {
        std::fs::read_to_string(file)
            .map_err(|e| CliError::Usage(format!("--content @{file}: {e}")))?
    } else {
        value.to_owned()
    };
    need_text("--content", &text)?;
    Ok(text)
}

async fn knowledge(client: &ApiClient, c: KnowledgeCommand) -> Result<Answer, CliError> {
    Ok(match c {
        KnowledgeCommand::List {
            entry_type,
            status,
            paging: p,
        } => {
            let q = paging(
                Query::new().opt("type", entry_type).opt("status", status),
                &p,
            );
            (client.get("/v1/knowledge", &q).await?, render::knowledge)
        }
        KnowledgeCommand::Show { id } => {
            let path = format!("/v1/knowledge/{}", segment("knowledge id", &id)?);
            (
                client.get(&path, &Query::new()).await?,
                render::knowledge_entry,
            )
        }
        KnowledgeCommand::Create {
            title,
            content,
            category,
            tags,
            incident,
        } => {
            need_text("--title", &title)?;
            let mut body =
                json!({ "title": title, "content": content_arg(&content)?, "tags": tags });
            if let Some(c) = category {
                body["category"] = Value::String(c);
            }
            if let Some(i) = incident {
                body["related_incident_id"] = Value::String(i);
            }
            (
                client.post("/v1/knowledge", &body).await?,
                render::knowledge_entry,
            )
        }
        KnowledgeCommand::Archive { id, reason } => {
            need_text("--reason", &reason)?;
            let path = format!("/v1/knowledge/{}/archive", segment("knowledge id", &id)?);
            (
                client.post(&path, &json!({ "reason": reason })).await?,
                render::knowledge_entry,
            )
        }
    })
}

async fn approvals(client: &ApiClient, c: ApprovalsCommand) -> Result<Answer, CliError> {
    Ok(match c {
        ApprovalsCommand::List {
            status,
            resource,
            paging: p,
        } => {
            let q = paging(
                Query::new().opt("status", status).opt("resource", resource),
                &p,
            );
            (client.get("/v1/approvals", &q).await?, render::approvals)
        }
        ApprovalsCommand::Show { id } => {
            let path = format!("/v1/approvals/{}", segment("approval id", &id)?);
            (client.get(&path, &Query::new()).await?, render::approval)
        }
        ApprovalsCommand::Approve { id, comment } => {
            let path = format!("/v1/approvals/{}/approve", segment("approval id", &id)?);
            let body = match comment {
                Some(c) => json!({ "comment": c }),
                None => json!({}),
            };
            (client.post(&path, &body).await?, render::approval_decision)
        }
        ApprovalsCommand::Reject { id, reason } => {
            need_text("--reason", &reason)?;
            let path = format!("/v1/approvals/{}/reject", segment("approval id", &id)?);
            (
                client.post(&path, &json!({ "reason": reason })).await?,
                render::approval_decision,
            )
        }
    })
}

/// `global:<feature>`, `tenant`, `strategy:<id>`, `action_kind:<kind>`
/// -> (layer, key).
pub fn switch_target(target: &str) -> Result<(&'static str, Option<String>), CliError> {
    let (layer, key) = match target.split_once(':') {
        Some((l, k)) => (l, Some(k)),
        None => (target, None),
    };
    let layer = match layer {
        "global" => "global",
        "tenant" => "tenant",
        "strategy" => "strategy",
        "action_kind" | "action-kind" | "kind" => "action_kind",
        other => {
            return Err(CliError::Usage(format!(
                "unknown switch layer {other:?}: use global:<feature>, tenant, strategy:<id> or action_kind:<kind>"
            )));
        }
    };
    match (layer, key) {
        ("tenant", None) => Ok((layer, None)),
        ("tenant", Some(_)) => Err(CliError::Usage(
            "the tenant switch has no key: use `tenant` (the tenant comes from the token or --tenant)".into(),
        )),
        (_, Some(k)) if !k.trim().is_empty() => Ok((layer, Some(k.trim().to_owned()))),
        _ => Err(CliError::Usage(format!(
            "the {layer} layer needs a key: {layer}:<{}>",
            match layer {
                "global" => "feature",
                "strategy" => "strategy id",
                _ => "action kind",
            }
        ))),
    }
}

async fn switches(client: &ApiClient, c: SwitchesCommand) -> Result<Answer, CliError> {
    Ok(match c {
        SwitchesCommand::Get => (
            client.get("/v1/switches", &Query::new()).await?,
            render::switches,
        ),
        SwitchesCommand::Set {
            target,
            state,
            reason,
        } => {
            need_text("--reason", &reason)?;
            let (layer, key) = switch_target(&target)?;
            let state = match state {
                SwitchState::On => "on",
                SwitchState::Off => "off",
                SwitchState::Unset => "unset",
            };
            let mut body = json!({ "layer": layer, "state": state, "reason": reason });
            if let Some(k) = key {
                body["key"] = Value::String(k);
            }
            let answer = client.put("/v1/switches", &body).await?;
            (answer, render::switches)
        }
    })
}

async fn dormant(client: &ApiClient, c: DormantCommand) -> Result<Answer, CliError> {
    let (path, reason, global) = match c {
        DormantCommand::Resume { reason, global } => ("/v1/dormancy/resume", reason, global),
        DormantCommand::Enter { reason, global } => ("/v1/dormancy/enter", reason, global),
    };
    need_text("--reason", &reason)?;
    let scope = if global { "global" } else { "tenant" };
    let answer = client
        .post(path, &json!({ "reason": reason, "scope": scope }))
        .await?;
    Ok((answer, render::dormancy))
}

async fn breakers(client: &ApiClient, c: BreakersCommand) -> Result<Answer, CliError> {
    Ok(match c {
        BreakersCommand::List => (
            client.get("/v1/breakers", &Query::new()).await?,
            render::breakers,
        ),
        BreakersCommand::Reset { name, reason } => {
            need_text("--reason", &reason)?;
            let path = format!("/v1/breakers/{}/reset", segment("breaker name", &name)?);
            (
                client.post(&path, &json!({ "reason": reason })).await?,
                render::breaker_reset,
            )
        }
    })
}

async fn windows(client: &ApiClient, c: WindowsCommand) -> Result<Answer, CliError> {
    Ok(match c {
        WindowsCommand::List => (
            client.get("/v1/maintenance-windows", &Query::new()).await?,
            render::windows,
        ),
        WindowsCommand::Open(args) => {
            let OpenWindowArgs {
                id,
                mode,
                from,
                until,
                days,
                start,
                duration,
                time_zone,
                namespace,
                strategy,
                reason,
            } = *args;
            need_text("--reason", &reason)?;
            let schedule = match (from, until, start, duration, time_zone) {
                (Some(from), Some(until), None, None, None) if days.is_empty() => {
                    json!({ "kind": "one_off", "start": from, "end": until })
                }
                (None, None, Some(start), Some(duration), Some(tz)) if !days.is_empty() => {
                    json!({ "kind": "weekly", "days": days, "start": start, "duration": duration, "time_zone": tz })
                }
                _ => {
                    return Err(CliError::Usage(
                        "give --from and --until (one-off), or --days, --start, --duration and --time-zone (weekly)".into(),
                    ));
                }
            };
            let body = json!({
                "id": id, "mode": mode, "reason": reason, "schedule": schedule,
                "scope": { "namespaces": namespace, "strategies": strategy },
            });
            (
                client.post("/v1/maintenance-windows", &body).await?,
                render::window_changed,
            )
        }
        WindowsCommand::End { id, reason } => {
            need_text("--reason", &reason)?;
            let path = format!("/v1/maintenance-windows/{}/end", segment("window id", &id)?);
            (
                client.post(&path, &json!({ "reason": reason })).await?,
                render::window_changed,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_ages() {
        let now = Timestamp::from_unix_secs(1_800_000_000);
        assert_eq!(
            parse_time_at("--since", "1h", now).unwrap(),
            "2027-01-15T07:00:00.000000Z"
        );
        assert_eq!(
            parse_time_at("--since", "2026-11-23T17:18:33+01:00", now).unwrap(),
            "2026-11-23T16:18:33.000000Z"
        );
        assert!(parse_time_at("--since", "yesterday", now).is_err());
    }

    #[test]
    fn switch_targets_name_a_layer_and_a_key() {
        assert_eq!(
            switch_target("global:auto_healing").unwrap(),
            ("global", Some("auto_healing".into()))
        );
        assert_eq!(switch_target("tenant").unwrap(), ("tenant", None));
        assert_eq!(
            switch_target("action-kind:rollout_restart").unwrap(),
            ("action_kind", Some("rollout_restart".into()))
        );
        assert!(switch_target("strategy").is_err());
        assert!(switch_target("tenant:x").is_err());
        assert!(switch_target("planet:x").is_err());
    }

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert!(segment("id", "op-000001").is_ok());
        assert!(segment("id", "../admin").is_err());
        assert!(segment("id", "a/b").is_err());
        assert!(segment("id", "").is_err());
    }
}
