//! Structured line texts: amounts, dates, times, codes, phone numbers, receipt item lines,
//! digit runs, person names, addresses and random character strings. Formats follow what
//! receipts (SROIE) and business forms (FUNSD) print.

use rand::{RngExt, rngs::ChaCha8Rng};

use super::words::*;

/// A uniformly random element (the slices passed are non-empty constants).
pub(super) fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A random integer in `lo..=hi`.
pub(super) fn num(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    rng.random_range(lo..=hi.max(lo))
}

/// An amount like `1,234.50` (or `1.234,50` European style when `euro`).
pub(super) fn amount(rng: &mut ChaCha8Rng, euro: bool) -> String {
    let whole = match rng.random_range(0..10) {
        0..=5 => num(rng, 0, 99),
        6..=8 => num(rng, 100, 9999),
        _ => num(rng, 10_000, 9_999_999),
    };
    let cents = if rng.random_bool(0.3) {
        num(rng, 0, 9) * 10
    } else {
        num(rng, 0, 99)
    };
    let (thousands, dec) = if euro { ('.', ',') } else { (',', '.') };
    let digits = whole.to_string();
    let mut grouped = String::new();
    let sep = rng.random_bool(0.7);
    for (i, ch) in digits.chars().enumerate() {
        if sep && i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(thousands);
        }
        grouped.push(ch);
    }
    format!("{grouped}{dec}{cents:02}")
}

/// Prices and totals.
pub(super) fn price(rng: &mut ChaCha8Rng) -> String {
    let euro = rng.random_bool(0.1);
    let a = amount(rng, euro);
    let cur = if euro { "€ " } else { pick(rng, CURRENCIES) };
    match rng.random_range(0..8) {
        0 | 1 => format!("{cur}{a}"),
        2 | 3 => format!("{}: {cur}{a}", pick(rng, TOTAL_KEYS)),
        4 => format!(
            "{}{}{cur}{a}",
            pick(rng, TOTAL_KEYS),
            " ".repeat(rng.random_range(1..12))
        ),
        5 => format!("-{a}"),
        6 => format!("({a})"),
        _ => a,
    }
}

/// Dates in many formats.
pub(super) fn date(rng: &mut ChaCha8Rng) -> String {
    let d = num(rng, 1, 31);
    let m = num(rng, 1, 12);
    let y = num(rng, 1965, 2025);
    let month = MONTHS[(m - 1) as usize];
    let mon = &month[..3];
    match rng.random_range(0..14) {
        0 => format!("{d:02}/{m:02}/{y}"),
        1 => format!("{y}-{m:02}-{d:02}"),
        2 => format!("{d} {} {y}", mon.to_uppercase()),
        3 => format!("{month} {d}, {y}"),
        4 => format!("{m}/{d}/{:02}", y % 100),
        5 => format!("{d:02}-{m:02}-{y}"),
        6 => format!("{d:02}.{m:02}.{y}"),
        7 => format!("{d}-{mon}-{:02}", y % 100),
        8 => format!("{}, {month} {d}, {y}", pick(rng, WEEKDAYS)),
        9 => format!("{d} {month} {y}"),
        10 => format!("{mon}. {d}, {y}"),
        11 => format!("{d:02}/{m:02}/{:02}", y % 100),
        12 => format!(
            "Date: {d:02}/{m:02}/{y} {}:{:02}",
            num(rng, 0, 23),
            num(rng, 0, 59)
        ),
        _ => format!("{y}/{m:02}/{d:02}"),
    }
}

/// Times of day.
pub(super) fn time(rng: &mut ChaCha8Rng) -> String {
    let h = num(rng, 0, 23);
    let m = num(rng, 0, 59);
    let s = num(rng, 0, 59);
    let h12 = if h.is_multiple_of(12) { 12 } else { h % 12 };
    let ampm = if h < 12 { "AM" } else { "PM" };
    match rng.random_range(0..6) {
        0 => format!("{h:02}:{m:02}"),
        1 => format!("{h:02}:{m:02}:{s:02}"),
        2 => format!("{h12}:{m:02} {ampm}"),
        3 => format!("{h:02}{m:02} hrs"),
        4 => format!("{h12}.{m:02}{}", ampm.to_lowercase()),
        _ => format!("Time: {h:02}:{m:02}:{s:02}"),
    }
}

/// Random upper-case letters and digits.
pub(super) fn alnum(rng: &mut ChaCha8Rng, n: usize) -> String {
    const CH: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..n)
        .map(|_| CH[rng.random_range(0..CH.len())] as char)
        .collect()
}

