//! Mail that answers no ticket: a new request from a requester, or from someone new who joins their CSO by a
//! verified email domain or lands in the "Unaffiliated" queue. Mail from one address opens at most
//! [`InboundSettings::new_tickets_per_sender_hour`] tickets an hour, so that a flood (or backscatter) cannot fill
//! the queues.

use chrono::{Duration, Utc};
use diesel::PgConnection;
use uuid::Uuid;

use crate::domain::error::DomainResult;
use crate::domain::inbound::landing::{message_body, store_attachments, submitted};
use crate::domain::inbound::{Decision, InboundMail, InboundSettings, SenderVerdict, UnknownSenders, as_caller, clean};
use crate::domain::network::Network;
use crate::domain::tickets::{self, Origin, SubmitTicket};
use crate::domain::uploads::UploadLimits;
use crate::domain::values::{self, SUBJECT_MAX};
use crate::models::inbound_email::InboundOutcome;
use crate::models::organization::NewOrganization;
use crate::models::user::NewUser;
use crate::models::{InboundEmail, Organization, User};
use crate::vocabulary::{Category, Channel, Role};

/// Opens a ticket for mail that answers none, when its sender may.
pub fn open(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    mail: &InboundMail,
    inbound_id: Uuid,
    sender: Option<User>,
    mut notes: Vec<String>,
) -> DomainResult<Decision> {
    let refused = |notes: Vec<String>| Ok(Decision::without_ticket(InboundOutcome::Rejected, notes.join("; ")));
    if sender.as_ref().is_some_and(|user| user.role.is_staff()) {
        notes.push("staff mail that matches no ticket does not open one".to_owned());
        return refused(notes);
    }
    let address = mail.sender.as_ref().map(|s| s.address.as_str()).unwrap_or_default();
    if mail.sender_verdict == SenderVerdict::Failed {
        // Like a help desk's suspended tickets: kept for an administrator, in nobody's name, and no bounce.
        notes.push(format!("held: our MTA found {address}'s domain forged (DMARC fail); retry it to open a ticket"));
        return Ok(Decision { held: true, ..Decision::without_ticket(InboundOutcome::Unverified, notes.join("; ")) });
    }
    if over_the_cap(conn, settings, address)? {
        notes.push(format!(
            "held: {address} opened {} tickets by email in the last hour, the most allowed \
             (INBOUND_NEW_TICKETS_PER_SENDER_HOUR); retry it to open a ticket",
            settings.new_tickets_per_sender_hour
        ));
        return Ok(Decision { held: true, ..Decision::without_ticket(InboundOutcome::Ignored, notes.join("; ")) });
    }
    let requester = match sender {
        Some(user) => user,
        None => match new_requester(conn, settings, mail)? {
            Some((user, how)) => {
                notes.push(how);
                user
            }
            None => {
                notes.push("unknown sender outside every verified organisation domain".to_owned());
                return refused(notes);
            }
        },
    };
    let (body, has_content) = message_body(settings, mail, &mail.full_text);
    if !has_content {
        notes.push("no text".to_owned());
        return Ok(Decision::without_ticket(InboundOutcome::Ignored, notes.join("; ")));
    }
    let input = SubmitTicket {
        subject: if mail.subject.is_empty() { "(no subject)".to_owned() } else { clean(&mail.subject, SUBJECT_MAX) },
        body,
        category: Category::Other,
        priority: None,
        requester_id: None,
        attachment_ids: Vec::new(),
        custom_fields: serde_json::Map::new(),
    };
    let origin = Origin { channel: Channel::Email, inbound_email_id: Some(inbound_id), follow_up_of: None };
    let network = Network::load(conn)?;
    let ticket = submitted(tickets::submit(
        conn,
        &network,
        &as_caller(requester),
        input,
        None,
        origin,
        &UploadLimits::default(),
    )?);
    let message_id = store_attachments(conn, settings, mail, inbound_id)?;
    notes.insert(0, format!("opened #{}", ticket.reference));
    Ok(Decision {
        outcome: InboundOutcome::Created,
        reason: notes.join("; "),
        ticket: Some(ticket),
        message_id,
        held: false,
    })
}

/// Whether mail from `address` opened (or followed up) as many tickets in the last hour as it may. The caller holds
/// the sender's lock ([`super::lock_sender`]), so concurrent deliveries count one after another.
pub(super) fn over_the_cap(conn: &mut PgConnection, settings: &InboundSettings, address: &str) -> DomainResult<bool> {
    let opened = InboundEmail::tickets_opened_since(conn, address, Utc::now() - Duration::hours(1))?;
    Ok(opened >= i64::from(settings.new_tickets_per_sender_hour))
}

/// The registration number that marks the "Unaffiliated senders" organisation.
pub const UNAFFILIATED_REGISTRATION: &str = "civicdesk-unaffiliated";

/// A requester for an unknown sender: in the organisation whose verified email domain they write from, or the
/// "Unaffiliated" one.
fn new_requester(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    mail: &InboundMail,
) -> DomainResult<Option<(User, String)>> {
    let Some(sender) = &mail.sender else { return Ok(None) };
    let Ok(email) = values::email("from", &sender.address) else { return Ok(None) };
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    let organization = match crate::domain::organizations::is_public_webmail(&domain) {
        true => None,
        false => Organization::find_by_email_domain(conn, &domain)?,
    };
    let (organization, how) = match organization {
        Some(organization) if organization.email_domain_verified => {
            let how = format!("new requester {email} joined {} by its verified email domain", organization.name);
            (organization, how)
        }
        _ if settings.unknown_senders == UnknownSenders::Unaffiliated => match unaffiliated(conn, settings)? {
            Some(organization) => (organization, format!("new requester {email} put in the Unaffiliated queue")),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let name = sender
        .name
        .as_deref()
        .map(|n| clean(&n.replace(['\r', '\n', '\t'], " "), values::NAME_MAX))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("requester").to_owned());
    let language = mail.language.clone().unwrap_or_else(|| "en".to_owned());
    let user = User::insert(
        conn,
        &NewUser {
            id: Uuid::now_v7(),
            name,
            email,
            language,
            role: Role::Requester,
            office_id: None,
            organization_id: Some(organization.id),
        },
    )?;
    Ok(Some((user, how)))
}

/// The "Unaffiliated" organisation, created on first use; `None` when no country is configured and there is no
/// regional office to take its country from.
fn unaffiliated(conn: &mut PgConnection, settings: &InboundSettings) -> DomainResult<Option<Organization>> {
    let country = match &settings.unaffiliated_country {
        Some(country) => country.clone(),
        None => match crate::models::Office::regional(conn)? {
            Some(office) => office.country,
            None => return Ok(None),
        },
    };
    if let Some(organization) = Organization::find_by_registration(conn, &country, UNAFFILIATED_REGISTRATION)? {
        return Ok(Some(organization));
    }
    Ok(Some(Organization::insert(
        conn,
        &NewOrganization {
            id: Uuid::now_v7(),
            name: "Unaffiliated senders".to_owned(),
            country,
            registration_number: Some(UNAFFILIATED_REGISTRATION.to_owned()),
            contact_email: settings.reply_to.clone(),
            email_domain: None,
            email_domain_verified: false,
        },
    )?))
}
