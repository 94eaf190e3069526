//! The layering of `docs/ARCHITECTURE.md`, checked on the source: data flows routes -> domain -> models, `email`
//! hands the domain parsed values and the domain never calls back, and the shared vocabulary depends on nothing.
//!
//! The check reads every `.rs` file under a layer's directory and looks at each `crate::<module>` path in its code
//! (`use` lines, grouped `use crate::{a, b}`, paths inside expressions); comments, doc comments and string
//! literals are not code and are skipped.

use std::path::{Path, PathBuf};

/// What the files under one directory of `src/` may name of the crate.
struct Rule {
    /// The directory, relative to `src/`.
    dir: &'static str,
    /// What this layer is, for the failure message.
    why: &'static str,
    /// Which top-level modules of the crate it may or may not name.
    modules: Modules,
}

enum Modules {
    /// Any module but these.
    Forbidden(&'static [&'static str]),
    /// Only these.
    Allowed(&'static [&'static str]),
}

/// What sits above the domain and the models: the ways in and the process around them.
const ABOVE_THE_DOMAIN: &[&str] = &[
    "email",
    "webhooks",
    "routes",
    "views",
    "error",
    "metrics",
    "telemetry",
    "config",
    "startup",
    "commands",
    "cli",
    "escalation",
];

const RULES: &[Rule] = &[
    Rule {
        dir: "domain",
        why: "the domain decides; it is called by routes and email, and never calls back into them",
        modules: Modules::Forbidden(ABOVE_THE_DOMAIN),
    },
    Rule {
        dir: "models",
        why: "models store; they are called by the domain and know nothing above it",
        modules: Modules::Forbidden(&[
            "domain",
            "email",
            "routes",
            "config",
            "startup",
            "commands",
            "cli",
            "escalation",
            "views",
            "error",
            "metrics",
            "telemetry",
        ]),
    },
    Rule {
        dir: "email",
        why: "mail hands the domain parsed values; HTTP and its errors are the routes' business",
        modules: Modules::Forbidden(&["routes", "views", "error", "startup", "commands", "cli"]),
    },
    Rule {
        dir: "vocabulary",
        why: "the vocabulary is the leaf every layer shares",
        modules: Modules::Allowed(&["vocabulary", "text_enum"]),
    },
];

#[test]
fn every_layer_names_only_what_is_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for rule in RULES {
        let files = rust_files(&src.join(rule.dir));
        assert!(!files.is_empty(), "no source files under src/{}: the rule checks nothing", rule.dir);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
            for (line, module) in crate_modules(&text) {
                let breaks = match rule.modules {
                    Modules::Forbidden(forbidden) => forbidden.contains(&module.as_str()),
                    Modules::Allowed(allowed) => !allowed.contains(&module.as_str()),
                };
                if breaks {
                    let shown = file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&file).display().to_string();
                    violations.push(format!("{shown}:{line}: names crate::{module} ({})", rule.why));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layering broken:\n{}", violations.join("\n"));
}

#[test]
fn the_check_sees_code_and_only_code() {
    let text = "use crate::email::reply_token::ReplyToken;\n\
                // crate::routes in a comment\n\
                /// [`crate::routes`] in a doc link\n\
                use crate::{db, models::{Ticket, User}};\n\
                let a = \"crate::routes in a string\"; let b = crate::config::EMBEDDED_DATABASE;\n\
                /* crate::routes /* nested */ crate::routes */ let c = r#\"crate::routes\"#;\n\
                let d = '\"'; let e = crate::startup::shutdown_signal; fn f<'a>(x: &'a str) { self::crate_like(x) }\n\
                let g = $crate::text_enum!{};\n";
    let found: Vec<(usize, String)> = crate_modules(text);
    let expected = [(1, "email"), (4, "db"), (4, "models"), (5, "config"), (7, "startup"), (8, "text_enum")];
    assert_eq!(found, expected.map(|(line, module)| (line, module.to_owned())));
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level crate modules that the code of `text` names, with the line of each (from 1).
fn crate_modules(text: &str) -> Vec<(usize, String)> {
    let code = code_only(text);
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(offset) = code[search..].find("crate::") {
        let start = search + offset;
        search = start + "crate::".len();
        // `crate` as a whole word (`$crate` too), not the end of another identifier.
        if code[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        let rest = &code[search..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..closing_brace(group)];
                for item in top_level_items(group) {
                    found.push((line, item));
                }
            }
            None => found.push((line, identifier(rest).to_owned())),
        }
    }
    found.retain(|(_, module)| !module.is_empty() && module != "self");
    found
}

/// The identifier at the start of `text`.
fn identifier(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// Where the brace that closes a group opened just before `text` is (the end of `text` if none).
fn closing_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

/// The first segment of each item of a `use` group: `db, models::{Ticket, User}` gives `db` and `models`.
fn top_level_items(group: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut at_item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && depth == 0 && !c.is_whitespace() => {
                at_item_start = false;
                items.push(identifier(&group[i..]).to_owned());
            }
            _ => {}
        }
    }
    items
}

/// `text` with comments, string and character literals blanked out (newlines kept, so lines still count).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                code.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    code.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    code.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    code.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && starts_literal(&chars, i) {
            // A raw string: r"...", r#"..."#, br"...", ...
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                code.push(c);
                i += 1;
                continue;
            }
            let closing: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let mut j = i + 2 + hashes;
            while j < chars.len() && !chars[j..].starts_with(&closing) {
                j += 1;
            }
            let end = (j + closing.len()).min(chars.len());
            code.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '"' {
            code.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    code.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    code.push(blank(chars[i]));
                    i += 1;
                }
            }
            code.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\''), not a lifetime ('a).
            let mut j = i + 1;
            if chars.get(j) == Some(&'\\') {
                j += 1;
            }
            j += 1;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            code.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else {
            code.push(c);
            i += 1;
        }
    }
    code
}

/// Whether the `r` at `i` starts a raw string rather than continuing an identifier (a `b` before it is the prefix
/// of a raw byte string).
fn starts_literal(chars: &[char], i: usize) -> bool {
    let continues = |i: usize| i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    !continues(i) || (chars[i - 1] == 'b' && !continues(i - 1))
}
