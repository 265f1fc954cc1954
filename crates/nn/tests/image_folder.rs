//! `image_dataset_from_directory` on folders written here with the `image` crate: class names
//! and labels in every label mode, mixed colour modes, ignored files, reproducible disjoint
//! splits, and every kind of bad input refused with an error naming the file or folder.

use std::path::{Path, PathBuf};

use kiln_nn::data::{
    ColorMode, LabelMode, Labels, OnBadImage, Subset, image_dataset_from_directory,
};
use kiln_nn::prelude::*;

fn folder(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-images-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A w x h image whose pixels encode (class, index) so a decoded sample can be traced.
fn write(path: &Path, w: u32, h: u32, value: u8, kind: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    match kind {
        "gray" => image::GrayImage::from_pixel(w, h, image::Luma([value])).save(path),
        "rgba" => {
            image::RgbaImage::from_pixel(w, h, image::Rgba([value, value, value, 128])).save(path)
        }
        _ => image::RgbImage::from_pixel(w, h, image::Rgb([value, value, value])).save(path),
    }
    .unwrap();
}

/// cats: 4 images (png, jpg, bmp, gif in a nested folder), dogs: 3 pngs of mixed modes, a
/// text file and a hidden folder that must be ignored.
fn pets(name: &str) -> PathBuf {
    let d = folder(name);
    write(&d.join("cats/a.png"), 8, 6, 10, "rgb");
    write(&d.join("cats/b.jpg"), 5, 5, 20, "rgb");
    write(&d.join("cats/c.bmp"), 6, 8, 30, "rgb");
    write(&d.join("cats/deep/d.gif"), 4, 4, 40, "rgb");
    write(&d.join("dogs/a.png"), 8, 8, 50, "gray");
    write(&d.join("dogs/b.PNG"), 8, 8, 60, "rgba");
    write(&d.join("dogs/c.png"), 3, 9, 70, "rgb");
    std::fs::write(d.join("dogs/notes.txt"), "not an image").unwrap();
    write(&d.join(".hidden/x.png"), 2, 2, 0, "rgb");
    d
}

fn all(ds: &Dataset) -> (Vec<f32>, Vec<Vec<usize>>, Vec<Array>) {
    let elements = ds.collect(0).unwrap();
    let pixels = elements
        .iter()
        .flat_map(|e| e.x[0].as_f32().unwrap().to_vec())
        .collect();
    let shapes = elements.iter().map(|e| e.x[0].shape.clone()).collect();
    let labels = elements.iter().flat_map(|e| e.y.clone()).collect();
    (pixels, shapes, labels)
}

#[test]
fn classes_labels_and_colour_modes_follow_keras() {
    let d = pets("pets");
    let ds = image_dataset_from_directory(&d)
        .image_size(4, 4)
        .batch_size(Some(3))
        .shuffle(false)
        .load()
        .unwrap();
    assert_eq!(ds.class_names(), ["cats", "dogs"]);
    let names: Vec<String> = ds
        .file_paths()
        .iter()
        .map(|p| p.strip_prefix(&d).unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "cats/a.png",
            "cats/b.jpg",
            "cats/c.bmp",
            "cats/deep/d.gif",
            "dogs/a.png",
            "dogs/b.PNG",
            "dogs/c.png"
        ]
    );
    assert_eq!(ds.cardinality(), Cardinality::Known(3));
    let (pixels, shapes, labels) = all(&ds);
    assert_eq!(
        shapes,
        [vec![3, 4, 4, 3], vec![3, 4, 4, 3], vec![1, 4, 4, 3]]
    );
    let ints: Vec<u32> = labels
        .iter()
        .flat_map(|l| l.as_u32().unwrap().to_vec())
        .collect();
    assert_eq!(ints, [0, 0, 0, 0, 1, 1, 1]);
    // Uniform images keep their value through the resize (JPEG within its rounding).
    let first = |i: usize| pixels[i * 48];
    assert_eq!(
        [first(0), first(2), first(3), first(4), first(5), first(6)],
        [10.0, 30.0, 40.0, 50.0, 60.0, 70.0]
    );
    assert!((first(1) - 20.0).abs() <= 2.0, "{}", first(1));
    // Grayscale and RGBA modes convert every file; categorical and binary labels.
    let gray = image_dataset_from_directory(&d)
        .image_size(2, 2)
        .color_mode(ColorMode::Grayscale)
        .label_mode(LabelMode::Categorical)
        .batch_size(None)
        .shuffle(false)
        .load()
        .unwrap();
    let (_, shapes, labels) = all(&gray);
    assert!(shapes.iter().all(|s| s == &[1, 2, 2, 1]));
    assert_eq!(labels[4].as_f32().unwrap(), [0.0, 1.0]);
    let rgba = image_dataset_from_directory(&d)
        .image_size(2, 2)
        .color_mode(ColorMode::Rgba);
    let (pixels, _, _) = all(&rgba
        .shuffle(false)
        .label_mode(LabelMode::Binary)
        .load()
        .unwrap());
    assert_eq!(pixels[5 * 16 + 3], 128.0, "dogs/b.PNG keeps its alpha");
    assert_eq!(pixels[3], 255.0, "an RGB image gets an opaque alpha");
}

