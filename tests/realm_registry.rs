//! The served-realm registry against the real Keycloak: only realms set up
//! and explicitly enabled for SCIM (and listed, when a list is configured)
//! are served; everything else — unknown names, a hand-made `scim-endpoint`
//! client, a disabled realm, `master` — answers exactly like a bad token on
//! a served realm, with no Admin API call; `master` and the realm of the
//! sidecar's own admin credentials are refused by bootstrap, `realm set`
//! and `serve`.

mod common;

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use kc_scim::bootstrap::{self, load_template, tokens, BootstrapOptions};
use kc_scim::directory::RealmRegistry;
use kc_scim::keycloak::{KcAdmin, KcError};
use kc_scim::mapping::SCIM_CLIENT_ID;
use kc_scim::settings_store::{self, SettingsError};

use common::{
    admin, app_settings, eventually, fresh_realm, kc_env, kc_scim, serving, start_server, unique,
};

/// An answer as bytes: status, the headers that are not per request, body.
#[derive(Debug, PartialEq, Eq)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// `GET /realms/{realm}/scim/v2/Users` with `authorization` as sent.
async fn raw(http: &reqwest::Client, address: &str, realm: &str, auth: Option<&str>) -> Raw {
    let mut req = http.get(format!("{address}/realms/{realm}/scim/v2/Users"));
    if let Some(value) = auth {
        req = req.header("Authorization", value);
    }
    let response = req.send().await.expect("request sent");
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("<bytes>").to_owned(),
            )
        })
        .collect();
    headers.sort();
    let body = response.bytes().await.expect("body").to_vec();
    Raw {
        status,
        headers,
        body,
    }
}

/// Sets the realm's `kcscim.enabled`.
async fn set_enabled(kc: &KcAdmin, realm: &str, enabled: bool) {
    settings_store::update(kc, realm, |s| {
        s.enabled = enabled;
        Ok::<(), SettingsError>(())
    })
    .await
    .expect("settings written");
}

