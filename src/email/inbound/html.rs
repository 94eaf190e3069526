//! Plain text of an HTML mail part, as a person would read it: line breaks and paragraphs kept, quoted mail as
//! `> ` lines, no markup, no link targets, no invisible characters.
//!
//! The conversion is html2text's (an html5ever parser). Before it, one linear pass bounds what html5ever gets
//! from hostile mail: it drops comments, `<style>`, `<script>` and `<title>` content, every attribute (so no
//! `data:` images or inline styles), links, images and inline formatting tags (which also keeps html5ever's
//! "active formatting elements" from multiplying nodes), flattens nesting deeper than [`MAX_DEPTH`], and stops
//! at [`MAX_HTML_BYTES`] or [`MAX_ELEMENTS`].

use html2text::render::{TaggedLine, TextDecorator};

/// How much prepared HTML is handed to the parser; the new text of a reply is at the top, far within this.
pub const MAX_HTML_BYTES: usize = 1 << 20;

/// How many elements are passed on; html2text needs about 2 KB per element, so this bounds its memory.
pub const MAX_ELEMENTS: usize = 10_000;

/// Deepest element nesting passed on; deeper start and end tags are dropped (their text is kept).
pub const MAX_DEPTH: usize = 100;

/// Deepest `<blockquote>` nesting rendered as `> ` prefixes.
pub const MAX_QUOTE_DEPTH: usize = 20;

/// Most open elements followed one by one; deeper ones are only counted (they are all dropped anyway).
const STACK_LIMIT: usize = 4 * MAX_DEPTH;

/// How far down the open elements an end tag looks for its element; past that it is dropped (bounds the work of
/// end tags that match nothing).
const END_TAG_REACH: usize = 2 * MAX_DEPTH;

/// Render width: large enough that html2text never wraps a line a person wrote.
const WIDTH: usize = 1_000_000;

/// Elements whose content is never text for a reader.
const SKIPPED_CONTENT: &[&str] = &["style", "script", "title", "template"];

/// Elements dropped with their tags only (their text stays): links become their text, formatting disappears.
const DROPPED_TAGS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i", "img", "ins",
    "kbd", "mark", "nobr", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
    "var", "wbr", "o:p",
];

/// Elements without content (never closed), so they do not count towards the nesting depth.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param", "source", "track",
    "wbr",
];

/// Elements closed implicitly by the parser when a sibling starts; they cannot nest on their own.
const IMPLICITLY_CLOSED: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup", "caption", "colgroup",
    "rb", "rt", "rp", "html", "head", "body",
];

/// Characters mail clients and trackers hide in text: zero-width spaces and joiners, word joiner, byte-order mark,
/// soft hyphen.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// The plain text of an HTML body: `<div>` and `<br>` become line breaks, paragraphs are separated by one blank
/// line, blockquotes become `> ` lines, links keep their text only, images, styles and scripts disappear.
pub fn html_to_text(html: &str) -> String {
    let prepared = prepare(html);
    let text = html2text::config::with_decorator(Plain)
        .raw_mode(true)
        .no_table_borders()
        .no_link_wrapping()
        .link_footnotes(false)
        .string_from_read(prepared.as_bytes(), WIDTH)
        .unwrap_or_else(|_| strip_tags(&prepared));
    tidy(&text)
}

/// Lower-cased tag name at the start of `rest` (which follows `<` or `</`), with its length in bytes.
fn tag_name(rest: &str) -> (String, usize) {
    let length =
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':' || c == '_')).unwrap_or(rest.len());
    // Only ASCII characters were matched, so `length` is a character boundary.
    (rest[..length].to_ascii_lowercase(), length)
}

/// Byte offset just past the `>` that ends a tag whose attributes start at the beginning of `rest`; quotes count
/// only where a value can start (after `=`), as in the HTML tokenizer.
fn tag_end(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut index = 0;
    let mut after_equals = false;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'>' => return Some(index + 1),
            b'=' => after_equals = true,
            b'"' | b'\'' if after_equals => {
                let close = bytes.get(index + 1..)?.iter().position(|&b| b == byte)?;
                index += close + 1;
                after_equals = false;
            }
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {}
            _ => after_equals = false,
        }
        index += 1;
    }
    None
}

