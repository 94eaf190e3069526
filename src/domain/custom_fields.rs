//! Custom fields: what admins ask to be recorded on tickets for the programme's reporting (a grant code, a
//! donor, a number of participants), checked by type, required at submission or resolution, and visible to
//! staff only or to requesters too.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::PgConnection;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::caller::Caller;
use crate::domain::edit::Edit;
use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::domain::values::{self, Checks};
use crate::models::custom_field::{
    CustomField, CustomFieldChanges, FieldType, FieldVisibility, NewCustomField, RequiredOn,
};

/// The longest text value.
pub const TEXT_MAX: usize = 1000;
/// The most options of a select field.
pub const OPTIONS_MAX: usize = 100;
/// The longest option or label.
pub const LABEL_MAX: usize = 200;

/// A new custom field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefineField {
    /// The key values are stored and filtered under: a lower-case letter, then up to 49 of `a-z 0-9 _`.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,49}$", example = "grant_code")]
    pub key: String,
    /// The label per language (BCP 47 tags), at least one.
    #[schema(example = json!({"en": "Grant code", "sq": "Kodi i grantit"}))]
    pub label: BTreeMap<String, String>,
    /// The kind of value (`multi-select` is read as `multi_select`).
    #[serde(rename = "type", deserialize_with = "field_type")]
    pub field_type: FieldType,
    /// The choices of a `select` or `multi_select` field (1 to 100, distinct); not allowed for other types.
    #[serde(default)]
    pub options: Option<Vec<String>>,
    /// When a value is required: at `submission`, at `resolution` (staff resolving or closing), or never.
    pub required_on: Option<RequiredOn>,
    /// Who sees it: `staff` (default) or `requesters` too.
    pub visibility: Option<FieldVisibility>,
    /// Its place in lists (lowest first; 0 by default).
    pub position: Option<i32>,
}

/// Changes to a custom field; absent fields stay as they are (the key and the type never change).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeField {
    /// The label per language (replaces the earlier one).
    pub label: Option<BTreeMap<String, String>>,
    /// The choices (replace the earlier ones; values already stored are kept).
    pub options: Option<Vec<String>>,
    /// When a value is required; `null`: never.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<RequiredOn>)]
    pub required_on: Option<Option<RequiredOn>>,
    /// Who sees it.
    pub visibility: Option<FieldVisibility>,
    /// Its place in lists.
    pub position: Option<i32>,
    /// `false` retires the field, `true` brings it back.
    pub active: Option<bool>,
}

/// Reads a field type, taking the spelling `multi-select` for `multi_select`.
fn field_type<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<FieldType, D::Error> {
    let raw = String::deserialize(deserializer)?;
    let raw = if raw == "multi-select" { "multi_select" } else { raw.as_str() };
    raw.parse().map_err(serde::de::Error::custom)
}

fn check_key(key: &str) -> Result<String, FieldError> {
    let valid = key.len() <= 50
        && key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    match valid {
        true => Ok(key.to_owned()),
        false => Err(FieldError::new("key", "must be a lower-case letter, then up to 49 of a-z, 0-9 and _")),
    }
}

fn check_label(checks: &mut Checks, label: &BTreeMap<String, String>) -> Value {
    if label.is_empty() {
        checks.fail("label", "needs at least one language");
    }
    let mut map = Map::new();
    for (language, text) in label {
        let tag = checks.check(values::language(&format!("label.{language}"), language));
        let text = checks.check(values::bounded_text(&format!("label.{language}"), text, LABEL_MAX, false));
        map.insert(tag, Value::String(text));
    }
    Value::Object(map)
}

