//! The OpenAPI 3.1 document served at `/v1/openapi.json`, built by hand
//! with `serde_json` so it says exactly what docs/api.md says. A test holds
//! it to the router: every route registered appears here with its method,
//! and nothing else does.

use serde_json::{Value, json};

/// A query parameter.
fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

/// A path parameter.
fn path(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn tenant_param() -> Value {
    query(
        "tenant",
        "The tenant, for platform tokens (tenant \"*\"). A tenant token naming another tenant gets 403.",
        string(),
    )
}

fn tz_param() -> Value {
    query(
        "tz",
        "Render every timestamp in this fixed offset (`+08:00`, `-05:30`) or `UTC`.",
        string(),
    )
}

/// `tenant`, `tz`, `limit`, `offset` and the endpoint's filters.
fn list_params(filters: &[(&str, &str)]) -> Value {
    let mut out = vec![
        tenant_param(),
        tz_param(),
        query(
            "limit",
            "Page size, 1..1000 (default 50).",
            json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 50 }),
        ),
        query(
            "offset",
            "Rows to skip.",
            json!({ "type": "integer", "minimum": 0, "default": 0 }),
        ),
    ];
    for (name, description) in filters {
        let schema = if *name == "success" || *name == "pending" {
            json!({ "type": "boolean" })
        } else {
            string()
        };
        out.push(query(name, description, schema));
    }
    Value::Array(out)
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The documented error answers plus a success answer.
fn responses(ok: Value, errors: &[u16]) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("200".into(), ok);
    for code in errors {
        map.insert(
            code.to_string(),
            json!({ "$ref": format!("#/components/responses/E{code}") }),
        );
    }
    Value::Object(map)
}

fn ok_json(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": json_content(schema) })
}

fn body(schema: Value, required: bool) -> Value {
    json!({ "required": required, "content": json_content(schema) })
}

const READ_ERRORS: &[u16] = &[401, 403, 404, 422, 503];
const ACT_ERRORS: &[u16] = &[400, 401, 403, 404, 409, 413, 415, 422, 503];

fn list_op(summary: &str, items: &str, filters: &[(&str, &str)]) -> Value {
    json!({
        "summary": summary,
        "tags": ["reads"],
        "parameters": list_params(filters),
        "responses": responses(ok_json("A page, newest first.", json!({
            "type": "object",
            "required": ["items", "next_offset"],
            "properties": {
                "items": { "type": "array", "items": schema_ref(items) },
                "next_offset": { "type": ["integer", "null"] }
            }
        })), READ_ERRORS)
    })
}

fn one_op(summary: &str, item: &str) -> Value {
    json!({
        "summary": summary,
        "tags": ["reads"],
        "parameters": [path("id", "The id."), tenant_param(), tz_param()],
        "responses": responses(ok_json("The object.", schema_ref(item)), READ_ERRORS)
    })
}

fn act_op(summary: &str, params: Vec<Value>, request: &str, role: &str) -> Value {
    json!({
        "summary": summary,
        "description": format!("Role: {role}. Audited with the token's name as the actor and channel `manual`."),
        "tags": ["acts"],
        "parameters": params,
        "requestBody": body(schema_ref(request), request != "ApproveRequest"),
        "responses": responses(ok_json("Done.", json!({ "type": "object" })), ACT_ERRORS)
    })
}

fn intake_op(summary: &str, request: &str) -> Value {
    json!({
        "summary": summary,
        "tags": ["intake"],
        "description": "Role: ingest, operator or admin. The token decides the tenant. A 503 means nothing of the failing alert was recorded; retrying the same body is safe.",
        "parameters": [tenant_param()],
        "requestBody": body(schema_ref(request), true),
        "responses": responses(ok_json("One decision per alert.", schema_ref("IngestResponse")), &[400, 401, 403, 404, 413, 415, 422, 503])
    })
}

