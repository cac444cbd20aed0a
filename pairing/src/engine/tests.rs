use super::*;

const FRAME_INTERVAL: i64 = 300;

fn engine(mode: Mode) -> Engine {
    Engine::new(EngineConfig {
        mode,
        ..EngineConfig::default()
    })
}

/// Frames of `label` every 300 ms in `[from, to)`.
fn hold(label: &str, from: i64, to: i64) -> Vec<Frame> {
    (from..to)
        .step_by(FRAME_INTERVAL as usize)
        .map(|t| Frame::new(label, t))
        .collect()
}

fn seq(parts: &[Vec<Frame>]) -> Vec<Frame> {
    parts.concat()
}

fn run(engine: &mut Engine, frames: &[Frame]) -> Vec<Output> {
    frames
        .iter()
        .flat_map(|frame| engine.process(frame).outputs)
        .collect()
}

fn table(engine: &Engine) -> Vec<(String, u64, &'static str)> {
    engine
        .table()
        .into_iter()
        .map(|row| {
            let label = pair_label(row.number_socks_seen);
            (row.image, row.number_socks_seen, label)
        })
        .collect()
}

fn pair_rows(outputs: &[Output]) -> Vec<(String, u64)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Pair(pair) => Some((pair.image.clone(), pair.number_socks_seen)),
            Output::Sighting(_) => None,
        })
        .collect()
}

fn sightings(outputs: &[Output]) -> Vec<Sighting> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Sighting(sighting) => Some(sighting.clone()),
            Output::Pair(_) => None,
        })
        .collect()
}

fn both_modes() -> [Mode; 2] {
    [Mode::Sighting, Mode::Compatible]
}

/// One Google sock in view for 7 s (1.0 s to 8.0 s), then nothing but blank frames.
fn seven_second_hold() -> Vec<Frame> {
    seq(&[hold("Google", 1000, 8000), hold("Blank", 8000, 20_000)])
}

#[test]
fn a_sock_held_seven_seconds_counts_once_in_sighting_mode() {
    let mut engine = engine(Mode::Sighting);
    let outputs = run(&mut engine, &seven_second_hold());
    assert_eq!(
        sightings(&outputs),
        vec![Sighting {
            image: "Google".into(),
            window_start: 1000,
            window_end: 7900,
            frames: 24,
            last_seen_ms: 7900,
        }]
    );
    assert_eq!(pair_rows(&outputs), vec![("Google".into(), 1)]);
    assert_eq!(table(&engine), vec![("Google".into(), 1, "Un-matched")]);
}

#[test]
fn a_sock_held_seven_seconds_counts_twice_in_compatible_mode() {
    let mut engine = engine(Mode::Compatible);
    let outputs = run(&mut engine, &seven_second_hold());
    // Window [0, 5 s) holds 14 frames, [5 s, 10 s) 10: a row per frame from the 4th on.
    let rows = sightings(&outputs);
    assert_eq!(rows.len(), (14 - 3) + (10 - 3));
    assert_eq!(
        rows.iter().filter(|s| s.window_start == 0).count(),
        11,
        "{rows:?}"
    );
    let last = rows.last().expect("a sighting row");
    assert_eq!(
        (last.window_start, last.window_end, last.frames),
        (5000, 10_000, 10)
    );
    // Each window: one row when it first qualifies, then (n - 1, n) per further frame.
    let pairs = pair_rows(&outputs);
    assert_eq!(pairs.len(), (1 + 10 * 2) + (1 + 6 * 2));
    assert_eq!(pairs.last(), Some(&("Google".into(), 2)));
    assert_eq!(table(&engine), vec![("Google".into(), 2, "Pair")]);
}