/// A realm from the template with a `scim-endpoint` client made by hand
/// (service account on, none of kc-scim's settings), and that client's
/// client-credentials token.
async fn hand_made_realm(kc: &KcAdmin) -> (String, String) {
    let realm = unique("reg-hand");
    let representation = load_template("passwordless", &realm).expect("template");
    kc.create_realm(&representation).await.expect("realm");
    kc.forget_token().await;
    let client = common::service_account_client(SCIM_CLIENT_ID);
    let id = kc.create_client(&realm, &client).await.expect("client");
    let secret = kc.client_secret(&realm, &id).await.expect("secret");
    let token = kc
        .client_credentials_token(&realm, SCIM_CLIENT_ID, &secret)
        .await
        .expect("token issued")["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    (realm, token)
}

const BAD: &str = "Bearer kcscim_not-a-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realms_not_served_answer_like_a_bad_token_with_no_admin_api_call() {
    let kc = admin();
    let served = fresh_realm(&kc, "reg-on").await;
    let (_, good) = tokens::create_token(&kc, &served, None)
        .await
        .expect("token");
    let disabled = fresh_realm(&kc, "reg-off").await;
    let (_, disabled_token) = tokens::create_token(&kc, &disabled, None)
        .await
        .expect("token");
    set_enabled(&kc, &disabled, false).await;
    let (hand_made, hand_made_token) = hand_made_realm(&kc).await;
    // The disabled realm is listed (start-up ensures it, keeping its "false");
    // the hand-made one is not (ensuring it would set it up).
    let (address, directory) = start_server(&serving(
        &[&served, &disabled],
        &[("KCSCIM_SCIM__REALM_REFRESH_SECS", "3600")],
    ))
    .await;
    let registry = directory.registry();
    assert_eq!(registry.served(), vec![served.clone()]);
    let http = reqwest::Client::new();
    let good_header = format!("Bearer {good}");
    let ok = raw(&http, &address, &served, Some(&good_header)).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    // What a bad token and no token get on a served realm, loaded and cached.
    let bad_token = raw(&http, &address, &served, Some(BAD)).await;
    assert_eq!(bad_token.status, 401);
    assert!(
        bad_token
            .headers
            .contains(&("www-authenticate".to_owned(), "Bearer".to_owned())),
        "{:?}",
        bad_token.headers
    );
    let no_token = raw(&http, &address, &served, None).await;
    assert_eq!(no_token.status, 401);

    let calls = directory.admin().stats().calls();
    let registry_calls = registry.admin().stats().calls();
    let mut realms: Vec<String> = (0..500).map(|_| unique("nx")).collect();
    realms.extend(
        [
            disabled.as_str(),
            hand_made.as_str(),
            "master",
            "Master",
            "a.b_c-d",
            &"x".repeat(65),
        ]
        .map(str::to_owned),
    );
    let disabled_header = format!("Bearer {disabled_token}");
    let hand_made_header = format!("Bearer {hand_made_token}");
    let started = Instant::now();
    let answers: Vec<(String, &str, Raw)> = stream::iter(realms.iter())
        .flat_map(|realm| {
            stream::iter([
                (realm.clone(), BAD),
                (realm.clone(), good_header.as_str()),
                (realm.clone(), disabled_header.as_str()),
                (realm.clone(), hand_made_header.as_str()),
            ])
        })
        .map(|(realm, auth)| {
            let (http, address) = (&http, &address);
            async move {
                let answer = raw(http, address, &realm, Some(auth)).await;
                (realm, auth, answer)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();
    assert_eq!(
        directory.admin().stats().calls(),
        calls,
        "requests to realms not served made Admin API calls"
    );
    assert_eq!(
        registry.admin().stats().calls(),
        registry_calls,
        "requests to realms not served made the registry call Keycloak"
    );
    for (realm, auth, answer) in &answers {
        let token_kind = &auth[..auth.len().min(20)];
        assert_eq!(
            answer, &bad_token,
            "realm {realm:?} with {token_kind}…: not the bad-token answer"
        );
    }
    for realm in &realms[495..] {
        assert_eq!(
            raw(&http, &address, realm, None).await,
            no_token,
            "realm {realm:?} without a token"
        );
    }
    println!(
        "{} requests to {} realms not served: {elapsed:?}, 0 Admin API calls",
        answers.len(),
        realms.len()
    );
}

#[tokio::test]
async fn a_hand_made_scim_endpoint_client_is_not_served_and_costs_one_call_to_check() {
    let kc = admin();
    let (hand_made, _) = hand_made_realm(&kc).await;
    let registry = RealmRegistry::new(admin(), std::slice::from_ref(&hand_made));
    assert_eq!(registry.refresh().await.expect("refresh"), 0);
    assert!(!registry.serves(&hand_made).expect("known"));
    assert_eq!(registry.admin().stats().calls(), 1);
    assert!(!registry.refresh_realm(&hand_made).await.expect("checked"));

    // Once bootstrapped (which writes kcscim.enabled=true) it is.
    let opts = BootstrapOptions {
        realm: hand_made.clone(),
        ..BootstrapOptions::default()
    };
    bootstrap::run(&kc, &opts).await.expect("bootstrap");
    assert!(registry.refresh_realm(&hand_made).await.expect("checked"));
    assert!(registry.serves(&hand_made).expect("known"));
}

/// Without a realm list the registry reads Keycloak's realm list: about
/// 150 ms per realm on 26.7.3, so this test is as slow as the test
/// Keycloak is crowded (the client waits up to two minutes).
#[tokio::test]
async fn without_a_list_every_enabled_realm_is_found_at_one_call_per_realm() {
    let kc = admin();
    let served = fresh_realm(&kc, "reg-all").await;
    let disabled = fresh_realm(&kc, "reg-all-off").await;
    set_enabled(&kc, &disabled, false).await;
    let (hand_made, _) = hand_made_realm(&kc).await;
    let settings = app_settings(&[("KCSCIM_KEYCLOAK__TIMEOUT_MS", "120000")]);
    let patient = kc_scim::startup::admin_client(&settings).expect("client");
    let registry = RealmRegistry::new(patient, &[]);
    let started = Instant::now();
    let count = registry.refresh().await.expect("refresh");
    let (calls, elapsed) = (registry.admin().stats().calls(), started.elapsed());
    println!("one full refresh: {calls} calls, {count} realms served, {elapsed:?}");
    let names = registry.served();
    assert!(names.contains(&served), "{names:?}");
    for not in [&disabled, &hand_made, &"master".to_owned()] {
        assert!(!names.contains(not), "{not} must not be served");
    }
    assert!(calls >= 4, "the list, then one call per realm: {calls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_realm_list_only_listed_realms_are_served_at_one_call_each_per_refresh() {
    let kc = admin();
    let listed = fresh_realm(&kc, "reg-list").await;
    let other = fresh_realm(&kc, "reg-unlisted").await;
    let (_, listed_token) = tokens::create_token(&kc, &listed, None)
        .await
        .expect("token");
    let (_, other_token) = tokens::create_token(&kc, &other, None)
        .await
        .expect("token");
    let (address, directory) =
        start_server(&app_settings(&[("KCSCIM_REALMS", listed.as_str())])).await;
    let http = reqwest::Client::new();
    let ok = raw(
        &http,
        &address,
        &listed,
        Some(&format!("Bearer {listed_token}")),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let bad_token = raw(&http, &address, &listed, Some(BAD)).await;
    let calls = directory.admin().stats().calls();
    let unlisted = raw(
        &http,
        &address,
        &other,
        Some(&format!("Bearer {other_token}")),
    )
    .await;
    assert_eq!(unlisted, bad_token, "an enabled realm outside the list");
    assert_eq!(directory.admin().stats().calls(), calls);

    let registry = directory.registry();
    assert_eq!(registry.served(), vec![listed.clone()]);
    let before = registry.admin().stats().calls();
    assert_eq!(registry.refresh().await.expect("refresh"), 1);
    assert_eq!(
        registry.admin().stats().calls() - before,
        1,
        "one call per listed realm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realm_enabled_or_disabled_elsewhere_is_followed_within_one_refresh() {
    let kc = admin();
    let realm = fresh_realm(&kc, "reg-late").await;
    let (_, token) = tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    set_enabled(&kc, &realm, false).await;
    let (address, _) = start_server(&serving(
        &[&realm],
        &[("KCSCIM_SCIM__REALM_REFRESH_SECS", "1")],
    ))
    .await;
    let header = format!("Bearer {token}");
    let http = reqwest::Client::new();
    assert_eq!(
        raw(&http, &address, &realm, Some(&header)).await.status,
        401
    );

    // Enabled by another process: served within the interval (1 s).
    set_enabled(&kc, &realm, true).await;
    let served = eventually(Duration::from_secs(10), || async {
        raw(&http, &address, &realm, Some(&header)).await.status == 200
    })
    .await;
    assert!(served, "a realm enabled after start-up is served");

    set_enabled(&kc, &realm, false).await;
    let refused = eventually(Duration::from_secs(10), || async {
        raw(&http, &address, &realm, Some(&header)).await.status == 401
    })
    .await;
    assert!(refused, "a disabled realm stops being served");
}

#[tokio::test]
async fn bootstrap_enables_a_hand_made_client_and_keeps_an_explicit_off() {
    let kc = admin();
    let (hand_made, _) = hand_made_realm(&kc).await;
    let opts = |realm: &str| BootstrapOptions {
        realm: realm.to_owned(),
        ..BootstrapOptions::default()
    };
    bootstrap::run(&kc, &opts(&hand_made))
        .await
        .expect("bootstrap");
    let (_, settings) = settings_store::load(&kc, &hand_made).await.expect("load");
    assert!(settings.enabled, "bootstrap writes kcscim.enabled=true");

    let off = fresh_realm(&kc, "reg-keep-off").await;
    set_enabled(&kc, &off, false).await;
    bootstrap::run(&kc, &opts(&off)).await.expect("bootstrap");
    let (client, settings) = settings_store::load(&kc, &off).await.expect("load");
    assert!(!settings.enabled, "an explicit off stays off");
    assert_eq!(
        client.attributes.get("kcscim.enabled").map(String::as_str),
        Some("false")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_and_the_admin_realm_are_refused_by_bootstrap_realm_set_and_serve() {
    let kc = admin();
    // Refused before any call: against a Keycloak that is not there, so a
    // broken refusal fails on the connection and writes nothing to master.
    let mut dead = kc_env();
    for (k, v) in &mut dead {
        if k == "KCSCIM_KEYCLOAK__URL" {
            *v = "http://127.0.0.1:9".to_owned();
        }
    }
    let real = kc_env();
    for (args, env) in [
        (vec!["bootstrap", "--realm", "master"], &dead),
        (vec!["bootstrap", "--realm", "MASTER"], &dead),
        (
            vec!["realm", "set", "--realm", "master", "--enabled", "true"],
            &dead,
        ),
        // On the real server only as a dry run, which never writes.
        (vec!["bootstrap", "--realm", "master", "--dry-run"], &real),
        (
            vec![
                "realm",
                "set",
                "--realm",
                "master",
                "--enabled",
                "true",
                "--dry-run",
            ],
            &real,
        ),
    ] {
        let out = kc_scim(&args, env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains("master realm"), "{args:?}: {stderr}");
    }
    assert!(
        kc.find_client("master", SCIM_CLIENT_ID)
            .await
            .expect("lookup")
            .is_none(),
        "nothing was written to master"
    );

    // A realm that exists and is set up, named as the admin credentials' realm:
    // refused before any call (these credentials do not even work there).
    let own = fresh_realm(&kc, "reg-admin").await;
    let mut as_admin_realm = real.clone();
    as_admin_realm.push(("KCSCIM_KEYCLOAK__ADMIN_REALM".to_owned(), own.clone()));
    for args in [
        vec!["bootstrap", "--realm", own.as_str()],
        vec!["realm", "set", "--realm", own.as_str(), "--enabled", "true"],
    ] {
        let out = kc_scim(&args, &as_admin_realm);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains("keycloak.admin_realm"),
            "{args:?}: {stderr}"
        );
    }

    let refused = kc_scim_serve_refusal(&app_settings(&[
        ("KCSCIM_REALMS", "master"),
        ("KCSCIM_KEYCLOAK__URL", "http://127.0.0.1:9"),
    ]))
    .await;
    assert!(refused.contains("master realm"), "{refused}");
}

/// The error `serve` start-up ends with for `settings`.
async fn kc_scim_serve_refusal(settings: &kc_scim::config::Settings) -> String {
    match kc_scim::startup::Application::build(settings).await {
        Ok(_) => panic!("serve started"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_spellings_of_a_served_realm_or_of_an_id_name_nothing() {
    let kc = admin();
    let realm = fresh_realm(&kc, "reg-case").await;
    let upper = realm.to_ascii_uppercase();
    // Keycloak 26.7.3 (dev database): realm names are matched exactly.
    assert!(
        matches!(
            kc.get_realm_value(&upper, &[], &[]).await,
            Err(KcError::NotFound(_))
        ),
        "Keycloak resolved {upper} to a realm"
    );
    // Listing the realm in two spellings is refused before anything starts.
    let both = format!("{realm},{upper}");
    let mut env = kc_env();
    env.push(("KCSCIM_REALMS".to_owned(), both));
    let refused = kc_scim::config::Settings::load_from(None, env).expect_err("refused");
    assert!(
        refused.to_string().contains("differ only in case"),
        "{refused}"
    );

    let (_, token) = tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let (address, directory) = start_server(&serving(&[&realm], &[])).await;
    let http = reqwest::Client::new();
    let good = format!("Bearer {token}");
    let bad_token = raw(&http, &address, &realm, Some(BAD)).await;
    let calls = directory.admin().stats().calls();
    for spelling in [
        upper.clone(),
        format!("{}{}", &realm[..1].to_ascii_uppercase(), &realm[1..]),
    ] {
        assert_eq!(
            raw(&http, &address, &spelling, Some(&good)).await,
            bad_token,
            "{spelling} answered as the realm {realm}"
        );
    }
    assert_eq!(
        directory.admin().stats().calls(),
        calls,
        "another spelling made Admin API calls"
    );

    // A user's and a group's id in upper case name neither.
    let base = format!("{address}/realms/{realm}/scim/v2");
    let user: serde_json::Value = http
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "case.user", "active": true
        }))
        .send()
        .await
        .expect("create user")
        .json()
        .await
        .expect("user json");
    let group: serde_json::Value = http
        .post(format!("{base}/Groups"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "case-group"
        }))
        .send()
        .await
        .expect("create group")
        .json()
        .await
        .expect("group json");
    let user_id = user["id"].as_str().expect("user id").to_owned();
    let group_id = group["id"].as_str().expect("group id").to_owned();
    // The same fact for ids: Keycloak does not find a user by another spelling.
    assert!(
        matches!(
            kc.get_user(&realm, &user_id.to_ascii_uppercase()).await,
            Ok(None) | Err(KcError::NotFound(_))
        ),
        "Keycloak resolved an upper-case user id"
    );
    let disable = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    });
    for (resource, id) in [("Users", &user_id), ("Groups", &group_id)] {
        let other = format!("{base}/{resource}/{}", id.to_ascii_uppercase());
        let got = http
            .get(&other)
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_eq!(got.status(), 404, "GET {resource} by another spelling");
        let patched = http
            .patch(&other)
            .bearer_auth(&token)
            .json(&disable)
            .send()
            .await
            .expect("patch");
        assert_eq!(
            patched.status(),
            404,
            "PATCH {resource} by another spelling"
        );
        let deleted = http
            .delete(&other)
            .bearer_auth(&token)
            .send()
            .await
            .expect("delete");
        assert_eq!(
            deleted.status(),
            404,
            "DELETE {resource} by another spelling"
        );
    }
    let kept = kc
        .get_user(&realm, &user_id)
        .await
        .expect("read")
        .expect("user kept");
    assert_eq!(
        kept.enabled,
        Some(true),
        "the user was changed through another spelling"
    );
    assert!(
        kc.get_group(&realm, &group_id)
            .await
            .expect("read")
            .is_some(),
        "the group was deleted through another spelling"
    );
}
