//! The page's handlers: the gate (realm managed, session valid, CSRF,
//! role through Keycloak), sign-in, and one handler per action, each
//! calling the same function as the matching command.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::Markup;
use serde::Deserialize;

use super::session::{
    random_token, same_secret, PendingLogin, Session, LOGIN_COOKIE, SESSION_COOKIE,
};
use super::view::{self, Frame, MainPage, Notice, SignOut};
use super::AdminPage;
use crate::bootstrap::{self, settings_change, tokens, BootstrapOptions};
use crate::keycloak::{KcError, RoleHolder};
use crate::mapping::{admin_page_path, Profile, StoredToken, SCIM_ADMIN_ROLE};
use crate::realm::RealmName;

/// The client that holds Keycloak's per-realm admin roles.
const REALM_MANAGEMENT: &str = "realm-management";
/// Its role that lets a user change the realm's settings.
const MANAGE_REALM: &str = "manage-realm";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn html(status: StatusCode, markup: &Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.0.clone())
}

/// 404 for a realm the page does not serve, or a path it does not have.
pub(super) async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("Not Found")
}

fn forbidden(text: &str) -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body(text.to_owned())
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// The realm of the path, when the page serves it. No Keycloak call.
fn managed_realm(page: &AdminPage, raw: &str) -> Option<RealmName> {
    RealmName::parse(raw)
        .ok()
        .filter(|r| page.registry.manages(r.as_str()))
}

fn cookie_header(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
}

/// The signed-in admin of one request.
struct Admin {
    realm: RealmName,
    session: Session,
    base: String,
}

impl Admin {
    fn frame<'a>(&'a self, end_session: &'a str, after: &'a str) -> Frame<'a> {
        Frame {
            realm: self.realm.as_str(),
            base: &self.base,
            username: &self.session.username,
            csrf: &self.session.csrf,
            sign_out: SignOut {
                action: end_session,
                id_token: &self.session.id_token,
                after,
            },
        }
    }
}

/// What Keycloak says of a session's user.
enum Access {
    Allowed,
    /// The user or their Keycloak session is gone, or the user is disabled.
    SignedOut,
    /// Signed in, without the role.
    Denied,
}

async fn access(page: &AdminPage, realm: &str, s: &Session) -> Result<Access, KcError> {
    let Some(user) = page.kc.get_user(realm, &s.user_id).await? else {
        return Ok(Access::SignedOut);
    };
    if user.enabled != Some(true) {
        return Ok(Access::SignedOut);
    }
    if !page
        .kc
        .user_session_ids(realm, &s.user_id)
        .await?
        .iter()
        .any(|id| id == &s.sid)
    {
        return Ok(Access::SignedOut);
    }
    let realm_roles = page.kc.effective_realm_roles(realm, &s.user_id).await?;
    if realm_roles.iter().any(|r| r.name == SCIM_ADMIN_ROLE) {
        return Ok(Access::Allowed);
    }
    let Some(rm_id) = page
        .kc
        .find_client(realm, REALM_MANAGEMENT)
        .await?
        .and_then(|c| c.id)
    else {
        return Ok(Access::Denied);
    };
    let client_roles = page
        .kc
        .effective_client_roles(realm, RoleHolder::User(&s.user_id), &rm_id)
        .await?;
    Ok(if client_roles.iter().any(|r| r.name == MANAGE_REALM) {
        Access::Allowed
    } else {
        Access::Denied
    })
}

