//! Discovery of the system fonts used to render synthetic lines.
//!
//! Fonts are parsed once ([`FontSet::discover`]) and shared by every sample. Only fonts that
//! draw all of printable ASCII are kept; the extra document symbols are recorded per font so
//! that text containing a symbol a font lacks is rewritten before rendering (labels always
//! match pixels). The pick is weighted per family, with typewriter-like monospace and narrow
//! (receipt-like) families favoured, because those dominate the forms and receipts we must read;
//! handwriting faces, when installed, take a fixed small share ([`HANDWRITING_SHARE`]) for the
//! hand-filled fields of forms.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontArc, GlyphId};
use rand::{RngExt, rngs::ChaCha8Rng};

use crate::error::{OcrError, Result};
use crate::recognize::alphabet::EXTRA_SYMBOLS;

/// Directories scanned by [`FontSet::discover`], recursively.
pub const FONT_DIRS: &[&str] = &[
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/usr/share/texmf/fonts/opentype",
];

/// File-name fragments (lower case) of fonts that are not text faces: symbols, dingbats, maths,
/// music, emoji, calligraphic scripts, or CJK fallbacks whose Latin glyphs are atypical.
const SKIP_NAMES: &[&str] = &[
    "symbol", "dingbat", "math", "music", "emoji", "d050000l", "z003", "chorus", "fallback",
    "zapf", "wingding",
];

/// File-name fragments (lower case) of handwriting faces (Debian's fonts-dkg-handwriting,
/// fonts-breip, fonts-femkeklaver, fonts-humor-sans, fonts-kristi,
/// fonts-dancingscript, fonts-comic-neue): the hand-filled fields of forms.
const HANDWRITING_NAMES: &[&str] = &[
    "dkg",
    "breip",
    "femkeklaver",
    "humor-sans",
    "kristi",
    "dancingscript",
    "comicneue",
];

/// Share of all picks that go to handwriting faces when any is installed (split evenly among
/// their families): enough to learn hand-filled form fields without crowding out print.
pub const HANDWRITING_SHARE: f32 = 0.06;

/// Coarse style of a font, guessed from its file name (for reporting and weighting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FontStyle {
    /// Fixed-pitch (typewriter, receipt printer).
    pub mono: bool,
    /// Serif face (when not mono).
    pub serif: bool,
    /// Condensed / narrow.
    pub condensed: bool,
    /// Bold / demi.
    pub bold: bool,
    /// Italic / oblique.
    pub italic: bool,
    /// Light / extra-light.
    pub light: bool,
    /// A handwriting face ([`HANDWRITING_NAMES`]).
    pub handwriting: bool,
}

impl FontStyle {
    /// Guess the style from a file stem.
    pub fn from_name(stem: &str) -> Self {
        let s = stem.to_ascii_lowercase();
        let has = |keys: &[&str]| keys.iter().any(|k| s.contains(k));
        let mono = has(&["mono", "courier", "cursor", "typewriter", "consol"]);
        FontStyle {
            mono,
            serif: !mono
                && !s.contains("sans")
                && has(&[
                    "serif", "roman", "times", "c059", "p052", "bookman", "schola", "pagella",
                    "termes", "bonum", "century", "georgia",
                ]),
            condensed: has(&["condensed", "narrow", "cond"]),
            bold: has(&["bold", "demi", "black", "heavy"]),
            italic: has(&["italic", "oblique", "ita"]),
            light: has(&["light"]) && !has(&["bold", "demi"]),
            handwriting: has(HANDWRITING_NAMES),
        }
    }

    /// Short human-readable description, e.g. `mono bold`.
    pub fn describe(&self) -> String {
        let mut parts = vec![if self.handwriting {
            "handwriting"
        } else if self.mono {
            "mono"
        } else if self.serif {
            "serif"
        } else {
            "sans"
        }];
        for (flag, name) in [
            (self.condensed, "condensed"),
            (self.bold, "bold"),
            (self.italic, "italic"),
            (self.light, "light"),
        ] {
            if flag {
                parts.push(name);
            }
        }
        parts.join(" ")
    }
}

/// One usable font.
#[derive(Debug, Clone)]
pub struct FontEntry {
    /// File the font was loaded from.
    pub path: PathBuf,
    /// File stem, e.g. `NimbusMonoPS-Regular`.
    pub name: String,
    /// Family key (stem without style suffixes), used to share weight among styles.
    pub family: String,
    /// Guessed style.
    pub style: FontStyle,
    /// The parsed font (cheap to clone, shared).
    pub font: FontArc,
    /// Symbols of [`EXTRA_SYMBOLS`] this font has no glyph for.
    pub missing: Vec<char>,
    /// x-height as a fraction of the font's pixel scale (ascent - descent), measured on `x`.
    pub x_height_ratio: f32,
    /// Relative probability of being picked.
    pub weight: f32,
}

