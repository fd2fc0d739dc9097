//! End-to-end tests against the real misaki lexicon and eSpeak NG.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::*;

/// `YAPIT_MODELS_DIR` when set (scratch builds), else the repository's `models/` directory.
fn models_dir() -> PathBuf {
    std::env::var_os("YAPIT_MODELS_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models")),
        PathBuf::from,
    )
}

fn g2p() -> &'static G2p {
    static G2P: OnceLock<G2p> = OnceLock::new();
    G2P.get_or_init(|| {
        G2p::load(&models_dir().join("lexicon"), &models_dir().join("ja-dict"))
            .expect("misaki lexicon should load from models/")
    })
}

fn gold() -> &'static serde_json::Map<String, serde_json::Value> {
    static GOLD: OnceLock<serde_json::Map<String, serde_json::Value>> = OnceLock::new();
    GOLD.get_or_init(|| {
        let path = models_dir().join("lexicon/us_gold.json");
        let bytes = std::fs::read(&path).expect("us_gold.json should be readable");
        serde_json::from_slice(&bytes).expect("us_gold.json should be a JSON object")
    })
}

fn vocab() -> HashSet<char> {
    let path = models_dir().join("vocab.json");
    let bytes = std::fs::read(&path).expect("vocab.json should be readable");
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("vocab.json is JSON");
    let map = json["vocab"]
        .as_object()
        .expect("vocab.json has a vocab object");
    map.keys()
        .map(|k| {
            let mut chars = k.chars();
            let c = chars.next().expect("vocab keys are non-empty");
            assert!(chars.next().is_none(), "vocab key {k:?} is one symbol");
            c
        })
        .collect()
}

fn assert_only_vocab(ps: &str) {
    let vocab = vocab();
    for c in ps.chars() {
        assert!(
            vocab.contains(&c),
            "{c:?} (U+{:04X}) not in vocab: {ps:?}",
            c as u32
        );
    }
}

/// misaki v1 output substitutes flaps and glottal stops.
fn v1(ps: &str) -> String {
    ps.replace('ɾ', "T").replace('ʔ', "t")
}

#[test]
fn vocab_constant_matches_model_vocab() {
    let from_file = vocab();
    let ours: HashSet<char> = VOCAB.chars().collect();
    assert_eq!(ours, from_file);
}

#[test]
fn common_words_match_misaki_gold_entries() {
    let words = [
        "hello",
        "world",
        "computer",
        "language",
        "people",
        "water",
        "beautiful",
        "morning",
        "music",
        "science",
        "history",
        "question",
        "important",
        "together",
        "government",
        "yesterday",
        "children",
        "education",
        "university",
        "information",
        "family",
        "garden",
        "mountain",
        "river",
        "window",
        "doctor",
        "library",
        "chocolate",
        "elephant",
        "philosophy",
        "butter",
        "city",
    ];
    for word in words {
        let entry = gold()[word].as_str().expect("plain gold entry");
        assert_eq!(g2p().phonemize(word), v1(entry), "word {word:?}");
    }
}

#[test]
fn tagged_entries_use_default() {
    // {"DEFAULT": "hˈWs", "VERB": "hˈWz"}
    assert_eq!(g2p().phonemize("house"), "hˈWs");
    assert_eq!(g2p().phonemize("read"), "ɹˈid");
}

#[test]
fn punctuation_is_attached_like_misaki() {
    assert_eq!(g2p().phonemize("Hello, world!"), "həlˈO, wˈɜɹld!");
    assert_eq!(g2p().phonemize("(hello) world…"), "(həlˈO) wˈɜɹld…");
    assert_eq!(g2p().phonemize("\"hello\" world"), "“həlˈO” wˈɜɹld");
    assert_eq!(g2p().phonemize("hello — world"), "həlˈO — wˈɜɹld");
}

