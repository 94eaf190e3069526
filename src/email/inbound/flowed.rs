//! Undoing RFC 3676 `format=flowed`: clients that send it break long paragraphs into soft lines ending in a space,
//! which we join again so that a paragraph is one line, as the person typed it.
//!
//! Written here because no maintained crate undoes it (mailparse decodes transfer encodings and charsets, not
//! RFC 3676); it is one linear pass over lines.

/// Joins the soft-broken lines of a `format=flowed` text part. A line ending in a space continues on the next line
/// of the same quote depth (with `delsp`, that space is deleted when joining). Quote marks (`>`) are written as
/// `> ` per level, space-stuffing is removed (but kept before a literal `>`, which would otherwise read as a
/// quote), and the signature separator `-- ` is never a soft break.
pub fn decode(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    // The paragraph being joined: its quote depth and text so far.
    let mut open: Option<(usize, String)> = None;
    let mut lines = text.split('\n').peekable();
    while let Some(raw) = lines.next() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if lines.peek().is_none() && raw.is_empty() {
            // The text ended with a line break: nothing follows it.
            break;
        }
        let content = raw.trim_start_matches('>');
        // Only '>' characters were trimmed, one byte each.
        let depth = raw.len() - content.len();
        // Space-stuffing is removed, except before a '>' that is text: that space is all that tells it from a
        // quote mark, so it stays for the reply stripper (which takes only a '>' in the first column as a quote).
        let content = match content.strip_prefix(' ') {
            Some(unstuffed) if depth > 0 || !unstuffed.starts_with('>') => unstuffed,
            _ => content,
        };
        let signature = content == "-- ";
        let flowed = !signature && content.ends_with(' ');
        match open.take() {
            Some((open_depth, mut paragraph)) if open_depth == depth => {
                paragraph.push_str(content);
                open = Some((depth, paragraph));
            }
            Some((open_depth, paragraph)) => {
                // A soft break followed by another quote depth is a hard break after all (RFC 3676 4.5).
                write_line(&mut out, open_depth, &paragraph);
                open = Some((depth, content.to_owned()));
            }
            None => open = Some((depth, content.to_owned())),
        }
        if let Some((depth, paragraph)) = open.take() {
            if flowed {
                let mut paragraph = paragraph;
                if delsp {
                    paragraph.pop();
                }
                open = Some((depth, paragraph));
            } else {
                write_line(&mut out, depth, &paragraph);
            }
        }
    }
    if let Some((depth, paragraph)) = open {
        write_line(&mut out, depth, &paragraph);
    }
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

fn write_line(out: &mut String, depth: usize, content: &str) {
    for _ in 0..depth {
        out.push_str("> ");
    }
    if content.is_empty() && depth > 0 {
        out.pop();
    }
    out.push_str(content);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_soft_breaks() {
        let text = "`Take it from me,` said the cat, \r\n`that the mouse is not \r\nhere.`\r\n\r\nNext paragraph.\r\n";
        assert_eq!(
            decode(text, false),
            "`Take it from me,` said the cat, `that the mouse is not here.`\n\nNext paragraph.\n"
        );
    }

    #[test]
    fn delsp_deletes_the_soft_break_space() {
        // RFC 3676 4.2: with DelSp=yes a break can fall inside a word.
        assert_eq!(decode("Supercalifragi \nlistic\n", true), "Supercalifragilistic\n");
        assert_eq!(decode("one two \nthree\n", false), "one two three\n");
    }

    #[test]
    fn quotes_join_only_at_the_same_depth() {
        // RFC 3676 4.5: a flowed line followed by a line of another depth is ended there.
        let text = ">> Exit, pursued \n>> by a bear. \n> Enter \n>Antigonus.\nNo quote \n>quoted\n";
        assert_eq!(decode(text, false), "> > Exit, pursued by a bear. \n> Enter Antigonus.\nNo quote \n> quoted\n");
        assert_eq!(decode(">\n> \n>>\n", false), ">\n>\n> >\n");
    }

    #[test]
    fn space_stuffing_is_removed() {
        // RFC 3676 4.4: lines starting with a space, "From " or ">" are stuffed with one space.
        assert_eq!(decode("  indented\n From here\n >not a quote\n", false), " indented\nFrom here\n >not a quote\n");
    }

    #[test]
    fn the_signature_separator_is_a_hard_break() {
        let text = "Thanks, \nArta\n-- \nArta Morina \nGreen Valley\n";
        assert_eq!(decode(text, false), "Thanks, Arta\n-- \nArta Morina Green Valley\n");
        assert_eq!(decode("> -- \n> sig\n", true), "> -- \n> sig\n");
    }

    #[test]
    fn odd_input() {
        assert_eq!(decode("", false), "");
        assert_eq!(decode("no newline", false), "no newline");
        assert_eq!(decode("trailing soft ", false), "trailing soft ");
        assert_eq!(decode("\r\n\r\n", false), "\n\n");
        assert_eq!(decode(">>>>é \n>>>>ü", true), "> > > > éü");
    }
}
