//! Validated values: email addresses, countries, languages, time zones, bounded text.
//!
//! Input is parsed into these types at the edge, so the rest of the code never checks it again. Each parser
//! takes the field name so that an error names the offending field.

use crate::domain::error::FieldError;

/// Longest subject accepted.
pub const SUBJECT_MAX: usize = 200;
/// Longest message body accepted.
pub const BODY_MAX: usize = 50_000;
/// Longest name (of a person, office or organisation) accepted.
pub const NAME_MAX: usize = 200;

/// Trims `value` and checks that it is between 1 and `max` characters and free of control characters
/// (other than line breaks and tabs when `multiline`).
pub fn bounded_text(field: &str, value: &str, max: usize, multiline: bool) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let length = trimmed.chars().count();
    if length > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters (got {length})")));
    }
    let bad_control = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if trimmed.chars().any(bad_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Checks an email address with lettre's parser (RFC 5321/5322 syntax, internationalised domains), then refuses
/// what it allows but an address of a person never needs: quoted local parts, whitespace and control characters,
/// domains that are not dotted host names (IP literals, single labels, characters other than letters, digits and
/// hyphens), and more than 254 characters. Returns it trimmed, with the domain lower-cased.
pub fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    let invalid = || FieldError::new(field, "must be an email address such as name@example.org");
    // lettre lets non-ASCII spaces and control characters through, and quoted local parts may hold spaces, `@`
    // and `,`: code that splits addresses and the headers we write must never meet them.
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let address: lettre::Address = value.parse().map_err(|_| invalid())?;
    let (local, domain) = (address.user(), address.domain());
    let host_name =
        domain.contains('.') && domain.split('.').all(|label| label.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if local.starts_with('"') || !host_name {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// ISO 3166-1 alpha-2 codes, plus `XK` for Kosovo (a user-assigned code in common use).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR \
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI \
FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS \
IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO \
MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA \
RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT \
TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/// Checks an ISO 3166-1 alpha-2 country code (`XK` for Kosovo); lower case is accepted and upper-cased.
pub fn country(field: &str, value: &str) -> Result<String, FieldError> {
    let code = value.trim().to_ascii_uppercase();
    if code.len() == 2 && COUNTRIES.split_ascii_whitespace().any(|known| known == code) {
        Ok(code)
    } else {
        Err(FieldError::new(field, "must be an ISO 3166-1 alpha-2 country code such as AL, BA, XK, ME, MK, RS or TR"))
    }
}

/// Checks a BCP 47 language tag in its common form (`sq`, `sr-Latn`, `pt-BR`) and normalises the case of
/// the primary language (lower) and a region (upper).
pub fn language(field: &str, value: &str) -> Result<String, FieldError> {
    let invalid = || FieldError::new(field, "must be a BCP 47 language tag such as en, sq, sr, sr-Latn, mk, bs or tr");
    let value = value.trim();
    if value.len() > 35 {
        return Err(invalid());
    }
    let mut parts = value.split('-');
    let primary = parts.next().unwrap_or_default();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(invalid());
    }
    let mut tag = primary.to_ascii_lowercase();
    for part in parts {
        if part.is_empty() || part.len() > 8 || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid());
        }
        tag.push('-');
        match part.len() {
            2 if part.chars().all(|c| c.is_ascii_alphabetic()) => tag.push_str(&part.to_ascii_uppercase()),
            4 if part.chars().all(|c| c.is_ascii_alphabetic()) => {
                tag.push_str(&part[..1].to_ascii_uppercase());
                tag.push_str(&part[1..].to_ascii_lowercase());
            }
            _ => tag.push_str(&part.to_ascii_lowercase()),
        }
    }
    Ok(tag)
}

/// Checks an IANA time zone name such as `Europe/Tirane`.
pub fn time_zone(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    value
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| FieldError::new(field, "must be an IANA time zone name such as Europe/Tirane or Europe/Istanbul"))
}

/// Checks an office code: 2 to 32 of `A-Z`, `0-9`, `-`, `_`, starting with a letter or digit; upper-cased.
pub fn office_code(field: &str, value: &str) -> Result<String, FieldError> {
    let code = value.trim().to_ascii_uppercase();
    let valid = (2..=32).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && code.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(code)
    } else {
        Err(FieldError::new(field, "must be 2 to 32 letters, digits, '-' or '_', such as AL or REGIONAL"))
    }
}

