//! English text normalisation before lexicon lookup: everything that is not already a word
//! (numbers, money, times, units, URLs, symbols, abbreviations) is rewritten as the words a
//! reader would say. The passes run in a fixed order because later ones would misread the
//! input of earlier ones ("$3.50" must become money before "3.50" becomes a decimal).

use std::sync::OnceLock;

use regex::{Captures, Regex};
use unicode_normalization::UnicodeNormalization;

use super::numbers::{TENS, cardinal, digits, integer, ordinal, pluralize_last, year};

/// A regex compiled once; the patterns are literals covered by the tests below.
macro_rules! regex {
    ($re:expr) => {{
        static RE: OnceLock<Regex> = OnceLock::new();
        RE.get_or_init(|| Regex::new($re).expect("literal regex is valid"))
    }};
}

/// Integer part with optional thousands separators, then optional decimals.
macro_rules! num {
    () => {
        r"([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)((?:\.[0-9]+)*)"
    };
}

/// Rewrites `text` into plain English words and the punctuation the model knows.
pub fn normalize(text: &str) -> String {
    let text = clean_characters(text);
    let text = speak_emails(&text);
    let text = speak_urls(&text);
    let text = expand_abbreviations(&text);
    let text = speak_money(&text);
    let text = speak_percentages(&text);
    let text = speak_times(&text);
    let text = speak_temperatures(&text);
    let text = speak_units(&text);
    let text = speak_ordinals_and_decades(&text);
    let text = speak_numbers(&text);
    let text = speak_symbols(&text);
    regex!(r"\s+").replace_all(&text, " ").trim().to_owned()
}

/// "1½" → "1 and a half", "¾" → "three quarters". Before NFKC, which would make "1½" the
/// digits "11⁄2".
fn speak_vulgar_fractions(text: &str) -> String {
    regex!(r"([0-9]+)?\s?([½¼¾⅓⅔⅛])")
        .replace_all(text, |c: &Captures| {
            let (after_whole, alone) = match &c[2] {
                "½" => ("a half", "one half"),
                "¼" => ("a quarter", "one quarter"),
                "¾" => ("three quarters", "three quarters"),
                "⅓" => ("a third", "one third"),
                "⅔" => ("two thirds", "two thirds"),
                _ => ("an eighth", "one eighth"),
            };
            match c.get(1) {
                Some(whole) => format!("{} and {after_whole}", whole.as_str()),
                None => format!(" {alone}"),
            }
        })
        .into_owned()
}

/// NFKC, then quotes, dashes, ellipses and invisible characters in one canonical form.
fn clean_characters(text: &str) -> String {
    let text = speak_vulgar_fractions(text);
    let nfkc: String = text.nfkc().collect();
    let mut out = String::with_capacity(nfkc.len());
    for c in nfkc.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' => out.push('\''),
            '\u{201E}' | '\u{00AB}' => out.push('“'),
            '\u{00BB}' => out.push('”'),
            '\u{2033}' => out.push('"'),
            '\u{2015}' => out.push('—'),
            // Soft hyphen, zero-width spaces/joiners and BOM: invisible, and they would split
            // or glue words.
            '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    // NFKC turns "…" into "..."; the model has a symbol for it.
    let out = regex!(r"\.{3,}").replace_all(&out, "…");
    let out = regex!(r"([0-9])\s?–\s?([0-9])").replace_all(&out, "$1 to $2");
    let out = regex!(r"\b([12][0-9]{3})-([12][0-9]{3})\b").replace_all(&out, "$1 to $2");
    let out = regex!(r"--+|\s[–-]\s|–").replace_all(&out, " — ");
    out.into_owned()
}

