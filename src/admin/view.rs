//! The admin page's HTML, rendered with `maud` (escaped by construction).
//! Plain, accessible markup: every control has a label, every action is a
//! form that works without JavaScript; `copy.js` only adds the copy buttons'
//! clipboard action. No inline script or style (the CSP forbids them).

use maud::{html, Markup, DOCTYPE};

use crate::doctor::{Checklist, ITEM_MAPPERS};
use crate::mapping::{Profile, RealmScimSettings, StoredToken};
use crate::telemetry::metrics::{ActivityRow, FailedRequest};

/// What every signed-in page needs.
pub(super) struct Frame<'a> {
    /// The realm.
    pub(super) realm: &'a str,
    /// The page's own path (`/realms/{r}/scim/admin/`).
    pub(super) base: &'a str,
    /// The signed-in admin.
    pub(super) username: &'a str,
    /// The session's CSRF token.
    pub(super) csrf: &'a str,
    /// The sign-out form: Keycloak's end-session endpoint and its fields.
    pub(super) sign_out: SignOut<'a>,
}

/// RP-initiated logout, posted to Keycloak (the ID token travels in the
/// form body, never in a URL).
pub(super) struct SignOut<'a> {
    /// The realm's end-session endpoint.
    pub(super) action: &'a str,
    /// `id_token_hint`.
    pub(super) id_token: &'a str,
    /// `post_logout_redirect_uri`.
    pub(super) after: &'a str,
}

/// A message at the top of the page.
pub(super) enum Notice {
    /// Something was done.
    Done(String),
    /// Something failed.
    Failed(String),
}

