//! cutlet's kana table (`HEPBURN`, as misaki adapts it) and its rules for one kana among its
//! neighbours: the sounds of the `j` voices.

pub fn is_kana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | 'ー')
}

/// jaconv's `kata2hira`: ァ..ヶ to ぁ..ゖ; ヷ..ヺ have no hiragana and stay.
pub fn kata_to_hira(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' | 'ヽ' | 'ヾ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            c => c,
        })
        .collect()
}

pub fn kana_word(hira: &str) -> String {
    let chars: Vec<char> = hira.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        out.push_str(&single_mapping(previous, c, next));
    }
    out
}

const SUTEGANA: &str = "ゃゅょぁぃぅぇぉ";

/// cutlet's `_get_single_mapping`: one kana in the context of its neighbours.
fn single_mapping(previous: Option<char>, kana: char, next: Option<char>) -> String {
    match kana {
        // Iteration marks: ゝ repeats the kana before it, ゞ voices it; 々 and 〃 cannot be
        // read from here.
        'ゝ' | 'ヽ' => return previous.map(|p| table(p).to_owned()).unwrap_or_default(),
        'ゞ' => {
            return previous
                .and_then(add_dakuten)
                .map(|v| table(v).to_owned())
                .unwrap_or_default();
        }
        '〃' | '々' => return String::new(),
        _ => {}
    }
    if let Some(p) = previous
        && let Some(ps) = digraph(p, kana)
    {
        return ps.to_owned();
    }
    if let Some(n) = next {
        if digraph(kana, n).is_some() {
            return String::new();
        }
        if SUTEGANA.contains(n) {
            if kana == 'っ' {
                return String::new();
            }
            let mut base: Vec<char> = table(kana).chars().collect();
            base.pop();
            return base.into_iter().collect::<String>() + table(n);
        }
    }
    if SUTEGANA.contains(kana) {
        return String::new();
    }
    match kana {
        'ー' => "ː".to_owned(),
        'っ' => "ʔ".to_owned(),
        'ん' => {
            // m before m, p, b; ŋ before k, g; ɲ before ɲ, ʨ, ʥ; n before n, t, d, ɾ, z;
            // else the uvular ɴ.
            let following = next.map(table).unwrap_or("");
            let n = if following.starts_with(['m', 'p', 'b']) {
                "m"
            } else if following.starts_with(['k', 'ɡ']) {
                "ŋ"
            } else if following.starts_with(['ɲ', 'ʨ', 'ʥ']) {
                "ɲ"
            } else if following.starts_with(['n', 't', 'd', 'ɾ', 'z']) {
                "n"
            } else {
                "ɴ"
            };
            n.to_owned()
        }
        c => table(c).to_owned(),
    }
}

fn add_dakuten(kana: char) -> Option<char> {
    let plain = "かきくけこさしすせそたちつてとはひふへほ";
    let voiced = "がぎぐげござじずぜぞだぢづでどばびぶべぼ";
    let index = plain.chars().position(|c| c == kana)?;
    voiced.chars().nth(index)
}

/// cutlet's `HEPBURN` for one kana or symbol; "" for anything else.
pub fn table(c: char) -> &'static str {
    kana(c).or_else(|| symbol(c)).unwrap_or("")
}

