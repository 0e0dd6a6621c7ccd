//! Controls: kill switches at every layer (each change with a reason),
//! entering dormancy, clearing a strategy's attempts; and the handlers of
//! every control form, the recovery page's included. Each handler calls
//! the act in `routes::acts` the JSON API calls, with the session's
//! identity, so the API's rules and audit apply unchanged.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::response::Response;
use hale_domain::kill_switch::{Feature, Switch};
use hale_domain::strategy::ActionKind;
use hale_engine::SwitchesView;
use maud::{Markup, html};

use super::extract::{Page, PageQuery, Posted};
use super::page::{Frame, Result, badge, encode, ok, see_other, time};
use super::session::{Flash, SignedIn};
use crate::routes::AppState;
use crate::routes::acts::{self, ActBy, AttemptsBody, DormancyBody, ReasonBody, SwitchBody};
use crate::routes::reads::{self, OneQuery};

/// The state of a switch as a word.
fn state_word(s: Option<Switch>) -> Markup {
    match s {
        Some(Switch::On) => badge("on", "good"),
        Some(Switch::Off) => badge("off", "bad"),
        None => html! { span .muted { "unset" } },
    }
}

/// One switch's form: a reason and the buttons on, off and unset.
fn switch_form(
    frame: &Frame,
    id: &str,
    layer: &str,
    key: Option<&str>,
    current: Option<Switch>,
) -> Markup {
    let action = if layer == "global" {
        "/console/switches".to_owned()
    } else {
        frame.href("/console/switches")
    };
    let reason_id = format!("reason-{id}");
    html! {
        form .inline method="post" action=(action) aria-label=(format!("Switch {}", key.unwrap_or(layer))) {
            (frame.csrf())
            input type="hidden" name="layer" value=(layer);
            @if let Some(k) = key { input type="hidden" name="key" value=(k); }
            label for=(reason_id) .sr-only { "Reason" }
            input #(reason_id) type="text" name="reason" required placeholder="reason" autocomplete="off";
            @if current != Some(Switch::Off) {
                button type="submit" name="state" value="off" .danger { "Switch off" }
            }
            @if current != Some(Switch::On) {
                button type="submit" name="state" value="on" { "Switch on" }
            }
            @if current.is_some() {
                button type="submit" name="state" value="unset" .link { "Unset" }
            }
        }
    }
}

/// A row of a switch table.
fn switch_row(
    frame: &Frame,
    id: &str,
    layer: &str,
    key: Option<&str>,
    current: Option<Switch>,
) -> Markup {
    html! {
        tr {
            td data-label="Switch" { (layer) @if let Some(k) = key { " " code { (k) } } }
            td data-label="State" { (state_word(current)) }
            td data-label="Change" {
                @if frame.can_operate() { (switch_form(frame, id, layer, key, current)) }
            }
        }
    }
}

fn global_section(frame: &Frame, view: &SwitchesView, global_dormancy: Option<Markup>) -> Markup {
    html! {
        section aria-labelledby="global-h" {
            h2 #global-h { "Whole platform" }
            p .hint { "Global switches and global dormancy stop automation for every tenant." }
            table {
                thead { tr { th { "Switch" } th { "State" } th { "Change" } } }
                tbody {
                    @for f in Feature::ALL {
                        (switch_row(frame, &format!("global-{f}"), "global", Some(f.as_str()), view.global_runtime.features.get(&f).copied()))
                    }
                }
            }
            @if let Some(d) = global_dormancy { (d) }
            form .stack method="post" action="/console/dormancy/enter" {
                (frame.csrf())
                input type="hidden" name="scope" value="global";
                label for="global-dormant-reason" { "Put the whole engine to sleep: reason" }
                input #global-dormant-reason type="text" name="reason" required autocomplete="off";
                button type="submit" .danger { "Enter global dormancy" }
            }
        }
    }
}

