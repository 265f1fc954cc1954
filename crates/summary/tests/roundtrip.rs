//! Event files written by `EventWriter` read back by `EventReader`: values, framing, damage
//! detection with byte offsets, truncation, and golden bytes with a fixed clock.

use kiln_summary::proto::{Event, event::What};
use kiln_summary::record::masked_crc32c;
use kiln_summary::{EventReader, EventWriter, Image, Pixels, SummaryError, read_events, scalars};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-summary-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn fixed_clock(t: f64) -> kiln_summary::Clock {
    Box::new(move || t)
}

#[test]
fn scalars_histograms_images_and_text_round_trip() {
    let dir = temp_dir("roundtrip");
    let mut w = EventWriter::create(&dir).unwrap();
    for step in 0..5 {
        w.add_scalar("epoch_loss", 1.0 / (step + 1) as f32, step)
            .unwrap();
    }
    w.add_histogram(
        "dense/kernel",
        &(0..100).map(|i| i as f32 / 10.0).collect::<Vec<_>>(),
        0,
    )
    .unwrap();
    let px = vec![128u8; 28 * 28];
    let im = Image {
        pixels: Pixels::U8(&px),
        height: 28,
        width: 28,
        channels: 1,
    };
    w.add_images("samples", &[im, im, im], 2, 0).unwrap();
    w.add_text("notes", "**hello**", 0).unwrap();
    let path = w.path().to_path_buf();
    drop(w);
    assert!(
        path.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("events.out.tfevents.")
    );
    let events = read_events(&path).unwrap();
    assert_eq!(
        events[0].what,
        Some(What::FileVersion("brain.Event:2".into()))
    );
    let loss = scalars(&events, "epoch_loss");
    assert_eq!(
        loss,
        (0..5)
            .map(|s| (s, 1.0 / (s + 1) as f32))
            .collect::<Vec<_>>()
    );
    let tensor_of = |tag: &str| {
        events.iter().find_map(|e| match &e.what {
            Some(What::Summary(s)) => s
                .value
                .iter()
                .find(|v| v.tag == tag)
                .and_then(|v| v.tensor.clone()),
            _ => None,
        })
    };
    let h = tensor_of("dense/kernel").unwrap();
    let counts: f64 = h
        .tensor_content
        .chunks(24)
        .map(|row| f64::from_le_bytes(row[16..24].try_into().unwrap()))
        .sum();
    assert_eq!(
        counts, 100.0,
        "histogram counts sum to the number of values"
    );
    let img = tensor_of("samples").unwrap();
    assert_eq!(
        img.string_val.len(),
        2 + 2,
        "width, height and max_outputs = 2 PNGs"
    );
    assert_eq!(
        (&img.string_val[0][..], &img.string_val[1][..]),
        (&b"28"[..], &b"28"[..])
    );
    assert_eq!(
        tensor_of("notes").unwrap().string_val,
        vec![b"**hello**".to_vec()]
    );
}

#[test]
fn golden_bytes_of_the_file_version_record_with_a_fixed_clock() {
    let dir = temp_dir("golden");
    let w = EventWriter::with_clock(&dir, fixed_clock(1_700_000_000.5)).unwrap();
    let path = w.path().to_path_buf();
    drop(w);
    assert!(
        path.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("events.out.tfevents.1700000000.")
    );
    // Hand-encoded Event{wall_time: 1700000000.5, file_version: "brain.Event:2"}:
    // field 1 (double, tag 0x09) + 8 LE bytes, field 3 (string, tag 0x1a) + length 13 + text.
    let mut payload = vec![0x09];
    payload.extend_from_slice(&1_700_000_000.5f64.to_le_bytes());
    payload.extend_from_slice(&[0x1a, 13]);
    payload.extend_from_slice(b"brain.Event:2");
    let mut want = (payload.len() as u64).to_le_bytes().to_vec();
    want.extend_from_slice(&masked_crc32c(&want.clone()).to_le_bytes());
    want.extend_from_slice(&payload);
    want.extend_from_slice(&masked_crc32c(&payload).to_le_bytes());
    assert_eq!(std::fs::read(&path).unwrap(), want);
}