impl FontEntry {
    /// True when the font draws `c` (all printable ASCII always; extras when not missing).
    pub fn has_char(&self, c: char) -> bool {
        !self.missing.contains(&c) && (c.is_ascii() || self.font.glyph_id(c) != GlyphId(0))
    }
}

/// The fonts available for synthesis, in a deterministic order (sorted by path).
#[derive(Debug, Clone)]
pub struct FontSet {
    fonts: Vec<FontEntry>,
    /// Cumulative weights, for the weighted pick.
    cumulative: Vec<f32>,
}

impl FontSet {
    /// Scan [`FONT_DIRS`] for usable `.ttf`/`.otf` fonts. Fails when none is found.
    pub fn discover() -> Result<FontSet> {
        let dirs: Vec<PathBuf> = FONT_DIRS.iter().map(PathBuf::from).collect();
        FontSet::from_dirs(&dirs)
    }

    /// Scan the given directories recursively. Fonts that cannot be parsed, lack printable
    /// ASCII, or are symbol faces are skipped; duplicates (same file name) are kept once.
    pub fn from_dirs(dirs: &[PathBuf]) -> Result<FontSet> {
        let mut paths = Vec::new();
        for d in dirs {
            collect_font_files(d, &mut paths, 0);
        }
        paths.sort();
        let mut seen = std::collections::BTreeSet::new();
        let mut fonts = Vec::new();
        for path in paths {
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let lower = stem.to_ascii_lowercase();
            if SKIP_NAMES.iter().any(|k| lower.contains(k)) || !seen.insert(lower) {
                continue;
            }
            if let Some(entry) = load_font(&path, stem) {
                fonts.push(entry);
            }
        }
        if fonts.is_empty() {
            return Err(OcrError::Internal(format!(
                "no usable font (printable ASCII, .ttf/.otf) found under {dirs:?}"
            )));
        }
        assign_weights(&mut fonts);
        tracing::info!(
            fonts = fonts.len(),
            "synthetic-data fonts: {}",
            fonts
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut acc = 0.0;
        let cumulative = fonts
            .iter()
            .map(|f| {
                acc += f.weight;
                acc
            })
            .collect();
        Ok(FontSet { fonts, cumulative })
    }

    /// The fonts, sorted by path.
    pub fn fonts(&self) -> &[FontEntry] {
        &self.fonts
    }

    /// Number of fonts.
    pub fn len(&self) -> usize {
        self.fonts.len()
    }

    /// True when the set is empty (never for a set built by `discover`/`from_dirs`).
    pub fn is_empty(&self) -> bool {
        self.fonts.is_empty()
    }

    /// One line per font (`name: style, weight`), for logs.
    pub fn report(&self) -> String {
        let total: f32 = self.fonts.iter().map(|f| f.weight).sum();
        let percent = |style: fn(&FontStyle) -> bool| -> f32 {
            let w: f32 = self
                .fonts
                .iter()
                .filter(|f| style(&f.style))
                .map(|f| f.weight)
                .sum();
            100.0 * w / total.max(1e-6)
        };
        let mut s = format!(
            "{} fonts ({:.0}% of picks monospace, {:.0}% handwriting)\n",
            self.fonts.len(),
            percent(|st| st.mono),
            percent(|st| st.handwriting)
        );
        for f in &self.fonts {
            s.push_str(&format!(
                "  {:<36} {:<22} p={:.3}\n",
                f.name,
                f.style.describe(),
                f.weight / total.max(1e-6)
            ));
        }
        s
    }

    /// Weighted random pick.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> &FontEntry {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let r = rng.random::<f32>() * total;
        let i = self.cumulative.partition_point(|&c| c <= r);
        &self.fonts[i.min(self.fonts.len().saturating_sub(1))]
    }
}

/// Append the font files (`.ttf`, `.otf`) under `dir`, depth-limited, ignoring unreadable dirs.
fn collect_font_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_font_files(&p, out, depth + 1);
        } else {
            let ext = p
                .extension()
                .and_then(|x| x.to_str())
                .map(|x| x.to_ascii_lowercase());
            if matches!(ext.as_deref(), Some("ttf" | "otf")) {
                out.push(p);
            }
        }
    }
}