/// Offset of the first `</name` (any case) in `rest`, if any.
fn find_end_tag(rest: &str, name: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut from = 0;
    while let Some(found) = rest.get(from..).and_then(|tail| tail.find("</")) {
        let start = from + found;
        let name_start = start + 2;
        let candidate = bytes.get(name_start..name_start + name.len());
        if candidate.is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.as_bytes())) {
            return Some(start);
        }
        from = name_start;
    }
    None
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix_within(text: &str, max: usize) -> &str {
    let end = text.char_indices().map(|(i, c)| i + c.len_utf8()).take_while(|&end| end <= max).last().unwrap_or(0);
    text.get(..end).unwrap_or_default()
}

/// Elements that end the scope an end tag looks in (HTML's "has an element in scope"): an end tag does not close
/// anything outside the table (or object, template, foreign content) it stands in.
const SCOPE_BOUNDARIES: &[&str] = &["table", "object", "marquee", "applet", "template", "svg", "math"];

/// How many open elements down (from the innermost) the element an end tag `name` closes is, if it closes one: the
/// nearest of that name within reach and within scope. Otherwise the parser ignores it, and so do we.
fn matching_open_element(stack: &[(String, bool)], name: &str) -> Option<usize> {
    for (from_top, (open, _)) in stack.iter().rev().take(END_TAG_REACH).enumerate() {
        if open == name {
            return Some(from_top);
        }
        if SCOPE_BOUNDARIES.contains(&open.as_str()) {
            return None;
        }
    }
    None
}

/// Bounds the HTML handed to html5ever (see the module documentation). One pass, each byte looked at a bounded
/// number of times.
fn prepare(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(MAX_HTML_BYTES) + 64);
    let mut rest = html;
    // The names of the open elements (those html5ever nests), innermost last.
    // With each, whether its tags were kept: an end tag is kept exactly when its element's start tag was, so what
    // html5ever builds nests no deeper than the limits.
    let mut stack: Vec<(String, bool)> = Vec::new();
    // Open elements deeper than the stack keeps: none of them (nor their end tags) is passed on.
    let mut beyond = 0usize;
    let mut quote_depth = 0usize;
    let mut elements = 0usize;
    while !rest.is_empty() && out.len() < MAX_HTML_BYTES && elements < MAX_ELEMENTS {
        let Some(open) = rest.find('<') else {
            out.push_str(prefix_within(rest, MAX_HTML_BYTES - out.len()));
            break;
        };
        out.push_str(prefix_within(&rest[..open], MAX_HTML_BYTES - out.len()));
        rest = &rest[open..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }
        let closing = rest.starts_with("</");
        let after = &rest[if closing { 2 } else { 1 }..];
        if !after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            // A lone '<' is text.
            out.push_str("&lt;");
            rest = &rest[1..];
            continue;
        }
        let (name, name_length) = tag_name(after);
        let attributes = &after[name_length..];
        let Some(end) = tag_end(attributes) else {
            // A tag cut off by the end of the document: html5ever drops it too.
            break;
        };
        let self_closing = attributes[..end - 1].trim_end().ends_with('/');
        rest = &attributes[end..];
        let name = name.as_str();
        if SKIPPED_CONTENT.contains(&name) {
            if !closing && !self_closing {
                rest = find_end_tag(rest, name).map_or("", |at| &rest[at..]);
            }
            continue;
        }
        if DROPPED_TAGS.contains(&name) {
            continue;
        }
        if name == "hr" {
            // html2text drops rules; Outlook's text form shows one as a line of underscores before its headers.
            out.push_str("<div>________________________________</div>");
            elements += 1;
            continue;
        }
        if VOID.contains(&name) || self_closing {
            if !closing {
                out.push('<');
                out.push_str(name);
                out.push('>');
                elements += 1;
            }
            continue;
        }
        let counted = !IMPLICITLY_CLOSED.contains(&name);
        let is_quote = name == "blockquote";
        let keep = if closing {
            // An end tag closes the nearest open element of its name, as html5ever does; one that matches no
            // open element (near the top) is dropped, so stray end tags cannot hide real depth.
            let matched = counted.then(|| matching_open_element(&stack, name)).flatten();
            match matched {
                _ if counted && beyond > 0 => {
                    beyond -= 1;
                    false
                }
                Some(from_top) => {
                    let at = stack.len() - from_top - 1;
                    let keep = stack[at].1;
                    for (closed, _) in stack.drain(at..) {
                        quote_depth -= usize::from(closed == "blockquote");
                    }
                    keep
                }
                None => !counted,
            }
        } else {
            if !counted {
                true
            } else if stack.len() >= STACK_LIMIT {
                beyond += 1;
                false
            } else {
                quote_depth += usize::from(is_quote);
                let keep = stack.len() < MAX_DEPTH && (!is_quote || quote_depth <= MAX_QUOTE_DEPTH);
                stack.push((name.chars().take(32).collect(), keep));
                keep
            }
        };
        if keep {
            elements += usize::from(!closing);
            out.push_str(if closing { "</" } else { "<" });
            out.push_str(name);
            out.push('>');
        }
    }
    out
}