#[test]
fn compatible_mode_emits_what_the_ksql_statements_emit_row_by_row() {
    let mut engine = engine(Mode::Compatible);
    let frames = hold("Google", 1000, 2500); // 5 frames in window [0, 5 s)
    let steps: Vec<Vec<Output>> = frames
        .iter()
        .map(|frame| engine.process(frame).outputs)
        .collect();
    assert!(steps[..3].iter().all(Vec::is_empty), "{steps:?}");
    let sighting = |frames| {
        Output::Sighting(Sighting {
            image: "Google".into(),
            window_start: 0,
            window_end: 5000,
            frames,
            last_seen_ms: 0,
        })
    };
    let pair = |n| {
        Output::Pair(PairUpdate {
            image: "Google".into(),
            number_socks_seen: n,
            window_start: 0,
            last_seen_ms: 0,
        })
    };
    assert_eq!(steps[3], vec![sighting(4), pair(1)]);
    assert_eq!(steps[4], vec![sighting(5), pair(0), pair(1)]);

    let mut without_intermediate = Engine::new(EngineConfig {
        mode: Mode::Compatible,
        intermediate_rows: false,
        ..EngineConfig::default()
    });
    let outputs = run(&mut without_intermediate, &frames);
    assert_eq!(outputs, vec![sighting(4), pair(1), sighting(5), pair(1)]);
}

#[test]
fn a_lone_wrong_frame_never_counts() {
    for mode in both_modes() {
        let mut frames = hold("Google", 1000, 4000);
        frames[5].image = "Mongo".into();
        frames.extend(hold("Blank", 4000, 20_000));
        // And a lone wrong frame among blank ones.
        frames[20].image = "Databricks".into();
        let mut engine = engine(mode);
        let outputs = run(&mut engine, &frames);
        assert_eq!(
            table(&engine),
            vec![("Google".into(), 1, "Un-matched")],
            "{mode:?}"
        );
        assert!(
            outputs.iter().all(|output| match output {
                Output::Sighting(s) => s.image == "Google",
                Output::Pair(p) => p.image == "Google",
            }),
            "{mode:?}: {outputs:?}"
        );
    }
}

#[test]
fn blank_never_counts() {
    for mode in both_modes() {
        let mut engine = engine(mode);
        let frames = hold("Blank", 0, 30_000);
        for frame in &frames {
            let step = engine.process(frame);
            assert_eq!(step.disposition, Disposition::Blank);
            assert!(step.outputs.is_empty());
        }
        assert!(engine.table().is_empty(), "{mode:?}");
    }
    // The label is compared case-sensitively, as ksqlDB's `!=` does.
    let mut engine = engine(Mode::Sighting);
    run(
        &mut engine,
        &seq(&[hold("blank", 0, 3000), hold("Blank", 3000, 20_000)]),
    );
    assert_eq!(table(&engine), vec![("blank".into(), 1, "Un-matched")]);
}

#[test]
fn a_second_sock_of_the_same_brand_makes_a_pair() {
    for mode in both_modes() {
        let mut engine = engine(mode);
        let frames = seq(&[
            hold("Google", 1000, 3000),
            hold("Blank", 3000, 8000),
            hold("Mongo", 8000, 8300),
            hold("Google", 8300, 10_000),
            hold("Blank", 10_000, 25_000),
        ]);
        let outputs = run(&mut engine, &frames);
        assert_eq!(
            table(&engine),
            vec![("Google".into(), 2, "Pair")],
            "{mode:?}"
        );
        assert_eq!(
            pair_rows(&outputs).last(),
            Some(&("Google".into(), 2)),
            "{mode:?}"
        );
    }
}

#[test]
fn sighting_mode_counts_each_sock_once_with_exact_records() {
    let mut engine = engine(Mode::Sighting);
    let frames = seq(&[
        hold("Google", 1000, 3000),
        hold("Blank", 3000, 8000),
        hold("Google", 8000, 10_000),
        hold("Blank", 10_000, 25_000),
    ]);
    let outputs = run(&mut engine, &frames);
    let expected_pair = |n, start, last| {
        Output::Pair(PairUpdate {
            image: "Google".into(),
            number_socks_seen: n,
            window_start: start,
            last_seen_ms: last,
        })
    };
    let expected_sighting = |start, end| {
        Output::Sighting(Sighting {
            image: "Google".into(),
            window_start: start,
            window_end: end,
            frames: 7,
            last_seen_ms: end,
        })
    };
    assert_eq!(
        outputs,
        vec![
            expected_sighting(1000, 2800),
            expected_pair(1, 1000, 2800),
            expected_sighting(8000, 9800),
            expected_pair(2, 8000, 9800),
        ]
    );
}

