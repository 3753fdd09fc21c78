//! The passkey-only browser flow: its definition (shared by the
//! `passwordless` template and `bootstrap --passwordless-flow`) and the
//! ensure step that installs it into an existing realm, binds it as the
//! realm's browser flow and turns brute-force protection and the realm's
//! passkeys switch on.
//!
//! The flow: the SSO cookie, or the username form followed by a
//! conditional sub-flow. With the passkeys switch on, the username form
//! also takes a discoverable passkey (autofill, "Sign in with Passkey");
//! Keycloak then records `webauthn-passwordless` as used and the sub-flow,
//! guarded by "Condition - credential" (`conditional-credential`: that
//! credential not used yet), is skipped. A user who typed a username gets
//! the sub-flow's `webauthn-authenticator-passwordless`: the passkey of
//! that user. There is no password form and no password fallback.
//!
//! Invariant: nothing here runs unless the operator asked for the flow. A
//! flow of that alias in the earlier shape kc-scim installed (cookie, then
//! the passkey alone) is brought to the current shape; one that differs
//! from both is reported `customized` and left as it is.

use anyhow::Context;
use serde_json::{json, Value};

use super::{BootstrapOptions, Outcome, Report};
use crate::keycloak::{KcAdmin, KcError};

/// Alias of the top-level browser flow.
pub const FLOW_ALIAS: &str = "passkey-browser";
/// Alias of its form sub-flow.
pub(super) const FORMS_ALIAS: &str = "passkey-forms";
/// Alias of the conditional sub-flow that asks the typed user's passkey.
pub(super) const AFTER_USERNAME_ALIAS: &str = "passkey-after-username";
/// The required action that registers a passkey.
pub const REGISTER_PASSKEY_ACTION: &str = "webauthn-register-passwordless";
/// The authenticator that signs in with a passkey.
pub const PASSKEY_AUTHENTICATOR: &str = "webauthn-authenticator-passwordless";
/// The username form (with passkeys on, it also takes a discoverable passkey).
const USERNAME_FORM: &str = "auth-username-form";
/// Keycloak's "Condition - credential".
const CONDITION: &str = "conditional-credential";
/// Alias of the condition's configuration.
const CONDITION_CONFIG_ALIAS: &str = "passkey-not-used-yet";
/// The credential type Keycloak records for a passkey sign-in.
const PASSKEY_CREDENTIAL: &str = "webauthn-passwordless";

const FLOW_DESCRIPTION: &str = "kc-scim: sign in with a passkey only (no password)";
const FORMS_DESCRIPTION: &str =
    "the username form (which also takes a discoverable passkey), then the passkey of that user";
const AFTER_USERNAME_DESCRIPTION: &str =
    "the passkey of the typed user, unless a passkey signed in already";

/// The condition's configuration: true while no passkey was used.
fn condition_config() -> Value {
    json!({"credentials": PASSKEY_CREDENTIAL, "included": "false"})
}

/// One execution of the flow as Keycloak lists it (depth first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FlowStep {
    /// Nesting level (0: the top-level flow).
    pub(super) level: u64,
    /// Alias of the flow the execution belongs to.
    pub(super) parent: &'static str,
    /// Authenticator provider id, or the sub-flow's alias.
    pub(super) name: &'static str,
    /// Whether this is a sub-flow.
    pub(super) subflow: bool,
    /// `REQUIRED` / `ALTERNATIVE` / `CONDITIONAL`.
    pub(super) requirement: &'static str,
}

fn step(
    level: u64,
    parent: &'static str,
    name: &'static str,
    subflow: bool,
    requirement: &'static str,
) -> FlowStep {
    FlowStep {
        level,
        parent,
        name,
        subflow,
        requirement,
    }
}

/// The executions of the flow, in Keycloak's depth-first listing order.
#[must_use]
pub(super) fn flow_steps() -> Vec<FlowStep> {
    vec![
        step(0, FLOW_ALIAS, "auth-cookie", false, "ALTERNATIVE"),
        step(0, FLOW_ALIAS, FORMS_ALIAS, true, "ALTERNATIVE"),
        step(1, FORMS_ALIAS, USERNAME_FORM, false, "REQUIRED"),
        step(1, FORMS_ALIAS, AFTER_USERNAME_ALIAS, true, "CONDITIONAL"),
        step(2, AFTER_USERNAME_ALIAS, CONDITION, false, "REQUIRED"),
        step(
            2,
            AFTER_USERNAME_ALIAS,
            PASSKEY_AUTHENTICATOR,
            false,
            "REQUIRED",
        ),
    ]
}

