//! Parity of the Rust Higgs language model with the reference (boson-multimodal 0.1.1) on a tiny
//! random-weight checkpoint with the published one's structure. Fixtures come from
//! `scripts/higgs-reference/model_fixtures.py` and `manifest.py`.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, IndexOp, Tensor};
use serde_json::Value;
use tts_higgs_worker::model::delay::{apply_delay_pattern, revert_delay_pattern};
use tts_higgs_worker::model::prompt::{columns_to_rows, rows_to_columns};
use tts_higgs_worker::model::sampling::{choose_tokens, softmax, warp_logits};
use tts_higgs_worker::model::weights::{ShapeOnly, build_backbone};
use tts_higgs_worker::model::{
    DelayState, HiggsConfig, HiggsModel, ModelError, Prompt, Sampling, SeededRng, VoicePrompt,
};

const LOGIT_TOL: f32 = 1e-4;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model")
}

struct Fixture {
    model: HiggsModel,
    meta: Value,
    tensors: HashMap<String, Tensor>,
}

fn fixture() -> Fixture {
    let dir = fixture_dir();
    let model = HiggsModel::load(&dir, &Device::Cpu, DType::F32).expect("load tiny model");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let tensors =
        candle_core::safetensors::load(dir.join("expected.safetensors"), &Device::Cpu).unwrap();
    Fixture {
        model,
        meta,
        tensors,
    }
}