#[test]
fn function_words_depend_on_the_next_sound() {
    assert_eq!(g2p().phonemize("the apple"), "ði ˈæpᵊl");
    assert_eq!(g2p().phonemize("the cat"), "ðə kˈæt");
    assert_eq!(g2p().phonemize("a cat"), "ɐ kˈæt");
    assert_eq!(
        g2p().phonemize("to eat"),
        format!("tʊ {}", v1(gold()["eat"].as_str().unwrap()))
    );
    assert_eq!(g2p().phonemize("I"), "ˌI");
}

#[test]
fn capitalised_words_and_acronyms() {
    assert_eq!(g2p().phonemize("Paris"), "pˈɛɹəs");
    assert_eq!(g2p().phonemize("Hello"), "həlˈO");
    assert_eq!(g2p().phonemize("NASA"), "nˈæsə");
    assert_eq!(g2p().phonemize("FBI"), "ˌɛfbˌiˈI");
    assert_eq!(g2p().phonemize("U.S."), "jˌuˈɛs");
}

#[test]
fn suffixes_on_known_stems() {
    assert_eq!(g2p().phonemize("aardvarks"), "ˈɑɹdvˌɑɹks");
    assert_eq!(g2p().phonemize("aardvarked"), "ˈɑɹdvˌɑɹkt");
    assert_eq!(g2p().phonemize("aardvarking"), "ˈɑɹdvˌɑɹkɪŋ");
    assert_eq!(g2p().phonemize("John's"), "ʤˈɑnz");
}

#[test]
fn hyphenated_compounds_and_numbers() {
    // Both halves stressed in the lexicon; the lighter one is demoted as misaki does.
    assert_eq!(g2p().phonemize("well-known"), "wˌɛlnˈOn");
    assert_eq!(g2p().phonemize("21"), "twˈɛnti wˈʌn");
    assert_eq!(g2p().phonemize("$5"), "fˈIv dˈɑləɹz");
}

#[test]
fn unknown_words_fall_back_to_espeak() {
    let words = [
        "Zorblax",
        "Kwiatkowski",
        "Xochitl",
        "Nguyen",
        "blorptastic",
        "Vexlaria",
        "Quenthiel",
        "snarfblat",
        "Tzimiskes",
        "flurbington",
    ];
    for word in words {
        assert!(
            gold().get(word).is_none(),
            "{word} should not be in the lexicon"
        );
        let ps = g2p().phonemize(word);
        assert!(!ps.is_empty(), "no phonemes for {word}");
        assert!(
            !ps.contains(' '),
            "one word, one phoneme group: {word} → {ps}"
        );
        assert_only_vocab(&ps);
    }
    assert_eq!(g2p().phonemize("Zorblax"), "zˈɔɹblæks");
}

#[test]
fn bad_input_never_panics_and_stays_in_vocab() {
    let inputs = [
        String::new(),
        "😀🎉 hello 👋🏽".to_owned(),
        "\u{0}\u{7}\u{1b}[31mred\u{1b}[0m\r\n\t".to_owned(),
        ",".repeat(10_000),
        "a".repeat(20_000),
        "Z".repeat(20_000),
        "Hello 世界, Привет мир, مرحبا, שלום, こんにちは world".to_owned(),
        "\u{FEFF}\u{200B}\u{202E}reversed\u{202C}".to_owned(),
        "ǅemal ﬁnance ℌ ½ ⅷ ①".to_owned(),
        "'''---...!!!???\"\"\"(((".to_owned(),
        "9".repeat(5_000),
        "e\u{301}\u{301}\u{301}\u{301}".to_owned(),
    ];
    for input in &inputs {
        let ps = g2p().phonemize(input);
        assert_only_vocab(&ps);
        assert!(!ps.starts_with(' ') && !ps.ends_with(' ') && !ps.contains("  "));
    }
}