/// `GET /console/controls`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Page(frame): Page,
    // Refuses an unknown query parameter with 422, as the API does.
    _: PageQuery<OneQuery>,
) -> Result<Response> {
    let who = &frame.session.identity;
    let view = reads::switches(&state, who, frame.tenant_arg()).await?;
    let global_dormancy = if frame.is_platform() {
        let global = reads::status(&state, who, None).await?;
        Some(html! {
            @match &global.self_healing.dormant {
                Some(d) => {
                    div .dormant {
                        p { strong { "The whole engine is dormant" } " since " (time(d.since)) ": " (d.reason) }
                        form .stack method="post" action="/console/dormancy/resume" {
                            (frame.csrf())
                            input type="hidden" name="scope" value="global";
                            input type="hidden" name="back" value="/console/controls";
                            label for="global-resume-reason" { "Resume the whole engine: reason" }
                            input #global-resume-reason type="text" name="reason" required autocomplete="off";
                            button type="submit" .primary { "Resume globally" }
                        }
                    }
                }
                None => { p { "The engine as a whole is awake." } }
            }
        })
    } else {
        None
    };
    let tenant_part = match (&frame.tenant, &view.tenant) {
        (Some(t), Some(layers)) => {
            let policy = reads::policy(&state, who, Some(t.as_str()))?;
            let mut kinds: BTreeSet<ActionKind> = layers.action_kinds.keys().cloned().collect();
            for s in &policy.strategies {
                for a in &s.actions {
                    kinds.insert(a.kind.clone());
                }
            }
            let strategies: Vec<&str> = policy.strategies.iter().map(|s| s.id.as_str()).collect();
            html! {
                section aria-labelledby="tenant-h" {
                    h2 #tenant-h { "Tenant " (t) }
                    table {
                        thead { tr { th { "Switch" } th { "State" } th { "Change" } } }
                        tbody {
                            (switch_row(&frame, "tenant", "tenant", None, layers.tenant))
                            @for s in &policy.strategies {
                                (switch_row(&frame, &format!("strategy-{}", s.id), "strategy", Some(s.id.as_str()), layers.strategies.get(&s.id).copied()))
                            }
                            @for k in &kinds {
                                (switch_row(&frame, &format!("kind-{k}"), "action_kind", Some(k.as_str()), layers.action_kinds.get(k).copied()))
                            }
                        }
                    }
                }
                @if frame.can_operate() {
                    section aria-labelledby="dormancy-h" {
                        h2 #dormancy-h { "Dormancy" }
                        p { "A dormant tenant heals nothing until someone resumes it on the "
                            a href=(frame.href("/console/recovery")) { "recovery page" } "." }
                        form .stack method="post" action=(frame.href("/console/dormancy/enter")) {
                            (frame.csrf())
                            input type="hidden" name="scope" value="tenant";
                            label for="dormant-reason" { "Put tenant " (t) " to sleep: reason" }
                            input #dormant-reason type="text" name="reason" required autocomplete="off";
                            button type="submit" .danger { "Enter dormancy" }
                        }
                    }
                    section aria-labelledby="attempts-h" {
                        h2 #attempts-h { "Attempts" }
                        form .stack method="post" action=(frame.href("/console/attempts/reset")) {
                            (frame.csrf())
                            p .hint { "Clears a strategy's failure streak on one target after it reached its max attempts." }
                            label for="attempts-strategy" { "Strategy" }
                            select #attempts-strategy name="strategy" required {
                                @for s in &strategies { option value=(s) { (s) } }
                            }
                            label for="attempts-resource" { "Target (namespace:kind/name)" }
                            input #attempts-resource type="text" name="resource" required placeholder="namespace:kind/name";
                            label for="attempts-reason" { "Reason" }
                            input #attempts-reason type="text" name="reason" required autocomplete="off";
                            button type="submit" { "Reset attempts" }
                        }
                    }
                }
            }
        }
        _ => html! {
            p { "Pick a tenant above for its switches, dormancy and attempts." }
        },
    };
    let body = html! {
        h1 { "Controls" }
        @if !frame.can_operate() {
            p .hint { "Your role may read these switches but not change them." }
        }
        (tenant_part)
        @if frame.can_administer() {
            (global_section(&frame, &view, global_dormancy))
        }
    };
    Ok(ok(frame.render("Controls", None, body)))
}

