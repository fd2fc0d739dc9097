//! Mandarin G2P as misaki's `ZHG2P` reads it for Kokoro-82M v1.0 (its `legacy_call`): digits
//! become Chinese numerals (cn2an), runs of Han characters are cut into words (jieba), each
//! character's pinyin (TONE3) becomes IPA by the pinyin-to-ipa tables misaki adapted, and the
//! tone letters become Kokoro's tone arrows. Everything else passes through, as in misaki.

use std::sync::OnceLock;

use jieba_rs::Jieba;
use pinyin::ToPinyin;

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

fn is_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// misaki's `map_punctuation`: full-width marks as ASCII ones followed by a space.
fn map_punctuation(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '、' | '，' => out.push_str(", "),
            '。' | '．' => out.push_str(". "),
            '！' => out.push_str("! "),
            '：' => out.push_str(": "),
            '；' => out.push_str("; "),
            '？' => out.push_str("? "),
            '«' | '《' | '「' | '【' => out.push_str(" “"),
            '»' | '》' | '」' | '】' => out.push_str("” "),
            '（' => out.push_str(" ("),
            '）' => out.push_str(") "),
            c => out.push(c),
        }
    }
    out.trim().to_owned()
}

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// An integer below 10¹⁶ in Chinese numerals (cn2an's `an2cn`, low style): 2024 → 二千零二十四.
fn integer_to_chinese(digits: &str) -> String {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return "零".into();
    }
    if digits.len() > 16 {
        return digits
            .chars()
            .filter_map(|d| d.to_digit(10).map(|d| DIGITS[d as usize]))
            .collect();
    }
    const UNITS: [&str; 4] = ["", "十", "百", "千"];
    const GROUPS: [&str; 4] = ["", "万", "亿", "万亿"];
    let values: Vec<usize> = digits
        .chars()
        .filter_map(|d| d.to_digit(10).map(|d| d as usize))
        .collect();
    // Groups of four digits (万, 亿), most significant first; a run of zeros inside the
    // number is read as one 零.
    let mut groups: Vec<&[usize]> = values.rchunks(4).collect();
    groups.reverse();
    let mut out = String::new();
    let mut zero = false;
    for (level, group) in groups
        .iter()
        .enumerate()
        .map(|(i, g)| (groups.len() - 1 - i, g))
    {
        let mut spoken = false;
        for (i, &d) in group.iter().enumerate() {
            if d == 0 {
                zero = !out.is_empty();
                continue;
            }
            if zero {
                out.push('零');
                zero = false;
            }
            out.push(DIGITS[d]);
            out.push_str(UNITS[group.len() - 1 - i]);
            spoken = true;
        }
        if spoken {
            out.push_str(GROUPS[level]);
        }
    }
    // 一十二 is said 十二.
    if out.starts_with("一十") {
        out.remove(0);
    }
    out
}

/// Arabic numbers (with an optional decimal part) in Chinese numerals, as cn2an's
/// `transform(text, "an2cn")` does for plain numbers.
fn numbers_to_chinese(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let whole: String = chars[start..i].iter().collect();
        out.push_str(&integer_to_chinese(&whole));
        if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
            out.push('点');
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                let d = chars[i].to_digit(10).unwrap_or(0) as usize;
                out.push(DIGITS[d]);
                i += 1;
            }
        }
    }
    out
}

/// pypinyin's strict initial of a toneless syllable, and the rest of it.
fn split_initial(syllable: &str) -> (Option<&'static str>, &str) {
    const INITIALS: [&str; 21] = [
        "zh", "ch", "sh", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "q", "r",
        "s", "t", "x", "z",
    ];
    for initial in INITIALS {
        if let Some(rest) = syllable.strip_prefix(initial)
            && !rest.is_empty()
        {
            return (Some(initial), rest);
        }
    }
    (None, syllable)
}