/// Invoice, reference and ID codes.
pub(super) fn code(rng: &mut ChaCha8Rng) -> String {
    let n = num(rng, 0, 9_999_999);
    match rng.random_range(0..12) {
        0 => format!("INV-{:06}", n % 1_000_000),
        1 => format!("No. {n}"),
        2 => format!("Ref: {}-{:04}", alnum(rng, 4), n % 10000),
        3 => format!("CS{:08}", n),
        4 => format!("OR#: {:06}", n % 1_000_000),
        5 => format!("{}-{}", alnum(rng, 4), alnum(rng, 4)),
        6 => format!(
            "{}/{}/{:05}",
            alnum(rng, 3),
            num(rng, 1990, 2024),
            n % 100000
        ),
        7 => format!("{}", num(rng, 1_000_000_000, 9_999_999_999)),
        8 => format!("GST REG NO: {:012}", num(rng, 0, 999_999_999_999)),
        9 => format!("{}{}", alnum(rng, 2), num(rng, 100, 99999)),
        10 => format!("Doc No.: {}{:07}", pick(rng, &["T", "CS", "SI", "DO"]), n),
        _ => {
            let n = rng.random_range(3..12);
            alnum(rng, n)
        }
    }
}

/// Phone and fax numbers.
pub(super) fn phone(rng: &mut ChaCha8Rng) -> String {
    let a = num(rng, 200, 999);
    let b = num(rng, 200, 999);
    let c = num(rng, 0, 9999);
    let p = match rng.random_range(0..7) {
        0 => format!("({a}) {b}-{c:04}"),
        1 => format!("{a}-{b}-{c:04}"),
        2 => format!("+60 3-{} {c:04}", num(rng, 1000, 9999)),
        3 => format!("03-{} {c:04}", num(rng, 1000, 9999)),
        4 => format!("012-{b} {c:04}"),
        5 => format!("1-800-{b}-{c:04}"),
        _ => format!("{a}.{b}.{c:04}"),
    };
    if rng.random_bool(0.4) {
        format!(
            "{} {p}",
            pick(
                rng,
                &["Tel:", "TEL:", "Fax:", "FAX :", "Phone:", "Tel No.", "H/P:"]
            )
        )
    } else {
        p
    }
}

/// Receipt item lines, with wide column gaps.
pub(super) fn receipt_item(rng: &mut ChaCha8Rng) -> String {
    let item = pick(rng, ITEMS);
    let unit = pick(rng, UNITS);
    let qty = num(rng, 1, 12);
    let each = amount(rng, false);
    let gap = |rng: &mut ChaCha8Rng| " ".repeat(rng.random_range(1..10));
    match rng.random_range(0..6) {
        0 => format!("{qty} x {item} {unit}{}{each}", gap(rng)),
        1 => format!("{item} {unit}{}{qty}{}{each}", gap(rng), gap(rng)),
        2 => format!("{:013} {item}", num(rng, 0, 9_999_999_999_999)),
        3 => format!("{qty} @ {each}{}{}", gap(rng), amount(rng, false)),
        4 => format!(
            "{qty} {item}{}{each} {}",
            gap(rng),
            pick(rng, &["SR", "ZR", "S", "Z", "T"])
        ),
        _ => format!("{item}{}{}", gap(rng), each),
    }
}

/// Digit-heavy strings.
pub(super) fn digits(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..9) {
        0 => num(rng, 0, 9_999_999).to_string(),
        1 => amount(rng, false),
        2 => format!("{}.{}%", num(rng, 0, 100), num(rng, 0, 9)),
        3 => format!("{}/{}", num(rng, 1, 31), num(rng, 1, 12)),
        4 => format!(
            "{}-{}-{}",
            num(rng, 10, 999),
            num(rng, 100, 999),
            num(rng, 1000, 9999)
        ),
        5 => (0..rng.random_range(2..6))
            .map(|_| amount(rng, false))
            .collect::<Vec<_>>()
            .join(&" ".repeat(rng.random_range(1..4))),
        6 => format!("#{}", num(rng, 1, 99999)),
        7 => format!("{:0w$}", num(rng, 0, 99999), w = rng.random_range(5..10)),
        _ => format!("{} - {}", num(rng, 0, 999), num(rng, 0, 9999)),
    }
}