/// The earlier shape of the flow (the cookie, or the passkey alone: no
/// username step), which bootstrap brings to [`flow_steps`].
#[must_use]
fn previous_steps() -> Vec<FlowStep> {
    vec![
        step(0, FLOW_ALIAS, "auth-cookie", false, "ALTERNATIVE"),
        step(0, FLOW_ALIAS, FORMS_ALIAS, true, "ALTERNATIVE"),
        step(1, FORMS_ALIAS, PASSKEY_AUTHENTICATOR, false, "REQUIRED"),
    ]
}

fn description(alias: &str) -> &'static str {
    match alias {
        FORMS_ALIAS => FORMS_DESCRIPTION,
        AFTER_USERNAME_ALIAS => AFTER_USERNAME_DESCRIPTION,
        _ => FLOW_DESCRIPTION,
    }
}

/// The flow as `authenticationFlows` and `authenticatorConfig` of a realm
/// representation (what the `passwordless` template carries; a unit test
/// keeps the two equal).
#[cfg(test)]
fn flows_representation() -> (Value, Value) {
    let execution = |s: &FlowStep, priority: u64| {
        let mut e = json!({
            "requirement": s.requirement,
            "priority": priority,
            "authenticatorFlow": s.subflow,
            "userSetupAllowed": false,
        });
        if s.subflow {
            e["flowAlias"] = json!(s.name);
        } else {
            e["authenticator"] = json!(s.name);
        }
        if s.name == CONDITION {
            e["authenticatorConfig"] = json!(CONDITION_CONFIG_ALIAS);
        }
        e
    };
    let steps = flow_steps();
    let flow = |alias: &'static str| {
        let executions: Vec<Value> = steps
            .iter()
            .filter(|s| s.parent == alias)
            .zip(1u64..)
            .map(|(s, i)| execution(s, i * 10))
            .collect();
        json!({
            "alias": alias,
            "description": description(alias),
            "providerId": "basic-flow",
            "topLevel": alias == FLOW_ALIAS,
            "builtIn": false,
            "authenticationExecutions": executions,
        })
    };
    (
        json!([
            flow(FLOW_ALIAS),
            flow(FORMS_ALIAS),
            flow(AFTER_USERNAME_ALIAS)
        ]),
        json!([{"alias": CONDITION_CONFIG_ALIAS, "config": condition_config()}]),
    )
}

/// `(level, name, subflow)` of a listed execution: what identifies it.
fn listed_key(e: &Value) -> (u64, String, bool) {
    let subflow = e.get("authenticationFlow").and_then(Value::as_bool) == Some(true);
    let name = if subflow {
        e.get("displayName")
    } else {
        e.get("providerId")
    };
    (
        e.get("level").and_then(Value::as_u64).unwrap_or(0),
        name.and_then(Value::as_str).unwrap_or_default().to_owned(),
        subflow,
    )
}

fn listed_requirement(e: &Value) -> &str {
    e.get("requirement")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn step_key(s: &FlowStep) -> (u64, String, bool) {
    (s.level, s.name.to_owned(), s.subflow)
}

/// Whether `executions` (Keycloak's listing of a flow) are exactly `steps`,
/// every requirement included.
fn lists_exactly(executions: &[Value], steps: &[FlowStep]) -> bool {
    executions.len() == steps.len()
        && executions
            .iter()
            .zip(steps)
            .all(|(e, s)| listed_key(e) == step_key(s) && listed_requirement(e) == s.requirement)
}

/// Whether `executions` are exactly the passkey flow's steps (the
/// condition's configuration is checked by [`flow_shape`]).
#[must_use]
pub fn is_passkey_flow(executions: &[Value]) -> bool {
    lists_exactly(executions, &flow_steps())
}

/// What a realm's flow named [`FLOW_ALIAS`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowShape {
    /// No flow of that alias.
    Absent,
    /// Exactly the current passkey flow, condition configured as it must be.
    Current,
    /// The earlier shape kc-scim installed (no username step).
    Previous,
    /// Anything else: an admin changed it.
    Customized,
}

/// Reads the realm's [`FLOW_ALIAS`] flow and says which shape it has.
pub async fn flow_shape(kc: &KcAdmin, realm: &str) -> Result<FlowShape, KcError> {
    let exists = kc
        .flows(realm)
        .await?
        .iter()
        .any(|f| f.get("alias").and_then(Value::as_str) == Some(FLOW_ALIAS));
    if !exists {
        return Ok(FlowShape::Absent);
    }
    let executions = kc.flow_executions(realm, FLOW_ALIAS).await?;
    if lists_exactly(&executions, &previous_steps()) {
        return Ok(FlowShape::Previous);
    }
    if !is_passkey_flow(&executions) {
        return Ok(FlowShape::Customized);
    }
    let config_id = executions
        .iter()
        .find(|e| listed_key(e).1 == CONDITION)
        .and_then(|e| e.get("authenticationConfig"))
        .and_then(Value::as_str);
    let Some(config_id) = config_id else {
        return Ok(FlowShape::Customized);
    };
    let config = kc.authenticator_config(realm, config_id).await?;
    let configured = config.as_ref().and_then(|c| c.get("config"));
    let credentials = configured
        .and_then(|c| c.get("credentials"))
        .and_then(Value::as_str);
    let included = configured
        .and_then(|c| c.get("included"))
        .and_then(Value::as_str)
        .unwrap_or("false");
    Ok(
        if credentials == Some(PASSKEY_CREDENTIAL) && included == "false" {
            FlowShape::Current
        } else {
            FlowShape::Customized
        },
    )
}