/// The gate of every signed-in request: the realm is managed (else 404),
/// the session cookie is valid (else a GET starts the sign-in and a POST
/// is 403), the CSRF token of a POST matches (else 403), and Keycloak
/// confirms the user and the role (else sign-in again, or 403).
async fn gate(
    page: &AdminPage,
    req: &HttpRequest,
    raw_realm: &str,
    csrf: Option<&str>,
) -> Result<Admin, HttpResponse> {
    let Some(realm) = managed_realm(page, raw_realm) else {
        return Err(not_found().await);
    };
    let base = admin_page_path(realm.as_str());
    let Some(session) = page
        .sealer
        .session(cookie_header(req), realm.as_str(), now())
    else {
        return Err(match csrf {
            None => start_sign_in(page, &realm),
            Some(_) => forbidden("Not signed in: reload the page and sign in."),
        });
    };
    if let Some(given) = csrf {
        if !same_secret(given, &session.csrf) {
            tracing::warn!(realm = %realm, admin = %session.username, "admin page: CSRF token missing or wrong");
            return Err(forbidden(
                "The form's CSRF token is missing or wrong: reload the page.",
            ));
        }
    }
    let admin = Admin {
        realm,
        session,
        base,
    };
    match access(page, admin.realm.as_str(), &admin.session).await {
        Ok(Access::Allowed) => Ok(admin),
        Ok(Access::SignedOut) => Err(match csrf {
            None => start_sign_in(page, &admin.realm),
            Some(_) => forbidden("Signed out: reload the page and sign in."),
        }),
        Ok(Access::Denied) => {
            tracing::info!(realm = %admin.realm, admin = %admin.session.username, "admin page: refused, no scim-admin or manage-realm role");
            let (end, after) = sign_out_targets(page, &admin);
            Err(html(
                StatusCode::FORBIDDEN,
                &view::forbidden_page(&admin.frame(&end, &after)),
            ))
        }
        Err(e) => {
            tracing::warn!(realm = %admin.realm, error = %e, "admin page: cannot check the admin's roles");
            Err(html(
                StatusCode::SERVICE_UNAVAILABLE,
                &view::message_page(
                    &admin.base,
                    "Keycloak unavailable",
                    "Your access cannot be checked right now; retry in a moment.",
                    None,
                ),
            ))
        }
    }
}

fn sign_out_targets(page: &AdminPage, admin: &Admin) -> (String, String) {
    let (_, _, after) = bootstrap::console_urls(&page.public_url, admin.realm.as_str());
    (page.endpoints.end_session(admin.realm.as_str()), after)
}

fn callback_url(page: &AdminPage, realm: &str) -> String {
    bootstrap::console_urls(&page.public_url, realm).1
}

/// 302 to the realm's authorization endpoint, the pending sign-in in its cookie.
fn start_sign_in(page: &AdminPage, realm: &RealmName) -> HttpResponse {
    let nonce = random_token();
    let redirect = callback_url(page, realm);
    match page.endpoints.authorize(realm, &redirect, &nonce) {
        Ok((url, state, verifier)) => {
            let pending = PendingLogin {
                realm: realm.to_string(),
                state,
                verifier,
                nonce,
                expires: now() + super::session::LOGIN_TTL_SECS,
            };
            HttpResponse::Found()
                .insert_header((header::LOCATION, url))
                .insert_header((
                    header::SET_COOKIE,
                    page.sealer.seal_pending(&pending, &admin_page_path(realm)),
                ))
                .finish()
        }
        Err(e) => {
            tracing::warn!(realm = %realm, error = %e, "admin page: cannot build the sign-in URL");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("The sign-in is misconfigured (see the sidecar's log).")
        }
    }
}

/// One audit event per change, with the admin's username; `describe`
/// says what a success did (ids and settings, never a secret).
fn audit<T>(
    admin: &Admin,
    operation: &str,
    outcome: &anyhow::Result<T>,
    describe: impl FnOnce(&T) -> String,
) {
    let result = match outcome {
        Ok(value) => format!("success: {}", describe(value)),
        Err(e) => format!("failure: {e:#}"),
    };
    tracing::info!(
        target: "audit",
        realm = %admin.realm,
        operation,
        admin = %admin.session.username,
        admin_id = %admin.session.user_id,
        outcome = %result,
        "admin page change"
    );
}

