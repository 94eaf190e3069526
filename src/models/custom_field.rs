//! Custom field definitions: what admins ask to be recorded on tickets (the values live on the tickets).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::custom_fields;
use crate::text_enum;

text_enum! {
    /// The kind of value a custom field holds.
    pub enum FieldType {
        /// Free text, up to 1,000 characters.
        Text => "text",
        /// A number.
        Number => "number",
        /// A calendar date, `YYYY-MM-DD`.
        Date => "date",
        /// Yes or no.
        Boolean => "boolean",
        /// One of the field's options.
        Select => "select",
        /// Any of the field's options (at least one).
        MultiSelect => "multi_select",
    }
}

text_enum! {
    /// When a custom field must have a value.
    pub enum RequiredOn {
        /// When the ticket is submitted.
        Submission => "submission",
        /// When staff resolve or close the ticket.
        Resolution => "resolution",
    }
}

text_enum! {
    /// Who sees a custom field.
    pub enum FieldVisibility {
        /// Staff only.
        Staff => "staff",
        /// Staff and the requesters (who may also set it when they submit).
        Requesters => "requesters",
    }
}

/// A custom field definition.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = custom_fields, primary_key(key), check_for_backend(diesel::pg::Pg))]
pub struct CustomField {
    /// The key values are stored under, such as `grant_code`.
    pub key: String,
    /// Its label per language (`{"en": "Grant code"}`).
    pub label: serde_json::Value,
    /// The kind of value.
    pub field_type: FieldType,
    /// The choices of a select or multi-select field.
    pub options: Vec<String>,
    /// When a value is required, if ever.
    pub required_on: Option<RequiredOn>,
    /// Who sees it.
    pub visibility: FieldVisibility,
    /// Its place in lists (lowest first).
    pub position: i32,
    /// Whether it is in use (a deleted field is kept inactive, its values stay stored).
    pub active: bool,
    /// When it was defined.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new definition.
#[derive(Debug, Insertable)]
#[diesel(table_name = custom_fields, treat_none_as_default_value = false)]
pub struct NewCustomField {
    /// See [`CustomField::key`].
    pub key: String,
    /// See [`CustomField::label`].
    pub label: serde_json::Value,
    /// See [`CustomField::field_type`].
    pub field_type: FieldType,
    /// See [`CustomField::options`].
    pub options: Vec<String>,
    /// See [`CustomField::required_on`].
    pub required_on: Option<RequiredOn>,
    /// See [`CustomField::visibility`].
    pub visibility: FieldVisibility,
    /// See [`CustomField::position`].
    pub position: i32,
}

/// Changes to a definition; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = custom_fields)]
pub struct CustomFieldChanges {
    /// See [`CustomField::label`].
    pub label: Option<serde_json::Value>,
    /// See [`CustomField::options`].
    pub options: Option<Vec<String>>,
    /// See [`CustomField::required_on`].
    pub required_on: Option<Option<RequiredOn>>,
    /// See [`CustomField::visibility`].
    pub visibility: Option<FieldVisibility>,
    /// See [`CustomField::position`].
    pub position: Option<i32>,
    /// See [`CustomField::active`].
    pub active: Option<bool>,
}

impl CustomField {
    /// Every definition (inactive ones too only if `include_inactive`), by position then key.
    pub fn list(conn: &mut PgConnection, include_inactive: bool) -> QueryResult<Vec<CustomField>> {
        let mut query = custom_fields::table.select(CustomField::as_select()).into_boxed();
        if !include_inactive {
            query = query.filter(custom_fields::active.eq(true));
        }
        query.order((custom_fields::position.asc(), custom_fields::key.asc())).load(conn)
    }

    /// The definition with this key.
    pub fn find(conn: &mut PgConnection, key: &str) -> QueryResult<Option<CustomField>> {
        custom_fields::table.find(key).select(CustomField::as_select()).first(conn).optional()
    }

    /// Inserts a definition.
    pub fn insert(conn: &mut PgConnection, new: &NewCustomField) -> QueryResult<CustomField> {
        diesel::insert_into(custom_fields::table).values(new).returning(CustomField::as_returning()).get_result(conn)
    }

    /// Applies `changes` to the definition with this key.
    pub fn update(conn: &mut PgConnection, key: &str, changes: &CustomFieldChanges) -> QueryResult<CustomField> {
        diesel::update(custom_fields::table.find(key))
            .set((changes, custom_fields::updated_at.eq(diesel::dsl::now)))
            .returning(CustomField::as_returning())
            .get_result(conn)
    }
}
