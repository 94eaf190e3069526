//! What can go wrong in the domain, in the domain's words.
//!
//! Domain functions return [`DomainError`]; they never name HTTP. `src/error.rs` maps each variant to a status
//! and a problem document in one place, and the ways mail comes in (the pipe's exit codes, the HTTP endpoint, the
//! IMAP poller) decide from the variant alone whether a failure may pass by itself ([`DomainError::is_temporary`]).

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::vocabulary::TicketStatus;

/// One invalid input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path from the body root (`priority`, `items[2].name`) or a query parameter name.
    pub field: String,
    /// What is wrong, for a person to read.
    pub message: String,
}

impl FieldError {
    /// A field error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// What a list of field errors says in one line: the one error, or how many fields are invalid.
    pub fn summary(errors: &[FieldError]) -> String {
        match errors {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        }
    }
}

/// Every way a domain operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The credentials presented are not valid (unknown, revoked, or their user inactive).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Some input fields are invalid.
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// An opaque value the service handed out earlier (a pagination cursor) came back in a form it cannot read.
    #[error("{0}")]
    Malformed(String),
    /// The request conflicts with the current state (a duplicate, a closed ticket).
    #[error("{0}")]
    Conflict(String),
    /// A credential the service handed out for a limited time (a rating link) is past that time: it was real, and
    /// will never work again.
    #[error("{0}")]
    Expired(String),
    /// A file, or the files of one message, beyond a size or count limit (the detail names the limit).
    #[error("{0}")]
    TooLarge(String),
    /// A file of a type that is not accepted (a program or script, or outside the allow-list).
    #[error("{0}")]
    UnsupportedType(String),
    /// A status change the status machine does not allow from the current status.
    #[error("cannot change status from {from} to {to}")]
    InvalidTransition {
        /// The current status.
        from: TicketStatus,
        /// The requested status.
        to: TicketStatus,
        /// The statuses this caller may move the ticket to from `from`.
        allowed: Vec<TicketStatus>,
    },
    /// The database is unreachable, its connection went away mid-request, or a concurrent transaction got in the
    /// way: trying again shortly may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; its cause is logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The result type of domain operations.
pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// What went wrong, for a person to read (never an internal cause).
    pub fn detail(&self) -> String {
        match self {
            Self::Invalid(errors) => FieldError::summary(errors),
            Self::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            other => other.to_string(),
        }
    }

    /// Whether the failure may pass by itself, so that work queued from outside (inbound mail) is tried again
    /// later; anything else (bad data, a rule refusing it, a bug) is permanent and is not retried for ever.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DieselError> for DomainError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::NotFound("resource"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Conflict(unique_violation_detail(info.constraint_name()).to_owned())
            }
            other if connection_lost(&other) => Self::Unavailable(format!("the database is unavailable: {other}")),
            other => Self::Internal(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

impl From<crate::db::RunError> for DomainError {
    fn from(error: crate::db::RunError) -> Self {
        match error {
            crate::db::RunError::NoConnection(_) | crate::db::RunError::Cancelled(_) => {
                Self::Unavailable(error.to_string())
            }
            crate::db::RunError::Panicked(_) => Self::Internal(anyhow::Error::new(error)),
        }
    }
}

/// Whether a query failed because the database went away or a concurrent transaction was chosen to give way
/// (both pass by themselves), rather than because of the query or its data.
fn connection_lost(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure,
            _,
        )
        | DieselError::BrokenTransactionManager => true,
        DieselError::RollbackErrorOnCommit { commit_error, rollback_error } => {
            connection_lost(commit_error) || connection_lost(rollback_error)
        }
        // A server shutting down or restarting, a terminated backend and a deadlock reach diesel without a
        // SQLSTATE it maps; they are told apart by how PostgreSQL and libpq word them (the start of the message,
        // never words that quoted data could bring along).
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message().trim_start().to_ascii_lowercase();
            [
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "could not connect",
                "connection to server",
                "the database system is",
                "canceling statement due to conflict with recovery",
                "deadlock detected",
            ]
            .iter()
            .any(|prefix| message.starts_with(prefix))
        }
        _ => false,
    }
}

/// What a unique constraint protects, in words; the constraint names come from the migrations.
fn unique_violation_detail(constraint: Option<&str>) -> &'static str {
    match constraint {
        Some("offices_code_key") => "an office with this code already exists",
        Some("offices_single_regional_key") => "there is already a regional office",
        Some("offices_national_country_key") => "there is already a national office for this country",
        Some("organizations_registration_key") => {
            "an organisation with this registration number already exists in this country"
        }
        Some("users_email_key") => "a user with this email address already exists",
        Some("organizations_email_domain_key") => "another organisation already has this email domain",
        Some("sla_policies_priority_category_key") => "a policy for this priority and category already exists",
        Some("office_holidays_pkey") => "the office already has a holiday on this date",
        _ => "this would duplicate an existing record",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info(&'static str);

    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn database(kind: DatabaseErrorKind, message: &'static str) -> DomainError {
        DieselError::DatabaseError(kind, Box::new(Info(message))).into()
    }

    #[test]
    fn a_lost_connection_is_unavailable_and_temporary() {
        let closed = database(DatabaseErrorKind::ClosedConnection, "server closed the connection unexpectedly");
        assert!(matches!(closed, DomainError::Unavailable(_)) && closed.is_temporary());
        let terminated = database(DatabaseErrorKind::Unknown, "terminating connection due to administrator command");
        assert!(terminated.is_temporary());
        assert!(DomainError::from(DieselError::BrokenTransactionManager).is_temporary());
        assert!(database(DatabaseErrorKind::UnableToSendCommand, "no connection to the server").is_temporary());
        assert!(database(DatabaseErrorKind::SerializationFailure, "could not serialize access").is_temporary());
    }

    #[test]
    fn bad_data_and_refusals_are_permanent() {
        let nul = database(DatabaseErrorKind::Unknown, "invalid byte sequence for encoding \"UTF8\": 0x00");
        assert!(matches!(nul, DomainError::Internal(_)) && !nul.is_temporary());
        assert!(!DomainError::invalid("country", "no office").is_temporary());
        let quoted = database(DatabaseErrorKind::Unknown, "invalid input syntax for type uuid: \"connection\"");
        assert!(!quoted.is_temporary(), "a word in quoted data does not make a failure temporary");
        assert!(!DomainError::NotFound("ticket").is_temporary());
        let duplicate = database(DatabaseErrorKind::UniqueViolation, "duplicate key");
        assert!(matches!(duplicate, DomainError::Conflict(_)));
    }
}
