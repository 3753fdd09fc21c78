//! The authorised scope of a SCIM request as an actix extractor: a handler
//! that takes [`Authorized`] runs only for a caller whose bearer credential
//! verified for the realm of the path.
//!
//! Invariant: no work for a caller before its credential is verified, and
//! nothing that tells realms apart. The extractor reads the `Authorization`
//! header (401 when missing, ambiguous or not a bearer token), then asks the
//! directory from memory whether the realm is served: a realm that is not —
//! unknown, not set up, disabled, reserved or a name that is no realm name —
//! gets exactly the answer of an unknown token (401), with no backend call
//! and nothing cached. Only for a served realm is its view loaded (cached)
//! and the credential verified. Bodies, query strings and other directory
//! calls come after it, in the handler.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures::future::LocalBoxFuture;

use super::{ApiError, AppState};
use crate::auth::{self, AuthError, Credential};
use crate::directory::RealmView;
use crate::realm::RealmName;
use crate::scim::ScimError;

/// Marks a request whose realm resolved (bounded metric label values).
#[derive(Clone)]
pub(super) struct KnownRealm(pub String);

/// An authenticated request to one realm.
pub struct Authorized {
    /// The realm from the path, validated.
    pub realm: RealmName,
    /// The realm's view.
    pub view: Arc<RealmView>,
    /// Who called.
    pub credential: Credential,
}

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| {
                ApiError::from(ScimError::internal(
                    "the SCIM routes are mounted without state",
                ))
            })?;
            authorize(&req, state).await
        })
    }
}

/// Checks the bearer header (401), whether the realm is served (else the
/// 401 of an unknown token), then the credential against the realm's view
/// (401). A static token unknown to the cached settings reloads them once
/// (rate-limited per realm), so a new token works at once.
async fn authorize(req: &HttpRequest, state: &AppState) -> Result<Authorized, ApiError> {
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let first = headers.next();
    if headers.next().is_some() {
        return Err(AuthError::Ambiguous.into());
    }
    let token = auth::bearer_token(first.and_then(|v| v.to_str().ok()))?;
    let raw = req.match_info().get("realm").unwrap_or_default();
    let realm = match RealmName::parse(raw) {
        Ok(realm) if state.directory.serves(&realm)? => realm,
        _ => return Err(AuthError::UnknownToken.into()),
    };
    let mut view = state.directory.realm(&realm).await?;
    // The realm is served: metrics may label this request with it.
    req.extensions_mut().insert(KnownRealm(realm.to_string()));
    let mut verified = verify(state, &realm, token, &view).await;
    if verified == Err(AuthError::UnknownToken) && state.auth.may_refresh_settings(&realm) {
        state.directory.refresh_realm(&realm).await;
        view = state.directory.realm(&realm).await?;
        verified = verify(state, &realm, token, &view).await;
    }
    Ok(Authorized {
        realm,
        view,
        credential: verified?,
    })
}

/// The credential checked against one view of the realm.
async fn verify(
    state: &AppState,
    realm: &RealmName,
    token: &str,
    view: &RealmView,
) -> Result<Credential, AuthError> {
    state
        .auth
        .verify(
            realm,
            token,
            &view.settings,
            view.scim_service_account.as_deref(),
        )
        .await
}