#[test]
fn sighting_mode_decides_once_windows_up_to_the_merge_gap_have_closed() {
    let mut engine = engine(Mode::Sighting);
    run(&mut engine, &hold("Google", 1000, 3000)); // last frame 2800
    // 2800 + 2000 gap = 4800: decided when window [0, 5 s) closes, at 5 s + 1 s grace.
    assert!(run(&mut engine, &[Frame::new("Blank", 5999)]).is_empty());
    let step = engine.process(&Frame::new("Blank", 6000));
    assert_eq!(pair_rows(&step.outputs), vec![("Google".into(), 1)]);
    assert_eq!(step.timestamp_ms, 6000);
}

#[test]
fn a_sock_across_a_window_boundary_is_lost_only_in_compatible_mode() {
    // 3 frames before 5 s and 3 after.
    let frames = seq(&[hold("Google", 4100, 5900), hold("Blank", 5900, 20_000)]);
    let mut sighting = engine(Mode::Sighting);
    run(&mut sighting, &frames);
    assert_eq!(table(&sighting), vec![("Google".into(), 1, "Un-matched")]);
    let mut compatible = engine(Mode::Compatible);
    run(&mut compatible, &frames);
    assert!(compatible.table().is_empty());
}

#[test]
fn frames_further_apart_than_the_merge_gap_never_make_a_sighting() {
    let mut engine = engine(Mode::Sighting);
    let frames: Vec<Frame> = (0..10)
        .map(|i| Frame::new("Google", 1000 + i * 2000))
        .chain(hold("Blank", 21_000, 40_000))
        .collect();
    run(&mut engine, &frames);
    assert!(engine.table().is_empty());
}

#[test]
fn a_burst_needs_its_frames_within_the_window_size() {
    // Frames 1.9 s apart merge into one cluster, but 4 of them span 5.7 s > 5 s.
    let slow: Vec<Frame> = (0..4)
        .map(|i| Frame::new("Google", 1000 + i * 1900))
        .chain(hold("Blank", 7000, 30_000))
        .collect();
    let mut engine = engine(Mode::Sighting);
    run(&mut engine, &slow);
    assert!(engine.table().is_empty());
    // 1.5 s apart: 4 frames within 4.5 s.
    let fast: Vec<Frame> = (0..4)
        .map(|i| Frame::new("Google", 1000 + i * 1500))
        .chain(hold("Blank", 7000, 30_000))
        .collect();
    let mut engine = self::engine(Mode::Sighting);
    run(&mut engine, &fast);
    assert_eq!(table(&engine), vec![("Google".into(), 1, "Un-matched")]);
}

#[test]
fn socks_shown_less_than_the_merge_gap_apart_are_one_sighting() {
    let mut engine = engine(Mode::Sighting);
    let frames = seq(&[
        hold("Google", 1000, 3000),
        hold("Blank", 3000, 4500),
        hold("Google", 4500, 6000),
        hold("Blank", 6000, 20_000),
    ]);
    run(&mut engine, &frames);
    assert_eq!(table(&engine), vec![("Google".into(), 1, "Un-matched")]);
}

#[test]
fn a_late_frame_within_grace_updates_the_result_in_sighting_mode() {
    let mut engine = engine(Mode::Sighting);
    let mut frames = hold("Google", 1000, 1900); // 3 frames: not enough
    frames.push(Frame::new("Blank", 5200)); // window [0, 5 s) still open (grace 1 s)
    run(&mut engine, &frames);
    assert_eq!(
        engine.process(&Frame::new("Google", 1900)).disposition,
        Disposition::Counted
    );
    let outputs = run(&mut engine, &hold("Blank", 6100, 20_000));
    assert_eq!(pair_rows(&outputs), vec![("Google".into(), 1)]);
    assert_eq!(sightings(&outputs)[0].frames, 4);
}

