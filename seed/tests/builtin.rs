//! The checked-in manifest parses, validates and holds exactly the expected voices.

use seed::Catalog;

const KOKORO_VOICES: &str = "af_alloy af_aoede af_bella af_heart af_jessica af_kore af_nicole \
    af_nova af_river af_sarah af_sky am_adam am_echo am_eric am_fenrir am_liam am_michael am_onyx \
    am_puck am_santa bf_alice bf_emma bf_isabella bf_lily bm_daniel bm_fable bm_george bm_lewis \
    jf_alpha jf_gongitsune jf_nezumi jf_tebukuro jm_kumo zf_xiaobei zf_xiaoni zf_xiaoxiao zf_xiaoyi \
    zm_yunjian zm_yunxi zm_yunxia zm_yunyang ef_dora em_alex em_santa ff_siwis hf_alpha hf_beta \
    hm_omega hm_psi if_sara im_nicola pf_dora pm_alex pm_santa";

#[test]
fn builtin_catalog_parses_and_validates() {
    let catalog = Catalog::builtin();
    catalog.validate().unwrap();
    let slugs: Vec<&str> = catalog.models.iter().map(|m| m.slug.as_str()).collect();
    assert_eq!(slugs, ["kokoro", "higgs"]);
    // Parsing the file again gives the same thing (builtin() is not some other catalogue).
    let again = Catalog::from_toml(include_str!("../catalog.toml")).unwrap();
    assert_eq!(again, catalog);
}

#[test]
fn kokoro_has_the_54_official_voices() {
    let catalog = Catalog::builtin();
    let kokoro = catalog.model("kokoro").unwrap();
    assert_eq!(kokoro.name, "Kokoro 82M");
    assert_eq!(kokoro.sample_rate, 24000);
    assert_eq!(kokoro.legacy_slugs, ["kokoro-cpu"]);
    let expected: Vec<&str> = KOKORO_VOICES.split_whitespace().collect();
    assert_eq!(expected.len(), 54);
    let actual: Vec<&str> = kokoro.voices.iter().map(|v| v.slug.as_str()).collect();
    assert_eq!(actual, expected);
    for v in &kokoro.voices {
        // The first letter of a Kokoro voice is its language.
        let lang = match &v.slug[..1] {
            "a" => "en-US",
            "b" => "en-GB",
            "j" => "ja",
            "z" => "zh",
            "e" => "es",
            "f" => "fr-FR",
            "h" => "hi",
            "i" => "it",
            "p" => "pt-BR",
            other => panic!("unexpected language letter {other} in {}", v.slug),
        };
        assert_eq!(v.lang, lang, "{}", v.slug);
        // The display name is the capitalised part after the underscore.
        let rest = v.slug.split_once('_').unwrap().1;
        let name = rest[..1].to_uppercase() + &rest[1..];
        assert_eq!(v.name, name, "{}", v.slug);
    }
    assert_eq!(kokoro.default_voice.as_deref(), Some("af_heart"));
    let heart = kokoro.voices.iter().find(|v| v.slug == "af_heart").unwrap();
    assert_eq!(
        (heart.name.as_str(), heart.lang.as_str()),
        ("Heart", "en-US")
    );
    let ja: Vec<&str> = kokoro
        .voices
        .iter()
        .filter(|v| v.lang == "ja")
        .map(|v| v.slug.as_str())
        .collect();
    assert_eq!(
        ja,
        [
            "jf_alpha",
            "jf_gongitsune",
            "jf_nezumi",
            "jf_tebukuro",
            "jm_kumo"
        ]
    );
}

#[test]
fn higgs_has_its_reference_voices() {
    let catalog = Catalog::builtin();
    let higgs = catalog.model("higgs").unwrap();
    assert_eq!(higgs.name, "Higgs Audio v2");
    assert_eq!(higgs.sample_rate, 24000);
    assert_eq!(higgs.legacy_slugs, ["higgs-native"]);
    let voices: Vec<(&str, &str)> = higgs
        .voices
        .iter()
        .map(|v| (v.slug.as_str(), v.lang.as_str()))
        .collect();
    assert_eq!(
        voices,
        [
            ("belinda", "en-US"),
            ("broom_salesman", "en-US"),
            ("chadwick", "en-US"),
            ("en_man", "en-US"),
            ("en_woman", "en-US"),
            ("mabel", "en-US"),
            ("vex", "en-US"),
            ("zh_man_sichuan", "zh"),
        ]
    );
    assert!(higgs.voices.iter().all(|v| !v.name.trim().is_empty()));
}
