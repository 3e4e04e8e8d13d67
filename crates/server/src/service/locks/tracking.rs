//! Following a request by its tracking code and the identity of the account it concerns (`GET
//! /v1/request-status`, the portal's tracking page): anyone holding both may see where the request stands. A wrong
//! pairing and an unknown code get the same answer, so the page tells nothing about who has a request.

use dinhdanh_domain::IdentityKey;
use dinhdanh_domain::request::{Request, Subject};
use dinhdanh_domain::tracking::TrackingCode;

use crate::AppState;
use crate::problem::ApiError;

/// The request with this tracking code, if it concerns the account of this identity (for a bulk order: if the
/// order names that account); `404` otherwise, the same for both.
pub async fn tracked_request(
    state: &AppState,
    code: &TrackingCode,
    identity: &IdentityKey,
) -> Result<Request, ApiError> {
    let not_found = || ApiError::NotFound { what: "request with this tracking code and identity" };
    let request = state.store.request_by_tracking_code(code).await?.ok_or_else(not_found)?;
    let concerned = match &request.subject {
        Subject::Account(id) => state.store.account(id).await?.is_some_and(|a| a.identity_key == *identity),
        // A bulk order names many accounts: the identity must be one of them.
        Subject::BulkOrder => match state.store.account_by_identity(identity).await? {
            Some(account) => state.store.order_names_account(&request.id, &account.id).await?,
            None => false,
        },
    };
    if concerned { Ok(request) } else { Err(not_found()) }
}
