//! Folding and cutting text into search terms, the same for every engine
//! and for both sides of a search (what is indexed, what is asked).
//!
//! - Folding: the text composed (NFC: `か` and a voicing mark are `が`,
//!   conjoining jamo are Hangul syllables), compatibility forms taken apart
//!   (NFKD: full-width `Ａ` is `a`, `ﬁ` is `fi`, half-width `ｶﾞ` is `ガ`),
//!   lower case (Greek final `ς` is `σ`), and the combining diacritical
//!   marks dropped (`é` is `e`, `İ` is `i`), Hebrew points and Arabic
//!   harakat too; other combining signs, as the voicing marks of kana, are
//!   kept on their character (`が` is not `か`).
//! - Words: runs of letters and digits; anything else separates them.
//! - Text without spaces (Han, hiragana, katakana): each character and each
//!   pair of neighbours is indexed, and a search asks for its pairs (or the
//!   character, for one alone), so `東京` finds `東京都` and `京` finds it
//!   too, without a dictionary.

use unicode_normalization::UnicodeNormalization;

/// The longest term, in characters: a longer word is cut (no one searches
/// for 65 characters without a space).
pub const MAX_TERM_CHARS: usize = 64;

/// A term of a text, and the bytes of the original text it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// The terms an index keeps of `text`, in order.
pub fn index_terms(text: &str) -> Vec<String> {
    terms_of(&composed(text), true)
        .into_iter()
        .map(|t| t.text)
        .collect()
}

/// `text` in NFC: what terms are made of, and what their places are in.
pub(crate) fn composed(text: &str) -> String {
    text.nfc().collect()
}

/// The terms a search for `q` asks for, each once, in order.
pub fn query_terms(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in terms_of(&composed(q), false) {
        if !out.contains(&t.text) {
            out.push(t.text);
        }
    }
    out
}

/// Whether `text` has every one of `terms` (of [`query_terms`]): what the
/// index matches, checked against a body as it is now.
pub fn matches(text: &str, terms: &[String]) -> bool {
    let have = index_terms(text);
    terms.iter().all(|t| have.contains(t))
}

/// The terms of `text` (in NFC: [`composed`]) with where they are, as
/// indexed.
pub(crate) fn located_terms(text: &str) -> Vec<Term> {
    terms_of(text, true)
}

/// `text` folded: what its terms are made of.
pub fn fold(text: &str) -> String {
    composed(text)
        .chars()
        .flat_map(|c| fold_char(c).chars().collect::<Vec<_>>())
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Spaceless,
}

/// A run of folded characters of one kind, each with its original bytes.
struct Run {
    kind: Kind,
    chars: Vec<(char, usize, usize)>,
}

fn terms_of(text: &str, indexing: bool) -> Vec<Term> {
    let mut out = Vec::new();
    for run in runs(text) {
        match run.kind {
            Kind::Word => out.push(Term {
                text: run.chars.iter().take(MAX_TERM_CHARS).map(|c| c.0).collect(),
                start: run.chars[0].1,
                end: run.chars[run.chars.len() - 1].2,
            }),
            Kind::Spaceless => {
                let c = &run.chars;
                for (i, &(ch, start, end)) in c.iter().enumerate() {
                    if indexing || c.len() == 1 {
                        out.push(Term {
                            text: ch.to_string(),
                            start,
                            end,
                        });
                    }
                    if let Some(&(next, _, next_end)) = c.get(i + 1) {
                        out.push(Term {
                            text: [ch, next].iter().collect(),
                            start,
                            end: next_end,
                        });
                    }
                }
            }
        }
    }
    out
}

fn runs(text: &str) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut open = false;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let folded = fold_char(c);
        if folded.is_empty() {
            // A mark on the character before: part of its term.
            if let (true, Some(run)) = (open, runs.last_mut()) {
                if let Some(last) = run.chars.last_mut() {
                    last.2 = end;
                }
            }
            continue;
        }
        for f in folded.chars() {
            // A sign that composes with the character before (a
            // half-width voicing mark): one character with it. (Other
            // signs, as the vowel signs of Indic scripts, stay letters.)
            if unicode_normalization::char::is_combining_mark(f) && open {
                if let Some(last) = runs.last_mut().and_then(|r| r.chars.last_mut()) {
                    if let Some(both) = unicode_normalization::char::compose(last.0, f) {
                        last.0 = both;
                        last.2 = end;
                        continue;
                    }
                }
            }
            let kind = if is_spaceless(f) {
                Kind::Spaceless
            } else if f.is_alphanumeric() {
                Kind::Word
            } else {
                open = false;
                continue;
            };
            match runs.last_mut() {
                Some(run) if open && run.kind == kind => run.chars.push((f, i, end)),
                _ => {
                    runs.push(Run {
                        kind,
                        chars: vec![(f, i, end)],
                    });
                    open = true;
                }
            }
        }
    }
    runs
}