/// `/realms/{r}/scim/admin` → the page with its trailing slash.
pub(super) async fn to_slash(page: web::Data<AdminPage>, path: web::Path<String>) -> HttpResponse {
    match managed_realm(&page, &path) {
        Some(realm) => see_other(&admin_page_path(&realm)),
        None => not_found().await,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Keycloak's redirect after sign-in: the state checked against the
/// pending sign-in, the code exchanged with the PKCE verifier, the ID
/// token's claims checked, the session cookie set.
pub(super) async fn callback(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let Some(realm) = managed_realm(&page, &path) else {
        return not_found().await;
    };
    let base = admin_page_path(&realm);
    let refuse = |text: &str| {
        html(
            StatusCode::FORBIDDEN,
            &view::message_page(
                &base,
                "Sign-in failed",
                text,
                Some((&base, "Sign in again")),
            ),
        )
    };
    let Some(pending) = page.sealer.pending(cookie_header(&req), &realm, now()) else {
        return refuse("The sign-in expired or was started elsewhere.");
    };
    if query.error.is_some() {
        return refuse("Keycloak did not sign you in.");
    }
    let (Some(code), Some(state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return refuse("Keycloak's answer lacks the code or the state.");
    };
    if !same_secret(state, &pending.state) {
        return refuse("The sign-in state does not match.");
    }
    let id_token = match page
        .endpoints
        .exchange(
            &page.http,
            &realm,
            &callback_url(&page, &realm),
            code,
            &pending.verifier,
        )
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(realm = %realm, error = %e, "admin page: code exchange failed");
            return refuse("Keycloak refused the sign-in.");
        }
    };
    let identity = match super::oidc::identity(&id_token, &realm, &pending.nonce, now()) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(realm = %realm, error = %e, "admin page: ID token refused");
            return refuse("The ID token does not fit this sign-in.");
        }
    };
    let t = now();
    let session = Session {
        realm: realm.to_string(),
        user_id: identity.user_id,
        username: identity.username,
        sid: identity.sid,
        id_token,
        csrf: random_token(),
        expires: t + page.session_secs,
    };
    tracing::info!(target: "audit", realm = %realm, admin = %session.username, admin_id = %session.user_id, "admin page sign-in");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, base.clone()))
        .append_header((
            header::SET_COOKIE,
            page.sealer.seal_session(&session, &base, t),
        ))
        .append_header((header::SET_COOKIE, page.sealer.removal(LOGIN_COOKIE, &base)))
        .finish()
}

/// After Keycloak ended its session: the session cookie removed.
pub(super) async fn signed_out(
    page: web::Data<AdminPage>,
    path: web::Path<String>,
) -> HttpResponse {
    let Some(realm) = managed_realm(&page, &path) else {
        return not_found().await;
    };
    let base = admin_page_path(&realm);
    let mut response = html(
        StatusCode::OK,
        &view::message_page(
            &base,
            "Signed out",
            "You are signed out of the realm.",
            Some((&base, "Sign in again")),
        ),
    );
    if let Ok(v) = header::HeaderValue::from_str(&page.sealer.removal(SESSION_COOKIE, &base)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(super) struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

fn done_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "settings" => "SCIM settings updated.",
        "unchanged" => "Nothing to change.",
        "token-revoked" => "Token revoked: it is refused from now on.",
        "mappers-reset" => "Mappers reset to the product guide's table.",
        "breaker-reset" => "Breaker reset: disables and deletes are accepted again.",
        "breaker-closed" => "The breaker was not open.",
        _ => return None,
    })
}

async fn render_main(
    page: &AdminPage,
    admin: &Admin,
    notice: Option<Notice>,
    new_token: Option<(&StoredToken, &str)>,
    status: StatusCode,
) -> HttpResponse {
    let settings = match tokens::client_and_settings(&page.kc, &admin.realm).await {
        Ok((_, s)) => s,
        Err(e) => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                &view::message_page(&admin.base, "Settings unavailable", &format!("{e:#}"), None),
            )
        }
    };
    let tenant_url = bootstrap::tenant_url(&page.public_url, &admin.realm);
    let activity = crate::telemetry::metrics::realm_activity(&admin.realm);
    let failures = crate::telemetry::metrics::recent_failures(&admin.realm);
    let (end, after) = sign_out_targets(page, admin);
    let markup = view::main_page(&MainPage {
        frame: admin.frame(&end, &after),
        settings: &settings,
        tenant_url: &tenant_url,
        new_token,
        activity: &activity,
        failures: &failures,
        notice: notice.as_ref(),
    });
    html(status, &markup)
}

