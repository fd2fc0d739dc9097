//! The Japanese G2P: cutlet's rules on hand-made words, then whole sentences through the real
//! dictionary (models/ja-dict, `make models`).

use super::*;

/// A word as `words_of` makes it: a symbol has no reading and is read from its surface.
fn word(surface: &str, reading: &str) -> Word {
    Word {
        surface: surface.to_owned(),
        hira: kata_to_hira(if reading.is_empty() { surface } else { reading }),
        known: !reading.is_empty(),
    }
}

fn phonemes(words: &[Word]) -> String {
    assemble(&romaji_tokens(words)).phonemes
}

/// Each spoken word's text with the phonemes its range covers.
fn spans(out: &Phonemized) -> Vec<(String, String)> {
    out.words
        .iter()
        .map(|w| {
            let ps = out
                .phonemes
                .chars()
                .skip(w.phonemes.start)
                .take(w.phonemes.len())
                .collect();
            (w.text.clone(), ps)
        })
        .collect()
}

#[test]
fn words_are_spaced_and_punctuation_attached() {
    let words = [
        word("今日", "キョー"),
        word("は", "ワ"),
        word("、", ""),
        word("晴れ", "ハレ"),
        word("です", "デス"),
        word("。", ""),
    ];
    assert_eq!(phonemes(&words), "kʲoː βa, haɾe desɨ.");
    let quoted = [
        word("彼", "カレ"),
        word("は", "ワ"),
        word("「", ""),
        word("はい", "ハイ"),
        word("」", ""),
        word("と", "ト"),
    ];
    assert_eq!(phonemes(&quoted), "kaɾe βa “hai” to");
}

#[test]
fn no_space_beside_the_glottal_stop() {
    // An interjection's final っ ("あっ") runs into what follows, as in cutlet.
    let words = [word("あっ", "アッ"), word("猫", "ネコ")];
    assert_eq!(phonemes(&words), "aʔneko");
}

#[test]
fn words_keep_their_place_in_the_phonemes() {
    let words = [word("猫", "ネコ"), word("が", "ガ"), word("。", "")];
    let out = assemble(&romaji_tokens(&words));
    assert_eq!(out.phonemes, "neko ɡa.");
    assert_eq!(
        spans(&out),
        [
            ("猫".to_owned(), "neko".to_owned()),
            ("が".to_owned(), "ɡa".to_owned())
        ]
    );
}

#[test]
fn normalisation_reads_a_wave_dash_before_a_number_as_kara() {
    assert_eq!(normalize("3〜5"), "3から5");
    assert_eq!(normalize("ｶﾀｶﾅ ＡＢＣ"), "カタカナ ABC");
}

/// The real dictionary and misaki's word list, as `make models` leaves them.
fn japanese() -> &'static Japanese {
    static JAPANESE: std::sync::OnceLock<Japanese> = std::sync::OnceLock::new();
    JAPANESE.get_or_init(|| {
        let models = std::env::var_os("YAPIT_MODELS_DIR").map_or_else(
            || std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models")),
            std::path::PathBuf::from,
        );
        Japanese::load(
            &models.join("ja-dict"),
            &models.join("lexicon/ja_words.txt"),
        )
        .expect("the Japanese dictionary should load from models/ja-dict (`make models`)")
    })
}

fn read(text: &str) -> String {
    japanese().phonemize(text).phonemes
}

/// Each checked by hand against misaki's cutlet table: kanji read by the dictionary (東京
/// トーキョー, 学校 ガッコー), ん by what follows (m before p, ŋ before k, n before t), small
/// kana joined (キョ kʲo, ファ ɸa), っ as ʔ, は and へ as particles (βa, e), a vowel said
/// twice as UniDic writes it (いい iː).
#[test]
fn sentences_read_as_misaki_reads_them() {
    let cases = [
        ("今日はいい天気ですね。", "kʲoː βa iː teŋkʲi desɨ ne."),
        (
            "吾輩は猫である。名前はまだ無い。",
            "βaɡahai βa neko de aɾɯ. namae βa mada nai.",
        ),
        ("東京都に住んでいます。", "toːkʲoːto ɲi sɨnde imasɨ."),
        (
            "コンピューターでファイルを開きます。",
            "kompʲɨːtaː de ɸaiɾɯ o çiɾakʲimasɨ.",
        ),
        (
            "新聞を読んでから、学校へ行きました。",
            "ɕimbɯɴ o jonde kaɾa, ɡaʔkoː e ikʲi maɕita.",
        ),
        (
            "電車が遅れたので、会議に間に合わなかった。",
            "deɴɕa ɡa okɯɾeta node, kaiɡʲi ɲi maɲiaβa nakaʔta.",
        ),
        ("日本語を勉強しています。", "ɲihoŋɡo o beŋkʲoː ɕite imasɨ."),
        (
            "金曜日の夜、友達と映画を見に行きます。",
            "kʲiɴjoːbʲi no joɾɯ, tomodaʨi to eːɡa o mʲi ɲi ikʲimasɨ.",
        ),
        // A long vowel OpenJTalk reads as a word of its own stays with its word.
        ("明日は雨が降るでしょう。", "aɕita βa ame ɡa ɸɯɾɯ deɕoː."),
        (
            "駅前に新しいパン屋ができました。",
            "ekʲimae ɲi ataɾaɕiː paɴja ɡa dekʲi maɕita.",
        ),
        ("空気が美味しい。", "kɯːkʲi ɡa oiɕiː."),
    ];
    for (text, expected) in cases {
        assert_eq!(read(text), expected, "{text}");
    }
}

