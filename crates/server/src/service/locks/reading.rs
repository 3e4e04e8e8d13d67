//! Reading requests and locks: the requests an actor may list (the officers' queue among them) and read with
//! their steps, which requests an actor may see (asked after the authorization table, never instead of it), and
//! how a lock's placer is named to a holder. The API and the officers' console read through here alike.

use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authority;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::lock::Party;
use dinhdanh_domain::request::{Request, Step};
use dinhdanh_store::QueueFilter;

use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;

/// The requests an actor may list: for officers the queue (open requests matching `filter`, the most urgent
/// first: overdue, then by deadline); for an organization the ones it filed; for a holder those about their
/// account that they may hear of yet (`filter` is the officers' only).
pub async fn list_requests(
    state: &AppState,
    actor: &Actor,
    filter: &QueueFilter,
    limit: i64,
) -> Result<Vec<Request>, ApiError> {
    authorize(state, actor, Action::RequestsList).await?;
    Ok(match actor {
        Actor::Officer { .. } => state.store.request_queue(filter, state.clock.now(), limit).await?,
        Actor::Organization { organization_id, .. } => {
            state.store.requests_of_organization(organization_id, limit).await?
        }
        Actor::Holder { account_id, .. } => {
            // Without the requests the holder may not hear of yet (an authority's pending lock request).
            let mut own = state.store.requests_of_account(account_id, limit).await?;
            own.retain(|r| may_read(actor, r));
            own
        }
        Actor::System | Actor::Anonymous => return Err(ApiError::Forbidden { action: Action::RequestsList.as_str() }),
    })
}

/// One request with its steps, when the actor may read it; any other is `not found`, never `forbidden`, so
/// that nobody learns which ids exist.
pub async fn request_with_steps(state: &AppState, actor: &Actor, id: &str) -> Result<(Request, Vec<Step>), ApiError> {
    authorize(state, actor, Action::RequestsRead).await?;
    let request =
        state.store.request(id).await?.filter(|r| may_read(actor, r)).ok_or(ApiError::NotFound { what: "request" })?;
    let steps = state.store.request_steps(&request.id).await?;
    Ok((request, steps))
}

/// Which requests an actor the authorization table lets read requests (`requests.read`) may see: officers any,
/// a holder those about their account, an organization those it filed. Asked after [`authorize`], never instead.
pub fn may_read(actor: &Actor, request: &Request) -> bool {
    match actor {
        Actor::Officer { roles, .. } => !roles.is_empty(),
        Actor::Holder { account_id, .. } => {
            request.subject.account() == Some(account_id)
                && authority::holder_sees(request.ground, request.kind, request.status)
        }
        Actor::Organization { organization_id, .. } => {
            matches!(&request.requester, Party::Organization { organization_id: o, .. } if o == organization_id)
        }
        _ => false,
    }
}

/// A lock as a holder may see it: never an officer's identity; an organization by name.
pub async fn placed_by_name(state: &AppState, party: &Party) -> Result<String, ApiError> {
    Ok(match party {
        Party::Holder { .. } => "chủ tài khoản / the holder".to_owned(),
        Party::Officer { .. } => "cơ quan quản lý định danh / the e-ID operator".to_owned(),
        Party::System => "hệ thống, theo dữ liệu quốc gia / the system, from the national registries".to_owned(),
        Party::Organization { organization_id, .. } => match state.store.organization(organization_id).await? {
            Some(org) => org.name,
            None => organization_id.clone(),
        },
    })
}
