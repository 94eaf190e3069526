//! What the service accepts as a file: a cleaned name, a type decided from the content (magic bytes, the `infer`
//! crate) rather than from the sender's claim, and a policy that refuses executables and scripts.
//!
//! The default policy refuses programs by their content (Windows, Linux and macOS executables, Java classes,
//! Android code, shell scripts) and, whatever the content, by name or claimed type: `.exe`, `.bat`, `.js`, `.vbs`,
//! `.ps1`, `.scr`, `.jar`, macro-enabled Office files (`.docm`, `.xlsm`, ...) and the like. `ATTACHMENT_ALLOWED_TYPES`
//! replaces the policy with an allow-list (media types, `type/*`, or `.extensions`): it can narrow it (only PDF
//! and images) or widen it (executables for a programme that must exchange them).

use std::collections::BTreeSet;

/// The longest file name kept, in characters.
pub const NAME_MAX: usize = 200;

/// The types decided by content that are programs.
const PROGRAM_TYPES: &[&str] = &[
    "application/vnd.microsoft.portable-executable",
    "application/x-executable",
    "application/x-mach-binary",
    "application/java",
    "application/java-archive",
    "application/vnd.android.dex",
    "application/vnd.android.dey",
    "application/x-msdownload",
    "application/x-msi",
    "application/x-sh",
    "text/x-shellscript",
    "application/wasm",
];

/// Extensions of programs, scripts and macro-enabled documents, refused whatever the content looks like.
const PROGRAM_EXTENSIONS: &[&str] = &[
    "exe", "com", "scr", "pif", "cpl", "msi", "msp", "dll", "sys", "bat", "cmd", "js", "jse", "mjs", "vbs", "vbe",
    "wsf", "wsh", "hta", "ps1", "psm1", "psd1", "sh", "bash", "jar", "class", "apk", "app", "lnk", "reg", "inf", "scf",
    "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm", "ppam", "sldm",
];

/// Claimed types of programs and scripts.
const PROGRAM_CLAIMS: &[&str] = &[
    "application/javascript",
    "text/javascript",
    "application/x-javascript",
    "text/vbscript",
    "application/x-bat",
    "application/x-msdos-program",
    "application/hta",
    "application/vnd.ms-word.document.macroenabled.12",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12",
];

/// The type an allow-list names to accept Office documents with macros.
pub const MACRO_TYPE: &str = "application/vnd.ms-office.vbaproject";

/// Whether an Office document carries macros: an OOXML package (a zip) with a `vbaProject.bin` entry (zip keeps
/// entry names uncompressed), or an older Office file (OLE) with a `_VBA_PROJECT` stream.
fn has_macros(data: &[u8]) -> bool {
    let contains = |needle: &[u8]| data.windows(needle.len()).any(|window| window == needle);
    let zip = data.starts_with(b"PK\x03\x04");
    let ole = data.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1");
    (zip && contains(b"vbaProject.bin"))
        || (ole && contains("_VBA_PROJECT".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<_>>().as_slice()))
}

/// Cleans a file name for display and for a `Content-Disposition` header: no path, no control characters, no
/// bidirectional overrides or invisible marks (which can disguise `gpj.exe` as `exe.jpg`), no quotes or
/// backslashes, no leading dots, at most [`NAME_MAX`] characters; `attachment` when nothing is left.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let kept: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c) && !matches!(c, '"' | '\\'))
        .take(NAME_MAX)
        .collect();
    // No leading dot (a hidden file), no trailing dots or spaces (Windows drops them: `run.js.` is `run.js`).
    let trimmed = kept.trim().trim_start_matches('.').trim_end_matches(['.', ' ']).trim();
    match trimmed {
        "" => "attachment".to_owned(),
        name => name.to_owned(),
    }
}

/// Bidirectional controls and zero-width marks.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// The lower-case extension of a (cleaned) file name, if it has one.
fn extension(name: &str) -> Option<String> {
    let (stem, extension) = name.rsplit_once('.')?;
    (!stem.is_empty() && !extension.is_empty()).then(|| extension.to_lowercase())
}

