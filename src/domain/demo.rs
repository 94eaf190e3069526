//! Demo data: a realistic network of offices, advisors, CSOs and routing rules (`civicdesk seed --demo`).
//!
//! Seeding is idempotent: offices are found by code, users by email, organisations by registration number and
//! rules by name, and only what is missing is created. Each run issues fresh tokens (labelled `demo`) so that
//! the printed tokens always work.

use diesel::{Connection, PgConnection};
use uuid::Uuid;

use crate::domain::advisors;
use crate::domain::error::DomainResult;
use crate::domain::routing_rules::{self, RoutingRuleInput};
use crate::domain::tokens;
use crate::models::advisor_profile::AdvisorProfileChanges;
use crate::models::api_token::NewApiToken;
use crate::models::office::NewOffice;
use crate::models::organization::NewOrganization;
use crate::models::user::NewUser;
use crate::models::{AdvisorProfile, ApiToken, Office, Organization, RoutingRule, User};
use crate::vocabulary::{Category, Priority, Role};

/// A demo user and the token issued for them.
#[derive(Debug)]
pub struct DemoLogin {
    /// The user's role.
    pub role: Role,
    /// The user's email.
    pub email: String,
    /// Where they belong: an office code or an organisation name.
    pub belongs_to: String,
    /// A fresh token.
    pub token: String,
}

/// (code, name, country, time zone, regional)
const OFFICES: &[(&str, &str, &str, &str, bool)] = &[
    ("REGIONAL", "Regional office (Sarajevo)", "BA", "Europe/Sarajevo", true),
    ("AL", "Albania office (Tirana)", "AL", "Europe/Tirane", false),
    ("BA", "Bosnia and Herzegovina office (Sarajevo)", "BA", "Europe/Sarajevo", false),
    ("XK", "Kosovo office (Prishtina)", "XK", "Europe/Belgrade", false),
    ("ME", "Montenegro office (Podgorica)", "ME", "Europe/Podgorica", false),
    ("MK", "North Macedonia office (Skopje)", "MK", "Europe/Skopje", false),
    ("RS", "Serbia office (Belgrade)", "RS", "Europe/Belgrade", false),
    ("TR", "Turkey office (Ankara)", "TR", "Europe/Istanbul", false),
];

use Category::*;

/// (office code, name, email local part, language, languages, categories); the first of each office is its
/// coordinator, the others are advisors.
#[allow(clippy::type_complexity)]
const STAFF: &[(&str, &str, &str, &str, &[&str], &[Category])] = &[
    ("REGIONAL", "Emina Softić", "emina.softic", "bs", &[], &[]),
    ("REGIONAL", "Ivana Kovač", "ivana.kovac", "en", &["en", "bs", "sr"], &[Funding, PartnershipNetworking, Other]),
    ("REGIONAL", "Luan Berisha", "luan.berisha", "en", &["en", "sq"], &[LegalRegistration, Advocacy, Visibility]),
    ("AL", "Arben Kola", "arben.kola", "sq", &[], &[]),
    ("AL", "Elira Hoxha", "elira.hoxha", "sq", &["sq", "en"], &[Funding, FinancialManagement, Other]),
    (
        "AL",
        "Gentian Shehu",
        "gentian.shehu",
        "sq",
        &["sq", "en", "it"],
        &[LegalRegistration, Advocacy, CapacityBuilding],
    ),
    ("BA", "Selma Begić", "selma.begic", "bs", &[], &[]),
    (
        "BA",
        "Amra Hadžić",
        "amra.hadzic",
        "bs",
        &["bs", "hr", "sr", "en"],
        &[Funding, PartnershipNetworking, Visibility],
    ),
    ("BA", "Dario Marić", "dario.maric", "hr", &["hr", "bs", "en"], &[LegalRegistration, FinancialManagement, Other]),
    ("XK", "Vjosa Berisha", "vjosa.berisha", "sq", &[], &[]),
    ("XK", "Besa Gashi", "besa.gashi", "sq", &["sq", "en"], &[Funding, CapacityBuilding, FinancialManagement]),
    ("XK", "Driton Krasniqi", "driton.krasniqi", "sq", &["sq", "sr", "en"], &[LegalRegistration, Advocacy, Visibility]),
    ("XK", "Nenad Petrović", "nenad.petrovic", "sr", &["sr", "en"], &[Funding, PartnershipNetworking, Other]),
    ("ME", "Jelena Radović", "jelena.radovic", "sr", &[], &[]),
    ("ME", "Milica Vuković", "milica.vukovic", "sr", &["sr", "en"], &[Funding, LegalRegistration, Other]),
    ("ME", "Nikola Đurović", "nikola.djurovic", "sr", &["sr", "en"], &[CapacityBuilding, Visibility, Advocacy]),
    ("MK", "Marija Petrovska", "marija.petrovska", "mk", &[], &[]),
    ("MK", "Ana Stojanovska", "ana.stojanovska", "mk", &["mk", "en"], &[Funding, FinancialManagement, Other]),
    (
        "MK",
        "Arlind Ademi",
        "arlind.ademi",
        "sq",
        &["sq", "mk", "en"],
        &[LegalRegistration, Advocacy, PartnershipNetworking],
    ),
    ("RS", "Stefan Ilić", "stefan.ilic", "sr", &[], &[]),
    ("RS", "Marko Jovanović", "marko.jovanovic", "sr", &["sr", "en"], &[LegalRegistration, FinancialManagement, Other]),
    ("RS", "Jelena Nikolić", "jelena.nikolic", "sr", &["sr", "en"], &[Funding, PartnershipNetworking, Visibility]),
    ("TR", "Zeynep Kaya", "zeynep.kaya", "tr", &[], &[]),
    ("TR", "Ayşe Yılmaz", "ayse.yilmaz", "tr", &["tr", "en"], &[Funding, CapacityBuilding, Other]),
    ("TR", "Mehmet Demir", "mehmet.demir", "tr", &["tr", "en"], &[LegalRegistration, Advocacy, FinancialManagement]),
];

