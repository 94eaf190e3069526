//! The fixed vocabularies every layer shares: roles, priorities, categories, channels, ticket statuses and the
//! service-level terms.
//!
//! A leaf module: it uses nothing else of the crate, so `models`, `domain`, `email` and `routes` can all name
//! these types without depending on each other.

mod status;
mod text_enum;

pub use status::TicketStatus;

use crate::text_enum;

text_enum! {
    /// What a user may do: admins run the service, coordinators and advisors are staff of an office,
    /// requesters belong to a CSO.
    pub enum Role {
        /// Runs the service: users, tokens, offices, everything.
        Admin => "admin",
        /// Staff who manage offices and organisations and see every ticket.
        Coordinator => "coordinator",
        /// A resident advisor: works the tickets of their office and those assigned to them.
        Advisor => "advisor",
        /// A person of a CSO who asks for help.
        Requester => "requester",
    }
}

impl Role {
    /// Staff are everyone who is not a requester.
    pub fn is_staff(self) -> bool {
        self != Role::Requester
    }
}

text_enum! {
    /// How urgent a ticket is.
    pub enum Priority {
        /// Whenever there is time.
        Low => "low",
        /// The default.
        Normal => "normal",
        /// Sooner than usual.
        High => "high",
        /// Now.
        Urgent => "urgent",
    }
}

text_enum! {
    /// The assistance area a request is about.
    pub enum Category {
        /// Registration and legal questions.
        LegalRegistration => "legal_registration",
        /// EU funding and grant applications.
        Funding => "funding",
        /// Financial management.
        FinancialManagement => "financial_management",
        /// Capacity building.
        CapacityBuilding => "capacity_building",
        /// Partnership and networking.
        PartnershipNetworking => "partnership_networking",
        /// Advocacy.
        Advocacy => "advocacy",
        /// Visibility.
        Visibility => "visibility",
        /// Anything else.
        Other => "other",
    }
}

text_enum! {
    /// The way a ticket or message came in.
    pub enum Channel {
        /// Through the JSON API.
        Api => "api",
        /// By email.
        Email => "email",
    }
}

impl Priority {
    /// The next priority up (urgent stays urgent).
    pub fn raised(self) -> Priority {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }
}

text_enum! {
    /// A requester's verdict on how their request was handled.
    pub enum Rating {
        /// Satisfied.
        Satisfied => "satisfied",
        /// Not satisfied.
        NotSatisfied => "not_satisfied",
    }
}

text_enum! {
    /// Where one service-level clock of a ticket stands.
    pub enum SlaState {
        /// No target applies (no SLA policy for the ticket's priority).
        None => "none",
        /// Running, before the warning point.
        Running => "running",
        /// Running, past the warning point: the target is near.
        AtRisk => "at_risk",
        /// Stopped for now: the ticket waits on the requester.
        Paused => "paused",
        /// Stopped in time.
        Met => "met",
        /// The target passed first.
        Breached => "breached",
    }
}

text_enum! {
    /// The two service-level clocks of a ticket.
    pub enum SlaClock {
        /// Submission to the first public staff reply.
        FirstResponse => "first_response",
        /// Submission to resolution, without the time spent waiting on the requester.
        Resolution => "resolution",
    }
}

text_enum! {
    /// What a breach does besides telling the office coordinators.
    pub enum BreachAction {
        /// Nothing more.
        Notify => "notify",
        /// Raise the priority one step.
        RaisePriority => "raise_priority",
        /// Unassign the ticket, back to the office queue.
        ReturnToQueue => "return_to_queue",
    }
}
