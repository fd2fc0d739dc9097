//! Numbers spelled out as English words, the way num2words does for misaki (without "and"
//! inside cardinals: misaki drops it too).

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
pub const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [(u64, &str); 5] = [
    (1_000_000_000_000_000, "quadrillion"),
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];
/// Beyond this many digits a "number" is an identifier (a serial, a long code); reading it
/// digit by digit is both clearer and keeps the output bounded.
pub const MAX_CARDINAL_DIGITS: usize = 15;

fn below_thousand(n: u64, out: &mut Vec<String>) {
    let hundreds = n / 100;
    let rest = n % 100;
    if hundreds > 0 {
        out.push(ONES[hundreds as usize].to_owned());
        out.push("hundred".to_owned());
    }
    if rest >= 20 {
        let tens = TENS[(rest / 10) as usize];
        out.push(match rest % 10 {
            0 => tens.to_owned(),
            unit => format!("{tens}-{}", ONES[unit as usize]),
        });
    } else if rest > 0 {
        out.push(ONES[rest as usize].to_owned());
    }
}

/// "1234" → "one thousand two hundred thirty-four".
/// Whether `word` is a spelled digit or tens word ("five", "twenty-one"), as the normaliser
/// writes numbers.
pub fn is_number_word(word: &str) -> bool {
    let lower = word.to_lowercase();
    lower
        .split('-')
        .all(|part| ONES.contains(&part) || TENS.contains(&part) || part == "oh")
}

pub fn cardinal(n: u64) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    let mut words = Vec::new();
    let mut rest = n;
    for (scale, name) in SCALES {
        if rest >= scale {
            // n < 10^18 for all callers, so the quotient is below a thousand except for
            // quadrillions, which recurse once.
            let count = rest / scale;
            if count >= 1000 {
                words.push(cardinal(count));
            } else {
                below_thousand(count, &mut words);
            }
            words.push(name.to_owned());
            rest %= scale;
        }
    }
    below_thousand(rest, &mut words);
    words.join(" ")
}

/// "twenty-one" → "twenty-first", "twelve" → "twelfth".
pub fn ordinal(n: u64) -> String {
    let words = cardinal(n);
    let split = words.rfind([' ', '-']).map_or(0, |i| i + 1);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// Each digit on its own: "007" → "zero zero seven".
pub fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| ONES[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cardinal for ordinary numbers, digit by digit for leading zeros and very long strings.
/// `s` holds ASCII digits only.
pub fn integer(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    if (s.len() > 1 && s.starts_with('0')) || s.len() > MAX_CARDINAL_DIGITS {
        return digits(s);
    }
    s.parse::<u64>().map_or_else(|_| digits(s), cardinal)
}

/// num2words' year reading: "1999" → "nineteen ninety-nine", "1905" → "nineteen oh five",
/// "2005" → "two thousand five", "1900" → "nineteen hundred".
pub fn year(n: u64) -> String {
    let (high, low) = (n / 100, n % 100);
    if !(1000..10_000).contains(&n)
        || n.is_multiple_of(1000)
        || (high.is_multiple_of(10) && low < 10)
    {
        return cardinal(n);
    }
    match low {
        0 => format!("{} hundred", cardinal(high)),
        1..=9 => format!("{} oh {}", cardinal(high), cardinal(low)),
        _ => format!("{} {}", cardinal(high), cardinal(low)),
    }
}

/// "nineteen ninety" → "nineteen nineties", for decades such as "1990s".
pub fn pluralize_last(words: &str) -> String {
    match words.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{words}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(13), "thirteen");
        assert_eq!(cardinal(42), "forty-two");
        assert_eq!(cardinal(100), "one hundred");
        assert_eq!(cardinal(305), "three hundred five");
        assert_eq!(
            cardinal(1_234_567),
            "one million two hundred thirty-four thousand five hundred sixty-seven"
        );
        assert_eq!(cardinal(2_000_000_000), "two billion");
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(1), "first");
        assert_eq!(ordinal(22), "twenty-second");
        assert_eq!(ordinal(103), "one hundred third");
        assert_eq!(ordinal(12), "twelfth");
        assert_eq!(ordinal(40), "fortieth");
        assert_eq!(ordinal(11), "eleventh");
    }

    #[test]
    fn years() {
        assert_eq!(year(1999), "nineteen ninety-nine");
        assert_eq!(year(2005), "two thousand five");
        assert_eq!(year(2000), "two thousand");
        assert_eq!(year(1900), "nineteen hundred");
        assert_eq!(year(1905), "nineteen oh five");
        assert_eq!(year(2024), "twenty twenty-four");
    }

    #[test]
    fn long_and_zero_led_numbers_are_read_as_digits() {
        assert_eq!(integer("007"), "zero zero seven");
        assert_eq!(integer("1234567890123456").split(' ').count(), 16);
        assert_eq!(integer("12"), "twelve");
    }
}