fn open_op(summary: &str, content_type: &str, schema: Value) -> Value {
    json!({
        "summary": summary,
        "tags": ["operations"],
        "security": [],
        "responses": {
            "200": { "description": "OK", "content": { content_type: { "schema": schema } } },
            "503": { "$ref": "#/components/responses/E503" }
        }
    })
}

/// `/metrics`: open by default; with `[server] metrics_require_token`, a
/// platform token that may read.
fn metrics_op() -> Value {
    let mut op = open_op(
        "Prometheus text format. Needs a platform token (tenant \"*\", viewer or above) when [server] metrics_require_token is set; never carries backend error text.",
        "text/plain",
        json!({ "type": "string" }),
    );
    op["security"] = json!([{}, { "bearer": [] }]);
    op["responses"]["401"] = json!({ "$ref": "#/components/responses/E401" });
    op["responses"]["403"] = json!({ "$ref": "#/components/responses/E403" });
    op
}

fn paths() -> Value {
    json!({
        "/v1/alerts/alertmanager": { "post": intake_op("Alertmanager webhook (version 4), firing and resolved, HA duplicates welcome", "AlertmanagerWebhook") },
        "/v1/alerts": { "post": intake_op("Alerts in the generic form", "GenericAlerts") },
        "/v1/status": { "get": {
            "summary": "Seed 002 status: selfHealing, circuitBreakers, backgroundTasks, issues, recommendations (+ tenants in the global view)",
            "tags": ["reads"],
            "parameters": [tenant_param(), tz_param()],
            "responses": responses(ok_json("The status.", schema_ref("Status")), READ_ERRORS)
        } },
        "/v1/operations": { "get": list_op("Healing operations", "Object", &[
            ("state", "IDLE, DIAGNOSING, HEALING, VERIFYING, COMPLETED, FAILED or INTERRUPTED (any case)."),
            ("strategy", "Strategy id."),
            ("resource", "namespace:kind/name."),
            ("since", "RFC 3339; started at or after."),
            ("until", "RFC 3339; started before."),
        ]) },
        "/v1/operations/{id}": { "get": one_op("One healing operation", "Object") },
        "/v1/incidents": { "get": list_op("Incidents", "Object", &[
            ("status", "Incident status."),
            ("severity", "Severity."),
            ("since", "RFC 3339."),
            ("until", "RFC 3339."),
        ]) },
        "/v1/incidents/{id}": { "get": one_op("One incident", "Object") },
        "/v1/incidents/{id}/close": { "post": act_op("Close an incident with a reason (audited as incident.closed)", vec![path("id", "The incident id."), tenant_param()], "ReasonRequest", "operator") },
        "/v1/knowledge": {
            "get": list_op("Knowledge entries (runbooks, anti-patterns, ...); listing counts no views", "Object", &[
                ("type", "incident_case, runbook, best_practice, postmortem or anti_pattern."),
                ("status", "draft, review, approved or archived."),
            ]),
            "post": act_op("Write a runbook entry (answers 201 with the entry; audited as knowledge.created)", vec![tenant_param()], "RunbookRequest", "operator")
        },
        "/v1/knowledge/{id}": { "get": one_op("One knowledge entry; each read counts in its view_count", "Object") },
        "/v1/knowledge/{id}/archive": { "post": act_op("Archive a knowledge entry: lifts an anti-pattern block (audited as knowledge.archived with who and why)", vec![path("id", "The entry id."), tenant_param()], "ReasonRequest", "operator") },
        "/v1/approvals": { "get": list_op("Approval requests", "Object", &[
            ("status", "pending, approved, rejected, expired, ..."),
            ("resource", "namespace:kind/name."),
        ]) },
        "/v1/approvals/{id}": { "get": one_op("One approval request", "Object") },
        "/v1/audit": { "get": list_op("The audit log", "Object", &[
            ("operation_type", "e.g. healing.started, switch.set."),
            ("operation_id", "Operation id."),
            ("approval_id", "Approval id."),
            ("incident_id", "Incident id."),
            ("source_system", "e.g. decision_manager, failure_watcher."),
            ("channel", "Authorization channel: auto_repair, decision_manager, manual (this API), web (the operator console)."),
            ("success", "true or false."),
            ("since", "RFC 3339."),
            ("until", "RFC 3339."),
        ]) },
        "/v1/timeline": { "get": list_op("Timeline events", "Object", &[
            ("incident_id", "Incident id."),
            ("operation_id", "Operation id."),
            ("approval_id", "Approval id."),
            ("event_type", "Event type."),
            ("since", "RFC 3339."),
            ("until", "RFC 3339."),
        ]) },
        "/v1/switches": {
            "get": {
                "summary": "Kill-switch layers: global_effective, global_runtime, flags, tenant",
                "tags": ["reads"],
                "parameters": [tenant_param(), tz_param()],
                "responses": responses(ok_json("The layers.", schema_ref("Object")), READ_ERRORS)
            },
            "put": act_op("Set or unset a kill switch", vec![tenant_param()], "SwitchRequest", "admin for layer global, else operator")
        },
        "/v1/breakers": { "get": {
            "summary": "The tenant's circuit breakers",
            "tags": ["reads"],
            "parameters": [tenant_param(), tz_param()],
            "responses": responses(ok_json("The breakers.", json!({ "type": "object", "properties": { "items": { "type": "array", "items": schema_ref("Object") } } })), READ_ERRORS)
        } },
        "/v1/notifications": { "get": list_op("Notification deliveries (notice, channel, attempts, last error, delivered at); a platform token without tenant reads the platform-wide notices", "Object", &[
            ("channel", "Channel name."),
            ("kind", "Notice kind, e.g. approval_requested, healing_escalated, dormancy_entered."),
            ("pending", "true: not delivered or given up yet; false: finished."),
        ]) },
        "/v1/approvals/{id}/approve": { "post": act_op("Sign an approval request", vec![path("id", "The approval id."), tenant_param()], "ApproveRequest", "operator") },
        "/v1/approvals/{id}/reject": { "post": act_op("Reject an approval request", vec![path("id", "The approval id."), tenant_param()], "ReasonRequest", "operator") },
        "/v1/dormancy/resume": { "post": act_op("Wake a dormant scope (the only way out of dormant mode)", vec![tenant_param()], "DormancyRequest", "operator (tenant), admin (global)") },
        "/v1/dormancy/enter": { "post": act_op("Put a scope to sleep", vec![tenant_param()], "DormancyRequest", "operator (tenant), admin (global)") },
        "/v1/breakers/{name}/reset": { "post": act_op("Reset a breaker (the only way out of PERMANENT_OPEN)", vec![path("name", "The breaker's name (its executor's)."), tenant_param()], "ReasonRequest", "operator") },
        "/v1/attempts/reset": { "post": act_op("Clear a strategy's failure streak on a target", vec![tenant_param()], "AttemptsRequest", "operator") },
        "/v1/notifications/redrive": { "post": act_op("Send a channel's given-up notification deliveries again (attempts from zero, due now); a platform token without tenant redrives the platform's (admin role)", vec![tenant_param()], "RedriveRequest", "operator") },
        "/v1/maintenance-windows": {
            "get": {
                "summary": "The tenant's maintenance windows: configured and opened through the API, each with source, active and current",
                "tags": ["reads"],
                "parameters": [tenant_param(), tz_param()],
                "responses": responses(ok_json("The windows.", json!({ "type": "object", "properties": { "items": { "type": "array", "items": schema_ref("Object") } } })), READ_ERRORS)
            },
            "post": act_op("Open a maintenance window (audited as maintenance_window.opened)", vec![tenant_param()], "WindowRequest", "operator")
        },
        "/v1/maintenance-windows/{id}/end": { "post": act_op("End a maintenance window opened through the API (audited as maintenance_window.ended)", vec![path("id", "The window's id."), tenant_param()], "ReasonRequest", "operator") },
        "/healthz": { "get": open_op("Liveness: 200 while the process serves", "application/json", json!({ "type": "object" })) },
        "/readyz": { "get": open_op("Readiness: 200 only when the store and the lock backend answer", "application/json", json!({ "type": "object" })) },
        "/metrics": { "get": metrics_op() },
        "/v1/openapi.json": { "get": open_op("This document", "application/json", json!({ "type": "object" })) }
    })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": json_content(schema_ref("Error")) })
}