#[test]
fn numbers_are_read_in_words() {
    assert_eq!(
        read("私は2024年3月15日に123人と会いました。"),
        "βataɕi βa ɲi seɴ ɲiʥɨːjo neɴ saŋɡaʦɨ ʥɨːɡo ɲiʨi ɲi çakɯ ɲiʥɨːsaɴ ɲiɴ to ai maɕita."
    );
    // Full-width digits, a decimal point, a wave dash for a range (から, as cutlet reads it).
    assert_eq!(
        read("彼女は１０００円を払った。"),
        "kanoʥo βa seɴ eɴ o haɾaʔta."
    );
    assert_eq!(
        read("気温は25.5度まで上がりました。"),
        "kʲioɴ βa ɲiʥɨːɡoː teɴ ɡo do made aɡaɾʲi maɕita."
    );
    assert_eq!(
        read("3〜5個のりんごを買ってください。"),
        "saɴ kaɾa ɡo ko no ɾʲiŋɡo o kaʔte kɯdasai."
    );
}

#[test]
fn punctuation_becomes_pauses_and_quotes() {
    assert_eq!(read("「はい」と彼は言った。"), "“hai” to kaɾe βa iʔta.");
    assert_eq!(
        read("ちょっと待って、それは本当？"),
        "ʨoʔto maʔte, soɾe βa hontoː?"
    );
    assert_eq!(
        read("すみません、駅はどこですか？"),
        "sɨmʲimaseɴ, ekʲi βa doko desɨ ka?"
    );
    assert_eq!(
        read("この本はとても面白かったです！"),
        "kono hoɴ βa totemo omoɕiɾokaʔta desɨ!"
    );
    // Brackets are silent (cutlet's « »), an ellipsis stays.
    assert_eq!(read("（注）これは『本』です…"), "ʨɨː koɾe βa “hoɴ” desɨ...");
}

#[test]
fn unknown_words_are_dropped_or_passed_through() {
    // A kanji the dictionary lacks is dropped, as cutlet drops it (OpenJTalk would pause).
    assert_eq!(read("漢字𠮷"), "kaɲʥi");
    // Latin words pass through in lower case; acronyms are spelled as Japanese spells them.
    assert_eq!(read("AIとKokoroは面白い！"), "eːai to kokoro βa omoɕiɾoi!");
    // Half-width katakana are read as full-width.
    assert_eq!(read("ｶﾀｶﾅ"), "katakana");
    for text in ["", "。", "🙂", "\u{200b}"] {
        assert!(!read(text).chars().any(char::is_alphabetic), "{text:?}");
    }
}

#[test]
fn every_word_keeps_its_written_form_and_its_phonemes() {
    let out = japanese().phonemize("東京タワーは、333メートルです。");
    let spans = spans(&out);
    let words: Vec<&str> = spans.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(words.concat(), "東京タワーは三百三十三メートルです");
    assert_eq!(spans[0], ("東京".to_owned(), "toːkʲoː".to_owned()));
    // Each word's phonemes are where the word is: in order, never overlapping.
    assert!(
        out.words
            .windows(2)
            .all(|w| w[0].phonemes.end <= w[1].phonemes.start)
    );
    assert_eq!(
        japanese().word_texts("東京タワーは、"),
        ["東京", "タワー", "は"]
    );
}

#[test]
fn a_dictionary_built_by_another_jpreprocess_counts_as_missing() {
    let dir = std::env::temp_dir().join(format!("yapit-ja-dict-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(SOURCE_STAMP),
        "open-jtalk naist-jdic sha256 0\njpreprocess 0.0.1\n",
    )
    .unwrap();
    let Err(err) = Japanese::load(&dir, std::path::Path::new("/nonexistent/ja_words.txt")) else {
        panic!("a stale dictionary must not load");
    };
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(err, JapaneseError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("make models"), "{err}");
}
