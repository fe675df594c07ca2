//! The plain-text reading of a rendered HTML body, for a message sent without a text
//! part: an email's `text/plain` alternative (what watches, screen readers and previews
//! show) and an in-app body. Not an HTML renderer: block elements end
//! lines, table cells and list items stay apart, a link keeps its address, `<script>`,
//! `<style>`, `<head>` and comments are dropped, character references are decoded
//! (HTML 4's names, every number), runs of blank space fold (`<pre>` keeps its lines), and
//! a tag never closed ends the text (as in a browser). One pass,
//! linear in the input. Small enough not to bring an HTML parser into the send path.

mod entities;

/// Elements whose content is no text at all.
const SKIPPED: [&str; 4] = ["script", "style", "head", "title"];
/// Elements that start and end a line of their own.
const BLOCKS: [&str; 24] = [
    "p",
    "div",
    "br",
    "hr",
    "tr",
    "table",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "dl",
    "dt",
    "dd",
];

/// The text of `html`, line by line (see the module).
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    // An `<a href>` whose address is shown after its text when that text is not the address.
    let mut link: Option<(String, usize)> = None;
    // How many `<pre>` the text is inside.
    let mut pre = 0usize;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt], pre > 0);
        rest = &rest[lt..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            // `<!-->` and `<!--->` close at once (HTML's abrupt empty comments).
            rest = if let Some(after) = comment.strip_prefix('>') {
                after
            } else if let Some(after) = comment.strip_prefix("->") {
                after
            } else {
                comment.find("-->").map_or("", |end| &comment[end + 3..])
            };
            continue;
        }
        let end = match tag_end(rest) {
            Tag::EndsAt(end) => end,
            Tag::Text => {
                push_text(&mut out, "<", false);
                rest = &rest[1..];
                continue;
            }
            Tag::Unclosed => {
                rest = "";
                break;
            }
        };
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !closing && SKIPPED.contains(&name.as_str()) {
            let close = format!("</{name}");
            rest = find_ascii_ci(rest, &close).map_or("", |at| {
                rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..])
            });
            continue;
        }
        if name == "pre" {
            pre = if closing {
                pre.saturating_sub(1)
            } else {
                pre + 1
            };
        }
        if name == "a" {
            if closing {
                if let Some((href, start)) = link.take() {
                    let shown = out[start..].trim();
                    if !href.is_empty() && shown != href && !shown.is_empty() {
                        out.push_str(&format!(" ({href})"));
                    }
                }
            } else {
                link = attribute(tag, "href").map(|h| (decode(&h), out.len()));
            }
            continue;
        }
        // Table cells side by side: apart by a space at least.
        if matches!(name.as_str(), "td" | "th") && !out.ends_with([' ', '\n']) && !out.is_empty() {
            out.push(' ');
        }
        if BLOCKS.contains(&name.as_str()) {
            end_line(&mut out);
            if name == "li" && !closing {
                out.push_str("- ");
            }
        }
    }
    push_text(&mut out, rest, pre > 0);
    tidy(&out)
}

/// What follows a `<`.
enum Tag {
    /// Not a tag (`1 < 2`): the `<` is text.
    Text,
    /// A tag no `>` closes before the end: dropped with everything after it, as a
    /// browser does (and scanned once, so a body of unclosed `<a` stays linear).
    Unclosed,
    /// A tag ending at this byte (its `>`).
    EndsAt(usize),
}

/// Where the tag starting at `s[0] == '<'` ends, quotes respected.
fn tag_end(s: &str) -> Tag {
    let Some(next) = s[1..].chars().next() else {
        return Tag::Text;
    };
    if !(next.is_ascii_alphabetic() || next == '/' || next == '!') {
        return Tag::Text;
    }
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Tag::EndsAt(i),
            _ => {}
        }
    }
    Tag::Unclosed
}

/// The value of attribute `name` in a tag's inside (`a href="…" class=x`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let at = find_ascii_ci(tag, &format!("{name}="))?;
    let value = &tag[at + name.len() + 1..];
    let value = match value.chars().next()? {
        q @ ('"' | '\'') => value[1..].split(q).next()?,
        _ => value
            .split(|c: char| c.is_whitespace() || c == '>')
            .next()?,
    };
    Some(value.trim().to_owned())
}