fn check_options(checks: &mut Checks, field_type: FieldType, options: Option<&[String]>) -> Vec<String> {
    let selects = matches!(field_type, FieldType::Select | FieldType::MultiSelect);
    match (selects, options) {
        (false, None) => Vec::new(),
        (false, Some(_)) => {
            checks.fail("options", "only select and multi_select fields have options");
            Vec::new()
        }
        (true, None) => {
            checks.fail("options", "a select or multi_select field needs its options");
            Vec::new()
        }
        (true, Some(options)) => {
            if options.is_empty() || options.len() > OPTIONS_MAX {
                checks.fail("options", format!("must be 1 to {OPTIONS_MAX} options"));
            }
            let mut clean: Vec<String> = Vec::with_capacity(options.len());
            for (n, option) in options.iter().enumerate() {
                let option = checks.check(values::bounded_text(&format!("options[{n}]"), option, LABEL_MAX, false));
                if clean.contains(&option) {
                    checks.fail(format!("options[{n}]"), "is given twice");
                }
                clean.push(option);
            }
            clean
        }
    }
}

/// Defines a custom field (admins).
pub fn create(conn: &mut PgConnection, caller: &Caller, input: DefineField) -> DomainResult<CustomField> {
    caller.require_admin()?;
    let mut checks = Checks::default();
    let key = checks.check(check_key(&input.key));
    let label = check_label(&mut checks, &input.label);
    let options = check_options(&mut checks, input.field_type, input.options.as_deref());
    checks.finish()?;
    if CustomField::find(conn, &key)?.is_some() {
        return Err(DomainError::Conflict(format!("a custom field with the key {key} exists already")));
    }
    Ok(CustomField::insert(
        conn,
        &NewCustomField {
            key,
            label,
            field_type: input.field_type,
            options,
            required_on: input.required_on,
            visibility: input.visibility.unwrap_or(FieldVisibility::Staff),
            position: input.position.unwrap_or(0),
        },
    )?)
}

/// The field with this key: a key that cannot exist is not looked up.
fn find(conn: &mut PgConnection, key: &str) -> DomainResult<CustomField> {
    check_key(key).map_err(|_| DomainError::NotFound("custom field"))?;
    CustomField::find(conn, key)?.ok_or(DomainError::NotFound("custom field"))
}

/// Changes a custom field (admins).
pub fn update(conn: &mut PgConnection, caller: &Caller, key: &str, input: ChangeField) -> DomainResult<CustomField> {
    caller.require_admin()?;
    let field = find(conn, key)?;
    let mut checks = Checks::default();
    let label = input.label.as_ref().map(|label| check_label(&mut checks, label));
    let options = input.options.as_deref().map(|options| check_options(&mut checks, field.field_type, Some(options)));
    checks.finish()?;
    let changes = CustomFieldChanges {
        label,
        options,
        required_on: input.required_on,
        visibility: input.visibility,
        position: input.position,
        active: input.active,
    };
    Ok(CustomField::update(conn, key, &changes)?)
}

/// Retires a custom field (admins): no longer shown, accepted or required; the values stay stored.
pub fn deactivate(conn: &mut PgConnection, caller: &Caller, key: &str) -> DomainResult<()> {
    caller.require_admin()?;
    find(conn, key)?;
    CustomField::update(conn, key, &CustomFieldChanges { active: Some(false), ..CustomFieldChanges::default() })?;
    Ok(())
}

/// The fields the caller may see: staff all (retired ones too with `include_inactive`, for admins), requesters
/// the active ones shown to requesters.
pub fn list(conn: &mut PgConnection, caller: &Caller, include_inactive: bool) -> DomainResult<Vec<CustomField>> {
    let all = CustomField::list(conn, include_inactive && caller.is_staff())?;
    Ok(all.into_iter().filter(|field| caller.is_staff() || field.visibility == FieldVisibility::Requesters).collect())
}

/// One field the caller may see.
pub fn get(conn: &mut PgConnection, caller: &Caller, key: &str) -> DomainResult<CustomField> {
    let field = find(conn, key)?;
    match caller.is_staff() || (field.active && field.visibility == FieldVisibility::Requesters) {
        true => Ok(field),
        false => Err(DomainError::NotFound("custom field")),
    }
}

/// The active custom fields, read once for a request that sets, requires or filters values.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<CustomField>);

impl Fields {
    /// Reads the active fields.
    pub fn load(conn: &mut PgConnection) -> DomainResult<Fields> {
        Ok(Fields(CustomField::list(conn, false)?))
    }

    /// The active fields.
    pub fn all(&self) -> &[CustomField] {
        &self.0
    }

