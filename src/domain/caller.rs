//! Who is calling, and what their role lets them do.

use uuid::Uuid;

use crate::domain::error::{DomainError, DomainResult};
use crate::models::User;
use crate::models::ticket::TicketScope;
use crate::vocabulary::Role;

/// The authenticated user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user, as loaded when the token was checked.
    pub user: User,
    /// The name of the user's organisation, loaded with them (`None` for staff, or when not loaded).
    pub organization_name: Option<String>,
    /// The country of the user's organisation, loaded with them (`None` for staff, or when not loaded).
    pub organization_country: Option<String>,
    /// The token used.
    pub token_id: Uuid,
}

impl Caller {
    /// The caller's user id.
    pub fn id(&self) -> Uuid {
        self.user.id
    }

    /// The caller's role.
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Whether the caller is staff (not a requester).
    pub fn is_staff(&self) -> bool {
        self.user.role.is_staff()
    }

    /// Only admins.
    pub fn require_admin(&self) -> DomainResult<()> {
        match self.role() {
            Role::Admin => Ok(()),
            _ => Err(DomainError::Forbidden("only admins may do this".to_owned())),
        }
    }

    /// Only admins and coordinators.
    pub fn require_manager(&self) -> DomainResult<()> {
        match self.role() {
            Role::Admin | Role::Coordinator => Ok(()),
            _ => Err(DomainError::Forbidden("only admins and coordinators may do this".to_owned())),
        }
    }

    /// Only staff.
    pub fn require_staff(&self) -> DomainResult<()> {
        if self.is_staff() { Ok(()) } else { Err(DomainError::Forbidden("only staff may do this".to_owned())) }
    }

    /// Only the user themselves or an admin.
    pub fn require_self_or_admin(&self, user_id: Uuid) -> DomainResult<()> {
        if self.id() == user_id || self.role() == Role::Admin {
            Ok(())
        } else {
            Err(DomainError::Forbidden("only the user themselves or an admin may do this".to_owned()))
        }
    }

    /// Whether the ticket is within [`Caller::ticket_scope`], for a ticket already loaded.
    pub fn can_see(&self, ticket: &crate::models::Ticket) -> bool {
        match self.ticket_scope() {
            TicketScope::All => true,
            TicketScope::Organization(organization) => ticket.organization_id == organization,
            TicketScope::OfficeOrAssignee { office_id, user_id } => {
                office_id == Some(ticket.office_id) || ticket.assignee_id == Some(user_id)
            }
        }
    }

    /// The tickets this caller may see: requesters their organisation's, advisors their office's queue and
    /// their own assignments, coordinators and admins all.
    pub fn ticket_scope(&self) -> TicketScope {
        match self.role() {
            Role::Admin | Role::Coordinator => TicketScope::All,
            Role::Advisor => TicketScope::OfficeOrAssignee { office_id: self.user.office_id, user_id: self.id() },
            Role::Requester => match self.user.organization_id {
                Some(organization) => TicketScope::Organization(organization),
                // Not reachable (a CHECK constraint gives every requester an organisation); see nothing.
                None => TicketScope::OfficeOrAssignee { office_id: None, user_id: Uuid::nil() },
            },
        }
    }
}

impl Caller {
    /// The caller behind a bearer token; any failure is the same 401, so tokens cannot be probed.
    pub fn authenticate(conn: &mut diesel::PgConnection, secret: &str) -> DomainResult<Caller> {
        let unauthorized =
            || DomainError::Unauthenticated("the token is not valid, revoked, or its user inactive".to_owned());
        if !crate::domain::tokens::looks_valid(secret) {
            return Err(unauthorized());
        }
        let hash = crate::domain::tokens::hash(secret);
        let (token_id, last_used_at, user, organization_name, organization_country) =
            crate::models::ApiToken::authenticate(conn, &hash)?.ok_or_else(unauthorized)?;
        let stale = last_used_at.is_none_or(|used| chrono::Utc::now() - used > chrono::TimeDelta::minutes(1));
        if stale {
            crate::models::ApiToken::touch(conn, token_id)?;
        }
        Ok(Caller { user, organization_name, organization_country, token_id })
    }
}

/// Tokens authenticated a moment ago, so that a busy client does not cost a database round trip per request.
///
/// Entries live for a short time (`AUTH_CACHE_MS`, 2 seconds by default; 0 turns the cache off) and are keyed by
/// the token's SHA-256, never the token. Revoking a token or changing or deactivating a user clears this
/// process's cache at once; other processes notice within the lifetime of an entry.
pub struct AuthCache {
    /// `None` when the cache is off. moka bounds the size (its admission policy keeps the busy tokens when a flood
    /// of distinct ones arrives) and expires entries, without a thread of its own.
    entries: Option<moka::sync::Cache<Vec<u8>, Caller>>,
}

/// Most entries kept.
const AUTH_CACHE_MAX: u64 = 10_000;

impl AuthCache {
    /// A cache whose entries live for `ttl` (zero: nothing is kept).
    pub fn new(ttl: std::time::Duration) -> AuthCache {
        let entries = (!ttl.is_zero())
            .then(|| moka::sync::Cache::builder().max_capacity(AUTH_CACHE_MAX).time_to_live(ttl).build());
        AuthCache { entries }
    }

    /// The caller of a token hash, if it was authenticated less than the lifetime ago.
    pub fn get(&self, token_hash: &[u8]) -> Option<Caller> {
        self.entries.as_ref()?.get(token_hash)
    }

    /// Remembers the caller of a token hash.
    pub fn put(&self, token_hash: Vec<u8>, caller: &Caller) {
        if let Some(entries) = &self.entries {
            entries.insert(token_hash, caller.clone());
        }
    }

    /// Forgets every entry (after a token is revoked or a user changes).
    pub fn clear(&self) {
        if let Some(entries) = &self.entries {
            entries.invalidate_all();
        }
    }
}
