//! Random line texts resembling what documents contain: prose, names, addresses, companies,
//! amounts, dates, codes, phone numbers, receipt item lines, form fields and symbol-laden
//! strings, mixed by weights.
//!
//! [`TextGenerator::generate`] returns the text *as rendered*: it may contain runs of spaces
//! (receipt columns), which [`normalize_label`] collapses for the label.

use rand::{RngExt, rngs::ChaCha8Rng};

use super::patterns::*;
use super::words::*;
use crate::recognize::alphabet::Alphabet;

/// The kinds of line, with their relative weights.
const KINDS: &[(Kind, f32)] = &[
    (Kind::Words, 13.0),
    (Kind::Sentence, 13.0),
    (Kind::Name, 4.0),
    (Kind::Address, 5.0),
    (Kind::Company, 4.0),
    (Kind::Price, 7.0),
    (Kind::Date, 6.0),
    (Kind::Time, 2.0),
    (Kind::Code, 6.0),
    (Kind::Phone, 3.0),
    (Kind::ReceiptItem, 8.0),
    (Kind::Caps, 5.0),
    (Kind::Digits, 5.0),
    (Kind::Punct, 4.0),
    (Kind::Symbols, 4.0),
    (Kind::FormField, 7.0),
    (Kind::Single, 4.0),
    (Kind::RandomChars, 3.0),
    (Kind::TableRow, 3.0),
];

/// A generator of line texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Words,
    Sentence,
    Name,
    Address,
    Company,
    Price,
    Date,
    Time,
    Code,
    Phone,
    ReceiptItem,
    Caps,
    Digits,
    Punct,
    Symbols,
    FormField,
    Single,
    RandomChars,
    TableRow,
}

/// Generates random line texts; cheap to share between threads (read-only).
#[derive(Debug, Clone)]
pub struct TextGenerator {
    /// Dictionary words (ASCII letters only, no possessives).
    dict: Vec<String>,
    /// Maximum length in characters of a generated line.
    max_chars: usize,
}

impl Default for TextGenerator {
    fn default() -> Self {
        TextGenerator::new()
    }
}

impl TextGenerator {
    /// A generator using `/usr/share/dict/words` when present (else the built-in word list),
    /// producing lines of at most 64 characters.
    pub fn new() -> Self {
        let dict = std::fs::read_to_string("/usr/share/dict/words")
            .map(|s| filter_words(s.lines()))
            .unwrap_or_default();
        TextGenerator::from_words(dict)
    }

    /// A generator over the given dictionary (filtered to ASCII words; falls back to the
    /// built-in list when nothing remains).
    pub fn from_words<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> Self {
        let mut dict: Vec<String> = Vec::new();
        for w in words {
            dict.extend(filter_words(std::iter::once(w.as_ref())));
        }
        if dict.is_empty() {
            dict = COMMON_WORDS.iter().map(|s| s.to_string()).collect();
        }
        TextGenerator {
            dict,
            max_chars: 64,
        }
    }

    /// Set the maximum line length in characters (at least 1).
    pub fn with_max_chars(mut self, max_chars: usize) -> Self {
        self.max_chars = max_chars.max(1);
        self
    }

    /// Number of dictionary words available.
    pub fn dictionary_len(&self) -> usize {
        self.dict.len()
    }

    /// One random line (as rendered; never empty or blank).
    pub fn generate(&self, rng: &mut ChaCha8Rng) -> String {
        let total: f32 = KINDS.iter().map(|k| k.1).sum();
        let mut r = rng.random::<f32>() * total;
        let mut kind = Kind::Words;
        for &(k, w) in KINDS {
            if r < w {
                kind = k;
                break;
            }
            r -= w;
        }
        let s = match kind {
            Kind::Words => case_variant(self.words(rng, 1, 8), rng),
            Kind::Sentence => case_variant(self.sentence(rng), rng),
            Kind::Name => case_variant(name(rng), rng),
            Kind::Address => case_variant(address(rng), rng),
            Kind::Company => case_variant(self.company(rng), rng),
            Kind::Price => price(rng),
            Kind::Date => date(rng),
            Kind::Time => time(rng),
            Kind::Code => code(rng),
            Kind::Phone => phone(rng),
            Kind::ReceiptItem => receipt_item(rng),
            Kind::Caps => self.words(rng, 1, 6).to_uppercase(),
            Kind::Digits => digits(rng),
            Kind::Punct => self.punct(rng),
            Kind::Symbols => self.symbols(rng),
            Kind::FormField => self.form_field(rng),
            Kind::Single => {
                let r = rng.random::<f32>();
                if r < 0.45 {
                    case_variant(self.word(rng), rng)
                } else if r < 0.85 {
                    num(rng, 0, 10_000).to_string()
                } else {
                    // Lone marks that receipts and forms box separately.
                    const TOKENS: &[&str] = &[
                        ":", "-", "*", "#", "/", "%", "&", "=", "+", "x", "@", "$", "RM", "(", ")",
                        "No.", "Qty", "S", "Z", "SR", "ZR", "%:",
                    ];
                    pick(rng, TOKENS).to_string()
                }
            }
            Kind::RandomChars => random_chars(rng),
            Kind::TableRow => table_row(rng),
        };
        let s = truncate_words(s.trim(), self.max_chars);
        if s.trim().is_empty() {
            self.word(rng)
        } else {
            s
        }
    }

