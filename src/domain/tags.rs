//! Tags: free-form labels staff put on tickets, normalised so that `IPA`, ` ipa ` and `ipa` are one tag.
//! Requesters never see them.

use diesel::{Connection, PgConnection};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::caller::Caller;
use crate::domain::edit::Edit;
use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::domain::tickets;
use crate::models::Ticket;
use crate::models::ticket::{TagCount, TicketKey};

/// The longest tag.
pub const TAG_MAX: usize = 50;

/// The most tags one ticket carries.
pub const TAGS_PER_TICKET_MAX: usize = 50;

/// Whether `c` may stand in a tag (once lower-cased): `a-z 0-9 - _ :`.
pub fn is_tag_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | ':')
}

/// A tag as stored: trimmed, lower-case, 1 to 50 of `a-z 0-9 - _ :`.
pub fn normalize(field: &str, raw: &str) -> Result<String, FieldError> {
    let tag = raw.trim().to_lowercase();
    if tag.is_empty() || tag.chars().count() > TAG_MAX {
        return Err(FieldError::new(field, format!("a tag has 1 to {TAG_MAX} characters")));
    }
    if !tag.chars().all(is_tag_char) {
        return Err(FieldError::new(field, "a tag has only the letters A-Z, digits and - _ :"));
    }
    Ok(tag)
}

/// Normalises a list of tags given as `field` (sorted, duplicates removed).
pub fn normalize_all(field: &str, raw: &[String]) -> DomainResult<Vec<String>> {
    let mut errors = Vec::new();
    let mut tags = Vec::with_capacity(raw.len());
    for (n, tag) in raw.iter().enumerate() {
        match normalize(&format!("{field}[{n}]"), tag) {
            Ok(tag) => tags.push(tag),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    tags.sort_unstable();
    tags.dedup();
    Ok(tags)
}

/// Sets the tags of an edit (normalised already), within the per-ticket limit.
pub fn apply(edit: &mut Edit, mut tags: Vec<String>) -> DomainResult<()> {
    tags.sort_unstable();
    tags.dedup();
    if tags.len() > TAGS_PER_TICKET_MAX {
        return Err(DomainError::invalid("tags", format!("a ticket carries at most {TAGS_PER_TICKET_MAX} tags")));
    }
    edit.set_tags(tags);
    Ok(())
}

/// Adds tags to and removes tags from an edit (normalised already).
pub fn add_remove(edit: &mut Edit, add: &[String], remove: &[String]) -> DomainResult<()> {
    let mut tags: Vec<String> = edit.tags().iter().filter(|tag| !remove.contains(tag)).cloned().collect();
    tags.extend(add.iter().filter(|tag| !remove.contains(tag)).cloned());
    tags.sort_unstable();
    tags.dedup();
    apply(edit, tags)
}

/// Adds (`add`) or removes one tag on a ticket the caller (staff) may see; returns the ticket.
pub fn put(conn: &mut PgConnection, caller: &Caller, key: TicketKey, raw: &str, add: bool) -> DomainResult<Ticket> {
    caller.require_staff()?;
    let tag = normalize("tag", raw).map_err(|e| DomainError::Invalid(vec![e]))?;
    conn.transaction(|conn| {
        let ticket = tickets::lock_for_change(conn, caller, key)?;
        let mut edit = Edit::new(&ticket, Some(caller.id()));
        match add {
            true => add_remove(&mut edit, std::slice::from_ref(&tag), &[])?,
            false => add_remove(&mut edit, &[], std::slice::from_ref(&tag))?,
        }
        if edit.is_empty() {
            return Ok(ticket);
        }
        edit.save(conn)
    })
}

/// A tag and how many of the caller's visible tickets carry it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagUse {
    /// The tag.
    pub tag: String,
    /// How many tickets carry it.
    pub tickets: i64,
}

/// The tags on the tickets the caller (staff) may see, starting with `prefix`, most used first.
pub fn counts(conn: &mut PgConnection, caller: &Caller, prefix: &str, limit: i64) -> DomainResult<Vec<TagUse>> {
    caller.require_staff()?;
    let prefix = prefix.trim().to_lowercase();
    let rows = Ticket::tag_counts(conn, caller.ticket_scope(), &prefix, limit)?;
    Ok(rows.into_iter().map(|TagCount { tag, tickets }| TagUse { tag, tickets }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_or_refused() {
        assert_eq!(normalize("tag", "  IPA-2026 ").unwrap(), "ipa-2026");
        assert_eq!(normalize("tag", "grant:eu_2026").unwrap(), "grant:eu_2026");
        for bad in ["", "   ", "bad tag", "tag!", "ćevapi", &"x".repeat(51)] {
            assert!(normalize("tag", bad).is_err(), "{bad:?}");
        }
        assert!(normalize("tag", &"x".repeat(50)).is_ok());
        let tags = normalize_all("tags", &["B".into(), "a".into(), "b".into()]).unwrap();
        assert_eq!(tags, vec!["a".to_owned(), "b".to_owned()]);
    }
}