/// pypinyin's strict final: the spelling rules of y-, w-, ju/qu/xu, -iu, -ui, -un undone.
fn strict_final(initial: Option<&str>, rest: &str) -> String {
    if initial.is_none() {
        if let Some(after) = rest.strip_prefix('y') {
            return match after {
                "u" => "ü".into(),
                "ue" => "üe".into(),
                "uan" => "üan".into(),
                "un" => "ün".into(),
                "i" | "in" | "ing" => after.into(),
                "ou" => "iou".into(),
                _ => format!("i{after}"),
            };
        }
        if let Some(after) = rest.strip_prefix('w') {
            return match after {
                "u" => "u".into(),
                _ => format!("u{after}"),
            };
        }
    }
    if matches!(initial, Some("j" | "q" | "x")) && rest.starts_with('u') {
        return format!("ü{}", &rest[1..]);
    }
    match rest {
        "iu" => "iou".into(),
        "ui" => "uei".into(),
        "un" => "uen".into(),
        _ => rest.into(),
    }
}

/// misaki's `FINAL_MAPPING` (`0` marks where the tone goes).
fn final_ipa(final_: &str) -> Option<&'static str> {
    Some(match final_ {
        "a" => "a0",
        "ai" => "ai̯0",
        "an" => "a0n",
        "ang" => "a0ŋ",
        "ao" => "au̯0",
        "e" => "ɤ0",
        "ei" => "ei̯0",
        "en" => "ə0n",
        "eng" => "ə0ŋ",
        "i" => "i0",
        "ia" => "ja0",
        "ian" => "jɛ0n",
        "iang" => "ja0ŋ",
        "iao" => "jau̯0",
        "ie" => "je0",
        "in" => "i0n",
        "iou" => "jou̯0",
        "ing" => "i0ŋ",
        "iong" => "jʊ0ŋ",
        "ong" => "ʊ0ŋ",
        "ou" => "ou̯0",
        "u" => "u0",
        "uei" => "wei̯0",
        "ua" => "wa0",
        "uai" => "wai̯0",
        "uan" => "wa0n",
        "uen" => "wə0n",
        "uang" => "wa0ŋ",
        "ueng" => "wə0ŋ",
        "uo" | "o" => "wo0",
        "ü" => "y0",
        "üe" => "ɥe0",
        "üan" => "ɥɛ0n",
        "ün" => "y0n",
        _ => return None,
    })
}

fn initial_ipa(initial: &str) -> &'static str {
    match initial {
        "b" => "p",
        "c" => "ʦʰ",
        "ch" => "ꭧʰ",
        "d" => "t",
        "f" => "f",
        "g" => "k",
        "h" => "x",
        "j" => "ʨ",
        "k" => "kʰ",
        "l" => "l",
        "m" => "m",
        "n" => "n",
        "p" => "pʰ",
        "q" => "ʨʰ",
        "r" => "ɻ",
        "s" => "s",
        "sh" => "ʂ",
        "t" => "tʰ",
        "x" => "ɕ",
        "z" => "ʦ",
        "zh" => "ꭧ",
        _ => "",
    }
}

/// Kokoro's tone arrows for tones 1–4 (misaki's `retone` of the Chao tone letters); the
/// neutral tone (5) has none.
fn tone_arrow(tone: u32) -> &'static str {
    match tone {
        1 => "→",
        2 => "↗",
        3 => "↓",
        4 => "↘",
        _ => "",
    }
}

/// One TONE3 syllable (`zhong1`, `lü4`, `de5`) → misaki's IPA; `None` for one it cannot read.
pub fn syllable_ipa(tone3: &str) -> Option<String> {
    let (body, tone) = match tone3.chars().last()?.to_digit(10) {
        Some(tone) => (&tone3[..tone3.len() - 1], tone),
        None => (tone3, 5),
    };
    let body = body.replace('v', "ü");
    let tone = tone_arrow(tone);
    let with_tone = |ipa: &str| ipa.replace('0', tone);
    // misaki's interjections and syllabic consonants.
    let special = match body.as_str() {
        "io" => Some("jɔ0"),
        "ê" => Some("ɛ0"),
        "er" => Some("ɚ0"),
        "o" => Some("ɔ0"),
        "hm" => Some("hm0"),
        "hng" => Some("hŋ0"),
        "m" => Some("m0"),
        "n" => Some("n0"),
        "ng" => Some("ŋ0"),
        _ => None,
    };
    if let Some(ipa) = special {
        return Some(with_tone(ipa));
    }
    let (initial, rest) = split_initial(&body);
    let final_ = strict_final(initial, rest);
    // The apical vowels of zhi/chi/shi/ri and zi/ci/si: misaki writes both as ɨ.
    let rhyme = match (initial, final_.as_str()) {
        (Some("zh" | "ch" | "sh" | "r" | "z" | "c" | "s"), "i") => "ɨ0",
        _ => final_ipa(&final_)?,
    };
    let onset = initial.map_or("", initial_ipa);
    // The non-syllabic mark of the diphthongs is dropped, as misaki's legacy reading does.
    Some(format!("{onset}{}", with_tone(rhyme)).replace('\u{32F}', ""))
}