fn two_record_file(name: &str) -> (std::path::PathBuf, Vec<u8>) {
    let dir = temp_dir(name);
    let mut w = EventWriter::with_clock(&dir, fixed_clock(1.0)).unwrap();
    w.add_scalar("x", 3.0, 7).unwrap();
    let path = w.path().to_path_buf();
    drop(w);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

#[test]
fn a_flipped_byte_is_a_crc_error_naming_the_record_offset() {
    let (path, mut bytes) = two_record_file("flip");
    let first_len = 16 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[first_len + 14] ^= 0x40; // inside the second record's payload
    std::fs::write(&path, &bytes).unwrap();
    let items: Vec<_> = EventReader::open(&path).unwrap().collect();
    assert!(items[0].is_ok());
    match &items[1] {
        Err(SummaryError::CrcMismatch { offset, what, .. }) => {
            assert_eq!((*offset as usize, *what), (first_len, "payload"));
            let msg = items[1].as_ref().unwrap_err().to_string();
            assert!(msg.contains(&format!("byte {first_len}")), "{msg}");
        }
        other => panic!("expected a CRC mismatch, got {other:?}"),
    }
    assert_eq!(items.len(), 2, "reading stops at the damaged record");
}

#[test]
fn a_truncated_file_reports_truncation_not_corruption() {
    let (path, bytes) = two_record_file("trunc");
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let items: Vec<_> = EventReader::open(&path).unwrap().collect();
    assert!(items[0].is_ok());
    assert!(
        matches!(items[1], Err(SummaryError::Truncated { .. })),
        "{:?}",
        items[1]
    );
    let garbage = temp_dir("garbage");
    std::fs::create_dir_all(&garbage).unwrap();
    let g = garbage.join("events.out.tfevents.0.x");
    std::fs::write(&g, b"not an event file at all, just text").unwrap();
    assert!(
        read_events(&g).is_err(),
        "garbage must be an error, not a panic"
    );
}

#[test]
fn events_are_flushed_on_drop_and_on_flush() {
    let dir = temp_dir("flush");
    let mut w = EventWriter::create(&dir).unwrap();
    w.add_scalar("a", 1.0, 0).unwrap();
    w.flush().unwrap();
    assert_eq!(
        read_events(w.path()).unwrap().len(),
        2,
        "flush makes events visible"
    );
    w.add_scalar("a", 2.0, 1).unwrap();
    let path = w.path().to_path_buf();
    drop(w);
    let events: Vec<Event> = read_events(&path).unwrap();
    assert_eq!(scalars(&events, "a"), vec![(0, 1.0), (1, 2.0)]);
}

/// Following a file while it is written: `open_at(offset())` reads only the records appended
/// since, a half-written record is left for the next read, and the tensor summary round-trips.
#[test]
fn a_followed_file_yields_each_appended_record_once() {
    let dir = temp_dir("follow");
    let mut w = EventWriter::create(&dir).unwrap();
    w.add_scalar("loss", 1.0, 0).unwrap();
    w.flush().unwrap();
    let path = w.path().to_path_buf();
    let mut r = EventReader::open(&path).unwrap();
    let first: Vec<Event> = r.by_ref().map(|e| e.unwrap()).collect();
    assert_eq!(first.len(), 2, "file version + one scalar");
    let at = r.offset();
    assert_eq!(at, std::fs::metadata(&path).unwrap().len());
    w.add_scalar("loss", 0.5, 1).unwrap();
    w.add_tensor(
        "eval",
        "kiln_eval",
        b"{}",
        &[1.0, 2.0, 3.0, 4.0],
        &[2, 2],
        1,
    )
    .unwrap();
    w.flush().unwrap();
    // A record cut in half: the reader stops before it and resumes there.
    let full = std::fs::read(&path).unwrap();
    let cut = dir.join("cut");
    std::fs::write(&cut, &full[..full.len() - 5]).unwrap();
    let mut partial = EventReader::open_at(&cut, at).unwrap();
    assert_eq!(partial.next().unwrap().unwrap().step, 1);
    assert!(matches!(
        partial.next(),
        Some(Err(SummaryError::Truncated { .. }))
    ));
    let resume = partial.offset();
    let rest: Vec<Event> = EventReader::open_at(&path, resume)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(rest.len(), 1);
    let Some(What::Summary(s)) = &rest[0].what else {
        panic!("a summary")
    };
    let t = s.value[0].tensor.as_ref().unwrap();
    assert_eq!(t.tensor_content.len(), 16);
    assert!(w.add_tensor("bad", "p", b"", &[1.0], &[2], 0).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
