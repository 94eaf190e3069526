//! Organisations (CSOs): who may manage and see them, and what a valid one is.

use diesel::PgConnection;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::values::{self, Checks, NAME_MAX};
use crate::models::Organization;
use crate::models::organization::{NewOrganization, OrganizationChanges, OrganizationFilter};
use crate::vocabulary::Role;

/// Longest registration number accepted.
const REGISTRATION_NUMBER_MAX: usize = 64;

/// A new organisation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// Name.
    #[schema(min_length = 1, max_length = 200, example = "Green Valley Association")]
    pub name: String,
    /// ISO 3166-1 alpha-2 country (`XK` for Kosovo).
    #[schema(min_length = 2, max_length = 2, pattern = "^[A-Za-z]{2}$", example = "XK")]
    pub country: String,
    /// Registration number in its country's register; unique within the country.
    #[schema(min_length = 1, max_length = 64)]
    pub registration_number: Option<String>,
    /// Where the organisation can be reached.
    #[schema(example = "info@greenvalley.example.org")]
    pub contact_email: String,
    /// The organisation's own email domain (never a public webmail domain such as gmail.com).
    #[schema(example = "greenvalley.example.org")]
    pub email_domain: Option<String>,
    /// Whether the domain is verified as the organisation's own (admins only): only then do people writing from
    /// it for the first time join the organisation. Default false.
    pub email_domain_verified: Option<bool>,
}

/// Changes to an organisation; absent fields stay as they are, `null` clears the registration number.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// See [`CreateOrganization::name`].
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// See [`CreateOrganization::country`].
    #[schema(min_length = 2, max_length = 2)]
    pub country: Option<String>,
    /// See [`CreateOrganization::registration_number`].
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64)]
    pub registration_number: Option<Option<String>>,
    /// See [`CreateOrganization::contact_email`].
    pub contact_email: Option<String>,
    /// See [`CreateOrganization::email_domain`]; `null` clears it.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub email_domain: Option<Option<String>>,
    /// See [`CreateOrganization::email_domain_verified`] (admins only); a changed domain is unverified again
    /// unless this is set in the same request.
    pub email_domain_verified: Option<bool>,
}

/// Which organisations to list.
#[derive(Debug, Default)]
pub struct OrganizationQuery {
    /// Only this country.
    pub country: Option<String>,
    /// Only names containing this text.
    pub name_contains: Option<String>,
    /// Continue after this organisation.
    pub after: Option<Uuid>,
    /// Page size.
    pub limit: i64,
}

/// Providers whose domains serve the public under any top-level domain (`yahoo.fr`, `gmx.de`, ...).
const WEBMAIL_NAMES: &[&str] =
    &["gmail", "googlemail", "hotmail", "outlook", "live", "msn", "yahoo", "ymail", "yandex", "gmx", "aol", "icloud"];

/// Public webmail domains that are nobody's organisation.
const WEBMAIL_DOMAINS: &[&str] = &[
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "mail.ru",
    "bk.ru",
    "inbox.ru",
    "list.ru",
    "internet.ru",
    "rambler.ru",
    "ya.ru",
    "web.de",
    "t-online.de",
    "freenet.de",
    "mail.com",
    "email.com",
    "zoho.com",
    "zohomail.com",
    "tutanota.com",
    "tuta.io",
    "tutanota.de",
    "fastmail.com",
    "hey.com",
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "abv.bg",
    "libero.it",
    "virgilio.it",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "onet.pl",
    "seznam.cz",
    "centrum.cz",
    "ukr.net",
    "i.ua",
    "rocketmail.com",
    "mynet.com",
    "windowslive.com",
    "posteo.de",
    "mailbox.org",
    "gmx.net",
    "hushmail.com",
    "lycos.com",
    "rediffmail.com",
    "yeah.net",
    "aim.com",
    "t-home.mk",
    "live.com",
];

/// Whether `domain` (lower case) is a public webmail provider's, which no organisation can claim.
pub fn is_public_webmail(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    if WEBMAIL_DOMAINS.contains(&domain) {
        return true;
    }
    // "yahoo.fr", "mail.yahoo.co.uk", "gmx.at": the provider's name as the label before the public suffix.
    let labels: Vec<&str> = domain.split('.').collect();
    let suffix_labels =
        if labels.len() >= 3 && matches!(labels[labels.len() - 2], "co" | "com" | "net" | "org") { 2 } else { 1 };
    labels.len() > suffix_labels && WEBMAIL_NAMES.contains(&labels[labels.len() - suffix_labels - 1])
}

