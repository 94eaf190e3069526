//! Messages: public replies and internal notes on a ticket.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::models::Attachment;
use crate::schema::{messages, users};
use crate::vocabulary::{Channel, Role};

/// A message as stored.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
pub struct Message {
    /// Identifier.
    pub id: Uuid,
    /// The ticket.
    pub ticket_id: Uuid,
    /// Who wrote it; none for mail whose sender could not be verified.
    pub author_id: Option<Uuid>,
    /// The text.
    pub body: String,
    /// An internal note, for staff only.
    pub internal: bool,
    /// How it came in.
    pub channel: Channel,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// The email it came in as, if it did.
    pub inbound_email_id: Option<Uuid>,
    /// The address an unverified mail claimed to come from (such a message is always an internal note).
    pub unverified_sender: Option<String>,
    /// The saved reply it was written from, if any.
    pub saved_reply_id: Option<Uuid>,
    /// The ticket it was written on, when a merge moved it here.
    pub merged_from: Option<Uuid>,
}

/// A message with its author's name and role and its attachments: what is read to show a message.
#[derive(Debug, Clone)]
pub struct MessageWithAuthor {
    /// The message.
    pub message: Message,
    /// The author's name; none for mail whose sender could not be verified.
    pub author_name: Option<String>,
    /// The author's role; none for mail whose sender could not be verified.
    pub author_role: Option<Role>,
    /// Files attached to it.
    pub attachments: Vec<Attachment>,
}

/// A new message.
#[derive(Debug, Insertable)]
// `None` is NULL (not DEFAULT), so that the insert keeps one text and stays in diesel's statement cache.
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub struct NewMessage {
    /// See [`Message::id`].
    pub id: Uuid,
    /// See [`Message::ticket_id`].
    pub ticket_id: Uuid,
    /// See [`Message::author_id`].
    pub author_id: Option<Uuid>,
    /// See [`Message::body`].
    pub body: String,
    /// See [`Message::internal`].
    pub internal: bool,
    /// See [`Message::channel`].
    pub channel: Channel,
    /// See [`Message::inbound_email_id`].
    pub inbound_email_id: Option<Uuid>,
    /// See [`Message::unverified_sender`].
    pub unverified_sender: Option<String>,
    /// See [`Message::saved_reply_id`].
    pub saved_reply_id: Option<Uuid>,
}

impl Message {
    /// Inserts a message.
    pub fn insert(conn: &mut PgConnection, new: &NewMessage) -> QueryResult<Message> {
        diesel::insert_into(messages::table).values(new).returning(Message::as_returning()).get_result(conn)
    }

    /// The messages of a ticket in the order they were written, with internal notes only if `include_internal`.
    pub fn list_for_ticket(
        conn: &mut PgConnection,
        ticket_id: Uuid,
        include_internal: bool,
    ) -> QueryResult<Vec<MessageWithAuthor>> {
        let mut query = messages::table
            .left_join(users::table)
            .filter(messages::ticket_id.eq(ticket_id))
            .select((Message::as_select(), users::name.nullable(), users::role.nullable()))
            .into_boxed();
        if !include_internal {
            query = query.filter(messages::internal.eq(false));
        }
        let rows: Vec<(Message, Option<String>, Option<Role>)> =
            query.order((messages::created_at.asc(), messages::id.asc())).load(conn)?;
        let ids: Vec<Uuid> = rows.iter().map(|(message, _, _)| message.id).collect();
        let mut attachments = Attachment::for_messages(conn, &ids)?;
        Ok(rows
            .into_iter()
            .map(|(message, name, role)| {
                let id = message.id;
                let mut row = message.with_author(name, role);
                row.attachments = attachments.extract_if(.., |a| a.message_id == id).collect();
                row
            })
            .collect())
    }

    /// A message of a ticket.
    pub fn find_in_ticket(conn: &mut PgConnection, ticket_id: Uuid, id: Uuid) -> QueryResult<Option<Message>> {
        messages::table
            .filter(messages::ticket_id.eq(ticket_id))
            .filter(messages::id.eq(id))
            .select(Message::as_select())
            .first(conn)
            .optional()
    }

    /// The message with this id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Message>> {
        messages::table.find(id).select(Message::as_select()).first(conn).optional()
    }

    /// The message made from an inbound email.
    pub fn find_by_inbound_email(conn: &mut PgConnection, inbound_email_id: Uuid) -> QueryResult<Option<Uuid>> {
        messages::table
            .filter(messages::inbound_email_id.eq(inbound_email_id))
            .select(messages::id)
            .first(conn)
            .optional()
    }

    /// A message's text with its author's name.
    pub fn find_with_author(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<(String, String)>> {
        messages::table
            .inner_join(users::table)
            .filter(messages::id.eq(id))
            .select((messages::body, users::name))
            .first(conn)
            .optional()
    }

    /// The text of a ticket's first message (the request itself).
    pub fn first_body(conn: &mut PgConnection, ticket_id: Uuid) -> QueryResult<Option<String>> {
        messages::table
            .filter(messages::ticket_id.eq(ticket_id))
            .order((messages::created_at.asc(), messages::id.asc()))
            .select(messages::body)
            .first(conn)
            .optional()
    }

    /// Moves every message of ticket `from` to ticket `to` (a merge), marking where each came from.
    pub fn move_all(conn: &mut PgConnection, from: Uuid, to: Uuid) -> QueryResult<usize> {
        diesel::update(messages::table.filter(messages::ticket_id.eq(from)))
            .set((
                messages::ticket_id.eq(to),
                messages::merged_from.eq(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>>(
                    "coalesce(messages.merged_from, messages.ticket_id)",
                )),
            ))
            .execute(conn)
    }

    /// This message with its author's name and role, and no attachments yet.
    pub fn with_author(self, author_name: Option<String>, author_role: Option<Role>) -> MessageWithAuthor {
        MessageWithAuthor { message: self, author_name, author_role, attachments: Vec::new() }
    }
}
