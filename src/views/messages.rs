//! Messages as the API shows them: with their author's name and role, and their attachments.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::models::Attachment;
use crate::models::message::MessageWithAuthor;
use crate::models::stored_file::to_hex;
use crate::vocabulary::{Channel, Role};

/// A message with its author's name and role, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// Identifier.
    pub id: Uuid,
    /// The ticket.
    pub ticket_id: Uuid,
    /// Who wrote it; null for an unverified mail (see `unverified_sender`).
    pub author_id: Option<Uuid>,
    /// The author's name, or the address an unverified mail claimed.
    pub author_name: String,
    /// The author's role; null for an unverified mail.
    pub author_role: Option<Role>,
    /// The text.
    pub body: String,
    /// An internal note, for staff only.
    pub internal: bool,
    /// How it came in.
    pub channel: Channel,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// The email it came in as (staff may read the original).
    pub inbound_email_id: Option<Uuid>,
    /// Set on mail whose sender could not be verified: the address it claimed to come from. Such mail is kept as
    /// an internal note that nobody wrote, and nobody was notified of it.
    pub unverified_sender: Option<String>,
    /// Files attached to it.
    pub attachments: Vec<AttachmentView>,
    /// The saved reply it was written from (shown to staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_reply_id: Option<Uuid>,
    /// The ticket it was written on, when a merge moved it to this one.
    pub merged_from: Option<Uuid>,
}

impl MessageView {
    /// The message as `staff` or a requester sees it.
    pub fn of(row: MessageWithAuthor, staff: bool) -> MessageView {
        let mut view = MessageView::from(row);
        if !staff {
            view.saved_reply_id = None;
        }
        view
    }
}

impl From<MessageWithAuthor> for MessageView {
    fn from(row: MessageWithAuthor) -> Self {
        let MessageWithAuthor { message, author_name, author_role, attachments } = row;
        // Unverified mail has no author; it is shown under the address it claimed.
        let author_name = author_name.or_else(|| message.unverified_sender.clone()).unwrap_or_default();
        MessageView {
            id: message.id,
            ticket_id: message.ticket_id,
            author_id: message.author_id,
            author_name,
            author_role,
            body: message.body,
            internal: message.internal,
            channel: message.channel,
            created_at: message.created_at,
            inbound_email_id: message.inbound_email_id,
            unverified_sender: message.unverified_sender,
            attachments: attachments.into_iter().map(AttachmentView::from).collect(),
            saved_reply_id: message.saved_reply_id,
            merged_from: message.merged_from,
        }
    }
}

/// An attachment's description (its content is fetched separately).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Attachment)]
pub struct AttachmentView {
    /// Identifier.
    pub id: Uuid,
    /// The message it belongs to.
    pub message_id: Uuid,
    /// The file name, as sent, cleaned (no path, control characters or bidirectional overrides).
    pub filename: String,
    /// The media type, as its content shows (not as the sender claimed).
    pub content_type: String,
    /// Size in bytes.
    pub size: i32,
    /// The SHA-256 of the content, in hex (also its download's strong `ETag`).
    pub sha256: String,
    /// Where to download it: `/api/v1/attachments/{id}`.
    pub download_url: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl From<Attachment> for AttachmentView {
    fn from(attachment: Attachment) -> Self {
        AttachmentView {
            id: attachment.id,
            message_id: attachment.message_id,
            filename: attachment.filename,
            content_type: attachment.content_type,
            size: attachment.size,
            sha256: to_hex(&attachment.sha256),
            download_url: format!("/api/v1/attachments/{}", attachment.id),
            created_at: attachment.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Message;

    fn message(author_id: Option<Uuid>, unverified_sender: Option<&str>) -> Message {
        Message {
            id: Uuid::now_v7(),
            ticket_id: Uuid::now_v7(),
            author_id,
            body: "Hello".to_owned(),
            internal: unverified_sender.is_some(),
            channel: Channel::Email,
            created_at: Utc::now(),
            inbound_email_id: None,
            unverified_sender: unverified_sender.map(str::to_owned),
            saved_reply_id: None,
            merged_from: None,
        }
    }

    #[test]
    fn an_author_is_shown_by_name_and_role() {
        let row = message(Some(Uuid::now_v7()), None).with_author(Some("Arben Hoxha".to_owned()), Some(Role::Advisor));
        let view = MessageView::from(row);
        assert_eq!(view.author_name, "Arben Hoxha");
        assert_eq!(view.author_role, Some(Role::Advisor));
    }

    #[test]
    fn unverified_mail_is_shown_under_the_address_it_claimed() {
        let view = MessageView::from(message(None, Some("someone@example.org")).with_author(None, None));
        assert_eq!(view.author_name, "someone@example.org");
        assert_eq!(view.author_role, None);
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["author_id"], serde_json::Value::Null);
        assert_eq!(json["unverified_sender"], "someone@example.org");
    }
}