/// Collects the errors of several field checks, so one response can name every bad field.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// Records the outcome of one check and returns its value, or a placeholder when it failed (the caller
    /// must then end with [`Checks::finish`], which fails, before using any value).
    pub fn check<T: Default>(&mut self, result: Result<T, FieldError>) -> T {
        result.unwrap_or_else(|error| {
            self.errors.push(error);
            T::default()
        })
    }

    /// Records a failed check.
    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Fails with every recorded error, if there is any.
    pub fn finish(self) -> Result<(), crate::domain::error::DomainError> {
        if self.errors.is_empty() { Ok(()) } else { Err(crate::domain::error::DomainError::Invalid(self.errors)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises_good_values() {
        assert_eq!(email("e", " Ana@Example.ORG ").unwrap(), "Ana@example.org");
        assert_eq!(email("e", "o'brien+desk@sub.Example.org").unwrap(), "o'brien+desk@sub.example.org");
        assert_eq!(email("e", "ana@Bücher.example").unwrap(), "ana@bücher.example");
        assert_eq!(country("c", "xk").unwrap(), "XK");
        assert_eq!(language("l", "SR-latn").unwrap(), "sr-Latn");
        assert_eq!(language("l", "pt-br").unwrap(), "pt-BR");
        assert_eq!(time_zone("t", "Europe/Istanbul").unwrap(), "Europe/Istanbul");
        assert_eq!(office_code("o", "al").unwrap(), "AL");
        assert_eq!(bounded_text("s", "  hello  ", 10, false).unwrap(), "hello");
    }

    #[test]
    fn refuses_bad_values_naming_the_field() {
        for bad in [
            "",
            "a",
            "a@b",
            "@example.org",
            "a b@example.org",
            "a@exa mple.org",
            "a@.org",
            "a@@example.org",
            "\"a b\"@example.org",
            "\"a@b\"@example.org",
            "a\u{a0}b@example.org",
            "a\u{85}@example.org",
            "a@[192.0.2.1]",
            "a@exa!mple.org",
            "<a@example.org>",
            "Ana <a@example.org>",
        ] {
            assert_eq!(email("contact_email", bad).unwrap_err().field, "contact_email", "{bad:?}");
        }
        assert!(country("c", "ZZ").is_err());
        assert!(country("c", "ALB").is_err());
        assert!(language("l", "english").is_err());
        assert!(language("l", "e").is_err());
        assert!(time_zone("t", "Mars/Olympus").is_err());
        assert!(bounded_text("s", "   ", 10, false).is_err());
        assert!(bounded_text("s", "abcdefghijk", 10, false).is_err());
        assert!(bounded_text("s", "a\u{0}b", 10, true).is_err());
        assert!(bounded_text("s", "a\nb", 10, false).is_err());
        assert!(bounded_text("s", "a\nb", 10, true).is_ok());
    }

    #[test]
    fn every_enum_serialises_as_its_text() {
        use crate::models::inbound_email::{InboundOutcome, InboundSource};
        use crate::models::outbox::{NotificationKind, OutboxStatus};
        use crate::models::ticket_event::EventKind;
        use crate::vocabulary::{Category, Channel, Priority, Role, TicketStatus};
        assert!(Role::serde_matches_text());
        assert!(Priority::serde_matches_text());
        assert!(Category::serde_matches_text());
        assert!(Channel::serde_matches_text());
        assert!(TicketStatus::serde_matches_text());
        assert!(EventKind::serde_matches_text());
        assert!(NotificationKind::serde_matches_text());
        assert!(OutboxStatus::serde_matches_text());
        assert!(InboundSource::serde_matches_text());
        assert!(InboundOutcome::serde_matches_text());
    }

    #[test]
    fn enums_round_trip_through_text() {
        use crate::vocabulary::{Category, Priority};
        for category in Category::ALL {
            assert_eq!(category.as_str().parse::<Category>().unwrap(), *category);
        }
        assert!("nope".parse::<Priority>().unwrap_err().contains("low, normal, high, urgent"));
    }
}