#[test]
fn pathological_sizes_are_bounded() {
    let start = Instant::now();
    let commas = g2p().phonemize(&",".repeat(10_000));
    assert_eq!(commas.chars().filter(|&c| c == ',').count(), 10_000);
    let long_word = g2p().phonemize(&"a".repeat(20_000));
    assert!(
        !long_word.is_empty() && long_word.chars().count() < 200,
        "{long_word}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn foreign_scripts_are_dropped_not_spelled() {
    assert_eq!(g2p().phonemize("hello 世界 world"), "həlˈO wˈɜɹld");
    assert_eq!(g2p().phonemize("😀"), "");
}

#[test]
fn shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<G2p>();
    let results: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..20)
                        .map(|_| g2p().phonemize("Zorblax met Vexlaria."))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("phonemize thread panicked"))
            .collect()
    });
    assert!(
        results.windows(2).all(|w| w[0] == w[1]),
        "eSpeak output must not interleave"
    );
}

#[test]
fn single_letters_and_articles() {
    assert_eq!(g2p().phonemize("A cat."), "ɐ kˈæt.");
    assert_eq!(
        g2p().phonemize("vitamin A."),
        format!("{} ˈA.", v1(gold()["vitamin"].as_str().unwrap()))
    );
}

#[test]
fn missing_lexicon_names_the_file() {
    let Err(err) = G2p::load(
        std::path::Path::new("/nonexistent/lexicon"),
        std::path::Path::new("/nonexistent/ja-dict"),
    ) else {
        panic!("loading from a missing directory must fail");
    };
    let message = err.to_string();
    assert!(
        message.contains("/nonexistent/lexicon/us_gold.json"),
        "{message}"
    );
}

#[test]
fn british_voices_read_with_the_gb_lexicon() {
    let gb = |text| g2p().phonemize_in(text, Language::BritishEnglish);
    // gb_gold.json: no flapped t, long vowels, the British GOAT vowel Q.
    assert_eq!(gb("Water, tomato."), "wˈɔːtə, təmˈɑːtQ.");
    // US English flaps the t (misaki v1.0 writes the flap as T).
    assert_eq!(g2p().phonemize("Water, tomato."), "wˈɔTəɹ, təmˈATO.");
    // The British -ed and -es rules: ɪ where US English has ᵻ.
    let wanted = gb("wanted");
    assert!(wanted.ends_with("ɪd"), "{wanted}");
    assert_only_vocab(&gb("The quick brown fox jumps over the lazy dog in 1984."));
}

#[test]
fn each_espeak_language_reads_its_own_words_and_numbers() {
    let cases = [
        (
            Language::Spanish,
            "Hola, amigos. Tengo 25 años.",
            "ˈola, amˈiɣos.",
        ),
        (Language::French, "Bonjour, mes amis.", "bɔ̃ʒˈuʁ, mez amˈi."),
        (Language::Italian, "Ciao, come stai?", "ʧˈao, kˌome stˈaj?"),
        (Language::BrazilianPortuguese, "Obrigado!", "ˌobriɡˈadʊ!"),
    ];
    for (language, text, start) in cases {
        let ps = g2p().phonemize_in(text, language);
        assert!(ps.starts_with(start), "{language:?}: {text} → {ps}");
        assert_only_vocab(&ps);
    }
    // eSpeak reads Spanish numbers in Spanish: 25 → veinticinco (as misaki's EspeakG2P).
    let years = g2p().phonemize_in("Tengo 25 años.", Language::Spanish);
    assert_eq!(years, "tˈɛŋɡo βˌAntiθˈinko ˈaɲos.");
    // And French ones in French: 21 → vingt et un.
    let age = g2p().phonemize_in("J'ai 21 ans.", Language::French);
    assert_eq!(age, "ʒe vɛ̃teˈœ̃ ˈɑ̃.");
    let hindi = g2p().phonemize_in("नमस्ते दुनिया", Language::Hindi);
    assert!(hindi.contains('n') && hindi.contains('m'), "{hindi}");
    assert_only_vocab(&hindi);
}