fn u32_vec(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn u32_rows(v: &Value) -> Vec<Vec<u32>> {
    v.as_array().unwrap().iter().map(u32_vec).collect()
}

fn voice(f: &Fixture) -> VoicePrompt {
    VoicePrompt {
        transcript: f.meta["ref_transcript"].as_str().unwrap().to_owned(),
        codes: u32_rows(&f.meta["voice_codes"]),
    }
}

fn text(f: &Fixture) -> &str {
    f.meta["text"].as_str().unwrap()
}

fn prompt(f: &Fixture, name: &str) -> Prompt {
    match name {
        "voice" => f.model.build_prompt(text(f), Some(&voice(f))).unwrap(),
        _ => f.model.build_prompt(text(f), None).unwrap(),
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn greedy() -> Sampling {
    Sampling {
        temperature: 0.0,
        ras_window: 0,
        max_frames: 1000,
        ..Sampling::default()
    }
}

#[test]
fn prompt_token_ids_match_the_reference() {
    let f = fixture();
    for name in ["voice", "plain"] {
        let p = prompt(&f, name);
        assert_eq!(
            p.input_ids,
            u32_vec(&f.meta[format!("{name}_prompt_ids")]),
            "{name}"
        );
        let audio_rows = u32_rows(&f.meta[format!("{name}_audio_out_ids")]);
        let expected: Vec<Vec<Vec<u32>>> = if audio_rows.iter().all(Vec::is_empty) {
            vec![]
        } else {
            vec![rows_to_columns(&audio_rows)]
        };
        assert_eq!(p.audio_segments, expected, "{name}: audio segments");
    }
}

#[test]
fn prefill_logits_match_the_reference() {
    let f = fixture();
    for name in ["voice", "plain"] {
        let p = prompt(&f, name);
        let mut cache = f.model.new_cache();
        let out = f.model.prefill(&p, &mut cache).unwrap();
        let expected_positions: Vec<usize> =
            u32_vec(&f.meta[format!("{name}_audio_out_positions")])
                .into_iter()
                .map(|x| x as usize)
                .collect();
        assert_eq!(out.audio_positions, expected_positions, "{name}");
        let d = max_abs_diff(&out.text_logits, &f.tensors[&format!("{name}_text_logits")]);
        println!("{name}: text logits max |Δ| = {d:e}");
        assert!(d < LOGIT_TOL, "{name}: text logits differ by {d}");
        if let Some(expected) = f.tensors.get(&format!("{name}_audio_logits")) {
            let d = max_abs_diff(out.audio_logits.as_ref().unwrap(), expected);
            println!("{name}: audio logits max |Δ| = {d:e}");
            assert!(d < LOGIT_TOL, "{name}: audio logits differ by {d}");
        } else {
            assert!(out.audio_logits.is_none());
        }
    }
}

#[test]
fn first_decode_step_matches_the_reference() {
    let f = fixture();
    for name in ["voice", "plain"] {
        let p = prompt(&f, name);
        let mut cache = f.model.new_cache();
        f.model.prefill(&p, &mut cache).unwrap();
        let bos = vec![f.model.config().stream_bos_id; f.model.num_codebooks()];
        let logits = f.model.decode_audio_step(&bos, &mut cache).unwrap();
        let got = Tensor::new(logits, &Device::Cpu).unwrap();
        let d = max_abs_diff(&got, &f.tensors[&format!("{name}_first_step_audio_logits")]);
        println!("{name}: first audio step max |Δ| = {d:e}");
        assert!(d < LOGIT_TOL, "{name}: first decode step differs by {d}");
    }
}

#[test]
fn kv_cache_decoding_equals_full_recompute() {
    let f = fixture();
    let p = prompt(&f, "voice");
    let cfg = f.model.config();
    let k = f.model.num_codebooks();
    // Delayed columns to feed after the prompt, BOS column first; enough of them to cross the
    // KV buffers' first growth (512 positions).
    let mut columns = vec![vec![cfg.stream_bos_id; k]];
    for step in 0..380u32 {
        columns.push(
            (0..k as u32)
                .map(|c| (step * 7 + c * 3) % cfg.codebook_size as u32)
                .collect(),
        );
    }
    let mut cache = f.model.new_cache();
    f.model.prefill(&p, &mut cache).unwrap();
    let stepwise: Vec<Vec<Vec<f32>>> = columns
        .iter()
        .map(|c| f.model.decode_audio_step(c, &mut cache).unwrap())
        .collect();
    assert_eq!(
        cache.len(),
        f.meta["voice_expanded_len"].as_u64().unwrap() as usize + columns.len()
    );

    // The same sequence in one pass: the columns as one more audio segment.
    let mut full = p.clone();
    full.input_ids.push(f.model.special_tokens().audio_out);
    full.audio_segments.push(columns.clone());
    let mut fresh = f.model.new_cache();
    let out = f.model.prefill(&full, &mut fresh).unwrap();
    let audio = out.audio_logits.unwrap();
    let n = audio.dim(0).unwrap();
    for (i, step) in stepwise.iter().enumerate() {
        let row = audio.i(n - columns.len() + i).unwrap();
        let d = max_abs_diff(&Tensor::new(step.clone(), &Device::Cpu).unwrap(), &row);
        assert!(d < 1e-4, "step {i}: cached vs full differ by {d}");
    }
}

#[test]
fn greedy_generation_matches_the_reference() {
    let f = fixture();
    for name in ["voice", "plain"] {
        let p = prompt(&f, name);
        let mut streamed = Vec::new();
        let generation = f
            .model
            .generate_from_prompt(&p, &greedy(), &mut |frame| {
                streamed.push(frame.to_vec());
                ControlFlow::Continue(())
            })
            .unwrap();
        let expected_delayed = u32_rows(&f.meta[format!("{name}_greedy_delayed")]);
        assert_eq!(
            columns_to_rows(&generation.columns, 8),
            expected_delayed,
            "{name}: delayed codes"
        );
        assert!(
            generation.ended_by_eos,
            "{name}: the EOS countdown should end it"
        );
        let expected = u32_rows(&f.meta[format!("{name}_greedy_codes")]);
        assert_eq!(generation.codes, expected, "{name}: frames");
        assert_eq!(
            columns_to_rows(&streamed, 8),
            expected,
            "{name}: streamed frames"
        );
    }
}

#[test]
fn generate_api_streams_and_stops_on_break() {
    let f = fixture();
    let mut seen = 0;
    let codes = f
        .model
        .generate(text(&f), Some(&voice(&f)), &greedy(), &mut |frame| {
            assert_eq!(frame.len(), 8);
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, 3);
    let expected = u32_rows(&f.meta["voice_greedy_codes"]);
    let prefix: Vec<Vec<u32>> = expected.iter().map(|r| r[..3].to_vec()).collect();
    assert_eq!(codes, prefix);

    let limited = Sampling {
        max_frames: 2,
        ..greedy()
    };
    let codes = f
        .model
        .generate(text(&f), Some(&voice(&f)), &limited, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(codes[0].len(), 2);
}

#[test]
fn delay_pattern_round_trip_matches_the_reference() {
    let f = fixture();
    let ex = &f.meta["delay_pattern_example"];
    let codes = u32_rows(&ex["codes"]);
    let cfg = f.model.config();
    let delayed = apply_delay_pattern(&codes, cfg.stream_bos_id, cfg.stream_eos_id);
    assert_eq!(delayed, u32_rows(&ex["delayed"]));
    assert_eq!(revert_delay_pattern(&delayed), codes);
}

#[test]
fn bos_forcing_and_eos_countdown_match_the_reference_step_by_step() {
    let f = fixture();
    let cfg = f.model.config();
    let k = f.model.num_codebooks();
    let vocab = cfg.codebook_vocab();
    let scenarios = f.meta["scripted_countdowns"].as_array().unwrap();
    assert!(scenarios.len() >= 5);
    for (s, scenario) in scenarios.iter().enumerate() {
        let wanted = u32_rows(&scenario["wanted"]);
        let produced = u32_rows(&scenario["produced"]);
        let mut state = DelayState::new(k, cfg.stream_bos_id, cfg.stream_eos_id);
        let mut rng = SeededRng::new(0);
        for (step, (want, expected)) in wanted.iter().zip(&produced).enumerate() {
            let logits: Vec<Vec<f32>> = want
                .iter()
                .map(|&w| {
                    (0..vocab)
                        .map(|v| if v == w as usize { 5.0 } else { -5.0 })
                        .collect()
                })
                .collect();
            let mut tokens = choose_tokens(&logits, &[], &greedy(), &mut rng);
            let ended = state.apply(&mut tokens);
            assert_eq!(&tokens, expected, "scenario {s} step {step}");
            assert_eq!(
                ended,
                step + 1 == produced.len(),
                "scenario {s} step {step}: end"
            );
        }
    }
}

#[test]
fn warpers_match_hugging_face() {
    let f = fixture();
    let logits = f.tensors["warper_logits"].to_vec2::<f32>().unwrap();
    for (i, case) in f.meta["warper_cases"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let t = case["temperature"].as_f64().unwrap() as f32;
        let k = case["top_k"].as_u64().unwrap() as usize;
        let p = case["top_p"].as_f64().unwrap() as f32;
        let expected = f.tensors[&format!("warper_probs_{i}")]
            .to_vec2::<f32>()
            .unwrap();
        for (row, want) in logits.iter().zip(&expected) {
            let got = softmax(&warp_logits(row, t, k, p));
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-6, "case {i}: {g} vs {w}");
                assert_eq!(*g == 0.0, *w == 0.0, "case {i}: kept set differs");
            }
        }
    }
}

#[test]
fn sampling_follows_the_renormalised_distribution() {
    let f = fixture();
    let logits = f.tensors["warper_logits"].to_vec2::<f32>().unwrap();
    let case = &f.meta["warper_cases"][1]; // temperature 1, top-k 5, top-p 0.5
    let sampling = Sampling {
        temperature: case["temperature"].as_f64().unwrap() as f32,
        top_k: case["top_k"].as_u64().unwrap() as usize,
        top_p: case["top_p"].as_f64().unwrap() as f32,
        ras_window: 0,
        ..Sampling::default()
    };
    let expected = f.tensors["warper_probs_1"].to_vec2::<f32>().unwrap();
    let draws = 20_000;
    let vocab = logits[0].len();
    let mut counts = vec![vec![0usize; vocab]; logits.len()];
    let mut rng = SeededRng::new(11);
    for _ in 0..draws {
        let tokens = choose_tokens(&logits, &[], &sampling, &mut rng);
        for (k, &t) in tokens.iter().enumerate() {
            counts[k][t as usize] += 1;
        }
    }
    for (k, row) in counts.iter().enumerate() {
        for (tok, &c) in row.iter().enumerate() {
            let p = expected[k][tok] as f64;
            if p == 0.0 {
                assert_eq!(c, 0, "codebook {k}: drew token {tok} outside top-k/top-p");
            } else {
                let freq = c as f64 / draws as f64;
                let sigma = (p * (1.0 - p) / draws as f64).sqrt();
                assert!(
                    (freq - p).abs() < 5.0 * sigma + 1e-9,
                    "codebook {k} token {tok}: {freq} vs {p}"
                );
            }
        }
    }
}

#[test]
fn ras_redraws_a_repeated_token_from_the_raw_distribution() {
    // One codebook; top-k 1 makes the first choice always token 2.
    let logits = vec![vec![0.0f32, 0.5, 1.0, 0.2]];
    let sampling = Sampling {
        temperature: 1.0,
        top_k: 1,
        top_p: 1.0,
        ras_window: 3,
        ras_max_repeat: 2,
        ..Sampling::default()
    };
    let col = |t: u32| vec![t];
    let mut rng = SeededRng::new(5);
    // Token 2 once in the window: kept.
    let history = vec![col(2), col(2), col(0), col(1), col(2)];
    for _ in 0..200 {
        assert_eq!(
            choose_tokens(&logits, &history, &sampling, &mut rng),
            vec![2]
        );
    }
    // Twice in the last 3 columns: redrawn from softmax(raw logits), top-k ignored.
    let history = vec![col(0), col(2), col(1), col(2)];
    let raw = softmax(&logits[0]);
    let draws = 20_000;
    let mut counts = [0usize; 4];
    for _ in 0..draws {
        counts[choose_tokens(&logits, &history, &sampling, &mut rng)[0] as usize] += 1;
    }
    for (tok, &c) in counts.iter().enumerate() {
        let p = raw[tok] as f64;
        let freq = c as f64 / draws as f64;
        let sigma = (p * (1.0 - p) / draws as f64).sqrt();
        assert!((freq - p).abs() < 5.0 * sigma, "token {tok}: {freq} vs {p}");
    }
}

#[test]
fn same_seed_same_codes_different_seed_different_codes() {
    let f = fixture();
    let run = |seed| {
        let s = Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed,
            max_frames: 12,
            ..Sampling::default()
        };
        f.model
            .generate(text(&f), Some(&voice(&f)), &s, &mut |_| {
                ControlFlow::Continue(())
            })
            .unwrap()
    };
    let a = run(1);
    assert!(!a[0].is_empty());
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
}

fn fixture_shapes() -> BTreeMap<String, Vec<usize>> {
    let st = candle_core::safetensors::load(fixture_dir().join("model.safetensors"), &Device::Cpu)
        .unwrap();
    st.into_iter()
        .map(|(n, t)| (n, t.dims().to_vec()))
        .collect()
}

fn fixture_config() -> HiggsConfig {
    HiggsConfig::from_file(&fixture_dir().join("config.json")).unwrap()
}

#[test]
fn loading_names_a_missing_an_unexpected_or_a_misshaped_tensor() {
    let cfg = fixture_config();
    let load =
        |shapes| build_backbone(&cfg, ShapeOnly(shapes), DType::F32, &Device::Cpu).map(|_| ());
    assert!(load(fixture_shapes()).is_ok());

    let mut shapes = fixture_shapes();
    shapes.remove("layers.1.audio_mlp.up_proj.weight");
    match load(shapes) {
        Err(ModelError::MissingTensor(name)) => {
            assert_eq!(name, "layers.1.audio_mlp.up_proj.weight")
        }
        other => panic!("expected a missing tensor, got {other:?}"),
    }

    let mut shapes = fixture_shapes();
    shapes.insert("audio_tower.conv1.weight".into(), vec![4, 4]);
    match load(shapes) {
        Err(ModelError::UnexpectedTensors(names)) => {
            assert_eq!(names, vec!["audio_tower.conv1.weight"])
        }
        other => panic!("expected an unexpected tensor, got {other:?}"),
    }

    let mut shapes = fixture_shapes();
    shapes.insert("norm.weight".into(), vec![63]);
    match load(shapes) {
        Err(ModelError::TensorShape { name, .. }) => assert_eq!(name, "norm.weight"),
        other => panic!("expected a shape error, got {other:?}"),
    }

    let err = HiggsModel::load(Path::new("/nonexistent/higgs"), &Device::Cpu, DType::F32)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("/nonexistent/higgs/config.json"),
        "{err}"
    );
}

#[test]
fn published_checkpoint_manifest_loads_without_missing_or_unused_tensors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/manifest/higgs-audio-v2-generation-3B-base.json");
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cfg = HiggsConfig::from_json(&manifest["config"].to_string()).unwrap();
    assert_eq!(cfg.num_codebooks, 8);
    assert_eq!(cfg.codebook_vocab(), 1026);
    assert_eq!(cfg.text.num_hidden_layers, 28);
    assert!(cfg.dual_ffn_layers.iter().all(|&d| d));
    let shapes: BTreeMap<String, Vec<usize>> = manifest["tensors"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, s)| {
            let dims = s
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            (n.clone(), dims)
        })
        .collect();
    assert_eq!(shapes.len(), 397);
    let backbone = build_backbone(&cfg, ShapeOnly(shapes), DType::BF16, &Device::Cpu);
    assert!(backbone.is_ok(), "{:?}", backbone.err());
}

#[test]
fn loads_through_a_safetensors_index_and_names_a_missing_shard() {
    let src = fixture_dir();
    let dir = std::env::temp_dir().join(format!("higgs-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(file), dir.join(file)).unwrap();
    }
    std::fs::copy(
        src.join("model.safetensors"),
        dir.join("model-00001-of-00001.safetensors"),
    )
    .unwrap();
    let weight_map: serde_json::Map<String, Value> = fixture_shapes()
        .into_keys()
        .map(|n| (n, Value::from("model-00001-of-00001.safetensors")))
        .collect();
    let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let loaded = HiggsModel::load(&dir, &Device::Cpu, DType::F32);
    assert!(loaded.is_ok(), "{:?}", loaded.err());

    let mut broken = index.clone();
    broken["weight_map"]["norm.weight"] = Value::from("model-00002-of-00002.safetensors");
    std::fs::write(dir.join("model.safetensors.index.json"), broken.to_string()).unwrap();
    let err = HiggsModel::load(&dir, &Device::Cpu, DType::F32)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("model-00002-of-00002.safetensors"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_model_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<HiggsModel>();
}
