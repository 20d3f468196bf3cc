//! The excerpt a search result shows: the body around the first term that
//! matched, in plain text (clients show it as text, never as markup).

use super::terms::{composed, located_terms};

/// The longest snippet, in characters (without the ellipses).
pub const SNIPPET_CHARS: usize = 120;

/// Up to [`SNIPPET_CHARS`] characters of `body` around the first of its
/// terms that is one of `query` (the start of the body when none is),
/// whitespace runs shown as one space, with `…` where the body goes on.
pub fn snippet(body: &str, query: &[String]) -> String {
    let body = &composed(body);
    let at = located_terms(body)
        .into_iter()
        .find(|t| query.contains(&t.text))
        .map(|t| body[..t.start].chars().count())
        .unwrap_or(0);
    let chars: Vec<char> = body.chars().collect();
    // A third of the room before the match, the rest after it.
    let mut from = at.saturating_sub(SNIPPET_CHARS / 3);
    let to = (from + SNIPPET_CHARS).min(chars.len());
    from = from.min(to.saturating_sub(SNIPPET_CHARS));
    // Start at a word when one starts shortly after the cut.
    if from > 0 {
        if let Some(gap) = chars[from..at.min(chars.len())]
            .iter()
            .take(16)
            .position(|c| c.is_whitespace())
        {
            from += gap + 1;
        }
    }
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut space = false;
    for &c in &chars[from..to] {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !(out.is_empty() || out == "…") {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    if to < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_short_body_is_its_own_snippet() {
        assert_eq!(
            snippet("see you\n\nat  noon", &q(&["noon"])),
            "see you at noon"
        );
    }

    #[test]
    fn a_long_body_is_cut_around_the_match() {
        let body = format!(
            "{} the Café is open {}",
            "blah ".repeat(60),
            "etc ".repeat(60)
        );
        let s = snippet(&body, &q(&["cafe"]));
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("the Café is open"), "{s}");
        assert!(s.chars().count() <= SNIPPET_CHARS + 2, "{s}");
        // It starts at a word.
        assert!(s.starts_with("…blah "), "{s}");
    }

    #[test]
    fn a_match_at_the_end_shows_what_comes_before() {
        let body = format!("{}needle", "word ".repeat(100));
        let s = snippet(&body, &q(&["needle"]));
        assert!(s.ends_with("needle") && s.starts_with('…'), "{s}");
        assert!(s.chars().count() > SNIPPET_CHARS / 2, "{s}");
    }
}