/// Installs the flow (when absent) or brings the earlier shape up to date,
/// binds it as the browser flow with brute force and passkeys on, and
/// enables the passkey registration action.
pub(super) async fn ensure_passwordless_flow(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let realm = opts.realm.as_str();
    let step = format!("browser flow {FLOW_ALIAS}");
    let usable = match flow_shape(kc, realm).await? {
        FlowShape::Current => {
            report.push(step, Outcome::Unchanged, None);
            true
        }
        FlowShape::Customized => {
            report.push(
                step,
                Outcome::Customized,
                Some("differs from the passkey flow; kept and not bound".to_owned()),
            );
            false
        }
        FlowShape::Absent => {
            if !opts.dry_run {
                kc.create_flow(realm, FLOW_ALIAS, FLOW_DESCRIPTION)
                    .await
                    .with_context(|| format!("creating the browser flow {FLOW_ALIAS}"))?;
                install_steps(kc, realm)
                    .await
                    .with_context(|| format!("filling the browser flow {FLOW_ALIAS}"))?;
            }
            report.push(step, Outcome::Created, Some("passkey only".to_owned()));
            true
        }
        FlowShape::Previous => {
            if !opts.dry_run {
                install_steps(kc, realm)
                    .await
                    .with_context(|| format!("updating the browser flow {FLOW_ALIAS}"))?;
            }
            report.push(
                step,
                Outcome::Updated,
                Some("username then passkey added".to_owned()),
            );
            true
        }
    };
    if usable {
        ensure_binding(kc, opts, report).await?;
    }
    ensure_register_action(kc, opts, report).await
}

/// Brings the existing top-level flow to [`flow_steps`]: adds the missing
/// executions and sub-flows, sets each requirement, configures the
/// condition, and only then removes executions of no step (the earlier
/// shape's direct passkey step), so the flow never asks for less than a
/// passkey on the way. Fails unless the result is the current shape.
async fn install_steps(kc: &KcAdmin, realm: &str) -> anyhow::Result<()> {
    let steps = flow_steps();
    let listed = kc.flow_executions(realm, FLOW_ALIAS).await?;
    for s in &steps {
        if listed.iter().any(|e| listed_key(e) == step_key(s)) {
            continue;
        }
        if s.subflow {
            kc.add_subflow(realm, s.parent, s.name, description(s.name))
                .await?;
        } else {
            kc.add_flow_execution(realm, s.parent, s.name).await?;
        }
    }
    // New executions start DISABLED: set each requirement as listed.
    let mut stale = Vec::new();
    for mut e in kc.flow_executions(realm, FLOW_ALIAS).await? {
        let id = e
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(s) = steps.iter().find(|s| step_key(s) == listed_key(&e)) else {
            stale.push(id);
            continue;
        };
        if listed_requirement(&e) != s.requirement {
            e["requirement"] = json!(s.requirement);
            kc.update_flow_execution(realm, s.parent, &e).await?;
        }
        if s.name == CONDITION && e.get("authenticationConfig").is_none() {
            kc.add_execution_config(realm, &id, CONDITION_CONFIG_ALIAS, &condition_config())
                .await?;
        }
    }
    for id in stale {
        kc.delete_flow_execution(realm, &id).await?;
    }
    let shape = flow_shape(kc, realm).await?;
    anyhow::ensure!(
        shape == FlowShape::Current,
        "after installing, the flow {FLOW_ALIAS} is {shape:?}, not the passkey flow"
    );
    Ok(())
}

const BINDING_STEP: &str = "browser flow binding";

/// The realm's passkeys switch: with it on, the username form offers
/// autofill and "Sign in with Passkey" (a discoverable credential).
pub const PASSKEYS_SWITCH: &str = "webAuthnPolicyPasswordlessPasskeysEnabled";
/// The fields of the realm's WebAuthn passwordless policy.
const PASSWORDLESS_POLICY_PREFIX: &str = "webAuthnPolicyPasswordless";