/// The type of `data`, decided from its content: a known signature's type; for text (UTF-8 without NUL bytes)
/// the sender's `text/...` claim, or `text/plain`; otherwise `application/octet-stream`.
pub fn sniff(data: &[u8], claimed: &str) -> String {
    if let Some(kind) = infer::get(data) {
        return kind.mime_type().to_owned();
    }
    let claimed = claimed.trim().to_ascii_lowercase();
    let text = !data.contains(&0) && std::str::from_utf8(data).is_ok();
    match text {
        true if claimed.starts_with("text/") && claimed.len() <= 100 => claimed,
        true => "text/plain".to_owned(),
        false => "application/octet-stream".to_owned(),
    }
}

/// One entry of an allow-list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Allowed {
    /// `application/pdf`.
    Type(String),
    /// `image/*`.
    Family(String),
    /// `.pdf`.
    Extension(String),
}

/// Which files are accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePolicy {
    /// `None`: everything but programs and scripts. Otherwise only what the list names.
    allowed: Option<BTreeSet<Allowed>>,
}

/// Why a file is refused, for the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} is refused: {reason}")]
pub struct Refused {
    /// The file's (cleaned) name.
    pub name: String,
    /// Why.
    pub reason: String,
}

impl FilePolicy {
    /// The policy of `ATTACHMENT_ALLOWED_TYPES`: empty for the default; otherwise a comma-separated list of media
    /// types (`application/pdf`), families (`image/*`) and extensions (`.docx`).
    pub fn parse(list: &str) -> Result<FilePolicy, String> {
        let mut allowed = BTreeSet::new();
        for item in list.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let item = item.to_ascii_lowercase();
            let entry = if let Some(extension) = item.strip_prefix('.') {
                Allowed::Extension(extension.to_owned())
            } else if let Some((family, "*")) = item.split_once('/') {
                Allowed::Family(family.to_owned())
            } else if item.split_once('/').is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty()) {
                Allowed::Type(item)
            } else {
                return Err(format!("{item:?} is not a media type (type/subtype or type/*) nor an extension (.ext)"));
            };
            allowed.insert(entry);
        }
        Ok(FilePolicy { allowed: (!allowed.is_empty()).then_some(allowed) })
    }

    /// Checks a file with this (cleaned) name, claimed type, sniffed type and content.
    pub fn check(&self, name: &str, claimed: &str, sniffed: &str, data: &[u8]) -> Result<(), Refused> {
        let extension = extension(name);
        let refuse = |reason: String| Err(Refused { name: name.to_owned(), reason });
        let listed_type =
            |kind: &str| self.allowed.as_ref().is_some_and(|allowed| allowed.contains(&Allowed::Type(kind.to_owned())));
        // Programs and macros, by content, whatever the list says unless it names their type itself.
        if PROGRAM_TYPES.contains(&sniffed) && !listed_type(sniffed) {
            return refuse(format!("its content is a program ({sniffed})"));
        }
        if has_macros(data) && !listed_type(MACRO_TYPE) {
            return refuse("it is an Office document with macros".to_owned());
        }
        match &self.allowed {
            None => {
                if let Some(extension) = extension.filter(|e| PROGRAM_EXTENSIONS.contains(&e.as_str())) {
                    return refuse(format!("files ending in .{extension} can carry programs or macros"));
                }
                let claimed = claimed.trim().to_ascii_lowercase();
                if PROGRAM_CLAIMS.contains(&claimed.as_str()) {
                    return refuse(format!("it is sent as {claimed}, a program or a macro-enabled document"));
                }
                Ok(())
            }
            Some(allowed) => {
                let family = sniffed.split('/').next().unwrap_or_default();
                let listed = allowed.iter().any(|entry| match entry {
                    Allowed::Type(kind) => kind == sniffed,
                    Allowed::Family(wanted) => wanted == family,
                    Allowed::Extension(wanted) => extension.as_deref() == Some(wanted.as_str()),
                });
                match listed {
                    true => Ok(()),
                    false => refuse(format!("{sniffed} files are not among the accepted types")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00PE\x00\x00";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n";

    #[test]
    fn names_lose_paths_controls_bidi_overrides_and_length() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\x\\budžet \"2026\".xlsx"), "budžet 2026.xlsx");
        assert_eq!(clean_name("a\u{0}b\r\n.pdf"), "ab.pdf");
        assert_eq!(clean_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe", "a right-to-left override is removed");
        assert_eq!(clean_name("\u{2066}statut\u{200B}.pdf\u{2069}"), "statut.pdf");
        assert_eq!(clean_name("..hidden"), "hidden");
        assert_eq!(clean_name("run.js. . "), "run.js");
        assert_eq!(clean_name("/"), "attachment");
        assert_eq!(clean_name(&"ё".repeat(500)).chars().count(), NAME_MAX);
    }

    #[test]
    fn the_type_comes_from_the_content() {
        assert_eq!(sniff(PDF, "image/png"), "application/pdf");
        assert_eq!(sniff(EXE, "application/pdf"), "application/vnd.microsoft.portable-executable");
        assert_eq!(sniff(b"col1;col2\r\n1;2\r\n", "text/csv"), "text/csv");
        assert_eq!(sniff(b"plain words", "application/pdf"), "text/plain");
        assert_eq!(sniff(b"\x00\x01\x02binary", "text/plain"), "application/octet-stream");
    }

    #[test]
    fn programs_are_refused_by_content_name_or_claim() {
        let policy = FilePolicy::default();
        assert!(policy.check("statut.pdf", "application/pdf", "application/pdf", PDF).is_ok());
        let renamed = policy.check("statut.pdf", "application/pdf", &sniff(EXE, "application/pdf"), EXE).unwrap_err();
        assert!(renamed.reason.contains("program"), "{renamed}");
        for name in ["run.bat", "x.JS", "a.vbs", "b.ps1", "c.scr", "d.jar", "budget.xlsm", "letter.docm"] {
            assert!(policy.check(name, "text/plain", "text/plain", b"text").is_err(), "{name}");
        }
        assert!(policy.check("notes.txt", "application/javascript", "text/plain", b"x").is_err());
    }

    #[test]
    fn office_documents_with_macros_are_refused_by_content() {
        let mut docm = b"PK\x03\x04\x14\x00".to_vec();
        docm.extend_from_slice(b"....word/vbaProject.bin....");
        let policy = FilePolicy::default();
        let refused = policy.check("budget.docx", "", "application/zip", &docm).unwrap_err();
        assert!(refused.reason.contains("macros"), "{refused}");
        assert!(policy.check("budget.docx", "", "application/zip", b"PK\x03\x04word/document.xml").is_ok());
    }

    #[test]
    fn an_allow_list_narrows_or_widens() {
        let narrow = FilePolicy::parse("application/pdf, image/*").unwrap();
        assert!(narrow.check("a.pdf", "", "application/pdf", PDF).is_ok());
        assert!(narrow.check("a.png", "", "image/png", b"").is_ok());
        assert!(narrow.check("a.docx", "", "application/zip", b"PK").is_err());
        let by_name = FilePolicy::parse(".pdf").unwrap();
        assert!(by_name.check("x.pdf", "", "application/vnd.microsoft.portable-executable", EXE).is_err());
        let wide = FilePolicy::parse("application/vnd.microsoft.portable-executable").unwrap();
        assert!(wide.check("tool.exe", "", "application/vnd.microsoft.portable-executable", EXE).is_ok());
        assert!(FilePolicy::parse("pdf").is_err());
        assert_eq!(FilePolicy::parse(" , ").unwrap(), FilePolicy::default());
    }
}
