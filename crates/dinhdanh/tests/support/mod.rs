//! What the crash tests share: the real `dinhdanh serve` binary started on a database, and fixtures written
//! straight to it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use dinhdanh_domain::actor::{OrganizationKind, OrganizationStatus};
use dinhdanh_domain::organization::Organization;

/// An active organization `org-CODE`, made now.
pub fn organization(code: &str, kind: OrganizationKind) -> Organization {
    let now = Utc::now();
    Organization {
        id: format!("org-{code}"),
        code: code.to_owned(),
        name: format!("Tổ chức {code}"),
        kind,
        parent_id: None,
        status: OrganizationStatus::Active,
        contact_email: None,
        contact_phone: None,
        created_at: now,
        updated_at: now,
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `dinhdanh serve` on the database, answering on a free port, in `dir` (where its key files are) or the
/// test's working directory; returns once it is ready.
pub async fn serve(url: &str, dir: Option<&Path>) -> (Child, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_dinhdanh"));
    command
        .args(["serve", "--database-url", url, "--listen", &listen])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().unwrap();
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("http://{listen}/readyz")).send().await
            && r.status().is_success()
        {
            return (child, format!("http://{listen}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("dinhdanh serve did not become ready");
}
