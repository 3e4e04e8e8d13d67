//! Organizations over HTTP, on SQLite and PostgreSQL: who may manage them (asked of the authorization table),
//! the organization rules, suspension taking effect at once, and the audit trail.

use std::collections::BTreeSet;

use dinhdanh_domain::actor::{Actor, OfficerRole, OrganizationKind};
use dinhdanh_domain::authorization::{Action, authorize};
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::TestServer;

fn bank() -> Value {
    json!({"code": "vcb", "name": "Ngân hàng TMCP Ngoại thương Việt Nam", "kind": "relying_party",
           "contact_email": "fraud@vcb.example.vn", "contact_phone": "024 3934 3137"})
}

on_both_backends! {
    an_administrator_registers_and_changes_an_organization(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let (status, created) = server.call(Method::POST, "/v1/organizations", &admin, Some(bank())).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!((created["code"].as_str(), created["status"].as_str()), (Some("VCB"), Some("active")));
        assert_eq!(created["contact_phone"], "+842439343137");
        let id = created["id"].as_str().unwrap().to_owned();

        let (status, body) = server.call(Method::POST, "/v1/organizations", &admin, Some(bank())).await;
        assert_eq!((status, body["type"].as_str()), (409, Some("urn:dinhdanh:problem:conflict")));

        let (status, body) = server.call(Method::PATCH, &format!("/v1/organizations/{id}"), &admin,
            Some(json!({"name": "Vietcombank", "contact_phone": null}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["name"].as_str(), body["contact_phone"].is_null()), (Some("Vietcombank"), true));
        assert_eq!(body["contact_email"], "fraud@vcb.example.vn", "absent fields stay as they were");

        let (_, list) = server.call(Method::GET, "/v1/organizations?kind=relying_party", &admin, None).await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        let (status, _) = server.call(Method::GET, "/v1/organizations?kind=bank", &admin, None).await;
        assert_eq!(status, 422);

        let audit = server.store.recent_audit(None, 20).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        assert!(actions.contains(&"organization.create") && actions.contains(&"organization.update"), "{actions:?}");
        let update = audit.iter().find(|a| a.action == "organization.update").unwrap();
        assert_eq!(update.detail["fields"], json!(["name", "contact_phone"]));
        assert!(update.actor.starts_with("officer:"));
    }

    units_belong_to_a_parent_of_their_kind_without_cycles(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let court = json!({"code": "TAND-HN", "name": "Tòa án nhân dân TP Hà Nội", "kind": "prosecuting_agency"});
        let (_, parent) = server.call(Method::POST, "/v1/organizations", &admin, Some(court)).await;
        let parent_id = parent["id"].as_str().unwrap().to_owned();
        let district = json!({"code": "TAND-HK", "name": "Tòa án nhân dân quận Hoàn Kiếm", "kind": "prosecuting_agency", "parent_id": parent_id});
        let (status, child) = server.call(Method::POST, "/v1/organizations", &admin, Some(district)).await;
        assert_eq!(status, 201, "{child}");
        let child_id = child["id"].as_str().unwrap().to_owned();

        let wrong_kind = json!({"code": "BANK-HK", "name": "Chi nhánh", "kind": "relying_party", "parent_id": parent_id});
        let (status, body) = server.call(Method::POST, "/v1/organizations", &admin, Some(wrong_kind)).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("parent_id")));

        let (status, body) = server.call(Method::PATCH, &format!("/v1/organizations/{parent_id}"), &admin,
            Some(json!({"parent_id": child_id}))).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("parent_id")), "a cycle is refused");
        let (status, _) = server.call(Method::PATCH, &format!("/v1/organizations/{parent_id}"), &admin,
            Some(json!({"parent_id": parent_id}))).await;
        assert_eq!(status, 422);
        let (status, _) = server.call(Method::POST, "/v1/organizations", &admin,
            Some(json!({"code": "X1", "name": "X", "kind": "relying_party", "parent_id": "missing"}))).await;
        assert_eq!(status, 404);
    }

    bad_input_is_refused_and_changes_nothing(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        for (body, field) in [
            (json!({"code": "v", "name": "Bank", "kind": "relying_party"}), "code"),
            (json!({"code": "VCB", "name": " ", "kind": "relying_party"}), "name"),
            (json!({"code": "VCB", "name": "Bank", "kind": "bank"}), "kind"),
            (json!({"code": "VCB", "name": "Bank", "kind": "relying_party", "contact_email": "x"}), "contact_email"),
        ] {
            let (status, problem) = server.call(Method::POST, "/v1/organizations", &admin, Some(body)).await;
            assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some(field)), "{problem}");
        }
        assert_eq!(server.store.organizations(None).await.unwrap().len(), 1, "only the operator fixture");
    }

    strangers_and_bad_tokens_get_401(db) {
        let server = TestServer::start(&db).await;
        let response = server.http.get(server.url("/v1/organizations")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        for token in ["dd_os_0000", "dd_at_0000", "something-else"] {
            let (status, body) = server.call(Method::GET, "/v1/organizations", token, None).await;
            assert_eq!((status, body["type"].as_str()), (401, Some("urn:dinhdanh:problem:unauthorized")));
        }
    }

    suspension_stops_an_organization_at_once_and_reinstatement_restores_it(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let unit = server.organization("C06-HN", OrganizationKind::Operator).await;
        let (_, reviewer) = server.officer_session(&unit.id, &[OfficerRole::Reviewer]).await;
        let (status, _) = server.call(Method::GET, "/v1/organizations", &reviewer, None).await;
        assert_eq!(status, 200);

        let (status, body) = server.call(Method::POST, &format!("/v1/organizations/{}/suspend", unit.id), &admin,
            Some(json!({"reason": "kiểm tra nội bộ / internal review"}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("suspended")), "{body}");
        let (status, body) = server.call(Method::GET, "/v1/organizations", &reviewer, None).await;
        assert_eq!((status, body["type"].as_str()), (403, Some("urn:dinhdanh:problem:organization-suspended")));

        let (status, _) = server.call(Method::POST, &format!("/v1/organizations/{}/reinstate", unit.id), &admin,
            Some(json!({"reason": "xong / done"}))).await;
        assert_eq!(status, 200);
        let (status, _) = server.call(Method::GET, "/v1/organizations", &reviewer, None).await;
        assert_eq!(status, 200);

        let (status, _) = server.call(Method::POST, &format!("/v1/organizations/{}/suspend", unit.id), &admin,
            Some(json!({"reason": "  "}))).await;
        assert_eq!(status, 422, "a reason is required");
        let audit = server.store.recent_audit(None, 50).await.unwrap();
        assert!(audit.iter().any(|a| a.action == "organization.suspend" && a.detail["reason"] == "kiểm tra nội bộ / internal review"));
        assert!(audit.iter().any(|a| a.action == "authorization.denied" && a.detail["reason"] == "organization_suspended"));
    }

    an_administrator_cannot_suspend_their_own_organization(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (status, _) = server.call(Method::POST, &format!("/v1/organizations/{}/suspend", operator.id), &admin,
            Some(json!({"reason": "oops"}))).await;
        assert_eq!(status, 409);
    }

    every_role_gets_what_the_authorization_table_says(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, target) = server.call(Method::POST, "/v1/organizations", &admin, Some(bank())).await;
        let target = target["id"].as_str().unwrap().to_owned();
        // Each endpoint with the action it needs; the expected answer comes from the domain table, not from here.
        let calls: Vec<(Method, String, Option<Value>, Action)> = vec![
            (Method::GET, "/v1/organizations".into(), None, Action::OrganizationsRead),
            (Method::GET, format!("/v1/organizations/{target}"), None, Action::OrganizationsRead),
            (Method::PATCH, format!("/v1/organizations/{target}"), Some(json!({"name": "Vietcombank"})), Action::OrganizationsManage),
            (Method::POST, "/v1/organizations".into(), Some(json!({"code": "NEW", "name": "New", "kind": "relying_party"})), Action::OrganizationsManage),
        ];
        let mut role_sets: Vec<Vec<OfficerRole>> = OfficerRole::ALL.iter().map(|r| vec![*r]).collect();
        role_sets.push(vec![]);
        for roles in role_sets {
            let (officer, token) = server.officer_session(&operator.id, &roles).await;
            let actor = Actor::Officer { officer_id: officer.id.clone(), organization_id: operator.id.clone(), roles: roles.iter().copied().collect::<BTreeSet<_>>() };
            for (method, path, body, action) in &calls {
                let (status, response) = server.call(method.clone(), path, &token, body.clone()).await;
                let allowed = authorize(&actor, *action).is_ok();
                if allowed {
                    assert!(status < 300 || status == 409, "{roles:?} {method} {path}: {status} {response}");
                } else {
                    assert_eq!(status, 403, "{roles:?} {method} {path}: {response}");
                    assert_eq!(response["type"], "urn:dinhdanh:problem:forbidden");
                }
            }
        }
        let denied = server.store.recent_audit(Some("authorization.denied"), 100).await.unwrap();
        assert!(!denied.is_empty());
        assert!(denied.iter().all(|a| a.outcome == "refused" && a.detail["action"].is_string()));
    }
}
