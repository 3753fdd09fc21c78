//! The authorised scope of a SCIM request as an actix extractor: a handler
//! that takes [`Authorized`] runs only for a caller whose bearer credential
//! verified for the realm of the path.
//!
//! Invariant: no work for a caller before its credential is verified. The
//! extractor resolves the realm (404 when it has no enabled SCIM endpoint),
//! then checks the `Authorization` header (401), and nothing else: bodies,
//! query strings and directory calls come after it, in the handler.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures::future::LocalBoxFuture;

use super::{ApiError, AppState};
use crate::auth::{self, AuthError, Credential};
use crate::directory::{DirectoryError, RealmView};
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

/// Checks the realm (404 when it has no enabled SCIM endpoint) and the
/// bearer credential (401). A static token unknown to the cached settings
/// reloads them once (rate-limited per realm), so a new token works at once.
async fn authorize(req: &HttpRequest, state: &AppState) -> Result<Authorized, ApiError> {
    let raw = req.match_info().get("realm").unwrap_or_default();
    let realm = RealmName::parse(raw)
        .map_err(|_| DirectoryError::NotFound(format!("no SCIM endpoint for realm {raw:?}")))?;
    let mut view = state.directory.realm(&realm).await?;
    // The realm exists: metrics may label this request with it.
    req.extensions_mut().insert(KnownRealm(realm.to_string()));
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let first = headers.next();
    if headers.next().is_some() {
        return Err(AuthError::Ambiguous.into());
    }
    let token = auth::bearer_token(first.and_then(|v| v.to_str().ok()))?;
    let mut verified = state
        .auth
        .verify(
            &realm,
            token,
            &view.settings,
            view.scim_service_account.as_deref(),
        )
        .await;
    if verified == Err(AuthError::UnknownToken) && state.auth.may_refresh_settings(&realm) {
        state.directory.refresh_realm(&realm).await;
        view = state.directory.realm(&realm).await?;
        verified = state
            .auth
            .verify(
                &realm,
                token,
                &view.settings,
                view.scim_service_account.as_deref(),
            )
            .await;
    }
    Ok(Authorized {
        realm,
        view,
        credential: verified?,
    })
}
