//! The development sink: messages are written to files and logged, so that whoever runs the demo can read
//! their activation code without an SMTP server or an SMS gateway. Never use it in production: it is the one
//! place that writes recipients and bodies in clear.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use dinhdanh_store::OutboxMessage;

use crate::{SendError, Sender};

/// Writes each message to `<dir>/<id>-<channel>-<recipient>.txt` (the recipient reduced to safe characters)
/// and logs it, body included, at `INFO` under the `dinhdanh_notify::dev_inbox` target.
#[derive(Debug)]
pub struct DevInbox {
    dir: PathBuf,
}

impl DevInbox {
    /// Uses `dir`, creating it if needed.
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a message is written to. A message sent again (delivery is at least once) overwrites its file.
    pub fn path_for(&self, message: &OutboxMessage) -> PathBuf {
        self.dir.join(format!("{}-{}-{}.txt", message.id, message.channel.as_str(), sanitise(&message.recipient)))
    }
}

/// Keeps ASCII letters, digits and `@ . + -`, replaces anything else with `_`, and bounds the length.
fn sanitise(recipient: &str) -> String {
    let safe: String = recipient
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '+' | '-') { c } else { '_' })
        .take(80)
        .collect();
    // A name made only of dots would be a path component of its own; keep the file inside the folder.
    if safe.is_empty() || safe.chars().all(|c| c == '.') { "unknown".to_owned() } else { safe }
}

fn render(message: &OutboxMessage) -> String {
    format!(
        "To: {}\nSubject: {}\nChannel: {}\nKind: {}\nOutbox-Id: {}\nCreated: {}\n\n{}\n",
        message.recipient,
        message.subject,
        message.channel.as_str(),
        message.kind,
        message.id,
        message.created_at.to_rfc3339(),
        message.body
    )
}

#[async_trait]
impl Sender for DevInbox {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        let path = self.path_for(message);
        let partial = path.with_extension("txt.partial");
        // Written aside and renamed, so that a reader never sees half a message.
        let write = async {
            tokio::fs::write(&partial, render(message)).await?;
            tokio::fs::rename(&partial, &path).await
        };
        write
            .await
            .map_err(|e| SendError::Transient(format!("dev inbox: cannot write in {}: {e}", self.dir.display())))?;
        tracing::info!(
            target: "dinhdanh_notify::dev_inbox",
            outbox_id = message.id,
            kind = %message.kind,
            channel = message.channel.as_str(),
            to = %message.recipient,
            subject = %message.subject,
            file = %path.display(),
            "dev inbox (development only, not delivered):\n{}",
            message.body
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_become_safe_file_names() {
        assert_eq!(sanitise("+84912345678"), "+84912345678");
        assert_eq!(sanitise("Mai.Nguyen@example.vn"), "Mai.Nguyen@example.vn");
        assert_eq!(sanitise("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(sanitise("đức@ví-dụ.vn"), "__c@v_-d_.vn");
        assert_eq!(sanitise(".."), "unknown");
        assert_eq!(sanitise(""), "unknown");
    }
}