/// Spoken form of a URL or address fragment: separators named, "www" spelled.
fn speak_address(address: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut run = String::new();
    for c in address.chars() {
        if c.is_alphanumeric() {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            words.push(if run.eq_ignore_ascii_case("www") {
                "w w w".to_owned()
            } else {
                std::mem::take(&mut run)
            });
            run.clear();
        }
        let name = match c {
            '.' => "dot",
            '/' => "slash",
            '-' => "dash",
            '_' => "underscore",
            ':' => "colon",
            '?' => "question mark",
            '=' => "equals",
            '&' => "and",
            '#' => "hash",
            '%' => "percent",
            '~' => "tilde",
            '+' => "plus",
            '@' => "at",
            _ => continue,
        };
        words.push(name.to_owned());
    }
    if !run.is_empty() {
        words.push(run);
    }
    // A trailing slash is not read aloud.
    while words.last().is_some_and(|w| w == "slash") {
        words.pop();
    }
    words.join(" ")
}

/// Sentence punctuation that ends a URL or address match belongs to the sentence.
fn split_trailing_punctuation(s: &str) -> (&str, &str) {
    let core = s.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '\'', '"', '”']);
    (core, &s[core.len()..])
}

fn speak_emails(text: &str) -> String {
    regex!(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
        .replace_all(text, |c: &Captures| {
            let (address, tail) = split_trailing_punctuation(&c[0]);
            format!("{}{tail}", speak_address(address))
        })
        .into_owned()
}

fn speak_urls(text: &str) -> String {
    regex!(
        r"(?i)\b(?:(?:https?|ftp)://[^\s<>]+|www\.[^\s<>]+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|io|dev|ai|app|info|co\.uk|uk|de|fr|eu)\b(?:/[^\s<>]*)?)"
    )
    .replace_all(text, |c: &Captures| {
        let (url, tail) = split_trailing_punctuation(&c[0]);
        let url = regex!(r"(?i)^[a-z]+://").replace(url, "");
        format!("{}{tail}", speak_address(&url))
    })
    .into_owned()
}

fn expand_abbreviations(text: &str) -> String {
    let text = regex!(r"\b(Dr|Mr|Mrs|Ms|Prof|Jr|Sr|Mt|Gen|Sen|Rev|Gov|Capt|Lt|Sgt|approx)\.")
        .replace_all(text, |c: &Captures| {
            match &c[1] {
                "Gen" => "General",
                "Sen" => "Senator",
                "Rev" => "Reverend",
                "Gov" => "Governor",
                "Capt" => "Captain",
                "Lt" => "Lieutenant",
                "Sgt" => "Sergeant",
                "Dr" => "Doctor",
                "Mr" => "Mister",
                "Mrs" => "Missus",
                "Ms" => "Miz",
                "Prof" => "Professor",
                "Jr" => "Junior",
                "Sr" => "Senior",
                "Mt" => "Mount",
                _ => "approximately",
            }
            .to_owned()
        });
    // "St. Louis" is a saint, "Main St." a street.
    let text = regex!(r"\bSt\.(\s+[A-Z])?").replace_all(&text, |c: &Captures| match c.get(1) {
        Some(next) => format!("Saint{}", next.as_str()),
        None => "Street".to_owned(),
    });
    let text = regex!(r"(?i)\be\.g\.").replace_all(&text, "for example");
    // A grade: "A+" is the letter, not the article.
    let text = regex!(r"\b([A-F])\+").replace_all(&text, "$1-plus");
    // Degrees: the full stops inside are no sentence ends.
    let text = regex!(r"\b(Ph|B\.?Sc|M\.?Sc|B\.?A|M\.?A)\.?D?\.(\s|$)").replace_all(
        &text,
        |c: &Captures| {
            // Dotted letters are one spelled word, as misaki reads "PhD".
            let spelled = match c[1].replace('.', "").as_str() {
                "Ph" => "P.H.D.",
                "BSc" => "B.S.C.",
                "MSc" => "M.S.C.",
                "BA" => "B.A.",
                _ => "M.A.",
            };
            format!("{spelled}{}", &c[2])
        },
    );
    // "Acme Co." is a company; "p. 5" a page.
    let text = regex!(r"\b([A-Z][a-z]+ )Co\.").replace_all(&text, "${1}Company");
    let text = regex!(r"\bpp?\.\s?([0-9])").replace_all(&text, |c: &Captures| {
        let word = if c[0].starts_with("pp") {
            "pages"
        } else {
            "page"
        };
        format!("{word} {}", &c[1])
    });
    let text = regex!(r"(?i)\bi\.e\.").replace_all(&text, "that is");
    // "etc." usually ends its sentence too; keep the full stop when a new sentence follows.
    // The bare word is in the lexicon (ɛtsˈɛɾəɹə); "cetera" alone is not.
    let text =
        regex!(r"\b(?i:etc)\.(\s+[A-Z]|\s*$)?").replace_all(&text, |c: &Captures| match c.get(1) {
            Some(next) => format!("etc.{}", next.as_str()),
            None => "etc".to_owned(),
        });
    let text = regex!(r"\b[Vv]s\b\.?").replace_all(&text, "versus");
    let text = regex!(r"\bNo\.\s?([0-9])").replace_all(&text, "number $1");
    // Before numbers are spelled, while "#1" still reads as a number sign.
    let text = regex!(r"#\s?([0-9])").replace_all(&text, "number $1");
    text.into_owned()
}

/// A number as words: "1,234.5" → "one thousand two hundred thirty-four point five".
fn number_words(int_part: &str, fraction: &str) -> String {
    let mut words = integer(&int_part.replace(',', ""));
    for part in fraction.split('.').filter(|p| !p.is_empty()) {
        words.push_str(" point ");
        words.push_str(&digits(part));
    }
    words
}

fn is_one(int_part: &str, fraction: &str) -> bool {
    int_part == "1" && fraction.is_empty()
}

fn speak_money(text: &str) -> String {
    // "10 € per kilo", "5£": the symbol after the amount, as much of Europe writes it.
    let text = regex!(concat!(num!(), r"\s?([£€¥])")).replace_all(text, |c: &Captures| {
        let unit = match &c[3] {
            "£" => ("pound", "pounds"),
            "€" => ("euro", "euros"),
            _ => ("yen", "yen"),
        };
        let name = if is_one(&c[1], &c[2]) { unit.0 } else { unit.1 };
        format!("{} {name}", number_words(&c[1], &c[2]))
    });
    // "-$250": the minus belongs to the amount.
    let text = regex!(r"(^|[\s(])-([$£€¥])").replace_all(&text, "${1}minus $2");
    regex!(concat!(
        r"([$£€¥])\s?",
        num!(),
        r"(?:\s?(thousand|million|billion|trillion|[kKmMbB]n?)\b)?"
    ))
    .replace_all(&text, |c: &Captures| {
        let (unit, subunit) = match &c[1] {
            "$" => (("dollar", "dollars"), ("cent", "cents")),
            "£" => (("pound", "pounds"), ("penny", "pence")),
            "€" => (("euro", "euros"), ("cent", "cents")),
            _ => (("yen", "yen"), ("sen", "sen")),
        };
        let (int_part, fraction) = (&c[2], &c[3]);
        if let Some(scale) = c.get(4) {
            let scale = match scale.as_str().to_ascii_lowercase().as_str() {
                "k" => "thousand",
                "m" => "million",
                "b" | "bn" => "billion",
                other => return format!("{} {other} {}", number_words(int_part, fraction), unit.1),
            };
            return format!("{} {scale} {}", number_words(int_part, fraction), unit.1);
        }
        let whole = integer(&int_part.replace(',', ""));
        let cents = fraction.strip_prefix('.').unwrap_or("");
        if cents.is_empty() || cents.len() > 2 || cents.contains('.') {
            let name = if is_one(int_part, fraction) {
                unit.0
            } else {
                unit.1
            };
            return format!("{} {name}", number_words(int_part, fraction));
        }
        // "$3.5" is three dollars fifty, not five cents.
        let cents: u64 = format!("{cents:0<2}").parse().unwrap_or(0);
        let main = format!("{whole} {}", if int_part == "1" { unit.0 } else { unit.1 });
        let sub = format!(
            "{} {}",
            cardinal(cents),
            if cents == 1 { subunit.0 } else { subunit.1 }
        );
        match (int_part.trim_start_matches('0').is_empty(), cents == 0) {
            (_, true) => main,
            (true, false) => sub,
            (false, false) => format!("{main} and {sub}"),
        }
    })
    .into_owned()
}

fn speak_percentages(text: &str) -> String {
    regex!(concat!(r"(-?)", num!(), r"\s?%"))
        .replace_all(text, |c: &Captures| {
            let sign = if c[1].is_empty() { "" } else { "minus " };
            format!("{sign}{} percent", number_words(&c[2], &c[3]))
        })
        .into_owned()
}

fn speak_times(text: &str) -> String {
    regex!(r"\b([0-9]{1,2}):([0-5][0-9])(?::([0-5][0-9]))?(?:\s?([AaPp])\.?[Mm]\b\.?|\b)")
        .replace_all(text, |c: &Captures| {
            let hour: u64 = c[1].parse().unwrap_or(0);
            let minute: u64 = c[2].parse().unwrap_or(0);
            let meridiem = c.get(4).map(|m| m.as_str().to_ascii_lowercase());
            let mut words = cardinal(hour);
            match (minute, &meridiem) {
                (0, Some(_)) => {}
                (0, None) if hour <= 12 => words.push_str(" o'clock"),
                (0, None) => words.push_str(" hundred"),
                (1..=9, _) => words.push_str(&format!(" oh {}", cardinal(minute))),
                _ => words.push_str(&format!(" {}", cardinal(minute))),
            }
            if let Some(seconds) = c.get(3) {
                let seconds: u64 = seconds.as_str().parse().unwrap_or(0);
                let unit = if seconds == 1 { "second" } else { "seconds" };
                words.push_str(&format!(" and {} {unit}", cardinal(seconds)));
            }
            if let Some(meridiem) = meridiem {
                // Dotted so the lexicon spells it out ("a.m." rather than the verb "am").
                words.push_str(&format!(" {meridiem}.m."));
            }
            words
        })
        .into_owned()
}

fn speak_temperatures(text: &str) -> String {
    regex!(concat!(r"(-?)", num!(), r"\s?°(?:\s?([CF]\b))?"))
        .replace_all(text, |c: &Captures| {
            let sign = if c[1].is_empty() { "" } else { "minus " };
            let degrees = if is_one(&c[2], &c[3]) {
                "degree"
            } else {
                "degrees"
            };
            let scale = match c.get(4).map(|m| m.as_str()) {
                Some("C") => " Celsius",
                Some("F") => " Fahrenheit",
                _ => "",
            };
            format!("{sign}{} {degrees}{scale}", number_words(&c[2], &c[3]))
        })
        .into_owned()
}

/// (symbol, singular, plural); longer symbols first so "km/h" wins over "km".
const UNITS: &[(&str, &str, &str)] = &[
    ("km/h", "kilometer per hour", "kilometers per hour"),
    ("kph", "kilometer per hour", "kilometers per hour"),
    ("mph", "mile per hour", "miles per hour"),
    ("kWh", "kilowatt hour", "kilowatt hours"),
    ("Mbps", "megabit per second", "megabits per second"),
    ("Gbps", "gigabit per second", "gigabits per second"),
    ("kHz", "kilohertz", "kilohertz"),
    ("MHz", "megahertz", "megahertz"),
    ("GHz", "gigahertz", "gigahertz"),
    ("Hz", "hertz", "hertz"),
    ("km", "kilometer", "kilometers"),
    ("cm", "centimeter", "centimeters"),
    ("mm", "millimeter", "millimeters"),
    ("kg", "kilogram", "kilograms"),
    ("mg", "milligram", "milligrams"),
    ("ml", "milliliter", "milliliters"),
    ("mL", "milliliter", "milliliters"),
    ("lbs", "pound", "pounds"),
    ("lb", "pound", "pounds"),
    ("oz", "ounce", "ounces"),
    ("ft", "foot", "feet"),
    ("mi", "mile", "miles"),
    ("KB", "kilobyte", "kilobytes"),
    ("kB", "kilobyte", "kilobytes"),
    ("MB", "megabyte", "megabytes"),
    ("GB", "gigabyte", "gigabytes"),
    ("TB", "terabyte", "terabytes"),
    ("kW", "kilowatt", "kilowatts"),
    ("ms", "millisecond", "milliseconds"),
    ("sec", "second", "seconds"),
    ("min", "minute", "minutes"),
    ("hrs", "hour", "hours"),
    ("hr", "hour", "hours"),
    ("h", "hour", "hours"),
    ("m", "meter", "meters"),
    ("g", "gram", "grams"),
    ("L", "liter", "liters"),
    ("W", "watt", "watts"),
    ("V", "volt", "volts"),
];

fn speak_units(text: &str) -> String {
    regex!(concat!(
        num!(),
        r"\s?(km/h|kph|mph|kWh|Mbps|Gbps|kHz|MHz|GHz|Hz|km|cm|mm|kg|mg|ml|mL|lbs|lb|oz|ft|mi|KB|kB|MB|GB|TB|kW|ms|sec|min|hrs|hr|h|m|g|L|W|V)\b"
    ))
    .replace_all(text, |c: &Captures| {
        let Some(&(_, singular, plural)) = UNITS.iter().find(|(symbol, _, _)| *symbol == &c[3])
        else {
            return c[0].to_owned();
        };
        let name = if is_one(&c[1], &c[2]) { singular } else { plural };
        format!("{} {name}", number_words(&c[1], &c[2]))
    })
    .into_owned()
}

fn speak_ordinals_and_decades(text: &str) -> String {
    let text = regex!(r"(?i)\b([0-9]{1,15})(st|nd|rd|th)\b").replace_all(text, |c: &Captures| {
        c[1].parse().map_or_else(|_| c[0].to_owned(), ordinal)
    });
    regex!(r"'?\b([0-9]{2}|[0-9]{4})s\b")
        .replace_all(&text, |c: &Captures| {
            let n: u64 = c[1].parse().unwrap_or(0);
            match (c[1].len(), n % 10) {
                // "'80s" → "eighties"
                (2, 0) if n >= 20 => pluralize_last(TENS[(n / 10) as usize]),
                (4, 0) => pluralize_last(&year(n)),
                _ => pluralize_last(&integer(&c[1])),
            }
        })
        .into_owned()
}

fn speak_numbers(text: &str) -> String {
    let text = regex!(r"(^|[\s(\[])-([0-9])").replace_all(text, "${1}minus $2");
    let text = regex!(r"(^|[\s(\[])\.([0-9]+)").replace_all(&text, |c: &Captures| {
        format!("{}point {}", &c[1], digits(&c[2]))
    });
    let text = regex!(r"([0-9])-([0-9])").replace_all(&text, "$1 $2");
    regex!(concat!(r"([\p{L}]?)", num!(), r"([\p{L}]*)"))
        .replace_all(&text, |c: &Captures| {
            let (before, int_part, fraction, after) = (&c[1], &c[2], &c[3], &c[4]);
            let plain = int_part.replace(',', "");
            let mut words = match plain.parse::<u64>() {
                Ok(n)
                    if fraction.is_empty() && int_part.len() == 4 && (1100..=2099).contains(&n) =>
                {
                    year(n)
                }
                _ => number_words(int_part, fraction),
            };
            match after {
                "" => {}
                "s" => words = pluralize_last(&words),
                letters => words = format!("{words} {letters}"),
            }
            if before.is_empty() {
                words
            } else {
                format!("{before} {words}")
            }
        })
        .into_owned()
}

fn speak_symbols(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let word = match c {
            '&' => " and ",
            '@' => " at ",
            '+' => " plus ",
            '=' => " equals ",
            '%' => " percent ",
            '#' => " hash ",
            '/' => " slash ",
            '°' => " degrees ",
            '×' => " times ",
            '_' | '*' | '|' | '~' | '^' | '<' | '>' | '\\' => " ",
            c => {
                out.push(c);
                continue;
            }
        };
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize as n;

    #[test]
    fn cardinals_negatives_decimals_and_separators() {
        assert_eq!(n("I have 42 apples."), "I have forty-two apples.");
        assert_eq!(n("It was -5 outside"), "It was minus five outside");
        assert_eq!(n("pi is 3.14"), "pi is three point one four");
        assert_eq!(
            n("1,234,567 people"),
            "one million two hundred thirty-four thousand five hundred sixty-seven people"
        );
        assert_eq!(n("0.5"), "zero point five");
        assert_eq!(n("version 1.2.3"), "version one point two point three");
        assert_eq!(n("agent 007"), "agent zero zero seven");
        assert_eq!(n("1, 2, 3"), "one, two, three");
    }

    #[test]
    fn ordinals() {
        assert_eq!(n("1st place"), "first place");
        assert_eq!(n("the 22nd of May"), "the twenty-second of May");
        assert_eq!(n("103rd street"), "one hundred third street");
        assert_eq!(n("11th"), "eleventh");
    }

    #[test]
    fn years_and_decades() {
        assert_eq!(n("in 1999"), "in nineteen ninety-nine");
        assert_eq!(n("in 2005"), "in two thousand five");
        assert_eq!(n("by 2024,"), "by twenty twenty-four,");
        assert_eq!(n("the 1900s"), "the nineteen hundreds");
        assert_eq!(n("the 1990s"), "the nineteen nineties");
        assert_eq!(n("the '80s"), "the eighties");
        assert_eq!(n("1990-1995"), "nineteen ninety to nineteen ninety-five");
        assert_eq!(n("pages 10–20"), "pages ten to twenty");
    }

    #[test]
    fn money() {
        assert_eq!(n("$5"), "five dollars");
        assert_eq!(n("$1"), "one dollar");
        assert_eq!(n("$3.50"), "three dollars and fifty cents");
        assert_eq!(n("$0.99"), "ninety-nine cents");
        assert_eq!(n("£20"), "twenty pounds");
        assert_eq!(n("€1.5 million"), "one point five million euros");
        assert_eq!(n("$2bn"), "two billion dollars");
        assert_eq!(n("$1,000"), "one thousand dollars");
    }

    #[test]
    fn percentages() {
        assert_eq!(n("50%"), "fifty percent");
        assert_eq!(n("12.5 %"), "twelve point five percent");
        assert_eq!(n("-3%"), "minus three percent");
    }

    #[test]
    fn times() {
        assert_eq!(n("at 3:30 pm"), "at three thirty p.m.");
        assert_eq!(n("at 3:30pm."), "at three thirty p.m.");
        assert_eq!(n("14:05"), "fourteen oh five");
        assert_eq!(n("9:00 AM"), "nine a.m.");
        assert_eq!(n("at 10:00"), "at ten o'clock");
        assert_eq!(n("18:00"), "eighteen hundred");
    }

    #[test]
    fn units() {
        assert_eq!(n("5 km"), "five kilometers");
        assert_eq!(n("10kg"), "ten kilograms");
        assert_eq!(n("3 MB"), "three megabytes");
        assert_eq!(n("60 mph"), "sixty miles per hour");
        assert_eq!(n("1 km"), "one kilometer");
        assert_eq!(n("20°C"), "twenty degrees Celsius");
        assert_eq!(
            n("Turn 90° to the right."),
            "Turn ninety degrees to the right."
        );
        assert_eq!(n("It costs 10 € per kilo."), "It costs ten euros per kilo.");
        assert_eq!(
            n("The balance is -$250."),
            "The balance is minus two hundred fifty dollars."
        );
        assert_eq!(
            n("Add 1½ cups, then ¾ more."),
            "Add one and a half cups, then three quarters more."
        );
        assert_eq!(n("He got an A+ on it."), "He got an A-plus on it.");
        assert_eq!(
            n("Sen. Lee and Gen. Grant"),
            "Senator Lee and General Grant"
        );
        assert_eq!(
            n("Rev. Jones of Acme Co. on p. 5"),
            "Reverend Jones of Acme Company on page five"
        );
        assert_eq!(
            n("He has a Ph.D. in it and a B.Sc. too."),
            "He has a P.H.D. in it and a B.S.C. too."
        );
        assert_eq!(n("-40 °F"), "minus forty degrees Fahrenheit");
        assert_eq!(n("100 km/h"), "one hundred kilometers per hour");
    }

    #[test]
    fn abbreviations() {
        assert_eq!(n("Dr. Smith"), "Doctor Smith");
        assert_eq!(n("Mr. and Mrs. Jones"), "Mister and Missus Jones");
        assert_eq!(n("St. Louis"), "Saint Louis");
        assert_eq!(n("Main St."), "Main Street");
        assert_eq!(n("fruit, e.g. apples"), "fruit, for example apples");
        assert_eq!(n("one, i.e. two"), "one, that is two");
        assert_eq!(n("cats, dogs, etc. and"), "cats, dogs, etc and");
        assert_eq!(n("cats etc. Then"), "cats etc. Then");
        assert_eq!(n("cats vs. dogs"), "cats versus dogs");
    }

    #[test]
    fn urls_and_emails() {
        assert_eq!(n("see example.com."), "see example dot com.");
        assert_eq!(
            n("https://www.example.org/docs/"),
            "w w w dot example dot org slash docs"
        );
        assert_eq!(
            n("mail jane@example.org, thanks"),
            "mail jane at example dot org, thanks"
        );
        assert_eq!(
            n("go to github.com/rust-lang"),
            "go to github dot com slash rust dash lang"
        );
    }

    #[test]
    fn symbols() {
        assert_eq!(n("salt & pepper"), "salt and pepper");
        assert_eq!(n("2 + 2 = 4"), "two plus two equals four");
        assert_eq!(n("#1 hit"), "number one hit");
        assert_eq!(n("#rust"), "hash rust");
        assert_eq!(n("and/or"), "and slash or");
        assert_eq!(n("me @ home"), "me at home");
    }

    #[test]
    fn unicode_quotes_and_dashes() {
        assert_eq!(n("don’t"), "don't");
        assert_eq!(n("wait… what"), "wait… what");
        assert_eq!(n("wait... what"), "wait… what");
        assert_eq!(n("yes -- no"), "yes — no");
        assert_eq!(n("yes – no"), "yes — no");
        assert_eq!(n("ｆｕｌｌ width"), "full width");
        assert_eq!(n("a\u{200B}b\tc\u{0007}d"), "ab c d");
        assert_eq!(n("x²"), "x two");
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(n("Hello, world!"), "Hello, world!");
        assert_eq!(n("  spaced   out  "), "spaced out");
        assert_eq!(n(""), "");
    }

    #[test]
    fn pathological_input_stays_linear() {
        let commas = ",".repeat(10_000);
        assert_eq!(n(&commas), commas);
        let long_number = "9".repeat(20_000);
        assert_eq!(n(&long_number).split(' ').count(), 20_000);
    }
}