#[test]
fn a_seeded_split_is_disjoint_reproducible_and_complete() {
    let d = folder("split");
    for i in 0..20 {
        write(
            &d.join(format!("c{}/{i:02}.png", i % 3)),
            4,
            4,
            i as u8,
            "rgb",
        );
    }
    let base = image_dataset_from_directory(&d)
        .image_size(4, 4)
        .validation_split(0.25)
        .seed(123);
    let (train, val) = base.load_both().unwrap();
    assert_eq!((train.file_paths().len(), val.file_paths().len()), (15, 5));
    let again = base.load_subset(Subset::Validation).unwrap();
    assert_eq!(
        again.file_paths(),
        val.file_paths(),
        "same seed, same subset"
    );
    let mut both: Vec<_> = train
        .file_paths()
        .iter()
        .chain(val.file_paths())
        .cloned()
        .collect();
    both.sort();
    both.dedup();
    assert_eq!(both.len(), 20, "disjoint and complete");
    let other = base
        .clone()
        .seed(7)
        .load_subset(Subset::Validation)
        .unwrap();
    assert_ne!(other.file_paths(), val.file_paths());
    // Training batches reshuffle per pass; validation's order is fixed.
    let labels = |ds: &Dataset, pass| -> Vec<u32> {
        ds.collect(pass)
            .unwrap()
            .iter()
            .flat_map(|e| e.y[0].as_u32().unwrap().to_vec())
            .collect()
    };
    assert_eq!(labels(&val, 0), labels(&val, 1));
    assert_eq!(labels(&train, 0).len(), 15);
    let e = image_dataset_from_directory(&d)
        .validation_split(0.2)
        .load_both()
        .unwrap_err()
        .to_string();
    assert!(e.contains("seed"), "{e}");
}

#[test]
fn links_to_folders_are_followed_only_when_asked() {
    let d = folder("links");
    let elsewhere = folder("links-target");
    write(&d.join("a/own.png"), 2, 2, 1, "rgb");
    write(&elsewhere.join("x.png"), 2, 2, 2, "rgb");
    write(&elsewhere.join("y.png"), 2, 2, 3, "rgb");
    std::os::unix::fs::symlink(&elsewhere, d.join("a/more")).unwrap();
    let count = |follow: bool| {
        let mut f = image_dataset_from_directory(&d).image_size(2, 2);
        f.follow_links = follow;
        f.load().unwrap().file_paths().len()
    };
    assert_eq!((count(false), count(true)), (1, 3));
}

#[test]
fn bad_folders_and_files_are_errors_naming_them() {
    let missing = std::env::temp_dir().join("kiln-no-such-folder");
    let e = image_dataset_from_directory(&missing)
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("kiln-no-such-folder") && e.contains("does not exist"),
        "{e}"
    );
    let flat = folder("flat");
    write(&flat.join("a.png"), 2, 2, 1, "rgb");
    let e = image_dataset_from_directory(&flat)
        .load()
        .unwrap_err()
        .to_string();
    assert!(e.contains("no class subfolders"), "{e}");
    let mut unlabelled = image_dataset_from_directory(&flat);
    unlabelled.labels = Labels::None;
    let elements = unlabelled
        .image_size(2, 2)
        .load()
        .unwrap()
        .collect(0)
        .unwrap();
    assert!(elements[0].y.is_empty());
    let empty = folder("empty");
    write(&empty.join("full/a.png"), 2, 2, 1, "rgb");
    std::fs::create_dir_all(empty.join("vacant")).unwrap();
    let e = image_dataset_from_directory(&empty)
        .load()
        .unwrap_err()
        .to_string();
    assert!(e.contains("vacant") && e.contains("no images"), "{e}");
    let mut given = image_dataset_from_directory(&flat);
    given.labels = Labels::Given(vec![0, 1]);
    let e = given.load().unwrap_err().to_string();
    assert!(e.contains("2 labels") && e.contains("1 images"), "{e}");
    let d = pets("bad-pets");
    let mut three = image_dataset_from_directory(&d).label_mode(LabelMode::Binary);
    three.class_names = Some(vec!["dogs".into(), "cats".into(), "birds".into()]);
    let e = three.load().unwrap_err().to_string();
    assert!(e.contains("birds"), "{e}");
    // A truncated PNG: the pass fails naming the file, or skips it when asked.
    let bytes = std::fs::read(d.join("dogs/c.png")).unwrap();
    std::fs::write(d.join("dogs/c.png"), &bytes[..bytes.len() / 2]).unwrap();
    let strict = image_dataset_from_directory(&d)
        .image_size(2, 2)
        .shuffle(false)
        .load()
        .unwrap();
    let e = strict.collect(0).unwrap_err().to_string();
    assert!(
        e.contains("dogs/c.png") && e.contains("cannot decode"),
        "{e}"
    );
    let mut lenient = image_dataset_from_directory(&d)
        .image_size(2, 2)
        .batch_size(Some(2))
        .shuffle(false);
    lenient.on_bad_image = OnBadImage::Skip;
    let kept: usize = lenient
        .load()
        .unwrap()
        .collect(0)
        .unwrap()
        .iter()
        .map(Element::len)
        .sum();
    assert_eq!(kept, 6);
}