    /// A dictionary or common word (half each: common words keep prose realistic).
    fn word(&self, rng: &mut ChaCha8Rng) -> String {
        if rng.random_bool(0.5) || self.dict.is_empty() {
            pick(rng, COMMON_WORDS).to_string()
        } else {
            self.dict[rng.random_range(0..self.dict.len())].clone()
        }
    }

    /// `lo..=hi` words separated by spaces.
    fn words(&self, rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> String {
        let n = rng.random_range(lo..=hi);
        (0..n).map(|_| self.word(rng)).collect::<Vec<_>>().join(" ")
    }

    /// A prose fragment with punctuation.
    fn sentence(&self, rng: &mut ChaCha8Rng) -> String {
        let n = rng.random_range(2..=11);
        let mut parts: Vec<String> = Vec::with_capacity(n);
        for i in 0..n {
            let mut w = self.word(rng);
            let r = rng.random::<f32>();
            if r < 0.04 {
                w = format!("({w})");
            } else if r < 0.07 {
                w = format!("\"{w}\"");
            } else if r < 0.10 {
                w = format!("{w}-{}", self.word(rng));
            } else if r < 0.13 {
                w = num(rng, 1, 2000).to_string();
            }
            if i + 1 < n && rng.random_bool(0.1) {
                w.push(*pick(rng, &[',', ',', ',', ';', ':']));
            }
            parts.push(w);
        }
        let mut s = parts.join(" ");
        if rng.random_bool(0.6) {
            s = capitalize(&s);
        }
        if rng.random_bool(0.6) {
            s.push(*pick(rng, &['.', '.', '.', '.', ',', '?', '!', ':', ';']));
        }
        s
    }

    /// A company name.
    fn company(&self, rng: &mut ChaCha8Rng) -> String {
        let a = if rng.random_bool(0.6) {
            pick(rng, COMPANY_WORDS).to_string()
        } else {
            capitalize(&self.word(rng))
        };
        let b = pick(rng, COMPANY_WORDS);
        let suffix = pick(rng, COMPANY_SUFFIXES);
        match rng.random_range(0..5) {
            0 => format!("{a} {suffix}"),
            1 => format!("{a} {b} {suffix}"),
            2 => format!("{a} & {b} {suffix}"),
            3 => format!("{} {a} {suffix}", pick(rng, LAST_NAMES)),
            _ => format!(
                "{a} {b} {suffix} ({}-{})",
                num(rng, 10000, 999999),
                pick(rng, &["X", "K", "A", "W", "M"])
            ),
        }
    }

    /// Words with heavy punctuation, e-mails, URLs, paths.
    fn punct(&self, rng: &mut ChaCha8Rng) -> String {
        let w = self.word(rng);
        let v = self.word(rng);
        let n = num(rng, 1, 999);
        match rng.random_range(0..16) {
            0 => format!(
                "({}) {w} {v}",
                pick(rng, &["a", "b", "c", "i", "ii", "1", "2"])
            ),
            1 => format!("[see p. {n}]"),
            2 => format!("A/C: {}", num(rng, 1000, 99_999_999)),
            3 => format!("{w}/{v}"),
            4 => format!("{n}% {w}!"),
            5 => format!("#{n} & #{}", n + 1),
            6 => format!(
                "{}.{}@{}.com",
                w.to_lowercase(),
                v.to_lowercase(),
                pick(rng, COMPANY_WORDS)
                    .to_lowercase()
                    .replace(['.', ' '], "")
            ),
            7 => format!("http://www.{}.com/{v}", w.to_lowercase()),
            8 => format!("'{w}' {v}"),
            9 => format!("\"{w}\", {v};"),
            10 => format!("{{{w}}} <{v}> [{n}]"),
            11 => format!("{w}_{v} ~ {n} ^ 2 | {}", num(rng, 0, 9)),
            12 => format!("C:\\{w}\\{v}.txt"),
            13 => format!("{w}={n}; {v}={}", num(rng, 0, 99)),
            14 => format!("{w}... {v}?!"),
            _ => format!("*{w}* `{v}` + {n} - {} = ?", num(rng, 0, 99)),
        }
    }

    /// Text with the non-ASCII document symbols in plausible contexts.
    fn symbols(&self, rng: &mut ChaCha8Rng) -> String {
        let w = self.word(rng);
        let v = self.word(rng);
        let n = num(rng, 1, 99);
        match rng.random_range(0..18) {
            0 => format!("{n}°C"),
            1 => format!("{}° F", num(rng, 32, 110)),
            2 => format!("§ {n} {w}"),
            3 => format!("± {}.{} mm", num(rng, 0, 9), num(rng, 0, 9)),
            4 => format!("{n} × {}", num(rng, 1, 99)),
            5 => format!("{n}½ {w}"),
            6 => format!("¼ inch {w}"),
            7 => format!("© {} {}", num(rng, 1960, 2024), pick(rng, COMPANY_WORDS)),
            8 => format!("“{w} {v}”"),
            9 => format!("‘{w}’"),
            10 => format!("{w} – {v}"),
            11 => format!("{}—{}", num(rng, 1950, 1999), num(rng, 2000, 2024)),
            12 => format!("• {}", capitalize(&w)),
            13 => format!(
                "{} {}.{:02}",
                pick(rng, &["€", "£", "¥", "€ ", "£ "]),
                n,
                num(rng, 0, 99)
            ),
            14 => format!("€ {n},{:02}", num(rng, 0, 99)),
            15 => format!("{n} ÷ {}", num(rng, 1, 9)),
            16 => format!("{w}’s {v}"),
            _ => format!("{w} — “{v}”"),
        }
    }

    /// `Key: value` form fields.
    fn form_field(&self, rng: &mut ChaCha8Rng) -> String {
        let key = pick(rng, FORM_KEYS);
        let sep = pick(rng, &[": ", ":", " : ", " ", ": ", " - "]);
        let value = match rng.random_range(0..7) {
            0 => date(rng),
            1 => phone(rng),
            2 => name(rng),
            3 => code(rng),
            4 => self.words(rng, 1, 4),
            5 => num(rng, 1, 500).to_string(),
            _ => String::new(),
        };
        format!("{key}{sep}{value}")
    }
}

/// Keep dictionary entries made of ASCII letters only (drops possessives and accented words).
fn filter_words<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    lines
        .map(str::trim)
        .filter(|w| !w.is_empty() && w.len() <= 20 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .map(str::to_string)
        .collect()
}

/// As-is (mostly), UPPER or Title case.
fn case_variant(s: String, rng: &mut ChaCha8Rng) -> String {
    let r = rng.random::<f32>();
    if r < 0.65 {
        s
    } else if r < 0.87 {
        s.to_uppercase()
    } else {
        title_case(&s)
    }
}

/// First letter upper-cased.
fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Every word capitalised, the rest lower-cased.
fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| capitalize(&w.to_lowercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cut to at most `max` characters, at a word boundary when there is one.
fn truncate_words(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    match cut.rfind(' ') {
        Some(i) if i > 0 => cut[..i].trim_end().to_string(),
        _ => cut,
    }
}

/// The training label of a rendered text: canonical for `alphabet`, single spaces, trimmed.
pub fn normalize_label(alphabet: &Alphabet, text: &str) -> String {
    alphabet
        .canonicalize(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// ASCII stand-in for a document symbol a font cannot draw.
pub fn ascii_fallback(c: char) -> &'static str {
    match c {
        '€' => "EUR",
        '£' => "GBP",
        '¥' => "JPY",
        '°' => " deg",
        '§' => "S.",
        '±' => "+/-",
        '×' => "x",
        '÷' => "/",
        '•' => "*",
        '–' | '—' => "-",
        '‘' | '’' => "'",
        '“' | '”' => "\"",
        '½' => "1/2",
        '¼' => "1/4",
        '©' => "(c)",
        _ => "?",
    }
}

/// Replace the characters `has` rejects by their ASCII stand-ins, so text and pixels agree.
pub fn substitute_missing(text: &str, has: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if has(c) {
            out.push(c);
        } else {
            out.push_str(ascii_fallback(c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lines_are_varied_bounded_and_canonical() {
        let g = TextGenerator::new();
        let a = Alphabet::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        let mut chars = std::collections::BTreeSet::new();
        for _ in 0..5000 {
            let t = g.generate(&mut rng);
            let l = normalize_label(&a, &t);
            assert!(!l.is_empty(), "empty label from {t:?}");
            assert!(t.chars().count() <= 64, "too long: {t:?}");
            assert_eq!(l, a.canonicalize(&l));
            assert!(!l.contains("  ") && l.trim() == l);
            chars.extend(l.chars());
            seen.insert(l);
        }
        assert!(seen.len() > 4500, "only {} distinct lines", seen.len());
        // Every character of the alphabet shows up.
        for c in a.chars() {
            assert!(chars.contains(c), "never generated {c:?}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(truncate_words("hello big world", 12), "hello big");
        assert_eq!(title_case("HELLO wOrld"), "Hello World");
        assert_eq!(
            substitute_missing("5°C – “x”", |c| c.is_ascii()),
            "5 degC - \"x\""
        );
        let a = Alphabet::default();
        assert_eq!(
            normalize_label(&a, "  2 x MILO     12.90 "),
            "2 x MILO 12.90"
        );
        let g = TextGenerator::from_words(["can't", "Ångström", "ok"]);
        assert_eq!(g.dictionary_len(), 1);
    }
}
