//! Who may act by email. `From:` is a claim anyone can write, so it is never enough on its own:
//!
//! - the ticket's requester side (the requester and colleagues of the same CSO) act when the mail is tied to their
//!   ticket, by their signed reply address or by the threading headers or subject of that ticket; the people of
//!   the "Unaffiliated" queue are strangers to each other, so there only the requester acts;
//! - staff (advisors, coordinators, admins) act only through a reply address that was sent to them, or when our
//!   trusted MTA vouched for their domain (DMARC pass, or DKIM pass aligned with `From:`);
//! - mail our MTA found forged (DMARC fail), and everyone else's mail on a ticket, is kept as an unverified
//!   internal note, never posted as anyone.

use crate::domain::inbound::as_caller;
use crate::domain::inbound::mail::SenderVerdict;
use crate::domain::inbound::matching::{Found, MatchedBy};
use crate::models::User;

/// What the sender of a mail tied to a ticket may do.
#[derive(Debug)]
pub enum Acting {
    /// Act as this user.
    AsUser(Box<User>),
    /// Nothing in their name: keep the mail for staff, with the reason.
    Unverified(String),
}

/// Decides whether `sender` may act on the ticket the mail was tied to; `shared_organization` is false for the
/// "Unaffiliated" organisation, whose members are no colleagues of each other.
pub fn check(sender: Option<User>, found: &Found, verdict: SenderVerdict, shared_organization: bool) -> Acting {
    let Some(user) = sender else {
        return Acting::Unverified("the sender is not a user of the help desk".to_owned());
    };
    if verdict == SenderVerdict::Failed {
        return Acting::Unverified(format!("our MTA found {}'s domain forged (DMARC fail)", user.email));
    }
    let caller = as_caller(user);
    if !caller.can_see(&found.ticket) {
        return Acting::Unverified(format!("{} may not see #{}", caller.user.email, found.ticket.reference));
    }
    if !caller.is_staff() {
        if shared_organization || found.ticket.requester_id == caller.user.id {
            return Acting::AsUser(Box::new(caller.user));
        }
        return Acting::Unverified(format!(
            "{} is not the requester of #{} (the Unaffiliated queue has no colleagues)",
            caller.user.email, found.ticket.reference
        ));
    }
    let own_token = matches!(found.by, MatchedBy::Token { recipient_id } if recipient_id == caller.user.id);
    if own_token || verdict == SenderVerdict::Authenticated {
        return Acting::AsUser(Box::new(caller.user));
    }
    Acting::Unverified(format!(
        "staff mail from {} came without their own reply address and without a DMARC or aligned DKIM pass",
        caller.user.email
    ))
}