/// A row of a statistics or results table: figures with significance or footnote markers
/// (`3.12***  2.78  3.28*`), percentages, counts and scale anchors, as research reports and
/// test summaries print them.
pub(super) fn table_row(rng: &mut ChaCha8Rng) -> String {
    const MARKERS: &[&str] = &["", "", "", "*", "**", "***", "+", "++", "a", "b", "°"];
    let cell = |rng: &mut ChaCha8Rng| -> String {
        match rng.random_range(0..10) {
            0..=5 => format!(
                "{}.{:02}{}",
                num(rng, 0, 9),
                num(rng, 0, 99),
                pick(rng, MARKERS)
            ),
            6 => format!("{}.{}%", num(rng, 0, 99), num(rng, 0, 9)),
            7 => format!("{} %", num(rng, 0, 100)),
            8 => format!("({})", num(rng, 1, 999)),
            _ => format!("{}{}", num(rng, 0, 999), pick(rng, MARKERS)),
        }
    };
    let mut row = match rng.random_range(0..5) {
        0 => format!("({}={}) ", num(rng, 1, 9), pick(rng, SCALE_WORDS)),
        1 => format!("n={} ", num(rng, 10, 999)),
        _ => String::new(),
    };
    let gap = rng.random_range(1..5);
    let cells: Vec<String> = (0..rng.random_range(2..8)).map(|_| cell(rng)).collect();
    row.push_str(&cells.join(&" ".repeat(gap)));
    row
}

/// Anchors of rating scales in test reports, `(7=More)`.
const SCALE_WORDS: &[&str] = &[
    "More", "Less", "Better", "Worse", "Easier", "Harder", "Smoother", "Stronger", "Best", "Agree",
    "Yes", "High",
];

/// Person names in several conventions.
pub(super) fn name(rng: &mut ChaCha8Rng) -> String {
    let f = pick(rng, FIRST_NAMES);
    let l = pick(rng, LAST_NAMES);
    let initial = (b'A' + rng.random_range(0..26u8)) as char;
    match rng.random_range(0..7) {
        0 => format!("{f} {l}"),
        1 => format!("{f} {initial}. {l}"),
        2 => format!("{}, {}", l.to_uppercase(), f.to_uppercase()),
        3 => format!(
            "{} {f} {l}",
            pick(rng, &["Dr.", "Mr.", "Mrs.", "Ms.", "Prof."])
        ),
        4 => format!("{initial}. {l}"),
        5 => format!("{f} {l}, {}", pick(rng, &["Jr.", "Ph.D.", "M.D.", "III"])),
        _ => format!("{l}, {f} {initial}."),
    }
}

/// Street addresses (US and Malaysian styles).
pub(super) fn address(rng: &mut ChaCha8Rng) -> String {
    let (city, region) = *pick(rng, CITIES);
    let street = pick(rng, STREETS);
    match rng.random_range(0..8) {
        0 => format!("{} {street} {}", num(rng, 1, 9999), pick(rng, STREET_TYPES)),
        1 => format!(
            "Suite {}, {} {street} {}",
            num(rng, 100, 2500),
            num(rng, 1, 999),
            pick(rng, STREET_TYPES)
        ),
        2 => format!("P.O. Box {}", num(rng, 1, 99999)),
        3 => format!("{city}, {region} {:05}", num(rng, 1000, 99999)),
        4 => format!(
            "No. {}, Jalan {street} {}/{}",
            num(rng, 1, 200),
            num(rng, 1, 30),
            num(rng, 1, 99)
        ),
        5 => format!("{:05} {city}, {region}", num(rng, 10000, 99999)),
        6 => format!(
            "Lot {}-{}, Jalan {street},",
            num(rng, 1, 99),
            num(rng, 1, 99)
        ),
        _ => format!(
            "{} {street} {}, {city}",
            num(rng, 1, 999),
            pick(rng, STREET_TYPES)
        ),
    }
}

/// Uniformly random printable characters (covers rare ASCII symbols).
pub(super) fn random_chars(rng: &mut ChaCha8Rng) -> String {
    let n = rng.random_range(1..20);
    (0..n)
        .map(|_| {
            if rng.random_bool(0.12) {
                ' '
            } else {
                (rng.random_range(0x21u8..=0x7e)) as char
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn amounts_are_well_formed() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..1000 {
            let a = amount(&mut rng, false);
            let (whole, cents) = a.split_once('.').expect("decimal point");
            assert_eq!(cents.len(), 2, "{a}");
            let groups: Vec<&str> = whole.split(',').collect();
            assert!(groups[1..].iter().all(|g| g.len() == 3), "{a}");
            assert!(whole.replace(',', "").parse::<u64>().is_ok(), "{a}");
            let e = amount(&mut rng, true);
            assert!(e.rsplit_once(',').is_some_and(|(_, c)| c.len() == 2), "{e}");
        }
    }

    #[test]
    fn structured_lines_are_nonempty_and_ascii_mostly() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            for s in [
                price(&mut rng),
                date(&mut rng),
                time(&mut rng),
                code(&mut rng),
                phone(&mut rng),
                receipt_item(&mut rng),
                digits(&mut rng),
                name(&mut rng),
                address(&mut rng),
                random_chars(&mut rng),
            ] {
                assert!(!s.trim().is_empty());
            }
            let d = date(&mut rng);
            assert!(d.chars().any(|c| c.is_ascii_digit()), "{d}");
        }
    }
}