/// Parse one font and check its coverage; `None` when unusable.
fn load_font(path: &Path, stem: &str) -> Option<FontEntry> {
    let data = std::fs::read(path).ok()?;
    let font = FontArc::try_from_vec(data).ok()?;
    if font.glyph_id(' ') == GlyphId(0) {
        return None;
    }
    for c in '!'..='~' {
        let g = font.glyph_id(c);
        if g == GlyphId(0) || font.outline(g).is_none() {
            return None;
        }
    }
    let missing: Vec<char> = EXTRA_SYMBOLS
        .chars()
        .filter(|&c| {
            let g = font.glyph_id(c);
            g == GlyphId(0) || font.outline(g).is_none()
        })
        .collect();
    let height = font.height_unscaled();
    let x_height_ratio = font
        .outline(font.glyph_id('x'))
        .map(|o| (o.bounds.max.y - o.bounds.min.y) / height.max(1.0))
        .filter(|r| (0.2..0.8).contains(r))
        .unwrap_or(0.45);
    Some(FontEntry {
        path: path.to_path_buf(),
        name: stem.to_string(),
        family: family_key(stem),
        style: FontStyle::from_name(stem),
        font,
        missing,
        x_height_ratio,
        weight: 1.0,
    })
}

/// Stem without style suffixes: `FreeMonoBoldOblique` -> `freemono`, `LiberationMono-Bold` ->
/// `liberationmono`.
fn family_key(stem: &str) -> String {
    let mut s = stem.split('-').next().unwrap_or(stem).to_ascii_lowercase();
    for suffix in ["boldoblique", "bolditalic", "bold", "oblique", "italic"] {
        if let Some(t) = s.strip_suffix(suffix) {
            s = t.to_string();
        }
    }
    s
}

/// Weight fonts: every family gets a share (monospace and narrow families more), divided among
/// its styles (regular more than bold, italic rarer).
fn assign_weights(fonts: &mut [FontEntry]) {
    let style_weight = |st: &FontStyle| {
        let mut w: f32 = if st.bold { 0.55 } else { 1.0 };
        if st.italic {
            w *= 0.3;
        }
        if st.light {
            w *= 0.4;
        }
        w
    };
    let mut sums: std::collections::BTreeMap<String, f32> = std::collections::BTreeMap::new();
    for f in fonts.iter() {
        *sums.entry(f.family.clone()).or_insert(0.0) += style_weight(&f.style);
    }
    for f in fonts.iter_mut() {
        let family_weight = if f.style.mono {
            2.2
        } else if f.style.condensed {
            1.3
        } else {
            1.0
        };
        let sum = sums.get(&f.family).copied().unwrap_or(1.0).max(1e-6);
        f.weight = family_weight * style_weight(&f.style) / sum;
    }
    // Handwriting faces together take HANDWRITING_SHARE of the picks.
    let (hand, print): (f32, f32) = fonts.iter().fold((0.0, 0.0), |(h, p), f| {
        if f.style.handwriting {
            (h + f.weight, p)
        } else {
            (h, p + f.weight)
        }
    });
    if hand > 0.0 && print > 0.0 {
        let scale = HANDWRITING_SHARE / (1.0 - HANDWRITING_SHARE) * print / hand;
        for f in fonts.iter_mut().filter(|f| f.style.handwriting) {
            f.weight *= scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn discovers_dejavu_when_installed() {
        let dir = Path::new("/usr/share/fonts/truetype/dejavu");
        if !dir.exists() {
            crate::prerequisite::missing(&format!("{} not installed", dir.display()));
            return;
        }
        let set = FontSet::from_dirs(&[dir.to_path_buf()]).expect("dejavu fonts");
        assert!(!set.is_empty());
        assert!(set.fonts().iter().any(|f| f.name == "DejaVuSansMono"));
        assert!(!set.fonts().iter().any(|f| f.name.contains("Math")));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let f = set.pick(&mut rng);
            assert!(f.has_char('A') && f.x_height_ratio > 0.2);
        }
        let all = FontSet::discover().expect("system fonts");
        println!("{}", all.report());
        assert!(all.len() >= set.len());
        let weight = |hand: bool| -> f32 {
            all.fonts()
                .iter()
                .filter(|f| f.style.handwriting == hand)
                .map(|f| f.weight)
                .sum()
        };
        let (hand, print) = (weight(true), weight(false));
        if hand > 0.0 {
            assert!((hand / (hand + print) - HANDWRITING_SHARE).abs() < 1e-3);
        }
    }

    #[test]
    fn style_and_family_from_names() {
        let s = FontStyle::from_name("NimbusMonoPS-BoldItalic");
        assert!(s.mono && s.bold && s.italic && !s.serif);
        assert!(FontStyle::from_name("LiberationSerif-Regular").serif);
        assert!(!FontStyle::from_name("NotoSans-Regular").serif);
        assert!(FontStyle::from_name("NimbusSansNarrow-Bold").condensed);
        assert_eq!(family_key("FreeMonoBoldOblique"), "freemono");
        assert_eq!(family_key("texgyrecursor-bold"), "texgyrecursor");
        assert!(FontStyle::from_name("Humor-Sans").handwriting);
        assert!(FontStyle::from_name("DancingScript-Bold").handwriting);
        assert!(!FontStyle::from_name("DejaVuSans").handwriting);
    }
}
