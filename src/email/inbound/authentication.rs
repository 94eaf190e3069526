//! `Authentication-Results` (RFC 8601): what our own MTA concluded about a message's sender. Only headers with the
//! MTA's authserv-id count (the MTA must drop or rename such headers arriving from outside, as RFC 8601 section 5
//! requires); a DMARC pass for the `From:` domain, or a DKIM pass whose signing domain is aligned with it, means
//! the `From:` domain is authentic; a DMARC fail for it means the mail is most likely forged.
//!
//! Written here because no small maintained crate reads the header alone (`mail-auth` verifies DKIM, SPF and DMARC
//! itself and brings a resolver); it reads at most 20 such headers, each in linear passes, with no recursion.

use crate::domain::inbound::SenderVerdict;

/// Text without RFC 5322 comments (`(...)`, nested, with `\` escapes), in one linear pass.
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    let mut quoted = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Splits `text` at `separator` where it is not inside a quoted string (`"a;b"` stays whole), in one pass.
fn split_unquoted(text: &str, separator: fn(char) -> bool) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if !quoted && separator(c) => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|part| !part.trim().is_empty()).collect()
}

/// Whether `signer` is aligned with `from` in the relaxed sense: the same domain, or one a subdomain of the other.
fn aligned(signer: &str, from: &str) -> bool {
    let signer = signer.trim().trim_end_matches('.').to_ascii_lowercase();
    let from = from.trim().trim_end_matches('.').to_ascii_lowercase();
    !signer.is_empty()
        && signer.contains('.')
        && (signer == from || from.ends_with(&format!(".{signer}")) || signer.ends_with(&format!(".{from}")))
}

/// What one result (`dkim=pass header.d=example.org ...`) says about `from_domain`.
fn judge(result: &str, from_domain: &str) -> SenderVerdict {
    // Words outside quoted strings: a quoted value (a local part, say) cannot pose as a result or a property.
    let words = split_unquoted(result, char::is_whitespace);
    let Some((method, outcome)) = words.first().and_then(|w| w.split_once('=')) else {
        return SenderVerdict::Unknown;
    };
    let method = method.split('/').next().unwrap_or_default().to_ascii_lowercase();
    let outcome = outcome.to_ascii_lowercase();
    let property = |name: &str| {
        words.iter().skip(1).find_map(|word| {
            let (key, value) = word.split_once('=')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim_matches('"').to_owned())
        })
    };
    match (method.as_str(), outcome.as_str()) {
        // A DMARC verdict counts for the domain it names; one that names none counts for nothing.
        ("dmarc", "pass" | "fail") if property("header.from").is_some_and(|d| d.eq_ignore_ascii_case(from_domain)) => {
            if outcome == "pass" {
                SenderVerdict::Authenticated
            } else {
                SenderVerdict::Failed
            }
        }
        ("dkim", "pass") => {
            let signer = property("header.d")
                .or_else(|| property("header.i").and_then(|i| i.rsplit_once('@').map(|(_, d)| d.to_owned())));
            if signer.is_some_and(|signer| aligned(&signer, from_domain)) {
                SenderVerdict::Authenticated
            } else {
                SenderVerdict::Unknown
            }
        }
        _ => SenderVerdict::Unknown,
    }
}

/// What our MTA (`authserv_id`) concluded about `from_domain`: authenticated when it reported a DMARC pass for it
/// or a DKIM pass aligned with it, failed when it reported a DMARC fail for it (and nothing authenticated it).
pub fn verdict(headers: &[(String, String)], authserv_id: &str, from_domain: &str) -> SenderVerdict {
    if from_domain.is_empty() || authserv_id.is_empty() {
        return SenderVerdict::Unknown;
    }
    let mut verdict = SenderVerdict::Unknown;
    for (_, value) in headers.iter().filter(|(name, _)| name == "authentication-results").take(20) {
        let value = without_comments(value);
        let parts = split_unquoted(&value, |c| c == ';');
        let id = parts.first().and_then(|first| first.split_whitespace().next()).unwrap_or_default();
        if !id.eq_ignore_ascii_case(authserv_id) {
            continue;
        }
        for result in parts.iter().skip(1) {
            match judge(result, from_domain) {
                SenderVerdict::Authenticated => return SenderVerdict::Authenticated,
                SenderVerdict::Failed => verdict = SenderVerdict::Failed,
                SenderVerdict::Unknown => {}
            }
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain_authenticated(headers: &[(String, String)], authserv_id: &str, from_domain: &str) -> bool {
        verdict(headers, authserv_id, from_domain) == SenderVerdict::Authenticated
    }

    fn results(values: &[&str]) -> Vec<(String, String)> {
        values.iter().map(|v| ("authentication-results".to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn trusts_only_our_mta_and_only_aligned_passes() {
        let ours = "mx.desk.example.org";
        let dmarc = results(&[
            "mx.desk.example.org; spf=pass smtp.mailfrom=example.org; dmarc=pass (p=reject) header.from=example.org",
        ]);
        assert!(domain_authenticated(&dmarc, ours, "example.org"));
        assert!(!domain_authenticated(&dmarc, ours, "other.org"), "DMARC for another domain");
        assert!(!domain_authenticated(&dmarc, "mx.elsewhere.org", "example.org"), "another MTA's header");
        let dkim = results(&["mx.desk.example.org 1; dkim=pass (2048-bit key) header.d=mail.example.org header.s=s1"]);
        assert!(domain_authenticated(&dkim, ours, "example.org"));
        let unaligned =
            results(&["mx.desk.example.org; dkim=pass header.d=attacker.net; dmarc=fail header.from=example.org"]);
        assert!(!domain_authenticated(&unaligned, ours, "example.org"));
        let failed =
            results(&["mx.desk.example.org; dkim=fail header.d=example.org; dmarc=none header.from=example.org"]);
        assert!(!domain_authenticated(&failed, ours, "example.org"));
        let comment =
            results(&["mx.desk.example.org (dmarc=pass header.from=example.org); dmarc=fail header.from=example.org"]);
        assert!(!domain_authenticated(&comment, ours, "example.org"), "a verdict inside a comment is no verdict");
        assert!(!domain_authenticated(&results(&["((((((; \\"]), ours, "example.org"));
        let quoted = results(&[
            "mx.desk.example.org; spf=pass smtp.mailfrom=\"x;dkim=pass header.d=example.org\"@evil.example; dkim=none",
        ]);
        assert!(!domain_authenticated(&quoted, ours, "example.org"), "a quoted value poses as a result");
        let failed_dmarc = results(&["mx.desk.example.org; spf=fail; dmarc=fail (p=none) header.from=example.org"]);
        assert_eq!(verdict(&failed_dmarc, ours, "example.org"), SenderVerdict::Failed);
        assert_eq!(verdict(&failed_dmarc, ours, "other.org"), SenderVerdict::Unknown);
        let bare = results(&["mx.desk.example.org; dmarc=pass"]);
        assert!(!domain_authenticated(&bare, ours, "example.org"), "a DMARC pass naming no domain");
    }
}
