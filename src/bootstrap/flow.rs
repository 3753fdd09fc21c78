//! The passkey-only browser flow: its definition (shared by the
//! `passwordless` template and `bootstrap --passwordless-flow`) and the
//! ensure step that installs it into an existing realm, binds it as the
//! realm's browser flow and turns brute-force protection on.
//!
//! The flow: the SSO cookie, or a form step made of the username form
//! (which, with the realm's passkeys policy on, also offers "Sign in with
//! Passkey" for a discoverable credential) followed by Keycloak's
//! `webauthn-authenticator-passwordless`. There is no password form and no
//! password fallback; `webauthn-authenticator-passwordless` does not
//! require an identified user, so a user without a passkey is asked for one
//! and never offered to register one at sign-in.
//!
//! Invariant: nothing here runs unless the operator asked for the flow; an
//! existing flow of that alias that differs is reported `customized` and
//! left as it is.

use anyhow::Context;
use serde_json::{json, Value};

use super::{BootstrapOptions, Outcome, Report};
use crate::keycloak::KcAdmin;

/// Alias of the top-level browser flow.
pub const FLOW_ALIAS: &str = "passkey-browser";
/// Alias of its form sub-flow.
pub(super) const FORMS_ALIAS: &str = "passkey-forms";
/// The required action that registers a passkey.
pub const REGISTER_PASSKEY_ACTION: &str = "webauthn-register-passwordless";
/// The authenticator that signs in with a passkey.
pub const PASSKEY_AUTHENTICATOR: &str = "webauthn-authenticator-passwordless";

const FLOW_DESCRIPTION: &str = "kc-scim: sign in with a passkey only (no password)";
const FORMS_DESCRIPTION: &str = "a passkey: discoverable, or after the username on the same page";

/// One execution of the flow as Keycloak lists it (depth first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FlowStep {
    /// Nesting level (0: the top-level flow).
    pub(super) level: u64,
    /// Authenticator provider id, or the sub-flow's alias.
    pub(super) name: &'static str,
    /// Whether this is a sub-flow.
    pub(super) subflow: bool,
    /// `REQUIRED` / `ALTERNATIVE`.
    pub(super) requirement: &'static str,
}

/// The executions of the flow, in Keycloak's depth-first listing order.
#[must_use]
pub(super) fn flow_steps() -> Vec<FlowStep> {
    let step = |level, name, subflow, requirement| FlowStep {
        level,
        name,
        subflow,
        requirement,
    };
    vec![
        step(0, "auth-cookie", false, "ALTERNATIVE"),
        step(0, FORMS_ALIAS, true, "ALTERNATIVE"),
        step(1, PASSKEY_AUTHENTICATOR, false, "REQUIRED"),
    ]
}

/// The flow as `authenticationFlows` of a realm representation (what the
/// `passwordless` template carries; a unit test keeps the two equal).
#[cfg(test)]
fn flows_representation() -> Value {
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
        e
    };
    let steps = flow_steps();
    let at_level = |level: u64| -> Vec<Value> {
        steps
            .iter()
            .filter(|s| s.level == level)
            .zip(1u64..)
            .map(|(s, i)| execution(s, i * 10))
            .collect()
    };
    json!([
        {
            "alias": FLOW_ALIAS,
            "description": FLOW_DESCRIPTION,
            "providerId": "basic-flow",
            "topLevel": true,
            "builtIn": false,
            "authenticationExecutions": at_level(0),
        },
        {
            "alias": FORMS_ALIAS,
            "description": FORMS_DESCRIPTION,
            "providerId": "basic-flow",
            "topLevel": false,
            "builtIn": false,
            "authenticationExecutions": at_level(1),
        }
    ])
}