#[test]
fn a_late_frame_beyond_grace_is_dropped_in_sighting_mode() {
    let mut engine = engine(Mode::Sighting);
    let mut frames = hold("Google", 1000, 1900);
    frames.push(Frame::new("Blank", 6100)); // window [0, 5 s) closed at 6 s
    run(&mut engine, &frames);
    let step = engine.process(&Frame::new("Google", 1900));
    assert_eq!(step.disposition, Disposition::Late);
    assert!(step.outputs.is_empty());
    assert!(run(&mut engine, &hold("Blank", 6400, 20_000)).is_empty());
    assert!(engine.table().is_empty());
}

#[test]
fn a_late_frame_within_grace_updates_the_result_in_compatible_mode() {
    let mut engine = engine(Mode::Compatible);
    let mut frames = hold("Google", 1000, 1900);
    frames.push(Frame::new("Mongo", 5200)); // stream time 5.2 s: [0, 5 s) open until 6 s
    run(&mut engine, &frames);
    let step = engine.process(&Frame::new("Google", 1900));
    assert_eq!(step.disposition, Disposition::Counted);
    assert_eq!(pair_rows(&step.outputs), vec![("Google".into(), 1)]);
    assert_eq!(table(&engine), vec![("Google".into(), 1, "Un-matched")]);
}

#[test]
fn a_late_frame_beyond_grace_is_dropped_in_compatible_mode() {
    let mut engine = engine(Mode::Compatible);
    let mut frames = hold("Google", 1000, 1900);
    frames.push(Frame::new("Mongo", 6100));
    run(&mut engine, &frames);
    let step = engine.process(&Frame::new("Google", 1900));
    assert_eq!(step.disposition, Disposition::Late);
    assert!(step.outputs.is_empty());
    assert!(engine.table().is_empty());
}

#[test]
fn blank_frames_do_not_move_stream_time_in_compatible_mode() {
    // The WHERE filter drops them before the windowed aggregation sees them.
    let mut engine = engine(Mode::Compatible);
    let mut frames = hold("Google", 1000, 1900);
    frames.push(Frame::new("Blank", 60_000));
    run(&mut engine, &frames);
    let step = engine.process(&Frame::new("Google", 1900));
    assert_eq!(step.disposition, Disposition::Counted);
    assert_eq!(table(&engine), vec![("Google".into(), 1, "Un-matched")]);
}

#[test]
fn closed_windows_are_forgotten() {
    let mut engine = engine(Mode::Compatible);
    run(
        &mut engine,
        &seq(&[hold("Google", 0, 20_000), hold("Mongo", 20_000, 60_000)]),
    );
    let open: usize = engine
        .state()
        .images
        .values()
        .map(|image| image.windows.len())
        .sum();
    assert!(open <= 2, "{:?}", engine.state());
    let mut engine = self::engine(Mode::Sighting);
    run(
        &mut engine,
        &seq(&[hold("Google", 0, 3000), hold("Blank", 3000, 60_000)]),
    );
    assert!(engine.state().images["Google"].frames.is_empty());
}

/// A sequence with every kind of event: runs, noise, blank gaps, late frames.
fn busy_sequence() -> Vec<Frame> {
    let mut frames = seq(&[
        hold("Google", 1000, 3000),
        hold("Blank", 3000, 6000),
        hold("Mongo", 6000, 13_500),
        hold("Blank", 13_500, 15_000),
        hold("Google", 15_000, 17_000),
        hold("Github", 17_000, 18_000),
        hold("Google", 18_000, 20_000),
        hold("Blank", 20_000, 40_000),
    ]);
    frames[3].image = "Mongo".into();
    frames.insert(30, Frame::new("Mongo", 5500)); // late, within grace
    frames
}