fn components() -> Value {
    let alert = json!({
        "type": "object",
        "required": ["status", "labels"],
        "properties": {
            "status": { "enum": ["firing", "resolved"] },
            "labels": { "type": "object", "additionalProperties": { "type": "string" }, "description": "Must contain alertname." },
            "annotations": { "type": "object", "additionalProperties": { "type": "string" } },
            "startsAt": { "type": ["string", "null"], "format": "date-time" },
            "endsAt": { "type": ["string", "null"], "format": "date-time" },
            "generatorURL": { "type": ["string", "null"] },
            "fingerprint": { "type": ["string", "null"] }
        }
    });
    json!({
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "An API token; configured as its SHA-256 in [[tokens]]." }
        },
        "responses": {
            "E400": error_response("malformed_json: not JSON or the wrong shape; detail names the field."),
            "E401": error_response("unauthorized: no token, or one that matches nothing."),
            "E403": error_response("forbidden: the token's role or tenant may not do this."),
            "E404": error_response("not_found: no such object for this tenant."),
            "E409": error_response("conflict: concurrent change, already signed, not pending."),
            "E413": error_response("payload_too_large: body over the limit."),
            "E415": error_response("unsupported_media_type: not application/json."),
            "E422": error_response("invalid: valid JSON (or query) that fails validation."),
            "E503": {
                "description": "unavailable: store or lock backend down, or shutting down. Retry after Retry-After seconds; nothing was lost.",
                "headers": { "Retry-After": { "schema": { "type": "integer" } } },
                "content": json_content(schema_ref("Error"))
            }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": { "error": string(), "detail": string() }
            },
            "Object": { "type": "object", "description": "A Hale record, as serialized by hale-domain." },
            "Alert": alert,
            "GenericAlerts": {
                "type": "object",
                "required": ["alerts"],
                "properties": { "alerts": { "type": "array", "items": schema_ref("Alert") } }
            },
            "AlertmanagerWebhook": {
                "type": "object",
                "required": ["version", "status", "alerts"],
                "properties": {
                    "version": { "const": "4" },
                    "status": { "enum": ["firing", "resolved"] },
                    "receiver": string(),
                    "groupKey": string(),
                    "truncatedAlerts": { "type": "integer" },
                    "groupLabels": { "type": "object" },
                    "commonLabels": { "type": "object" },
                    "commonAnnotations": { "type": "object" },
                    "externalURL": string(),
                    "alerts": { "type": "array", "items": schema_ref("Alert") }
                }
            },
            "IngestResponse": {
                "type": "object",
                "required": ["received", "decisions"],
                "properties": {
                    "received": { "type": "integer" },
                    "decisions": { "type": "array", "items": schema_ref("AlertDecision") }
                }
            },
            "AlertDecision": {
                "type": "object",
                "required": ["fingerprint", "alertname", "status", "outcome"],
                "properties": {
                    "fingerprint": string(),
                    "alertname": string(),
                    "status": { "enum": ["firing", "resolved"] },
                    "outcome": {
                        "type": "object",
                        "required": ["decision"],
                        "properties": { "decision": { "enum": [
                            "operation_started", "approval_requested", "deferred", "blocked", "skipped",
                            "deduplicated", "duplicate_delivery", "resolved", "no_strategy", "waiting"
                        ] } }
                    }
                }
            },
            "Status": {
                "type": "object",
                "required": ["scope", "selfHealing", "circuitBreakers", "backgroundTasks", "issues", "recommendations"],
                "properties": {
                    "scope": string(),
                    "generatedAt": { "type": "string", "format": "date-time" },
                    "selfHealing": { "type": "object" },
                    "circuitBreakers": { "type": "array", "items": { "type": "object" } },
                    "backgroundTasks": { "type": "object" },
                    "issues": { "type": "array", "items": string() },
                    "recommendations": { "type": "array", "items": string() },
                    "tenants": { "type": "array", "items": { "type": "object" } }
                }
            },
            "ApproveRequest": {
                "type": "object",
                "properties": { "comment": string() }
            },
            "ReasonRequest": {
                "type": "object",
                "required": ["reason"],
                "properties": { "reason": { "type": "string", "minLength": 1 } }
            },
            "SwitchRequest": {
                "type": "object",
                "required": ["layer", "state", "reason"],
                "properties": {
                    "layer": { "enum": ["global", "tenant", "strategy", "action_kind"] },
                    "key": { "type": "string", "description": "Feature (global), strategy id, or action kind." },
                    "state": { "enum": ["on", "off", "unset"] },
                    "reason": { "type": "string", "minLength": 1 }
                }
            },
            "DormancyRequest": {
                "type": "object",
                "required": ["reason"],
                "properties": {
                    "reason": { "type": "string", "minLength": 1 },
                    "scope": { "enum": ["tenant", "global"], "default": "tenant" }
                }
            },
            "RunbookRequest": {
                "type": "object",
                "required": ["title", "content"],
                "properties": {
                    "title": { "type": "string", "minLength": 1, "maxLength": 200 },
                    "content": { "type": "string", "minLength": 1 },
                    "category": { "type": "string", "default": "runbook" },
                    "tags": { "type": "array", "items": string(), "maxItems": 32 },
                    "related_incident_id": { "type": "string", "description": "An incident of the tenant." }
                }
            },
            "WindowRequest": {
                "type": "object",
                "required": ["id", "mode", "schedule", "reason"],
                "properties": {
                    "id": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" },
                    "mode": { "enum": ["block", "approval_only"] },
                    "scope": {
                        "type": "object",
                        "description": "Empty lists (the default) cover the whole tenant.",
                        "properties": {
                            "namespaces": { "type": "array", "items": string() },
                            "strategies": { "type": "array", "items": string() }
                        }
                    },
                    "schedule": {
                        "type": "object",
                        "required": ["kind"],
                        "description": "one_off: start, end (RFC 3339). weekly: days (mon..sun), start (HH:MM local), duration (e.g. 2h, at most 7d), time_zone (IANA).",
                        "properties": {
                            "kind": { "enum": ["one_off", "weekly"] },
                            "start": string(),
                            "end": { "type": "string", "format": "date-time" },
                            "days": { "type": "array", "items": { "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] } },
                            "duration": string(),
                            "time_zone": string()
                        }
                    },
                    "reason": { "type": "string", "minLength": 1 }
                }
            },
            "AttemptsRequest": {
                "type": "object",
                "required": ["strategy", "resource", "reason"],
                "properties": {
                    "strategy": string(),
                    "resource": { "type": "string", "description": "namespace:kind/name" },
                    "reason": { "type": "string", "minLength": 1 }
                }
            },
            "RedriveRequest": {
                "type": "object",
                "required": ["channel", "reason"],
                "properties": {
                    "channel": string(),
                    "reason": { "type": "string", "minLength": 1 },
                    "notice_id": { "type": "string", "description": "Only this notice." },
                    "kind": { "type": "string", "description": "Only this notice kind, e.g. approval_requested." }
                }
            }
        }
    })
}

/// The whole document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Hale",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The HTTP API of hale-server (docs/api.md). Errors are {\"error\", \"detail\"}. Timestamps are RFC 3339 UTC unless ?tz= says otherwise."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "tags": [
            { "name": "intake" }, { "name": "reads" }, { "name": "acts" }, { "name": "operations" }
        ],
        "paths": paths(),
        "components": components()
    })
}