fn layout(title: &str, base: &str, frame: Option<&Frame<'_>>, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href={ (base) "static/admin.css" };
                script src={ (base) "static/copy.js" } defer {}
            }
            body {
                header {
                    span.brand { "Integrations → SCIM" }
                    @if let Some(f) = frame {
                        span.realm { "Realm " strong { (f.realm) } }
                        span.user { "Signed in as " strong #signed-in-user { (f.username) } }
                        form method="post" action=(f.sign_out.action) {
                            input type="hidden" name="id_token_hint" value=(f.sign_out.id_token);
                            input type="hidden" name="post_logout_redirect_uri" value=(f.sign_out.after);
                            input type="hidden" name="client_id" value=(crate::mapping::CONSOLE_CLIENT_ID);
                            button #sign-out type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn csrf(frame: &Frame<'_>) -> Markup {
    html! { input type="hidden" name="csrf" value=(frame.csrf); }
}

fn notice(n: Option<&Notice>) -> Markup {
    html! {
        @match n {
            Some(Notice::Done(text)) => p.notice.done #notice role="status" { (text) },
            Some(Notice::Failed(text)) => p.notice.failed #notice role="alert" { (text) },
            None => {},
        }
    }
}

/// The main page.
pub(super) struct MainPage<'a> {
    /// Frame.
    pub(super) frame: Frame<'a>,
    /// The realm's settings.
    pub(super) settings: &'a RealmScimSettings,
    /// The Tenant URL.
    pub(super) tenant_url: &'a str,
    /// A token just created: its stored form and the secret.
    pub(super) new_token: Option<(&'a StoredToken, &'a str)>,
    /// The SCIM requests this replica answered for the realm.
    pub(super) activity: &'a [ActivityRow],
    /// The realm's last failed SCIM requests on this replica, newest first.
    pub(super) failures: &'a [FailedRequest],
    /// A message.
    pub(super) notice: Option<&'a Notice>,
}

/// Renders the main page.
#[must_use]
pub(super) fn main_page(p: &MainPage<'_>) -> Markup {
    let f = &p.frame;
    let s = p.settings;
    let now = chrono::Utc::now();
    let body = html! {
        h1 { "SCIM endpoint of realm " (f.realm) }
        (notice(p.notice))
        @if let Some((token, secret)) = p.new_token {
            section #new-token-box aria-labelledby="new-token-title" {
                h2 #new-token-title { "New secret token" }
                p { "Copy it now: it is shown only once. Paste it into Entra's " em { "Secret Token" } " field." }
                p.secret { code #new-token { (secret) } " " button.copy type="button" data-copy="new-token" { "Copy" } }
                p { "Token id " code #new-token-id { (token.id) } ", expires "
                    span #new-token-expires { (token.expires.as_deref().unwrap_or("never")) } "." }
            }
        }
        section aria-labelledby="endpoint-title" {
            h2 #endpoint-title { "SCIM Endpoint" }
            form #settings-form method="post" action={ (f.base) "settings" } {
                (csrf(f))
                p {
                    input #enabled type="checkbox" name="enabled" value="on" checked[s.enabled];
                    label for="enabled" { "Enable" }
                }
                p {
                    label for="profile" { "Profile" }
                    select #profile name="profile" {
                        option value="generic" selected[s.profile == Profile::Generic] { "Generic" }
                        option value="azure" selected[s.profile == Profile::Azure] { "Azure" }
                    }
                }
                p {
                    label for="tenant-id" { "Azure Tenant ID" }
                    input #tenant-id type="text" name="tenant_id" inputmode="text" autocomplete="off"
                        pattern="[0-9a-fA-F-]{32,36}" placeholder="00000000-0000-0000-0000-000000000000"
                        value=(s.tenant_id.as_deref().unwrap_or(""));
                    " " span.hint { "Entra admin center → Overview → Tenant ID; required for Azure." }
                }
                button #update-settings type="submit" { "Update" }
            }
        }
        section aria-labelledby="tenant-title" {
            h2 #tenant-title { "Tenant URL" }
            p { code #tenant-url { (p.tenant_url) } " " button.copy type="button" data-copy="tenant-url" { "Copy" } }
        }
        section aria-labelledby="tokens-title" {
            h2 #tokens-title { "Secret tokens" }
            form #create-token-form method="post" action={ (f.base) "tokens" } {
                (csrf(f))
                label for="expires-in-days" { "Expires after (days)" }
                " "
                input #expires-in-days type="number" name="expires_in_days" min="1" max="3650" value="365";
                " "
                button #create-token type="submit" { "Create token" }
            }
            @if s.tokens.is_empty() {
                p #no-tokens { "No static token." }
            } @else {
                table #tokens {
                    thead { tr { th scope="col" { "Id" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "Last used" } th scope="col" { span.visually-hidden { "Action" } } } }
                    tbody {
                        @for t in &s.tokens {
                            tr data-token-id=(t.id) {
                                td { code { (t.id) } }
                                td { (t.created) }
                                td { (t.expires.as_deref().unwrap_or("never")) @if !t.is_active(now) { " (expired)" } }
                                td { "not recorded" }
                                td {
                                    form method="post" action={ (f.base) "tokens/revoke" } {
                                        (csrf(f))
                                        input type="hidden" name="id" value=(t.id);
                                        button.revoke type="submit" aria-label={ "Revoke token " (t.id) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="checklist-title" {
            h2 #checklist-title { "Validation checklist" }
            form method="post" action={ (f.base) "checklist" } {
                (csrf(f))
                p { button #run-checklist type="submit" { "Run the checklist" }
                    " — client, mappers, user profile, settings, credential and Entra's Test Connection against this sidecar." }
            }
        }
        section aria-labelledby="breaker-title" {
            h2 #breaker-title { "Mass-deprovision breaker" }
            @match &s.breaker_tripped_at {
                Some(since) => {
                    p #breaker-state.failed { "Open since " (since) ": SCIM disables and deletes are refused." }
                    form method="post" action={ (f.base) "breaker/reset" } {
                        (csrf(f))
                        button #reset-breaker type="submit" { "Reset breaker…" }
                    }
                }
                None => p #breaker-state.done { "Closed: disables and deletes are accepted." },
            }
        }
        section aria-labelledby="activity-title" {
            h2 #activity-title { "Recent provisioning activity — this replica, since it started" }
            @if p.activity.is_empty() {
                p #no-activity { "No SCIM request for this realm has reached this replica yet." }
            } @else {
                table #activity {
                    thead { tr { th scope="col" { "Resource" } th scope="col" { "Method" } th scope="col" { "Status" } th scope="col" { "Requests" } } }
                    tbody {
                        @for (resource, method, status, count) in p.activity {
                            tr { td { (resource) } td { (method) } td { (status) } td { (count) } }
                        }
                    }
                }
            }
            h3 { "Last errors" }
            @if p.failures.is_empty() {
                p #no-failures { "No failed SCIM request." }
            } @else {
                table #failures {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Method" } th scope="col" { "Resource" } th scope="col" { "Status" } th scope="col" { "scimType" } } }
                    tbody {
                        @for f in p.failures {
                            tr { td { (f.at) } td { (f.method) } td { (f.resource) } td { (f.status) } td { (f.scim_type) } }
                        }
                    }
                }
            }
        }
    };
    layout(&format!("SCIM — {}", f.realm), f.base, Some(f), &body)
}

/// The checklist page.
#[must_use]
pub(super) fn checklist_page(f: &Frame<'_>, list: &Checklist, notice_: Option<&Notice>) -> Markup {
    let mappers_row = list.row(ITEM_MAPPERS);
    let offer_reset = mappers_row.is_some_and(|r| {
        !r.ok
            || r.detail
                .as_deref()
                .is_some_and(|d| d.contains("customised"))
    });
    let body = html! {
        h1 { "Validation checklist of realm " (f.realm) }
        (notice(notice_))
        p #checklist-summary.{ @if list.all_passed() { "done" } @else { "failed" } } {
            @if list.all_passed() { "All " (list.rows.len()) " checks passed." }
            @else { (list.rows.iter().filter(|r| !r.ok).count()) " of " (list.rows.len()) " checks failed." }
        }
        table #checklist {
            thead { tr { th scope="col" { "Check" } th scope="col" { "Result" } th scope="col" { "Details" } } }
            tbody {
                @for row in &list.rows {
                    tr.{ @if row.ok { "ok" } @else { "fail" } } data-item=(row.item) {
                        td { (row.item) }
                        td { @if row.ok { "OK" } @else { "FAIL" } }
                        td { (row.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if offer_reset {
            form method="post" action={ (f.base) "mappers/reset" } {
                (csrf(f))
                p { "Missing mappers are created and customised ones restored to the product guide's table." }
                button #reset-mappers type="submit" { "Reset mappers" }
            }
        }
        form method="post" action={ (f.base) "checklist" } {
            (csrf(f))
            p { button #run-checklist type="submit" { "Run again" } " " a href=(f.base) { "Back" } }
        }
    };
    layout(
        &format!("SCIM checklist — {}", f.realm),
        f.base,
        Some(f),
        &body,
    )
}

/// The breaker reset's confirmation step.
#[must_use]
pub(super) fn confirm_breaker_page(f: &Frame<'_>, since: &str) -> Markup {
    let body = html! {
        h1 { "Reset the mass-deprovision breaker?" }
        p { "The breaker opened at " (since) " because more users were disabled or deleted than the configured share. "
            "After the reset, SCIM disables and deletes are accepted again. Check in Entra that the deprovisioning is intended first." }
        form method="post" action={ (f.base) "breaker/reset" } {
            (csrf(f))
            input type="hidden" name="confirm" value="yes";
            button #confirm-reset type="submit" { "Yes, reset the breaker" }
            " "
            a href=(f.base) { "Cancel" }
        }
    };
    layout("Reset the breaker?", f.base, Some(f), &body)
}

/// 403: signed in, but without the role.
#[must_use]
pub(super) fn forbidden_page(f: &Frame<'_>) -> Markup {
    let body = html! {
        h1 #forbidden { "Not allowed" }
        p { "The account " strong { (f.username) } " may not manage SCIM in realm " (f.realm)
            ": it needs the realm role " code { (crate::mapping::SCIM_ADMIN_ROLE) }
            " or the client role " code { "realm-management/manage-realm" } "." }
    };
    layout("Not allowed", f.base, Some(f), &body)
}

/// A plain message page (sign-in errors, signed out).
#[must_use]
pub(super) fn message_page(
    base: &str,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Markup {
    let body = html! {
        h1 #message-title { (title) }
        p #message { (text) }
        @if let Some((href, label)) = link { p { a #message-link href=(href) { (label) } } }
    };
    layout(title, base, None, &body)
}