/// Checks an email domain such as `greenvalley.example.org` (lower-cased, no `@`, not a webmail domain).
fn email_domain(value: &str) -> Result<String, crate::domain::error::FieldError> {
    let domain = value.trim().trim_start_matches('@').to_ascii_lowercase();
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty() && label.len() <= 63 && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if !(domain.contains('.') && domain.len() <= 253 && labels_ok) {
        return Err(crate::domain::error::FieldError::new(
            "email_domain",
            "must be a domain such as greenvalley.example.org",
        ));
    }
    if is_public_webmail(&domain) {
        return Err(crate::domain::error::FieldError::new(
            "email_domain",
            "is a public webmail domain: anyone can have an address there, so it cannot be an organisation's",
        ));
    }
    Ok(domain)
}

/// Only administrators vouch for an organisation's domain.
fn check_verifier(caller: &Caller, verified: Option<bool>) -> DomainResult<()> {
    if verified.is_some() && caller.user.role != Role::Admin {
        return Err(DomainError::Forbidden("only administrators verify an organisation's email domain".to_owned()));
    }
    Ok(())
}

fn registration_number(value: &str) -> Result<String, crate::domain::error::FieldError> {
    values::bounded_text("registration_number", value, REGISTRATION_NUMBER_MAX, false)
}

/// Creates an organisation (admins and coordinators).
pub fn create(conn: &mut PgConnection, caller: &Caller, input: CreateOrganization) -> DomainResult<Organization> {
    caller.require_manager()?;
    check_verifier(caller, input.email_domain_verified)?;
    let mut checks = Checks::default();
    let name = checks.check(values::bounded_text("name", &input.name, NAME_MAX, false));
    let country = checks.check(values::country("country", &input.country));
    let registration_number = input.registration_number.map(|v| checks.check(registration_number(&v)));
    let contact_email = checks.check(values::email("contact_email", &input.contact_email));
    let email_domain = input.email_domain.map(|v| checks.check(email_domain(&v)));
    checks.finish()?;
    let email_domain_verified = email_domain.is_some() && input.email_domain_verified.unwrap_or(false);
    let new = NewOrganization {
        id: Uuid::now_v7(),
        name,
        country,
        registration_number,
        contact_email,
        email_domain,
        email_domain_verified,
    };
    Ok(Organization::insert(conn, &new)?)
}

/// Changes an organisation (admins and coordinators).
pub fn update(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    input: UpdateOrganization,
) -> DomainResult<Organization> {
    caller.require_manager()?;
    check_verifier(caller, input.email_domain_verified)?;
    let mut checks = Checks::default();
    let domain_changed = input.email_domain.is_some();
    let changes = OrganizationChanges {
        name: input.name.map(|v| checks.check(values::bounded_text("name", &v, NAME_MAX, false))),
        country: input.country.map(|v| checks.check(values::country("country", &v))),
        registration_number: input.registration_number.map(|v| v.map(|v| checks.check(registration_number(&v)))),
        contact_email: input.contact_email.map(|v| checks.check(values::email("contact_email", &v))),
        email_domain: input.email_domain.map(|v| v.map(|v| checks.check(email_domain(&v)))),
        email_domain_verified: input.email_domain_verified.or(domain_changed.then_some(false)),
    };
    checks.finish()?;
    let organization = Organization::find(conn, id)?.ok_or(DomainError::NotFound("organization"))?;
    if changes.is_empty() {
        return Ok(organization);
    }
    Ok(Organization::update(conn, id, &changes)?)
}

/// One organisation: staff see any, requesters only their own.
pub fn get(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<Organization> {
    if !caller.is_staff() && caller.user.organization_id != Some(id) {
        return Err(DomainError::NotFound("organization"));
    }
    Organization::find(conn, id)?.ok_or(DomainError::NotFound("organization"))
}

/// Organisations: staff list all, requesters see only their own.
pub fn list(conn: &mut PgConnection, caller: &Caller, query: OrganizationQuery) -> DomainResult<Vec<Organization>> {
    let filter = OrganizationFilter {
        country: query.country,
        name_contains: query.name_contains,
        only_id: if caller.is_staff() { None } else { caller.user.organization_id.or(Some(Uuid::nil())) },
        after: query.after,
        limit: query.limit,
    };
    Ok(Organization::list(conn, &filter)?)
}