/// (name, country, registration number, email domain, requester name, requester local part, language)
const ORGANIZATIONS: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    ("Green Valley Association", "XK", "5115-XK", "greenvalley.example.org", "Arta Morina", "arta", "sq"),
    ("Youth Forum Tirana", "AL", "L-2201", "youthforum.example.org", "Klea Dervishi", "klea", "sq"),
    ("Open Doors Sarajevo", "BA", "RU-774", "opendoors.example.org", "Haris Mehić", "haris", "bs"),
    ("Coast Guardians Montenegro", "ME", "ME-3090", "coastguardians.example.org", "Ivan Popović", "ivan", "sr"),
    ("Women for Change", "MK", "4021-22", "wfc.example.org", "Elena Trajkovska", "elena", "mk"),
    ("Belgrade Open Data Lab", "RS", "RS-28811", "opendatalab.example.org", "Ana Lukić", "ana", "sr-Latn"),
    ("Istanbul Civic Initiative", "TR", "34-0917", "civicinitiative.example.org", "Deniz Aydın", "deniz", "tr"),
];

const STAFF_DOMAIN: &str = "civicdesk.example.org";

/// Creates what is missing of the demo network and returns a fresh token for each demo user.
pub fn seed(conn: &mut PgConnection) -> DomainResult<Vec<DemoLogin>> {
    conn.transaction(|conn| {
        let mut logins = Vec::new();
        let mut offices = Vec::new();
        for (code, name, country, time_zone, regional) in OFFICES {
            let office = match Office::find_by_code(conn, code)? {
                Some(office) => office,
                None => Office::insert(
                    conn,
                    &NewOffice {
                        id: Uuid::now_v7(),
                        code: (*code).to_owned(),
                        name: (*name).to_owned(),
                        country: (*country).to_owned(),
                        time_zone: (*time_zone).to_owned(),
                        contact_email: format!("{}@{STAFF_DOMAIN}", code.to_lowercase()),
                        is_regional: *regional,
                    },
                )?,
            };
            offices.push(office);
        }
        let office_id = |code: &str| offices.iter().find(|o| o.code == code).map(|o| o.id);

        let mut seen_offices = Vec::new();
        for (code, name, local, language, languages, categories) in STAFF {
            let coordinator = !seen_offices.contains(code);
            seen_offices.push(*code);
            let role = if coordinator { Role::Coordinator } else { Role::Advisor };
            let email = format!("{local}@{STAFF_DOMAIN}");
            let user = find_or_create_user(conn, &email, name, language, role, office_id(code), None)?;
            if role == Role::Advisor {
                advisors::ensure_profile(conn, &user)?;
                let changes = AdvisorProfileChanges {
                    categories: Some(categories.to_vec()),
                    languages: Some(languages.iter().map(|l| (*l).to_owned()).collect()),
                    capacity: Some(15),
                    ..AdvisorProfileChanges::default()
                };
                AdvisorProfile::update(conn, user.id, &changes)?;
            }
            logins.push(login(conn, &user, code)?);
        }

        for (name, country, registration, domain, person, local, language) in ORGANIZATIONS {
            let organization = match Organization::find_by_registration(conn, country, registration)? {
                Some(organization) => organization,
                None => Organization::insert(
                    conn,
                    &NewOrganization {
                        id: Uuid::now_v7(),
                        name: (*name).to_owned(),
                        country: (*country).to_owned(),
                        registration_number: Some((*registration).to_owned()),
                        contact_email: format!("info@{domain}"),
                        email_domain: Some((*domain).to_owned()),
                        email_domain_verified: true,
                    },
                )?,
            };
            let email = format!("{local}@{domain}");
            let user =
                find_or_create_user(conn, &email, person, language, Role::Requester, None, Some(organization.id))?;
            logins.push(login(conn, &user, name)?);
        }

        seed_rules(conn, &office_id)?;
        seed_holidays(conn, &office_id)?;
        Ok(logins)
    })
}

