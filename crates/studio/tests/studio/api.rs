//! The JSON API on two real runs: runs with hparams and metrics, scalars that equal the event
//! files, predictions (raw body and multipart) whose probabilities sum to 1 with the right top
//! class, the exported report, and every bad request answered, never crashing the server.

use std::io::{Read, Write};

use crate::fixture::{self, agent, get, json, post};

#[test]
fn runs_scalars_and_evaluation_come_from_the_event_files() {
    let Some(f) = fixture::fixture() else { return };
    let s = fixture::start(&f.logdir, None, 10 << 20);
    let a = agent();
    let (code, body) = get(&a, &format!("{}/api/runs", s.url));
    assert_eq!(code, 200);
    let runs = json(&body);
    let names: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mlp_32", "mlp_64"]);
    assert_eq!(runs[1]["hparams"]["units"], 64.0);
    assert_eq!(runs[1]["status"], "success");
    let acc = runs[1]["metrics"]["validation/epoch_accuracy"]["last"]
        .as_f64()
        .unwrap();
    assert!(acc > 0.6, "validation accuracy {acc}");

    let (code, body) = get(
        &a,
        &format!("{}/api/runs/mlp_64/scalars?tag=train/epoch_loss", s.url),
    );
    assert_eq!(code, 200);
    let pts = json(&body)["points"].as_array().unwrap().clone();
    let on_disk = kiln_summary::scalars(&events(&f.logdir.join("mlp_64/train")), "epoch_loss");
    assert_eq!(pts.len(), on_disk.len());
    for (p, (step, v)) in pts.iter().zip(&on_disk) {
        assert_eq!(p["step"].as_i64().unwrap(), *step);
        assert_eq!(p["value"].as_f64().unwrap() as f32, *v);
    }
    let (code, body) = get(&a, &format!("{}/api/runs/mlp_64/scalars?tag=nope", s.url));
    assert_eq!(code, 404);
    assert!(
        body.contains("train/epoch_loss"),
        "lists the tags it has: {body}"
    );
    let (_, body) = get(&a, &format!("{}/api/runs/mlp_64/tags", s.url));
    assert!(
        json(&body)["scalars"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "validation/epoch_accuracy")
    );
    let (_, body) = get(&a, &format!("{}/api/runs/mlp_64/evaluation", s.url));
    let e = json(&body);
    let counts: u64 = e["confusion"][1]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        counts, 1000,
        "the confusion matrix counts every validation sample"
    );
    assert_eq!(e["evaluation"]["examples"].as_array().unwrap().len(), 300);
    let (code, page) = get(&a, &format!("{}/report?run=mlp_64", s.url));
    assert_eq!(code, 200);
    assert!(
        page.contains("Confusion matrix")
            && page.contains("<svg")
            && page.contains("data:image/png")
    );
    assert!(
        page.contains("No model is loaded"),
        "no --model: the panel says how to get one"
    );
    let (code, _) = get(&a, &format!("{}/api/predict", s.url));
    assert_eq!(code, 405);
    let (code, body) = post(&a, &format!("{}/api/predict", s.url), "image/png", &f.png);
    assert_eq!(code, 503, "{body}");
}

#[test]
fn predictions_match_the_model_and_bad_uploads_are_refused() {
    let Some(f) = fixture::fixture() else { return };
    let s = fixture::start(&f.logdir, Some(&f.model), 1 << 20);
    let a = agent();
    let check = |code: u16, body: &str| {
        assert_eq!(code, 200, "{body}");
        let r = json(body);
        let p: Vec<f64> = r["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(r["classes"].as_array().unwrap().len(), 10);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        let top = (0..10).max_by(|&i, &j| p[i].total_cmp(&p[j])).unwrap();
        assert_eq!(top, f.label, "top class");
        assert_eq!(r["classes"][top], fixture::classes()[f.label]);
    };
    let (code, body) = post(&a, &format!("{}/api/predict", s.url), "image/png", &f.png);
    check(code, &body);
    let boundary = "kilnboundary42";
    let mut form = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n").into_bytes();
    form.extend_from_slice(&f.png);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let (code, body) = post(&a, &format!("{}/api/predict", s.url), &ct, &form);
    check(code, &body);

    let url = format!("{}/api/predict", s.url);
    let (code, body) = post(&a, &url, "text/plain", b"certainly not an image");
    assert_eq!(code, 400);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("not an image")
    );
    let (code, _) = post(&a, &url, "image/png", &f.png[..40]);
    assert_eq!(code, 400, "a truncated PNG");
    let (code, _) = post(&a, &url, "image/png", b"");
    assert_eq!(code, 400);
    let (code, _) = post(&a, &url, &ct, b"--kilnboundary42\r\ngarbage");
    assert_eq!(code, 400, "malformed multipart");
    let no_file = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--{boundary}--\r\n"
    );
    let (code, body) = post(&a, &url, &ct, no_file.as_bytes());
    assert_eq!(code, 400);
    assert!(body.contains("file"));
    // Over the limit: the server answers 413 from the declared length, before the body (a
    // client still sending would see the connection close mid-write, so none is sent).
    for ty in ["image/png", ct.as_str()] {
        let head = format!(
            "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: {ty}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            (1 << 20) + 1
        );
        let r = raw(s.port, head.as_bytes());
        assert!(
            r.starts_with("HTTP/1.1 413"),
            "{ty} over the upload limit: {r}"
        );
    }
    // No declared length (chunked): cut off at the limit, also 413.
    let mut req = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    req.extend_from_slice(format!("{:x}\r\n", (1 << 20) + 1).as_bytes());
    req.extend(std::iter::repeat_n(b'x', (1 << 20) + 1));
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    let r = raw(s.port, &req);
    assert!(
        r.starts_with("HTTP/1.1 413"),
        "chunked over the upload limit: {r}"
    );
    // The server still answers.
    let (code, body) = post(&a, &url, "image/png", &f.png);
    check(code, &body);
    let (code, body) = get(&a, &format!("{}/api/model", s.url));
    assert_eq!(code, 200);
    assert_eq!(json(&body)["input"]["height"], 28);
}