    /// Whether there are none (nothing to check).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The active field `key`, if `requester` may use it (requesters only the fields shown to them).
    fn usable(&self, key: &str, requester: bool) -> Option<&CustomField> {
        self.0
            .iter()
            .find(|field| field.key == key)
            .filter(|field| !requester || field.visibility == FieldVisibility::Requesters)
    }

    /// Checks values given for the fields (`null` removes a value when `allow_null`), as field changes.
    pub fn check(
        &self,
        input: &Map<String, Value>,
        requester: bool,
        allow_null: bool,
    ) -> DomainResult<Vec<(String, Option<Value>, bool)>> {
        let mut checks = Checks::default();
        let mut changes = Vec::with_capacity(input.len());
        for (key, value) in input {
            let name = format!("custom_fields.{key}");
            let Some(field) = self.usable(key, requester) else {
                checks.fail(name, "is not a custom field you can set");
                continue;
            };
            let public = field.visibility == FieldVisibility::Requesters;
            match value {
                Value::Null if allow_null => changes.push((key.clone(), None, public)),
                value => match check_value(field, &name, value) {
                    Ok(value) => changes.push((key.clone(), Some(value), public)),
                    Err(error) => checks.fail(error.field, error.message),
                },
            }
        }
        checks.finish()?;
        Ok(changes)
    }

    /// The fields required `on` that `values` lacks (for a requester's own submission: only those shown to
    /// requesters), as errors.
    pub fn missing(&self, values: &Value, on: RequiredOn, requester: bool) -> Vec<FieldError> {
        self.0
            .iter()
            .filter(|field| field.required_on == Some(on))
            .filter(|field| !requester || field.visibility == FieldVisibility::Requesters)
            .filter(|field| values.get(&field.key).is_none_or(Value::is_null))
            .map(|field| {
                let when = match on {
                    RequiredOn::Submission => "when a ticket is submitted",
                    RequiredOn::Resolution => "before the ticket is resolved or closed",
                };
                FieldError::new(format!("custom_fields.{}", field.key), format!("is required {when}"))
            })
            .collect()
    }

    /// The containment condition of a `cf.<key>=<raw>` filter (`{"key": value}`, a multi-select's value in an
    /// array).
    pub fn filter(&self, key: &str, raw: &str, requester: bool) -> DomainResult<Value> {
        let name = format!("cf.{key}");
        let field = self.usable(key, requester).ok_or_else(|| DomainError::invalid(&name, "is not a custom field"))?;
        let raw = raw.trim();
        let value = match field.field_type {
            FieldType::Number => serde_json::from_str::<serde_json::Number>(raw)
                .map(Value::Number)
                .map_err(|_| FieldError::new(&name, "must be a number")),
            FieldType::Boolean => match raw {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(FieldError::new(&name, "must be true or false")),
            },
            FieldType::MultiSelect => check_value(field, &name, &Value::Array(vec![Value::String(raw.to_owned())])),
            _ => check_value(field, &name, &Value::String(raw.to_owned())),
        }
        .map_err(|error| DomainError::Invalid(vec![error]))?;
        let mut condition = Map::new();
        condition.insert(field.key.clone(), value);
        Ok(Value::Object(condition))
    }

    /// Keeps only the values of active fields (for a `requester`, of those shown to requesters).
    pub fn redact(&self, values: &mut Value, requester: bool) {
        if let Value::Object(map) = values {
            map.retain(|key, _| self.usable(key, requester).is_some());
        }
    }
}