/// Last resort when html2text fails: the text between tags of the prepared HTML, block tags as line breaks.
fn strip_tags(prepared: &str) -> String {
    let mut out = String::with_capacity(prepared.len());
    let mut rest = prepared;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        if ["br", "div", "/div", "p", "/p", "tr", "li", "blockquote", "/blockquote"].contains(&tag) {
            out.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// No-break spaces as spaces, invisible characters gone, trailing spaces trimmed, at most one blank line in a row,
/// no blank lines at either end.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_pending = false;
    for line in text.lines() {
        let line: String =
            line.chars().filter(|&c| !is_invisible(c)).map(|c| if c == '\u{A0}' { ' ' } else { c }).collect();
        let line = line.trim_end();
        if line.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if blank_pending {
            out.push('\n');
            blank_pending = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

/// html2text decorations for mail: quotes as `> `, list items as `- ` and `1. `, nothing else (no `*bold*`, no
/// `#` headings, no link brackets, no images).
#[derive(Clone, Copy, Debug)]
struct Plain;

impl TextDecorator for Plain {
    type Annotation = ();

    fn decorate_link_start(&mut self, _url: &str) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_link_end(&mut self) -> String {
        String::new()
    }

    fn decorate_em_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_em_end(&self) -> String {
        String::new()
    }

    fn decorate_strong_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_strong_end(&self) -> String {
        String::new()
    }

    fn decorate_strikeout_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }

    fn decorate_code_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_code_end(&self) -> String {
        String::new()
    }

    fn decorate_preformat_first(&self) -> Self::Annotation {}

    fn decorate_preformat_cont(&self) -> Self::Annotation {}

    fn decorate_image(&mut self, _src: &str, _title: &str) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }

    fn quote_prefix(&self) -> String {
        "> ".to_owned()
    }

    fn unordered_item_prefix(&self) -> String {
        "- ".to_owned()
    }

    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }

    fn make_subblock_decorator(&self) -> Self {
        Plain
    }

    fn finalise(&mut self, _urls: Vec<String>) -> Vec<TaggedLine<Self::Annotation>> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn converts_a_typical_reply() {
        let html = "<html><head><style>p{color:red}</style><title>T</title></head><body><p>Hello&nbsp;<b>Besa</b>,</p>\
                    <p>We&#39;re ready &amp; <em>waiting</em>.<br>Arta</p><div>one</div><div>two</div>\
                    <blockquote><p>On Monday you wrote</p><blockquote>deeper</blockquote></blockquote>\
                    <script>x()</script></body></html>";
        assert_eq!(
            html_to_text(html),
            "Hello Besa,\n\nWe're ready & waiting.\nArta\n\none\ntwo\n\n> On Monday you wrote\n>\n> > deeper"
        );
    }

    #[test]
    fn no_decoration_links_or_images() {
        let html = "<h1>Title</h1><p><strong>bold</strong> <i>it</i> <u>u</u> <code>c</code> \
                    <a href=\"https://x.example/very/long\">the link</a> <img src=\"data:image/png;base64,AAAA\" \
                    alt=\"logo\"></p><ul><li>one</li><li>two</li></ul>";
        let text = html_to_text(html);
        assert_eq!(text, "Title\n\nbold it u c the link\n- one\n- two");
    }

    #[test]
    fn invisible_characters_and_nbsp() {
        let html = "<div>a\u{200B}b\u{FEFF}c\u{00AD}d\u{2060}e\u{200C}\u{200D}</div><div>x\u{A0}y&nbsp;&nbsp;</div>\
                    <div></div><div></div><div>z</div>";
        assert_eq!(html_to_text(html), "abcde\nx y\nz");
    }

    #[test]
    fn long_lines_are_not_wrapped() {
        let line = "word ".repeat(2_000);
        assert_eq!(html_to_text(&format!("<p>{line}</p>")), line.trim_end());
    }

    #[test]
    fn rules_become_a_delimiter_line() {
        let html = "<div>Thanks</div><hr style=\"width:98%\"><div><b>From:</b> civicdesk</div>";
        assert_eq!(html_to_text(html), "Thanks\n________________________________\nFrom: civicdesk");
    }

    #[test]
    fn hostile_markup_never_panics() {
        for html in [
            "",
            "<",
            "</",
            "<<<>>>",
            "<a",
            "<a href=\"",
            "<!--",
            "<!-- x",
            "<style>",
            "<script>x",
            "</style>",
            "<div title='>'>x</div>",
            "a < b > c",
            "<x y=\"\u{1F600}>\">é",
            "<\u{1F600}>",
            "&#xFFFFFF; &#0; &",
            "<table><tr><td>a<td>b</table>",
            "<p><p><p>",
            "<svg><style>x</style></svg>y",
            "<!doctype html><p>z",
        ] {
            let _ = html_to_text(html);
        }
        assert_eq!(html_to_text("<div title='>'>x</div>"), "x");
        assert_eq!(html_to_text("a < b > c"), "a < b > c");
    }

    fn time<F: FnOnce() -> String>(what: &str, f: F) -> String {
        let start = Instant::now();
        let text = f();
        let elapsed = start.elapsed();
        println!("{what}: {elapsed:?}");
        assert!(elapsed < Duration::from_secs(10), "{what} took {elapsed:?}");
        text
    }

    #[test]
    fn deep_nesting_is_flattened() {
        for tag in ["blockquote", "div", "table", "section", "x-y", "ul", "font", "b"] {
            let html = format!("{}deep{}", format!("<{tag}>").repeat(10_000), format!("</{tag}>").repeat(10_000));
            let text = time(tag, || html_to_text(&html));
            assert!(text.ends_with("deep"), "{tag}: {:?}", text.chars().rev().take(50).collect::<String>());
            // Nested lists indent; anything else is flat.
            assert!(text.len() < 1_000, "{tag}: {} bytes", text.len());
        }
        let quoted = html_to_text(&format!("{}deep", "<blockquote>".repeat(10_000)));
        assert_eq!(quoted, format!("{}deep", "> ".repeat(MAX_QUOTE_DEPTH)));
        let unclosed = format!("{}<p>x", "<div><span><table><td>".repeat(5_000));
        assert_eq!(time("unclosed", || html_to_text(&unclosed)), "x");
        // End tags that close nothing must not let the real depth grow past the limits.
        let stray = format!("{}deep\n{}", "<div></x>".repeat(20_000), "<pre>a\nb\n</pre>".repeat(2_000));
        let text = time("stray end tags", || html_to_text(&stray));
        assert!(text.contains("deep"));
        let stray_quotes = format!("{}deep", "<blockquote><table><td></blockquote>".repeat(5_000));
        let text = time("stray quote ends", || html_to_text(&stray_quotes));
        assert!(text.ends_with("deep") && text.len() < 2_000, "{} bytes", text.len());
        assert_eq!(text, format!("{}deep", "> ".repeat(MAX_QUOTE_DEPTH)));
        // An end tag closing an element far below the innermost one must not leave kept elements open.
        let round = format!("{}{}</div>", "<div>".repeat(50), "<section>".repeat(100));
        let rounds = format!("{}<blockquote>deep", round.repeat(400));
        let text = time("deep end tags", || html_to_text(&rounds));
        assert!(text.ends_with("deep") && text.len() < 1_000, "{} bytes", text.len());
    }

    #[test]
    fn ten_megabytes_in_bounded_time() {
        let paragraph = "<p style=\"margin:0\">Lorem ipsum <b>dolor</b> sit amet, <a href=\"https://x.example/\">\
                         link</a> consectetur.</p><div><br></div>\n";
        let html = paragraph.repeat(10 * 1024 * 1024 / paragraph.len());
        let text = time("10 MB of paragraphs", || html_to_text(&html));
        assert!(text.starts_with("Lorem ipsum dolor sit amet, link consectetur."));
        let styles = "<style>p{}</style>x".repeat(500_000);
        time("500k style tags", || html_to_text(&styles));
        let formatting = format!("{}{}", "<b><i><u><s><font><em><strong>".repeat(100), "<p>x".repeat(300_000));
        time("formatting reconstruction", || html_to_text(&formatting));
        let one_line = "x".repeat(5 * 1024 * 1024);
        time("one long word", || html_to_text(&one_line));
        let open_angles = "<".repeat(5 * 1024 * 1024);
        time("angles", || html_to_text(&open_angles));
        let attributes = format!("<div {}>x</div>", "a=\"b\" ".repeat(1_000_000));
        time("attributes", || html_to_text(&attributes));
    }
}