#[test]
fn foreign_punctuation_is_kept_and_decimals_stay_one_number() {
    let es = g2p().phonemize_in(
        "¿Qué tal? Cuesta 3,5 euros (más o menos).",
        Language::Spanish,
    );
    assert!(
        es.contains('?') && es.contains('(') && es.contains(')'),
        "{es}"
    );
    // "3,5" is one number (tres coma cinco), not a pause after "tres" as misaki makes it.
    assert!(es.contains("tɾˈes koma θˈinko"), "{es}");
    let zh = g2p().phonemize_in("你好，世界。今天是2024年。", Language::Mandarin);
    assert!(zh.starts_with("ni↓xau↓, ʂɨ↘ʨje↘."), "{zh}");
    assert_only_vocab(&zh);
    let ja = g2p().phonemize_in("こんにちは、せかい。", Language::Japanese);
    assert_eq!(ja, "koɲɲiʨiβa, sekai.");
    assert_only_vocab(&ja);
}

#[test]
fn without_its_dictionary_japanese_is_refused_and_the_rest_works() {
    let g2p = G2p::load(
        &models_dir().join("lexicon"),
        std::path::Path::new("/nonexistent/ja-dict"),
    )
    .expect("a missing Japanese dictionary is not fatal");
    let refused = g2p.supports(Language::Japanese).unwrap_err().to_string();
    assert!(refused.contains("no Japanese dictionary"), "{refused}");
    assert!(g2p.supports(Language::AmericanEnglish).is_ok());
    assert!(g2p.supports(Language::Mandarin).is_ok());
    assert_eq!(g2p.phonemize("Hello."), "həlˈO.");
    assert_eq!(g2p.phonemize_in("こんにちは。", Language::Japanese), "");
}

#[test]
fn japanese_text_in_every_voice_uses_only_the_model_vocabulary() {
    let text = "ゔぁ・ヷ【注】「ＡＢＣ」〜ゝ々ヶ月、ｈｔｔｐ://例.jp/?q=1&x=2 ①②③ 〒100-0001 ｷｬｯﾄ";
    assert_only_vocab(&g2p().phonemize_in(text, Language::Japanese));
}

#[test]
fn a_cut_mid_sentence_keeps_the_running_form_of_the_last_word() {
    for (head, tail) in [
        ("They parked beneath a", "parking lot."),
        ("We walked to", "the store."),
        ("She went to", "every shop."),
        ("I saw the", "apple tree."),
    ] {
        let whole = g2p().phonemize(&format!("{head} {tail}"));
        let cut = g2p().phonemize_before(head, Language::AmericanEnglish, Some(tail));
        assert!(
            whole.starts_with(&cut),
            "{head} | {tail}: {cut} is not the start of {whole}"
        );
    }
    // Without the continuation, the last word takes its form before a pause: that is the bug
    // the continuation prevents.
    let alone = g2p().phonemize("They parked beneath a");
    let cut = g2p().phonemize_before(
        "They parked beneath a",
        Language::AmericanEnglish,
        Some("parking lot."),
    );
    assert_ne!(alone, cut);
}

#[test]
fn heteronyms_follow_the_guessed_part_of_speech() {
    let cases = [
        ("Please close the door.", "klˈOz"),
        ("The store is close to the station.", "klˈOs"),
        ("Yesterday I read the book.", "ɹˈɛd"),
        ("I like to read.", "ɹˈid"),
        ("He lives here.", "lˈɪvz"),
        ("Cats have nine lives.", "lˈIvz"),
        ("Don't forget to wind the clock.", "wˈInd"),
        ("The wind was strong.", "wˈɪnd"),
        ("Record your answers.", "ɹəkˈɔɹd"),
        ("It was recorded live.", "ɹəkˈɔɹdᵻd"),
        ("The bridge is 1.5 miles long.", "wˈʌn pYnt fˈIv"),
    ];
    for (text, expected) in cases {
        let ps = g2p().phonemize(text);
        assert!(ps.contains(expected), "{text} → {ps}, expected {expected}");
    }
}