#[test]
fn saved_state_resumes_exactly_where_it_left_off() {
    for mode in both_modes() {
        let frames = busy_sequence();
        let mut uninterrupted = engine(mode);
        let expected = run(&mut uninterrupted, &frames);
        assert!(!expected.is_empty());
        for split in [1, 7, 30, 31, 60, frames.len() - 1] {
            let mut first = engine(mode);
            let mut outputs = run(&mut first, &frames[..split]);
            let saved = serde_json::to_string(first.state()).expect("serialise");
            let restored: EngineState = serde_json::from_str(&saved).expect("deserialise");
            let mut second = Engine::with_state(first.config().clone(), restored);
            outputs.extend(run(&mut second, &frames[split..]));
            assert_eq!(outputs, expected, "{mode:?}, split at {split}");
            assert_eq!(second.table(), uninterrupted.table());
        }
    }
}

#[test]
fn advancing_stream_time_decides_what_the_next_frame_would_have_decided() {
    // Google 1.0-2.5 s: last frame 2.5 s, + merge gap 2 s = 4.5 s, so the cluster is decided
    // once the window [0, 5 s) has closed: at 5 s + grace 1 s.
    let frames = hold("Google", 1000, 2800);
    let mut advanced = engine(Mode::Sighting);
    assert_eq!(advanced.next_decision_at(), None);
    run(&mut advanced, &frames);
    assert_eq!(advanced.next_decision_at(), Some(6000));
    assert!(advanced.advance(5999).is_empty());
    let outputs = advanced.advance(6000);
    assert_eq!(pair_rows(&outputs), vec![("Google".into(), 1)]);
    assert_eq!(advanced.next_decision_at(), None);
    assert_eq!(advanced.stream_time(), Some(6000));
    // The same outputs as a blank frame at that time.
    let mut by_frame = engine(Mode::Sighting);
    run(&mut by_frame, &frames);
    assert_eq!(run(&mut by_frame, &[Frame::new("Blank", 6000)]), outputs);
    assert_eq!(by_frame.state(), advanced.state());
    // Going back is not possible, and a frame that could have joined the decided cluster is
    // late now.
    assert!(advanced.advance(1000).is_empty());
    assert_eq!(advanced.stream_time(), Some(6000));
    assert_eq!(
        advanced.process(&Frame::new("Google", 2900)).disposition,
        Disposition::Late
    );
}

#[test]
fn the_next_decision_is_that_of_the_earliest_cluster() {
    let mut engine = engine(Mode::Sighting);
    // Mongo's cluster ends at 1.9 s (decided at 5 s + 1 s); Google's ends at 3.9 s (+ 2 s =
    // 5.9 s: decided when [5, 10 s) closes, at 11 s).
    run(
        &mut engine,
        &seq(&[hold("Mongo", 1000, 2000), hold("Google", 3000, 4000)]),
    );
    assert_eq!(engine.next_decision_at(), Some(6000));
    let outputs = engine.advance(6000);
    assert_eq!(pair_rows(&outputs), vec![("Mongo".into(), 1)]);
    assert_eq!(engine.next_decision_at(), Some(11_000));
    // A cluster whose last frame + gap is a window boundary is decided when that window closes.
    let mut engine = self::engine(Mode::Sighting);
    run(&mut engine, &hold("Google", 1800, 3100)); // last frame 3 s, + gap = 5 s
    assert_eq!(engine.next_decision_at(), Some(6000));
    assert_eq!(pair_rows(&engine.advance(6000)), vec![("Google".into(), 1)]);
}

#[test]
fn compatible_mode_is_never_advanced_without_frames() {
    let mut engine = engine(Mode::Compatible);
    run(&mut engine, &hold("Google", 1000, 2800));
    assert_eq!(engine.next_decision_at(), None);
    assert!(engine.advance(60_000).is_empty());
    assert_eq!(engine.stream_time(), Some(2500));
}

#[test]
fn time_of_day_is_formatted_in_utc() {
    assert_eq!(format_time_of_day(0), "00:00:00");
    assert_eq!(format_time_of_day(1_700_000_000_000), "22:13:20");
    assert_eq!(format_time_of_day(-1000), "23:59:59");
}
