//! The advisors' toolkit as the API shows it: custom fields, saved replies and time entries.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::saved_replies::SavedReplyActions;
use crate::models::custom_field::{CustomField, FieldType, FieldVisibility, RequiredOn};
use crate::models::saved_reply::{SavedReply, SavedReplyScope};
use crate::models::time_entry::TimeEntry;

/// A custom field definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CustomField)]
pub struct CustomFieldView {
    /// The key values are stored and filtered under (`cf.<key>=...`).
    pub key: String,
    /// The label per language.
    #[schema(value_type = Object, example = json!({"en": "Grant code"}))]
    pub label: serde_json::Value,
    /// The kind of value.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// The choices of a select or multi-select field (empty otherwise).
    pub options: Vec<String>,
    /// When a value is required, if ever.
    pub required_on: Option<RequiredOn>,
    /// Who sees it.
    pub visibility: FieldVisibility,
    /// Its place in lists.
    pub position: i32,
    /// Whether it is in use.
    pub active: bool,
    /// When it was defined.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<CustomField> for CustomFieldView {
    fn from(field: CustomField) -> Self {
        CustomFieldView {
            key: field.key,
            label: field.label,
            field_type: field.field_type,
            options: field.options,
            required_on: field.required_on,
            visibility: field.visibility,
            position: field.position,
            active: field.active,
            created_at: field.created_at,
            updated_at: field.updated_at,
        }
    }
}

/// A saved reply.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SavedReply)]
pub struct SavedReplyView {
    /// Identifier (`saved_reply_id` of a message).
    pub id: Uuid,
    /// What staff look it up by.
    pub name: String,
    /// A grouping of the staff's choosing.
    pub category: Option<String>,
    /// Who may use it.
    pub scope: SavedReplyScope,
    /// The office of an office-wide reply.
    pub office_id: Option<Uuid>,
    /// Who created it.
    pub owner_id: Uuid,
    /// The template per language.
    #[schema(value_type = Object)]
    pub bodies: serde_json::Value,
    /// What using it also does.
    pub actions: SavedReplyActions,
    /// How many messages were written with it.
    pub usage_count: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<SavedReply> for SavedReplyView {
    fn from(reply: SavedReply) -> Self {
        SavedReplyView {
            id: reply.id,
            name: reply.name,
            category: reply.category,
            scope: reply.scope,
            office_id: reply.office_id,
            owner_id: reply.owner_id,
            bodies: reply.bodies,
            actions: serde_json::from_value(reply.actions).unwrap_or_default(),
            usage_count: reply.usage_count,
            created_at: reply.created_at,
            updated_at: reply.updated_at,
        }
    }
}

/// Time spent on a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = TimeEntry)]
pub struct TimeEntryView {
    /// Identifier.
    pub id: Uuid,
    /// The ticket.
    pub ticket_id: Uuid,
    /// Who spent it.
    pub author_id: Uuid,
    /// Minutes.
    pub minutes: i32,
    /// The day it was spent.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// What it was spent on.
    pub note: Option<String>,
    /// The message it was logged with, if any.
    pub message_id: Option<Uuid>,
    /// When it was logged.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<TimeEntry> for TimeEntryView {
    fn from(entry: TimeEntry) -> Self {
        TimeEntryView {
            id: entry.id,
            ticket_id: entry.ticket_id,
            author_id: entry.author_id,
            minutes: entry.minutes,
            date: entry.spent_on,
            note: entry.note,
            message_id: entry.message_id,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        }
    }
}