fn kana(c: char) -> Option<&'static str> {
    Some(match c {
        'ぁ' | 'あ' => "a",
        'ぃ' | 'い' => "i",
        'ぅ' | 'う' => "ɯ",
        'ぇ' | 'え' => "e",
        'ぉ' | 'お' => "o",
        'か' => "ka",
        'が' => "ɡa",
        'き' => "kʲi",
        'ぎ' => "ɡʲi",
        'く' => "kɯ",
        'ぐ' => "ɡɯ",
        'け' => "ke",
        'げ' => "ɡe",
        'こ' => "ko",
        'ご' => "ɡo",
        'さ' => "sa",
        'ざ' => "ʣa",
        'し' => "ɕi",
        'じ' => "ʥi",
        'す' => "sɨ",
        'ず' => "zɨ",
        'せ' => "se",
        'ぜ' => "ʣe",
        'そ' => "so",
        'ぞ' => "ʣo",
        'た' => "ta",
        'だ' => "da",
        'ち' => "ʨi",
        'ぢ' => "ʥi",
        'つ' => "ʦɨ",
        'づ' => "zɨ",
        'て' => "te",
        'で' => "de",
        'と' => "to",
        'ど' => "do",
        'な' => "na",
        'に' => "ɲi",
        'ぬ' => "nɯ",
        'ね' => "ne",
        'の' => "no",
        'は' => "ha",
        'ば' => "ba",
        'ぱ' => "pa",
        'ひ' => "çi",
        'び' => "bʲi",
        'ぴ' => "pʲi",
        'ふ' => "ɸɯ",
        'ぶ' => "bɯ",
        'ぷ' => "pɯ",
        'へ' => "he",
        'べ' => "be",
        'ぺ' => "pe",
        'ほ' => "ho",
        'ぼ' => "bo",
        'ぽ' => "po",
        'ま' => "ma",
        'み' => "mʲi",
        'む' => "mɯ",
        'め' => "me",
        'も' => "mo",
        'ゃ' | 'や' => "ja",
        'ゅ' | 'ゆ' => "jɯ",
        'ょ' | 'よ' => "jo",
        'ら' => "ɾa",
        'り' => "ɾʲi",
        'る' => "ɾɯ",
        'れ' => "ɾe",
        'ろ' => "ɾo",
        'ゎ' | 'わ' => "βa",
        'ゐ' => "i",
        'ゑ' => "e",
        'を' => "o",
        'ゔ' => "vɯ",
        'ゕ' => "ka",
        'ゖ' => "ke",
        'ヷ' => "va",
        'ヸ' => "vʲi",
        'ヹ' => "ve",
        'ヺ' => "vo",
        _ => return None,
    })
}