/// Raw requests, so no client can normalise the path first.
fn raw(port: u16, request: &[u8]) -> String {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn only_files_under_the_logdir_are_served() {
    let Some(f) = fixture::fixture() else { return };
    let outside = f
        .logdir
        .parent()
        .unwrap()
        .join(format!("kiln-studio-secret-{}", std::process::id()));
    std::fs::write(&outside, "secret").unwrap();
    #[cfg(unix)]
    {
        let link = f.logdir.join("mlp_64/leak");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&outside, &link).unwrap();
    }
    let s = fixture::start(&f.logdir, None, 10 << 20);
    let a = agent();
    let mut r = a
        .get(format!(
            "{}/files/mlp_64/validation/eval_examples.npy",
            s.url
        ))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let npy = r
        .body_mut()
        .with_config()
        .limit(16 << 20)
        .read_to_vec()
        .unwrap();
    assert!(
        npy.starts_with(b"\x93NUMPY") && npy.len() > 300 * 784 * 4,
        "the examples' npy"
    );
    let name = outside.file_name().unwrap().to_string_lossy().into_owned();
    for path in [
        format!("/files/../{name}"),
        format!("/files/%2e%2e/{name}"),
        format!("/files/mlp_64/%2E%2E/%2e%2e/{name}"),
        format!("/files/..%2f{name}"),
        format!("/files/%2F{}", outside.display()),
        format!("/files//{}", outside.display()),
        "/files/mlp_64/leak".into(),
        "/files/mlp_64/..%5c..%5cetc%5cpasswd".into(),
        "/files/mlp_64/%00".into(),
        "/files/mlp_64".into(),
        "/assets/../Cargo.toml".into(),
        "/nope".into(),
    ] {
        let r = raw(
            s.port,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(
            r.starts_with("HTTP/1.1 404") || r.starts_with("HTTP/1.1 400"),
            "{path}: {r}"
        );
        assert!(!r.contains("secret"), "{path} leaked");
    }
    // Malformed requests get an error answer or a closed connection, and the server lives on.
    for junk in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        &[0xff; 64],
        b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
    ] {
        let _ = raw(s.port, junk);
    }
    assert_eq!(get(&a, &format!("{}/api/runs", s.url)).0, 200);
    let _ = std::fs::remove_file(&outside);
    let _ = std::fs::remove_file(f.logdir.join("mlp_64/leak"));
}

#[test]
fn the_exported_report_is_one_self_contained_file() {
    let Some(f) = fixture::fixture() else { return };
    let out = std::env::temp_dir().join(format!("kiln-report-{}.html", std::process::id()));
    let bin = env!("CARGO_BIN_EXE_kiln-studio");
    let run = f.logdir.join("mlp_64");
    let st = std::process::Command::new(bin)
        .args([
            "report",
            run.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--data",
            "fashion-mnist",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let html = std::fs::read_to_string(&out).unwrap();
    for needle in [
        "<svg",
        "data:image/png;base64,",
        "Confusion matrix",
        "Sneaker",
        "eval-data",
        "epoch_loss",
        "Layer graph",
        "Total params",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    for remote in ["src=\"http", "href=\"http", "src=\"/", "href=\"/"] {
        assert!(!html.contains(remote), "report references {remote}");
    }
    let bad = std::process::Command::new(bin)
        .args(["report", "/nonexistent/run", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent/run"));
    let _ = std::fs::remove_file(&out);
}

fn events(dir: &std::path::Path) -> Vec<kiln_summary::proto::Event> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("tfevents"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| kiln_summary::read_events(p).unwrap())
        .collect()
}
