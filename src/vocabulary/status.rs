//! The ticket status machine: `new -> open -> pending -> resolved -> closed`, with reopen from `resolved`.

use crate::text_enum;
use crate::vocabulary::Role;

text_enum! {
    /// Where a ticket stands.
    pub enum TicketStatus {
        /// Just submitted; nobody has worked on it yet.
        New => "new",
        /// Being worked on.
        Open => "open",
        /// Waiting on the requester.
        Pending => "pending",
        /// Answered; the requester may still reopen it.
        Resolved => "resolved",
        /// Done for good; a later message starts a new ticket.
        Closed => "closed",
    }
}

impl TicketStatus {
    /// The statuses of a ticket that still needs work: counted as open load, in queues and in the backlog. The
    /// one place this set is spelled; SQL that cannot bind it takes [`TicketStatus::active_sql_list`].
    pub const ACTIVE: [TicketStatus; 3] = [TicketStatus::New, TicketStatus::Open, TicketStatus::Pending];

    /// [`TicketStatus::ACTIVE`] as an SQL list of literals, `('new', 'open', 'pending')`, for raw SQL.
    pub fn active_sql_list() -> String {
        let quoted: Vec<String> = Self::ACTIVE.iter().map(|status| format!("'{status}'")).collect();
        format!("({})", quoted.join(", "))
    }

    /// The statuses staff may move a ticket to from this one.
    pub fn staff_transitions(self) -> &'static [TicketStatus] {
        use TicketStatus::*;
        match self {
            New => &[Open, Pending, Resolved, Closed],
            Open => &[Pending, Resolved, Closed],
            Pending => &[Open, Resolved, Closed],
            Resolved => &[Open, Closed],
            Closed => &[],
        }
    }

    /// The statuses a requester may move their own ticket to: close it, or reopen it once resolved.
    pub fn requester_transitions(self) -> &'static [TicketStatus] {
        use TicketStatus::*;
        match self {
            New | Open | Pending => &[Closed],
            Resolved => &[Open, Closed],
            Closed => &[],
        }
    }

    /// The statuses `role` may move a ticket to from this one.
    pub fn transitions_for(self, role: Role) -> &'static [TicketStatus] {
        if role.is_staff() { self.staff_transitions() } else { self.requester_transitions() }
    }

    /// Whether the ticket still needs work (counted as open load and in queues).
    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::TicketStatus::*;
    use super::*;

    #[test]
    fn closed_is_terminal_and_nothing_returns_to_new() {
        assert!(Closed.staff_transitions().is_empty());
        assert!(Closed.requester_transitions().is_empty());
        for status in TicketStatus::ALL {
            assert!(!status.staff_transitions().contains(&New));
            assert!(!status.staff_transitions().contains(status), "{status} to itself");
        }
    }

    #[test]
    fn active_statuses_in_sql() {
        assert_eq!(TicketStatus::active_sql_list(), "('new', 'open', 'pending')");
        assert!(New.is_active() && Pending.is_active() && !Resolved.is_active() && !Closed.is_active());
    }

    #[test]
    fn requesters_only_close_or_reopen() {
        for status in TicketStatus::ALL {
            for target in status.requester_transitions() {
                assert!(*target == Closed || (*status == Resolved && *target == Open));
            }
        }
    }
}