/// The steps of `executions` (Keycloak's listing of a flow) in the shape of
/// [`flow_steps`], for comparison.
#[must_use]
fn listed_steps(executions: &[Value]) -> Vec<(u64, String, bool, String)> {
    executions
        .iter()
        .map(|e| {
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
                e.get("requirement")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// Whether `executions` are exactly the passkey flow.
#[must_use]
pub fn is_passkey_flow(executions: &[Value]) -> bool {
    let wanted: Vec<_> = flow_steps()
        .into_iter()
        .map(|s| {
            (
                s.level,
                s.name.to_owned(),
                s.subflow,
                s.requirement.to_owned(),
            )
        })
        .collect();
    listed_steps(executions) == wanted
}

/// Installs the flow (when absent), binds it as the browser flow with brute
/// force on, and enables the passkey registration action.
pub(super) async fn ensure_passwordless_flow(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let realm = opts.realm.as_str();
    let step = format!("browser flow {FLOW_ALIAS}");
    let exists = kc
        .flows(realm)
        .await?
        .iter()
        .any(|f| f.get("alias").and_then(Value::as_str) == Some(FLOW_ALIAS));
    let usable = if exists {
        let executions = kc.flow_executions(realm, FLOW_ALIAS).await?;
        if is_passkey_flow(&executions) {
            report.push(step, Outcome::Unchanged, None);
            true
        } else {
            report.push(
                step,
                Outcome::Customized,
                Some("differs from the passkey flow; kept and not bound".to_owned()),
            );
            false
        }
    } else {
        if !opts.dry_run {
            create_flow(kc, realm)
                .await
                .with_context(|| format!("creating the browser flow {FLOW_ALIAS}"))?;
        }
        report.push(step, Outcome::Created, Some("passkey only".to_owned()));
        true
    };
    if usable {
        ensure_binding(kc, opts, report).await?;
    }
    ensure_register_action(kc, opts, report).await
}

async fn create_flow(kc: &KcAdmin, realm: &str) -> anyhow::Result<()> {
    kc.create_flow(realm, FLOW_ALIAS, FLOW_DESCRIPTION).await?;
    for s in flow_steps() {
        let parent = if s.level == 0 {
            FLOW_ALIAS
        } else {
            FORMS_ALIAS
        };
        if s.subflow {
            kc.add_subflow(realm, parent, s.name, FORMS_DESCRIPTION)
                .await?;
        } else {
            kc.add_flow_execution(realm, parent, s.name).await?;
        }
    }
    // New executions start DISABLED: set each requirement as listed.
    let executions = kc.flow_executions(realm, FLOW_ALIAS).await?;
    for (mut e, s) in executions.into_iter().zip(flow_steps()) {
        let parent = if s.level == 0 {
            FLOW_ALIAS
        } else {
            FORMS_ALIAS
        };
        e["requirement"] = json!(s.requirement);
        kc.update_flow_execution(realm, parent, &e).await?;
    }
    Ok(())
}

const BINDING_STEP: &str = "browser flow binding";

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
    let brute_force = realm
        .extra
        .get("bruteForceProtected")
        .and_then(Value::as_bool)
        == Some(true);
    if bound && brute_force {
        report.push(BINDING_STEP, Outcome::Unchanged, None);
        return Ok(());
    }
    if !opts.dry_run {
        kc.update_realm_fields(
            &opts.realm,
            &json!({"browserFlow": FLOW_ALIAS, "bruteForceProtected": true}),
        )
        .await
        .context("binding the passkey flow as the browser flow")?;
    }
    report.push(
        BINDING_STEP,
        Outcome::Updated,
        Some(format!("browserFlow={FLOW_ALIAS} bruteForceProtected=true")),
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
        assert_eq!(template["authenticationFlows"], flows_representation());
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
        let listed = |password_too: bool, requirement: &str| {
            let mut v = vec![
                json!({"level": 0, "providerId": "auth-cookie", "requirement": "ALTERNATIVE"}),
                json!({"level": 0, "displayName": FORMS_ALIAS, "authenticationFlow": true, "requirement": "ALTERNATIVE"}),
                json!({"level": 1, "providerId": PASSKEY_AUTHENTICATOR, "requirement": requirement}),
            ];
            if password_too {
                v.push(json!({"level": 1, "providerId": "auth-password-form", "requirement": "ALTERNATIVE"}));
            }
            v
        };
        assert!(is_passkey_flow(&listed(false, "REQUIRED")));
        assert!(!is_passkey_flow(&listed(true, "REQUIRED")));
        assert!(!is_passkey_flow(&listed(false, "ALTERNATIVE")));
        assert!(!is_passkey_flow(&[]));
    }
}
