//! Realm templates: the ones shipped in `realm-templates/` are embedded in the
//! binary; any other JSON file can be named instead.

use anyhow::Context;
use serde_json::Value;

/// Names of the embedded templates.
pub const TEMPLATE_NAMES: [&str; 1] = ["passwordless"];

const PASSWORDLESS: &str = include_str!("../../realm-templates/passwordless.json");

/// Loads template `spec` (an embedded name or a file path) as the
/// representation of realm `realm`.
pub fn load_template(spec: &str, realm: &str) -> anyhow::Result<Value> {
    let (text, source) = match spec {
        "passwordless" => (
            PASSWORDLESS.to_owned(),
            "embedded template passwordless".to_owned(),
        ),
        path => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read realm template {path}"))?,
            format!("realm template {path}"),
        ),
    };
    let mut value: Value =
        serde_json::from_str(&text).with_context(|| format!("{source} is not valid JSON"))?;
    let Some(object) = value.as_object_mut() else {
        anyhow::bail!("{source} is not a JSON object");
    };
    object.insert("realm".to_owned(), Value::String(realm.to_owned()));
    object.remove("id");
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_template_takes_the_realm_name() {
        let v = load_template("passwordless", "acme").expect("loads");
        assert_eq!(v["realm"], "acme");
        assert_eq!(v["webAuthnPolicyPasswordlessPasskeysEnabled"], true);
        let actions = v["requiredActions"].as_array().expect("actions");
        assert!(actions
            .iter()
            .any(|a| a["alias"] == "webauthn-register-passwordless" && a["enabled"] == true));
    }

    #[test]
    fn invalid_json_error_names_the_file() {
        let dir = std::env::temp_dir().join(format!("kcscim-tpl-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("broken.json");
        std::fs::write(&file, "{ not json").expect("write");
        let err = load_template(file.to_str().expect("utf8"), "x").expect_err("invalid");
        assert!(format!("{err:#}").contains("broken.json"), "{err:#}");
        assert!(format!("{err:#}").contains("not valid JSON"), "{err:#}");
    }
}