// === Form handlers ===

/// The console page for `path` with the act's tenant.
pub(crate) fn with_tenant(path: &str, tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => format!("{path}?tenant={}", encode(t)),
        None => path.to_owned(),
    }
}

fn done(state: &AppState, session: &SignedIn, text: String) {
    state.sessions().flash(session, Flash { ok: true, text });
}

/// `POST /console/switches`.
pub(crate) async fn set_switch(
    State(state): State<AppState>,
    posted: Posted<SwitchBody>,
) -> Result<Response> {
    let by = ActBy::web(&posted.session.identity);
    acts::set_switch(&state, by, posted.tenant(), &posted.body).await?;
    let b = &posted.body;
    let what = match b.key.as_deref().filter(|k| !k.trim().is_empty()) {
        Some(k) => format!("{} switch {k}", b.layer.trim()),
        None => format!("{} switch", b.layer.trim()),
    };
    done(
        &state,
        &posted.session,
        format!("The {what} is now {}.", b.state.trim()),
    );
    Ok(see_other(&posted.back_or(with_tenant(
        "/console/controls",
        posted.tenant(),
    ))))
}

/// `POST /console/dormancy/enter`.
pub(crate) async fn enter_dormant(
    State(state): State<AppState>,
    posted: Posted<DormancyBody>,
) -> Result<Response> {
    let by = ActBy::web(&posted.session.identity);
    let (scope, entered) = acts::enter_dormant(&state, by, posted.tenant(), &posted.body).await?;
    let text = if entered {
        format!("{scope} is now dormant: no automatic healing until it is resumed.")
    } else {
        format!("{scope} was already dormant.")
    };
    done(&state, &posted.session, text);
    Ok(see_other(&posted.back_or(with_tenant(
        "/console/controls",
        posted.tenant(),
    ))))
}

/// `POST /console/dormancy/resume` (recovery step 4).
pub(crate) async fn resume(
    State(state): State<AppState>,
    posted: Posted<DormancyBody>,
) -> Result<Response> {
    let by = ActBy::web(&posted.session.identity);
    let (scope, record) = acts::resume(&state, by, posted.tenant(), &posted.body).await?;
    done(
        &state,
        &posted.session,
        format!(
            "Resumed {scope} (dormant since {}). Now check again below.",
            record.ended.since
        ),
    );
    let back = with_tenant("/console/recovery", posted.tenant()) + "#check";
    Ok(see_other(&posted.back_or(back)))
}

/// `POST /console/breakers/{name}/reset` (recovery step 3).
pub(crate) async fn reset_breaker(
    State(state): State<AppState>,
    Path(name): Path<String>,
    posted: Posted<ReasonBody>,
) -> Result<Response> {
    let by = ActBy::web(&posted.session.identity);
    let t = acts::reset_breaker(&state, by, posted.tenant(), &name, &posted.body).await?;
    let text = match t {
        Some(t) => format!("Breaker {name}: {} → {}.", t.from, t.to),
        None => format!("Breaker {name} was already closed."),
    };
    done(&state, &posted.session, text);
    let back = with_tenant("/console/recovery", posted.tenant()) + "#step-resume";
    Ok(see_other(&posted.back_or(back)))
}

/// `POST /console/attempts/reset`.
pub(crate) async fn reset_attempts(
    State(state): State<AppState>,
    posted: Posted<AttemptsBody>,
) -> Result<Response> {
    let by = ActBy::web(&posted.session.identity);
    let resource = acts::reset_attempts(&state, by, posted.tenant(), &posted.body).await?;
    done(
        &state,
        &posted.session,
        format!(
            "Attempts of {} on {resource} cleared.",
            posted.body.strategy.trim()
        ),
    );
    Ok(see_other(&posted.back_or(with_tenant(
        "/console/controls",
        posted.tenant(),
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acts_return_to_the_tenant_they_acted_on() {
        assert_eq!(with_tenant("/console/controls", None), "/console/controls");
        assert_eq!(
            with_tenant("/console/controls", Some("a b")),
            "/console/controls?tenant=a%20b"
        );
    }
}