/// A Han word → IPA, one syllable per character (a character without a reading is dropped).
fn word_ipa(word: &str) -> String {
    word.to_pinyin()
        .flatten()
        .filter_map(|p| syllable_ipa(p.with_tone_num_end()))
        .collect()
}

/// Mandarin text → misaki phonemes (before the vocabulary filter).
pub fn phonemize(text: &str) -> String {
    let text = map_punctuation(&numbers_to_chinese(text));
    let mut out = String::new();
    let mut han = String::new();
    let flush = |han: &mut String, out: &mut String| {
        if han.is_empty() {
            return;
        }
        let words: Vec<String> = jieba()
            .cut(han, true)
            .into_iter()
            .map(word_ipa)
            .filter(|w| !w.is_empty())
            .collect();
        out.push_str(&words.join(" "));
        han.clear();
    };
    for c in text.chars() {
        if is_han(c) {
            han.push(c);
        } else {
            flush(&mut han, &mut out);
            out.push(c);
        }
    }
    flush(&mut han, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_follow_misakis_tables() {
        assert_eq!(syllable_ipa("zhong1").as_deref(), Some("ꭧʊ→ŋ"));
        assert_eq!(syllable_ipa("guo2").as_deref(), Some("kwo↗"));
        assert_eq!(syllable_ipa("ni3").as_deref(), Some("ni↓"));
        assert_eq!(syllable_ipa("hao3").as_deref(), Some("xau↓"));
        assert_eq!(syllable_ipa("shi4").as_deref(), Some("ʂɨ↘"));
        assert_eq!(syllable_ipa("si4").as_deref(), Some("sɨ↘"));
        assert_eq!(syllable_ipa("xue2").as_deref(), Some("ɕɥe↗"));
        assert_eq!(syllable_ipa("lü4").as_deref(), Some("ly↘"));
        assert_eq!(syllable_ipa("you3").as_deref(), Some("jou↓"));
        assert_eq!(syllable_ipa("wei4").as_deref(), Some("wei↘"));
        assert_eq!(syllable_ipa("yu2").as_deref(), Some("y↗"));
        assert_eq!(syllable_ipa("gui4").as_deref(), Some("kwei↘"));
        assert_eq!(syllable_ipa("er4").as_deref(), Some("ɚ↘"));
        assert_eq!(syllable_ipa("de5").as_deref(), Some("tɤ"));
        assert_eq!(syllable_ipa("de").as_deref(), Some("tɤ"));
    }

    #[test]
    fn numbers_are_read_in_chinese() {
        assert_eq!(numbers_to_chinese("2024"), "二千零二十四");
        assert_eq!(numbers_to_chinese("12"), "十二");
        assert_eq!(numbers_to_chinese("105"), "一百零五");
        assert_eq!(numbers_to_chinese("30000"), "三万");
        assert_eq!(numbers_to_chinese("100200"), "十万零二百");
        assert_eq!(numbers_to_chinese("3.14米"), "三点一四米");
        assert_eq!(numbers_to_chinese("0"), "零");
    }

    #[test]
    fn a_sentence_is_cut_into_words_with_tones_and_punctuation() {
        let ps = phonemize("你好，世界。");
        assert_eq!(ps, "ni↓xau↓, ʂɨ↘ʨje↘.");
    }
}