/// The page.
pub(super) async fn main_page(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> HttpResponse {
    let admin = match gate(&page, &req, &path, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let notice = query
        .done
        .as_deref()
        .and_then(done_text)
        .map(|t| Notice::Done(t.to_owned()));
    render_main(&page, &admin, notice, None, StatusCode::OK).await
}

/// The fields of every action form; each action reads its own.
#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    /// The session's CSRF token: on every form.
    #[serde(default)]
    csrf: String,
    /// SCIM endpoint: the Enable checkbox (present when ticked).
    #[serde(default)]
    enabled: Option<String>,
    /// SCIM endpoint: `generic` or `azure`.
    #[serde(default)]
    profile: String,
    /// SCIM endpoint: the Azure tenant id.
    #[serde(default)]
    tenant_id: String,
    /// New token: its lifetime.
    #[serde(default)]
    expires_in_days: String,
    /// Revoke: the token id.
    #[serde(default)]
    id: String,
    /// Breaker reset: `yes` once confirmed.
    #[serde(default)]
    confirm: String,
}

/// The main page, 400, with why the action failed.
async fn refused(page: &AdminPage, admin: &Admin, e: &anyhow::Error) -> HttpResponse {
    let notice = Notice::Failed(format!("{e:#}"));
    render_main(page, admin, Some(notice), None, StatusCode::BAD_REQUEST).await
}

/// Enable, profile, tenant id: `realm set`.
pub(super) async fn update_settings(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let admin = match gate(&page, &req, &path, Some(&form.csrf)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(profile) = Profile::parse(&form.profile) else {
        let e = anyhow::anyhow!("unknown profile (Generic or Azure)");
        return refused(&page, &admin, &e).await;
    };
    let change = settings_change::SettingsChange {
        enabled: Some(form.enabled.is_some()),
        profile: Some(profile),
        tenant_id: Some(form.tenant_id.clone()),
        ..settings_change::SettingsChange::default()
    };
    let result =
        settings_change::change_settings(&page.kc, &admin.realm, &change, &page.settings.realms)
            .await;
    audit(&admin, "settings update", &result, |(outcome, s)| {
        format!(
            "{outcome}: enabled={} profile={} tenant={}",
            s.enabled,
            s.profile.as_str(),
            s.tenant_id.as_deref().unwrap_or("-")
        )
    });
    match result {
        Ok((outcome, _)) => {
            // Served (or no longer served) at once on this replica; the
            // others follow within `scim.realm_refresh_secs`.
            if let Err(e) = page.registry.refresh_realm(&admin.realm).await {
                tracing::warn!(realm = %admin.realm, error = %e, "cannot re-read the realm after a settings change");
            }
            let code = if outcome == bootstrap::Outcome::Updated {
                "settings"
            } else {
                "unchanged"
            };
            see_other(&format!("{}?done={code}", admin.base))
        }
        Err(e) => refused(&page, &admin, &e).await,
    }
}

/// `token create`: the secret is in this response only.
pub(super) async fn create_token(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let admin = match gate(&page, &req, &path, Some(&form.csrf)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let days = match form.expires_in_days.trim() {
        "" => None,
        d => match d.parse::<u32>() {
            Ok(n) if (1..=3650).contains(&n) => Some(n),
            _ => {
                let e = anyhow::anyhow!("expiry must be 1 to 3650 days");
                return refused(&page, &admin, &e).await;
            }
        },
    };
    let result = tokens::create_token(&page.kc, &admin.realm, days).await;
    audit(&admin, "token create", &result, |(stored, _)| {
        format!("token {}", stored.id)
    });
    match result {
        Ok((stored, secret)) => {
            let notice = Notice::Done(format!("Token {} created.", stored.id));
            render_main(
                &page,
                &admin,
                Some(notice),
                Some((&stored, &secret)),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => refused(&page, &admin, &e).await,
    }
}

/// `token revoke`.
pub(super) async fn revoke_token(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let admin = match gate(&page, &req, &path, Some(&form.csrf)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id: String = form.id.chars().take(64).collect();
    let result = tokens::revoke_token(&page.kc, &admin.realm, &id).await;
    audit(&admin, "token revoke", &result, |()| format!("token {id}"));
    match result {
        Ok(()) => see_other(&format!("{}?done=token-revoked", admin.base)),
        Err(e) => refused(&page, &admin, &e).await,
    }
}

/// `GET checklist`: nothing runs on a GET (the checklist issues and
/// revokes a token for its Test Connection); back to the page's checklist
/// section, whose button posts.
pub(super) async fn checklist_get(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match gate(&page, &req, &path, None).await {
        Ok(admin) => see_other(&format!("{}#checklist-title", admin.base)),
        Err(r) => r,
    }
}

/// `POST checklist`: the checklist (`doctor`), with Test Connection
/// through this sidecar.
pub(super) async fn checklist(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let admin = match gate(&page, &req, &path, Some(&form.csrf)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    render_checklist(&page, &admin, None).await
}

/// Runs the checklist and renders it, with `notice` above it.
async fn render_checklist(page: &AdminPage, admin: &Admin, notice: Option<Notice>) -> HttpResponse {
    let opts = crate::doctor::DoctorOptions {
        realm: admin.realm.clone(),
        scim_url: Some(page.scim_url.clone()),
        token: None,
    };
    let list = crate::doctor::checklist(&page.settings, Ok(page.kc.clone()), &opts).await;
    let failed: Vec<&str> = list.rows.iter().filter(|r| !r.ok).map(|r| r.item).collect();
    // The Test Connection issued a one-day token and revoked it.
    audit(admin, "checklist run", &Ok(()), |()| {
        if failed.is_empty() {
            "all passed".to_owned()
        } else {
            format!("failed: {}", failed.join(", "))
        }
    });
    let (end, after) = sign_out_targets(page, admin);
    html(
        StatusCode::OK,
        &view::checklist_page(&admin.frame(&end, &after), &list, notice.as_ref()),
    )
}

/// `bootstrap --reset-mappers`.
pub(super) async fn reset_mappers(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let admin = match gate(&page, &req, &path, Some(&form.csrf)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let opts = BootstrapOptions {
        realm: admin.realm.to_string(),
        reset_mappers: true,
        console_url: Some(page.public_url.clone()),
        ..BootstrapOptions::default()
    };
    let result = bootstrap::run(&page.kc, &opts).await;
    audit(&admin, "mappers reset", &result, |report| {
        report
            .steps
            .iter()
            .filter(|s| s.name.starts_with("mapper ") && s.outcome != bootstrap::Outcome::Unchanged)
            .map(|s| format!("{} {}", s.name, s.outcome))
            .collect::<Vec<_>>()
            .join(", ")
    });
    match result {
        Ok(_) => {
            let done = done_text("mappers-reset").map(|t| Notice::Done(t.to_owned()));
            render_checklist(&page, &admin, done).await
        }
        Err(e) => refused(&page, &admin, &e).await,
    }
}

/// `breaker reset`, after a confirmation step (`confirm=yes`).
pub(super) async fn reset_breaker(
    page: web::Data<AdminPage>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let admin = match gate(&page, &req, &path, Some(&form.csrf)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if form.confirm != "yes" {
        return match bootstrap::breaker::breaker_status(&page.kc, &admin.realm).await {
            Ok(Some(since)) => {
                let (end, after) = sign_out_targets(&page, &admin);
                html(
                    StatusCode::OK,
                    &view::confirm_breaker_page(&admin.frame(&end, &after), &since),
                )
            }
            Ok(None) => see_other(&format!("{}?done=breaker-closed", admin.base)),
            Err(e) => refused(&page, &admin, &e).await,
        };
    }
    let result = bootstrap::breaker::reset_breaker(&page.kc, &admin.realm).await;
    audit(&admin, "breaker reset", &result, |was_open| {
        if *was_open {
            "reset".to_owned()
        } else {
            "was not open".to_owned()
        }
    });
    match result {
        Ok(true) => see_other(&format!("{}?done=breaker-reset", admin.base)),
        Ok(false) => see_other(&format!("{}?done=breaker-closed", admin.base)),
        Err(e) => refused(&page, &admin, &e).await,
    }
}

/// The copy buttons' script.
pub(super) async fn copy_js(page: web::Data<AdminPage>, path: web::Path<String>) -> HttpResponse {
    static_file(
        &page,
        &path,
        "text/javascript; charset=utf-8",
        include_str!("static/copy.js"),
    )
}

/// The page's style sheet.
pub(super) async fn admin_css(page: web::Data<AdminPage>, path: web::Path<String>) -> HttpResponse {
    static_file(
        &page,
        &path,
        "text/css; charset=utf-8",
        include_str!("static/admin.css"),
    )
}

fn static_file(
    page: &AdminPage,
    realm: &str,
    content_type: &str,
    body: &'static str,
) -> HttpResponse {
    if managed_realm(page, realm).is_none() {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not Found");
    }
    HttpResponse::Ok()
        .content_type(content_type.to_owned())
        .body(body)
}