async fn ensure_binding(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let realm = kc
        .get_realm(&opts.realm)
        .await?
        .with_context(|| format!("realm {:?} vanished", opts.realm))?;
    let bound = realm.extra.get("browserFlow").and_then(Value::as_str) == Some(FLOW_ALIAS);
    let on = |field: &str| realm.extra.get(field).and_then(Value::as_bool) == Some(true);
    if bound && on("bruteForceProtected") && on(PASSKEYS_SWITCH) {
        report.push(BINDING_STEP, Outcome::Unchanged, None);
        return Ok(());
    }
    let mut fields = json!({"browserFlow": FLOW_ALIAS, "bruteForceProtected": true});
    if !on(PASSKEYS_SWITCH) {
        // Keycloak ignores the switch sent alone (204, nothing stored); it
        // applies it with the rest of the passwordless policy, which an
        // absent field would reset: send the realm's own policy back.
        for (field, value) in &realm.extra {
            if field.starts_with(PASSWORDLESS_POLICY_PREFIX) {
                fields[field.as_str()] = value.clone();
            }
        }
        fields[PASSKEYS_SWITCH] = json!(true);
    }
    if !opts.dry_run {
        kc.update_realm_fields(&opts.realm, &fields)
            .await
            .context("binding the passkey flow as the browser flow")?;
    }
    report.push(
        BINDING_STEP,
        Outcome::Updated,
        Some(format!(
            "browserFlow={FLOW_ALIAS} bruteForceProtected=true {PASSKEYS_SWITCH}=true"
        )),
    );
    Ok(())
}

async fn ensure_register_action(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let step = format!("required action {REGISTER_PASSKEY_ACTION}");
    let Some(mut action) = kc
        .required_action(&opts.realm, REGISTER_PASSKEY_ACTION)
        .await?
    else {
        anyhow::bail!("Keycloak has no required action {REGISTER_PASSKEY_ACTION} in this realm");
    };
    if action.get("enabled").and_then(Value::as_bool) == Some(true) {
        report.push(step, Outcome::Unchanged, None);
        return Ok(());
    }
    action["enabled"] = json!(true);
    if !opts.dry_run {
        kc.update_required_action(&opts.realm, REGISTER_PASSKEY_ACTION, &action)
            .await?;
    }
    report.push(step, Outcome::Updated, Some("enabled".to_owned()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_carries_the_flow_bootstrap_installs_and_binds_it() {
        let template = super::super::load_template("passwordless", "acme").expect("template");
        let (flows, configs) = flows_representation();
        assert_eq!(template["authenticationFlows"], flows);
        assert_eq!(template["authenticatorConfig"], configs);
        assert_eq!(template[PASSKEYS_SWITCH], true);
        assert_eq!(template["browserFlow"], FLOW_ALIAS);
        assert_eq!(template["bruteForceProtected"], true);
    }

    #[test]
    fn the_flow_has_no_password_step() {
        for s in flow_steps() {
            assert!(
                !s.name.contains("password") || s.name == PASSKEY_AUTHENTICATOR,
                "{s:?}"
            );
        }
    }

    #[test]
    fn a_listing_matches_only_when_every_step_and_requirement_is_the_same() {
        let listing = |steps: &[FlowStep]| -> Vec<Value> {
            steps
                .iter()
                .map(|s| {
                    let mut e = json!({"level": s.level, "requirement": s.requirement});
                    if s.subflow {
                        e["displayName"] = json!(s.name);
                        e["authenticationFlow"] = json!(true);
                    } else {
                        e["providerId"] = json!(s.name);
                    }
                    e
                })
                .collect()
        };
        let current = listing(&flow_steps());
        assert!(is_passkey_flow(&current));
        assert!(lists_exactly(
            &listing(&previous_steps()),
            &previous_steps()
        ));
        assert!(!is_passkey_flow(&listing(&previous_steps())));
        let mut password_too = current.clone();
        password_too.push(
            json!({"level": 1, "providerId": "auth-password-form", "requirement": "ALTERNATIVE"}),
        );
        assert!(!is_passkey_flow(&password_too));
        for (i, requirement) in [(3, "REQUIRED"), (5, "ALTERNATIVE"), (2, "ALTERNATIVE")] {
            let mut changed = current.clone();
            changed[i]["requirement"] = json!(requirement);
            assert!(!is_passkey_flow(&changed), "{i} {requirement}");
        }
        let mut no_condition = current;
        no_condition.remove(4);
        assert!(!is_passkey_flow(&no_condition));
        assert!(!is_passkey_flow(&[]));
    }

    #[test]
    fn the_condition_is_true_while_no_passkey_was_used() {
        let config = condition_config();
        assert_eq!(config["credentials"], PASSKEY_CREDENTIAL);
        assert_eq!(config["included"], "false");
    }
}