/// Checks one value against its field's type, returning it as stored.
fn check_value(field: &CustomField, name: &str, value: &Value) -> Result<Value, FieldError> {
    let invalid = |message: &str| FieldError::new(name, message);
    match (field.field_type, value) {
        (FieldType::Text, Value::String(text)) => values::bounded_text(name, text, TEXT_MAX, true).map(Value::String),
        (FieldType::Text, _) => Err(invalid("must be text")),
        (FieldType::Number, Value::Number(number)) => Ok(Value::Number(number.clone())),
        (FieldType::Number, _) => Err(invalid("must be a number")),
        (FieldType::Date, Value::String(text)) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(|date| Value::String(date.format("%Y-%m-%d").to_string()))
            .map_err(|_| invalid("must be a date such as 2026-12-31")),
        (FieldType::Date, _) => Err(invalid("must be a date such as 2026-12-31")),
        (FieldType::Boolean, Value::Bool(flag)) => Ok(Value::Bool(*flag)),
        (FieldType::Boolean, _) => Err(invalid("must be true or false")),
        (FieldType::Select, Value::String(choice)) if field.options.contains(choice) => {
            Ok(Value::String(choice.clone()))
        }
        (FieldType::Select, _) => Err(invalid(&format!("must be one of: {}", field.options.join(", ")))),
        (FieldType::MultiSelect, Value::Array(choices)) if !choices.is_empty() => {
            let mut chosen = Vec::with_capacity(choices.len());
            for choice in choices {
                match choice {
                    Value::String(choice) if field.options.contains(choice) => {
                        if chosen.contains(choice) {
                            return Err(invalid("must not name an option twice"));
                        }
                        chosen.push(choice.clone());
                    }
                    _ => return Err(invalid(&format!("must list options among: {}", field.options.join(", ")))),
                }
            }
            // Stored in the options' order, so that equal choices are equal values.
            let ordered = field.options.iter().filter(|option| chosen.contains(option)).cloned().map(Value::String);
            Ok(Value::Array(ordered.collect()))
        }
        (FieldType::MultiSelect, _) => Err(invalid("must be a non-empty list of options")),
    }
}

/// Applies checked field changes to an edit.
pub fn apply(edit: &mut Edit, changes: Vec<(String, Option<Value>, bool)>) {
    for (key, value, public) in changes {
        edit.set_custom_field(&key, value, public);
    }
}

/// Refuses an edit that resolves or closes the ticket while a field required at resolution has no value.
pub fn check_resolution(edit: &Edit, fields: &Fields) -> DomainResult<()> {
    if !edit.resolves() || fields.is_empty() {
        return Ok(());
    }
    let missing = fields.missing(edit.custom_fields(), RequiredOn::Resolution, false);
    match missing.is_empty() {
        true => Ok(()),
        false => Err(DomainError::Invalid(missing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(field_type: FieldType, options: &[&str]) -> CustomField {
        CustomField {
            key: "k".into(),
            label: serde_json::json!({"en": "K"}),
            field_type,
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            required_on: None,
            visibility: FieldVisibility::Staff,
            position: 0,
            active: true,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn values_are_checked_by_type() {
        use serde_json::json;
        let ok = |f: &CustomField, v: Value| check_value(f, "custom_fields.k", &v);
        assert_eq!(ok(&field(FieldType::Text, &[]), json!(" IPA-1 ")).unwrap(), json!("IPA-1"));
        assert!(ok(&field(FieldType::Text, &[]), json!(3)).is_err());
        assert!(ok(&field(FieldType::Text, &[]), json!("x".repeat(1001))).is_err());
        assert_eq!(ok(&field(FieldType::Number, &[]), json!(2.5)).unwrap(), json!(2.5));
        assert!(ok(&field(FieldType::Number, &[]), json!("2")).is_err());
        assert_eq!(ok(&field(FieldType::Date, &[]), json!("2026-02-01")).unwrap(), json!("2026-02-01"));
        assert!(ok(&field(FieldType::Date, &[]), json!("2026-02-30")).is_err());
        assert!(ok(&field(FieldType::Boolean, &[]), json!("yes")).is_err());
        let select = field(FieldType::Select, &["eu", "un"]);
        assert_eq!(ok(&select, json!("eu")).unwrap(), json!("eu"));
        assert!(ok(&select, json!("EU")).is_err());
        let multi = field(FieldType::MultiSelect, &["a", "b", "c"]);
        assert_eq!(ok(&multi, json!(["c", "a"])).unwrap(), json!(["a", "c"]));
        assert!(ok(&multi, json!([])).is_err());
        assert!(ok(&multi, json!(["a", "a"])).is_err());
        assert!(ok(&multi, json!(["d"])).is_err());
        let error = ok(&select, json!("x")).unwrap_err();
        assert_eq!(error.field, "custom_fields.k");
    }
}