/// cutlet's two-kana entries (a kana and a small one).
fn digraph(a: char, b: char) -> Option<&'static str> {
    Some(match (a, b) {
        ('い', 'ぇ') => "je",
        ('う', 'ぃ') => "βi",
        ('う', 'ぇ') => "βe",
        ('う', 'ぉ') => "βo",
        ('き', 'ぇ') => "kʲe",
        ('き', 'ゃ') => "kʲa",
        ('き', 'ゅ') => "kʲɨ",
        ('き', 'ょ') => "kʲo",
        ('ぎ', 'ゃ') => "ɡʲa",
        ('ぎ', 'ゅ') => "ɡʲɨ",
        ('ぎ', 'ょ') => "ɡʲo",
        ('く', 'ぁ') => "kᵝa",
        ('く', 'ぃ') => "kᵝi",
        ('く', 'ぇ') => "kᵝe",
        ('く', 'ぉ') => "kᵝo",
        ('ぐ', 'ぁ') => "ɡᵝa",
        ('ぐ', 'ぃ') => "ɡᵝi",
        ('ぐ', 'ぇ') => "ɡᵝe",
        ('ぐ', 'ぉ') => "ɡᵝo",
        ('し', 'ぇ') => "ɕe",
        ('し', 'ゃ') => "ɕa",
        ('し', 'ゅ') => "ɕɨ",
        ('し', 'ょ') => "ɕo",
        ('じ', 'ぇ') => "ʥe",
        ('じ', 'ゃ') => "ʥa",
        ('じ', 'ゅ') => "ʥɨ",
        ('じ', 'ょ') => "ʥo",
        ('ち', 'ぇ') => "ʨe",
        ('ち', 'ゃ') => "ʨa",
        ('ち', 'ゅ') => "ʨɨ",
        ('ち', 'ょ') => "ʨo",
        ('ぢ', 'ゃ') => "ʥa",
        ('ぢ', 'ゅ') => "ʥɨ",
        ('ぢ', 'ょ') => "ʥo",
        ('つ', 'ぁ') => "ʦa",
        ('つ', 'ぃ') => "ʦʲi",
        ('つ', 'ぇ') => "ʦe",
        ('つ', 'ぉ') => "ʦo",
        ('て', 'ぃ') => "tʲi",
        ('て', 'ゅ') => "tʲɨ",
        ('で', 'ぃ') => "dʲi",
        ('で', 'ゅ') => "dʲɨ",
        ('と', 'ぅ') => "tɯ",
        ('ど', 'ぅ') => "dɯ",
        ('に', 'ぇ') => "ɲe",
        ('に', 'ゃ') => "ɲa",
        ('に', 'ゅ') => "ɲɨ",
        ('に', 'ょ') => "ɲo",
        ('ひ', 'ぇ') => "çe",
        ('ひ', 'ゃ') => "ça",
        ('ひ', 'ゅ') => "çɨ",
        ('ひ', 'ょ') => "ço",
        ('び', 'ゃ') => "bʲa",
        ('び', 'ゅ') => "bʲɨ",
        ('び', 'ょ') => "bʲo",
        ('ぴ', 'ゃ') => "pʲa",
        ('ぴ', 'ゅ') => "pʲɨ",
        ('ぴ', 'ょ') => "pʲo",
        ('ふ', 'ぁ') => "ɸa",
        ('ふ', 'ぃ') => "ɸʲi",
        ('ふ', 'ぇ') => "ɸe",
        ('ふ', 'ぉ') => "ɸo",
        ('ふ', 'ゅ') => "ɸʲɨ",
        ('ふ', 'ょ') => "ɸʲo",
        ('み', 'ゃ') => "mʲa",
        ('み', 'ゅ') => "mʲɨ",
        ('み', 'ょ') => "mʲo",
        ('り', 'ゃ') => "ɾʲa",
        ('り', 'ゅ') => "ɾʲɨ",
        ('り', 'ょ') => "ɾʲo",
        ('ゔ', 'ぁ') => "va",
        ('ゔ', 'ぃ') => "vʲi",
        ('ゔ', 'ぇ') => "ve",
        ('ゔ', 'ぉ') => "vo",
        ('ゔ', 'ゅ') => "bʲɨ",
        ('ゔ', 'ょ') => "bʲo",
        _ => return None,
    })
}

/// cutlet's symbol entries; ASCII punctuation reaches [`romaji_word`] as itself.
pub fn symbol(c: char) -> Option<&'static str> {
    Some(match c {
        '。' => ".",
        '、' | '，' => ",",
        '？' => "?",
        '！' => "!",
        '「' | '『' | '«' => "“",
        '」' | '』' | '»' => "”",
        '：' => ":",
        '；' => ";",
        '（' | '《' => "(",
        '）' | '》' => ")",
        '【' => "[",
        '】' => "]",
        '・' => " ",
        '～' | '〜' | '—' => "—",
        '…' => "…",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_map_as_cutlet_maps_them() {
        assert_eq!(kana_word("こんにちは"), "koɲɲiʨiha");
        assert_eq!(kana_word("とーきょー"), "toːkʲoː");
        assert_eq!(kana_word("しんぶん"), "ɕimbɯɴ");
        assert_eq!(kana_word("ぎんこー"), "ɡʲiŋkoː");
        assert_eq!(kana_word("ふぁいる"), "ɸaiɾɯ");
        assert_eq!(kana_word("きって"), "kʲiʔte");
        assert_eq!(kana_word("ゔぁいおりん"), "vaioɾʲiɴ");
        assert_eq!(kana_word("おんな"), "onna");
        assert_eq!(kana_word("さんじ"), "saɲʥi");
    }
}