fn fold_char(c: char) -> String {
    if c.is_ascii() {
        return c.to_ascii_lowercase().to_string();
    }
    std::iter::once(c)
        .nfkd()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .filter(|c| !is_diacritic(*c))
        .nfc()
        .collect()
}

/// The marks folding drops: the combining diacritical marks (and their
/// supplements), Hebrew points and cantillation, Arabic harakat.
fn is_diacritic(c: char) -> bool {
    matches!(
        c as u32,
        0x0300..=0x036F
            | 0x1AB0..=0x1AFF
            | 0x1DC0..=0x1DFF
            | 0x20D0..=0x20FF
            | 0xFE20..=0xFE2F
            | 0x0591..=0x05BD
            | 0x05BF
            | 0x05C1..=0x05C2
            | 0x05C4..=0x05C5
            | 0x05C7
            | 0x064B..=0x065F
            | 0x0670
    )
}

/// Scripts written without spaces between words: Han, hiragana, katakana.
fn is_spaceless(c: char) -> bool {
    matches!(
        c as u32,
        0x3040..=0x30FF        // hiragana, katakana
            | 0x31F0..=0x31FF  // katakana phonetic extensions
            | 0x3400..=0x4DBF  // Han extension A
            | 0x4E00..=0x9FFF  // Han
            | 0xF900..=0xFAFF  // Han compatibility
            | 0x20000..=0x3134F // Han extensions B–G
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_diacritics_fold() {
        assert_eq!(
            query_terms("Café CRÈME brûlée"),
            ["cafe", "creme", "brulee"]
        );
        assert_eq!(query_terms("ＡＢＣ１２３ İstanbul"), ["abc123", "istanbul"]);
        // A mark written as its own character folds the same.
        assert_eq!(query_terms("cafe\u{301}"), ["cafe"]);
        assert_eq!(fold("Ünïcödé"), "unicode");
    }

    #[test]
    fn words_split_at_anything_but_letters_and_digits() {
        assert_eq!(
            query_terms("hello, world! e-mail me: a.b@c.de (ok) ok"),
            ["hello", "world", "e", "mail", "me", "a", "b", "c", "de", "ok"]
        );
        assert!(query_terms("  ,.;!? ").is_empty());
    }

    #[test]
    fn spaceless_text_is_cut_into_characters_and_pairs() {
        assert_eq!(index_terms("東京都"), ["東", "東京", "京", "京都", "都"]);
        assert_eq!(query_terms("東京"), ["東京"]);
        assert_eq!(query_terms("京"), ["京"]);
        // Kana keep their voicing marks; a word in Latin letters beside
        // them is a word of its own.
        assert_eq!(query_terms("がっこうabc"), ["がっ", "っこ", "こう", "abc"]);
        assert_ne!(query_terms("が"), query_terms("か"));
        // Half-width katakana are the full-width ones.
        assert_eq!(query_terms("ｶﾀｶﾅ"), query_terms("カタカナ"));
    }

    #[test]
    fn decomposed_text_folds_as_composed() {
        // か + the combining voicing mark is が; half-width ｶﾞ is ガ.
        assert_eq!(query_terms("\u{304b}\u{3099}"), query_terms("が"));
        assert_eq!(query_terms("ｶﾞｽ"), query_terms("ガス"));
        // Hangul in conjoining jamo is the precomposed syllables.
        assert_eq!(
            query_terms("\u{1112}\u{1161}\u{11ab}\u{1100}\u{1173}\u{11af}"),
            query_terms("한글")
        );
        assert!(matches("ｶﾞｽ", &query_terms("ガス")));
        // Vowel signs of Indic scripts stay part of their word.
        assert_ne!(query_terms("कि"), query_terms("क"));
    }

    #[test]
    fn greek_hebrew_and_arabic_fold_too() {
        assert_eq!(query_terms("ΟΔΟΣ"), query_terms("οδος"));
        assert_eq!(query_terms("ὁδός"), query_terms("οδος"));
        assert_eq!(query_terms("שָׁלוֹם"), query_terms("שלום"));
        assert_eq!(query_terms("مَرْحَبًا"), query_terms("مرحبا"));
    }

    #[test]
    fn a_body_matches_when_it_has_every_term() {
        assert!(matches(
            "Meet me in Zürich, 東京 later",
            &query_terms("zurich 東京")
        ));
        assert!(!matches("Meet me in Zürich", &query_terms("zurich geneva")));
    }

    #[test]
    fn terms_know_where_they_are() {
        let t = located_terms("Héllo wörld");
        assert_eq!(t[0].text, "hello");
        assert_eq!(&"Héllo wörld"[t[0].start..t[0].end], "Héllo");
        assert_eq!(&"Héllo wörld"[t[1].start..t[1].end], "wörld");
        let long = "x".repeat(200);
        assert_eq!(index_terms(&long)[0].chars().count(), MAX_TERM_CHARS);
    }
}
