//! Organisations as the API shows them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::models::Organization;

/// A civil-society organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Organization)]
pub struct OrganizationView {
    /// Identifier.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country (`XK` for Kosovo); tickets of the organisation carry it.
    pub country: String,
    /// Registration number in its country's register, if known; unique within the country.
    pub registration_number: Option<String>,
    /// Where the organisation can be reached.
    pub contact_email: String,
    /// The organisation's email domain.
    pub email_domain: Option<String>,
    /// Whether an administrator verified that the domain is the organisation's own: only then do people writing
    /// from it for the first time join the organisation.
    pub email_domain_verified: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Organization> for OrganizationView {
    fn from(organization: Organization) -> Self {
        OrganizationView {
            id: organization.id,
            name: organization.name,
            country: organization.country,
            registration_number: organization.registration_number,
            contact_email: organization.contact_email,
            email_domain: organization.email_domain,
            email_domain_verified: organization.email_domain_verified,
            created_at: organization.created_at,
            updated_at: organization.updated_at,
        }
    }
}
