//! Reading requests and locks: which requests an actor may see (asked after the authorization table, never
//! instead of it), and how a lock's placer is named to a holder.

use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authority;
use dinhdanh_domain::lock::Party;
use dinhdanh_domain::request::Request;

use crate::AppState;
use crate::problem::ApiError;

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
