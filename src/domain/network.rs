//! The network's read-mostly configuration: offices with their business calendars, service-level policies, the
//! active routing rules and custom fields, as one [`Network`] value that a submission consults without asking the database.
//!
//! [`NetworkCache`] keeps one per process. It is trusted only while the process listens for changes: a trigger on
//! each of these tables notifies every process at commit (`civicdesk_network`, see the migration
//! `open_ticket_counts`), the listener (`crate::db::notify`) calls [`NetworkCache::invalidate`], and the next
//! reader loads the network anew. While the listener is not connected (starting, or the database went away),
//! every reader loads it afresh, so a change is never missed, only the cache's benefit.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use diesel::PgConnection;
use uuid::Uuid;

use crate::domain::business_time::BusinessCalendar;
use crate::domain::calendars;
use crate::domain::custom_fields::Fields;
use crate::domain::error::DomainResult;
use crate::models::{Office, RoutingRule, SlaPolicy};
use crate::vocabulary::{Category, Priority};

/// The channel the configuration triggers notify.
pub const CHANGED_CHANNEL: &str = "civicdesk_network";

/// Offices, calendars, service-level policies and routing rules, as read at one moment.
#[derive(Debug)]
pub struct Network {
    offices: Vec<Office>,
    calendars: HashMap<Uuid, BusinessCalendar>,
    policies: Vec<SlaPolicy>,
    rules: Vec<RoutingRule>,
    fields: Fields,
}

impl Network {
    /// Reads the whole configuration (five queries).
    pub fn load(conn: &mut PgConnection) -> DomainResult<Network> {
        let offices = Office::list(conn)?;
        let calendars = Office::all_calendar_columns(conn)?
            .into_iter()
            .map(|(id, (zone, hours, holidays))| {
                (id, calendars::calendar_of(&zone, hours, holidays.into_iter().collect()))
            })
            .collect();
        let policies = SlaPolicy::list(conn)?;
        let rules = RoutingRule::list_active(conn)?;
        let fields = Fields::load(conn)?;
        Ok(Network { offices, calendars, policies, rules, fields })
    }

    /// The office with this id.
    pub fn office(&self, id: Uuid) -> Option<&Office> {
        self.offices.iter().find(|office| office.id == id)
    }

    /// The office that takes a country's tickets when no rule decides: its national office, else the regional one.
    pub fn default_office(&self, country: &str) -> Option<&Office> {
        self.offices
            .iter()
            .find(|office| !office.is_regional && office.country == country)
            .or_else(|| self.offices.iter().find(|office| office.is_regional))
    }

    /// The policy for `priority` and `category`: the one narrowed to the category, else the priority's general one.
    pub fn sla_policy(&self, priority: Priority, category: Category) -> Option<&SlaPolicy> {
        let of_priority = || self.policies.iter().filter(move |policy| policy.priority == priority);
        of_priority()
            .find(|policy| policy.category == Some(category))
            .or_else(|| of_priority().find(|policy| policy.category.is_none()))
    }

    /// An office's business calendar.
    pub fn calendar(&self, office_id: Uuid) -> Option<&BusinessCalendar> {
        self.calendars.get(&office_id)
    }

    /// The active routing rules, in the order they are tried.
    pub fn rules(&self) -> &[RoutingRule] {
        &self.rules
    }

    /// The active custom fields.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }
}

#[derive(Debug, Default)]
struct CacheState {
    /// Moves on at every change and every (re)connection of the listener; a load started under an older
    /// generation is used once but not kept.
    generation: u64,
    /// Whether the listener is connected (only then can the cache know when it is stale).
    listening: bool,
    /// When the listener's connection last answered; a connection that went silent (a half-open TCP connection
    /// hears nothing and says nothing) stops being trusted after [`NetworkCache::SILENCE`].
    alive_at: Option<Instant>,
    network: Option<Arc<Network>>,
}

/// The process's copy of the [`Network`], dropped whenever it may be stale.
#[derive(Debug, Default)]
pub struct NetworkCache {
    state: RwLock<CacheState>,
}

impl NetworkCache {
    /// How long the listener may stay silent before the cache stops trusting it (three of its checks).
    pub const SILENCE: Duration = Duration::from_secs(15);

    /// An empty cache that does not cache until [`NetworkCache::set_listening`] says changes will be heard.
    pub fn new() -> Self {
        Self::default()
    }

    /// The network: the cached copy when there is a current one, else read now (and kept if still current).
    pub fn get(&self, conn: &mut PgConnection) -> DomainResult<Arc<Network>> {
        let generation = {
            let state = self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(network) = state.network.as_ref().filter(|_| state.trusted()) {
                return Ok(network.clone());
            }
            state.generation
        };
        // One snapshot for the four reads, so that a rule is never seen without the office it names.
        let network = Arc::new(conn.build_transaction().read_only().repeatable_read().run(Network::load)?);
        let mut state = self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.trusted() && state.generation == generation {
            state.network = Some(network.clone());
        }
        Ok(network)
    }

    /// The listener's connection answered just now.
    pub fn alive(&self) {
        self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner()).alive_at = Some(Instant::now());
    }

    /// Forgets the cached copy: the configuration changed (or may have).
    pub fn invalidate(&self) {
        let mut state = self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.generation += 1;
        state.network = None;
    }

    /// Whether changes are being heard now; either way the cached copy is forgotten (what changed while nobody
    /// listened is unknown).
    pub fn set_listening(&self, listening: bool) {
        let mut state = self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.generation += 1;
        state.listening = listening;
        state.alive_at = listening.then(Instant::now);
        state.network = None;
    }
}

impl CacheState {
    /// Whether a cached copy can be trusted: the listener is connected and was heard from lately.
    fn trusted(&self) -> bool {
        self.listening && self.alive_at.is_some_and(|at| at.elapsed() < NetworkCache::SILENCE)
    }
}