/// The byte offset of `needle` (ASCII) in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    (0..=h.len().checked_sub(n.len())?).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Text between tags: decoded, with its blank space folded to single spaces (inside
/// `<pre>`, with its line breaks kept).
fn push_text(out: &mut String, raw: &str, preformatted: bool) {
    let text = decode(raw);
    if preformatted {
        // Inside `<pre>`, its lines are kept.
        out.push_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
        return;
    }
    for (i, word) in text.split(is_blank).enumerate() {
        let ends_blank = out.ends_with([' ', '\n']) || out.is_empty();
        if i > 0 && !ends_blank {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Blank space that may fold; the no-break spaces (U+00A0, U+2007, U+202F) hold.
fn is_blank(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}')
}

fn end_line(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Lines trimmed, no more than one blank line in a row, none at either end; a
/// non-breaking space reads as a space.
fn tidy(s: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in s.replace('\u{a0}', " ").lines() {
        let line = line
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// Character references: the named ones mail uses, and every numeric one.
fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // Looked for among the next 12 bytes (the longest reference we decode), by byte:
        // `;` is ASCII, so where it is found is a character boundary.
        let Some(semi) = rest.as_bytes()[..rest.len().min(12)]
            .iter()
            .position(|&b| b == b';')
        else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity.strip_prefix('#') {
            Some(n) => match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => n.parse().ok(),
            }
            // NUL, a surrogate or past Unicode reads as U+FFFD, as in a browser.
            .map(|n| {
                char::from_u32(n)
                    .filter(|&c| c != '\0')
                    .unwrap_or('\u{fffd}')
            }),
            None => entities::named(entity),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn a_mail_body_reads_as_lines_of_text() {
        let html = r#"<html><head><title>T</title><style>p{color:red}</style></head>
            <body><h1>Your ticket</h1>
            <p>Your code is <b>ABC123</b>.<br>Doors open at 7&nbsp;pm &amp; close at 11.</p>
            <!-- tracking --><script>alert(1)</script>
            <ul><li>Bring ID</li><li>No bags &gt; 10&#8239;L</li></ul>
            <p><a href="https://example.com/t/1?a=1&amp;b=2">Manage your ticket</a> or
            <a href='https://example.com'>https://example.com</a></p></body></html>"#;
        assert_eq!(
            to_text(html),
            "Your ticket\nYour code is ABC123.\nDoors open at 7 pm & close at 11.\n- Bring ID\n\
             - No bags > 10\u{202f}L\nManage your ticket (https://example.com/t/1?a=1&b=2) or \
             https://example.com"
        );
    }

    #[test]
    fn text_that_only_looks_like_markup_stays_text() {
        assert_eq!(to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        assert_eq!(to_text("AT&T &unknown; &#xZZ;"), "AT&T &unknown; &#xZZ;");
        assert_eq!(to_text("<p title=\"a > b\">x</p>"), "x");
        assert_eq!(to_text("<P>Upper</P><BR/>case"), "Upper\ncase");
        assert_eq!(to_text("unclosed <script>never shown"), "unclosed");
        assert_eq!(to_text("<!-- never closed"), "");
        assert_eq!(to_text("a<!-->b<!--->c"), "abc");
        assert_eq!(to_text(""), "");
        assert_eq!(
            to_text("<table><tr><td>Total</td><td>$42</td></tr></table>"),
            "Total $42"
        );
        // A tag never closed ends the text, as in a browser.
        assert_eq!(to_text("kept<p title=\"x>lost"), "kept");
    }

    #[test]
    fn references_next_to_non_ascii_text_never_split_a_character() {
        // `;` looked for among the next 12 bytes, where a multibyte character may straddle
        // the 12th.
        for html in [
            "<p>&copy; Straße</p>",
            "A&B – Größe",
            "&aaaaaaaaaaé",
            "&#x1F600;ü&ü",
        ] {
            let text = to_text(html);
            assert!(!text.is_empty(), "{html}");
        }
        assert_eq!(to_text("<p>&copy; Straße</p>"), "© Straße");
        assert_eq!(to_text("&#x1F600;ü"), "😀ü");
    }

    #[test]
    fn every_html4_name_decodes_and_bad_numbers_read_as_a_replacement() {
        assert_eq!(
            to_text("caf&eacute; &ldquo;quoted&rdquo; &bull; Stra&szlig;e&trade; it&rsquo;s"),
            "café \u{201c}quoted\u{201d} • Straße™ it\u{2019}s"
        );
        assert_eq!(
            to_text("x&#0;y&#xD800;z&#x110000;"),
            "x\u{fffd}y\u{fffd}z\u{fffd}"
        );
    }

    #[test]
    fn preformatted_text_keeps_its_lines() {
        assert_eq!(
            to_text("<p>Code:</p><pre>line1\n    line2\r\nline3</pre><p>after   it</p>"),
            "Code:\nline1\nline2\nline3\nafter it"
        );
    }

    #[test]
    fn an_unclosed_tag_ends_the_text() {
        // 256 KiB of `<a` with no `>`: one unclosed tag, scanned once (this took minutes
        // when each `<` looked to the end again).
        let html = format!("before{}", "<a".repeat(128 * 1024));
        assert_eq!(to_text(&html), "before");
        assert_eq!(to_text("x <"), "x <");
    }
}