/// A few public holidays of 2026 and 2027 per demo office: (office code, date, name).
const HOLIDAYS: &[(&str, &str, &str)] = &[
    ("AL", "2026-11-28", "Independence Day"),
    ("AL", "2026-11-29", "Liberation Day"),
    ("BA", "2026-11-25", "Statehood Day"),
    ("REGIONAL", "2026-11-25", "Statehood Day"),
    ("XK", "2027-02-17", "Independence Day"),
    ("ME", "2027-05-21", "Independence Day"),
    ("MK", "2026-12-08", "Saint Clement of Ohrid Day"),
    ("RS", "2027-02-15", "Statehood Day"),
    ("TR", "2027-04-23", "National Sovereignty and Children's Day"),
    ("AL", "2027-01-01", "New Year's Day"),
    ("BA", "2027-01-01", "New Year's Day"),
    ("REGIONAL", "2027-01-01", "New Year's Day"),
    ("XK", "2027-01-01", "New Year's Day"),
    ("ME", "2027-01-01", "New Year's Day"),
    ("MK", "2027-01-01", "New Year's Day"),
    ("RS", "2027-01-01", "New Year's Day"),
    ("TR", "2027-01-01", "New Year's Day"),
];

fn seed_holidays(conn: &mut PgConnection, office_id: &dyn Fn(&str) -> Option<Uuid>) -> DomainResult<()> {
    for (code, date, name) in HOLIDAYS {
        let (Some(office), Ok(date)) = (office_id(code), date.parse::<chrono::NaiveDate>()) else { continue };
        crate::models::Holiday::insert_if_missing(conn, office, date, name)?;
    }
    Ok(())
}

fn find_or_create_user(
    conn: &mut PgConnection,
    email: &str,
    name: &str,
    language: &str,
    role: Role,
    office_id: Option<Uuid>,
    organization_id: Option<Uuid>,
) -> DomainResult<User> {
    if let Some(user) = User::find_by_email(conn, email)? {
        return Ok(user);
    }
    Ok(User::insert(
        conn,
        &NewUser {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            email: email.to_owned(),
            language: language.to_owned(),
            role,
            office_id,
            organization_id,
        },
    )?)
}

fn login(conn: &mut PgConnection, user: &User, belongs_to: &str) -> DomainResult<DemoLogin> {
    let secret = tokens::generate();
    ApiToken::insert(
        conn,
        &NewApiToken {
            id: Uuid::now_v7(),
            user_id: user.id,
            label: "demo".to_owned(),
            token_hash: secret.hash,
            token_prefix: secret.display_prefix,
        },
    )?;
    Ok(DemoLogin {
        role: user.role,
        email: user.email.clone(),
        belongs_to: belongs_to.to_owned(),
        token: secret.secret,
    })
}

fn seed_rules(conn: &mut PgConnection, office_id: &dyn Fn(&str) -> Option<Uuid>) -> DomainResult<()> {
    let existing: Vec<String> = RoutingRule::list(conn)?.into_iter().map(|rule| rule.name).collect();
    let advisor = |conn: &mut PgConnection, local: &str| -> DomainResult<Option<Uuid>> {
        Ok(User::find_by_email(conn, &format!("{local}@{STAFF_DOMAIN}"))?.map(|u| u.id))
    };
    let rules = [
        RoutingRuleInput {
            name: Some("EU programme calls (IPA, Civil Society Facility) go to the regional office".to_owned()),
            keywords: Some(vec!["IPA".to_owned(), "Civil Society Facility".to_owned(), "EIDHR".to_owned()]),
            target_office_id: office_id("REGIONAL"),
            ..RoutingRuleInput::default()
        },
        RoutingRuleInput {
            name: Some("Urgent legal questions go to the regional legal expert".to_owned()),
            categories: Some(vec![LegalRegistration]),
            priorities: Some(vec![Priority::Urgent]),
            target_advisor_id: advisor(conn, "luan.berisha")?,
            ..RoutingRuleInput::default()
        },
        RoutingRuleInput {
            name: Some("Financial management in Montenegro is covered from Belgrade".to_owned()),
            countries: Some(vec!["ME".to_owned()]),
            categories: Some(vec![FinancialManagement]),
            target_advisor_id: advisor(conn, "marko.jovanovic")?,
            ..RoutingRuleInput::default()
        },
    ];
    for rule in rules {
        if !existing.iter().any(|name| Some(name) == rule.name.as_ref()) {
            routing_rules::insert(conn, rule)?;
        }
    }
    Ok(())
}
