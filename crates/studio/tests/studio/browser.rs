//! The pages in a real browser: Debian's Chromium (headless) driven through chromedriver with
//! fantoccini (WebDriver). Runs page, compare, report drill-down and an upload, each with a
//! screenshot under target/tmp/studio-screenshots/.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::fixture::{self, agent, get, json};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    names.iter().map(PathBuf::from).find(|p| p.exists())
}

/// chromedriver on a free port, or None (skipped) when chromium is not installed.
fn driver() -> Option<(Driver, u16, PathBuf)> {
    let chromium = find_tool(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let chromedriver = find_tool(&["/usr/bin/chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let why = "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)";
        if std::env::var("KILN_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("KILN_REQUIRE_BROWSER=1 but {why}");
        }
        eprintln!("skipping the browser test: {why}");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let d = Driver(child);
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((d, port, chromium))
}

async fn count(c: &Client, css: &str, want: usize) -> usize {
    let t = Instant::now();
    loop {
        let n = c
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0);
        if n == want || t.elapsed() > Duration::from_secs(20) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn shot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[test]
fn runs_compare_report_and_upload_in_chromium() {
    let Some(f) = fixture::fixture() else { return };
    let Some((_driver, port, chromium)) = driver() else {
        return;
    };
    let s = fixture::start(&f.logdir, Some(&f.model), 10 << 20);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("studio-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png_path = shots.join("upload.png");
    std::fs::write(&png_path, &f.png).unwrap();
    // The drill-down cell: the off-diagonal cell with the most evaluation examples.
    let (_, body) = get(&agent(), &format!("{}/api/runs/mlp_64/evaluation", s.url));
    let ex = json(&body)["evaluation"]["examples"]
        .as_array()
        .unwrap()
        .clone();
    let mut cells = std::collections::HashMap::new();
    for e in &ex {
        let (t, p) = (
            e["label"].as_u64().unwrap(),
            e["predicted"].as_u64().unwrap(),
        );
        if t != p {
            *cells.entry((t, p)).or_insert(0usize) += 1;
        }
    }
    let (&(t, p), &n) = cells
        .iter()
        .max_by_key(|(k, v)| (**v, std::cmp::Reverse(**k)))
        .expect("a misclassified example");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100"]}),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");

        // Runs: both runs, filterable, sortable.
        c.goto(&format!("{}/", s.url)).await.unwrap();
        assert_eq!(count(&c, "tr.run", 2).await, 2, "both runs listed");
        let text = c.find(Locator::Id("runs")).await.unwrap().text().await.unwrap();
        assert!(text.contains("mlp_32") && text.contains("mlp_64") && text.contains("units"), "{text}");
        shot(&c, &shots, "runs.png").await;
        c.find(Locator::Id("filter")).await.unwrap().send_keys("64").await.unwrap();
        assert_eq!(count(&c, "tr.run", 1).await, 1, "the filter keeps mlp_64");
        c.find(Locator::Id("filter")).await.unwrap().clear().await.unwrap();
        // Clearing a field fires no input event; the page listens for one.
        c.execute("document.getElementById('filter').dispatchEvent(new Event('input'))", vec![]).await.unwrap();
        assert_eq!(count(&c, "tr.run", 2).await, 2);
        c.find(Locator::Css("th[data-col='hp:units']")).await.unwrap().click().await.unwrap();
        let first = c.find(Locator::Css("tr.run")).await.unwrap().attr("data-run").await.unwrap();
        assert_eq!(first.as_deref(), Some("mlp_32"), "sorted by units, ascending");

        // Compare: two series, hparam differences, parallel coordinates.
        for b in c.find_all(Locator::Css("input.pick")).await.unwrap() {
            b.click().await.unwrap();
        }
        c.find(Locator::Id("compare")).await.unwrap().click().await.unwrap();
        assert_eq!(count(&c, "#chart polyline.series", 2).await, 2, "two series in the chart");
        assert_eq!(count(&c, "tr.diff", 2).await, 2, "units and learning_rate differ");
        assert_eq!(count(&c, "polyline.pc-line", 2).await, 2);
        c.find(Locator::Id("log")).await.unwrap().click().await.unwrap();
        c.find(Locator::Id("axis")).await.unwrap().select_by_value("relative").await.unwrap();
        assert_eq!(count(&c, "#chart polyline.series", 2).await, 2);
        shot(&c, &shots, "compare.png").await;

        // Report: click a confusion cell, see its examples.
        c.goto(&format!("{}/report?run=mlp_64", s.url)).await.unwrap();
        let css = format!("td.cell[data-true='{t}'][data-pred='{p}']");
        c.find(Locator::Css(&css)).await.unwrap().click().await.unwrap();
        assert_eq!(count(&c, "#drill figure.example", n).await, n, "cell ({t},{p})'s examples");
        assert_eq!(count(&c, "#drill figure.example img", n).await, n, "each with its image");
        let caption = c.find(Locator::Css("#drill h4")).await.unwrap().text().await.unwrap();
        assert!(caption.contains(&fixture::classes()[t as usize]), "{caption}");
        shot(&c, &shots, "report.png").await;

        // Live prediction: upload the image, read the bars.
        c.find(Locator::Id("upload")).await.unwrap().send_keys(png_path.to_str().unwrap()).await.unwrap();
        assert_eq!(count(&c, "#prob-sum", 1).await, 1, "a prediction");
        let out = c.find(Locator::Id("prediction")).await.unwrap();
        let sum: f64 = out.attr("data-sum").await.unwrap().unwrap().parse().unwrap();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
        let top = out.attr("data-top").await.unwrap().unwrap();
        assert_eq!(top, fixture::classes()[f.label]);
        assert_eq!(count(&c, "#prediction .bar", 10).await, 10);
        shot(&c, &shots, "predict.png").await;
        // A drawing on the canvas: a bright vertical bar, sent as PNG.
        c.execute(
            "document.getElementById('prob-sum').remove();\
             var x = document.getElementById('draw').getContext('2d');\
             x.fillStyle = '#fff'; x.fillRect(80, 10, 60, 200);",
            vec![],
        )
        .await
        .unwrap();
        c.find(Locator::Id("predict-drawing")).await.unwrap().click().await.unwrap();
        assert_eq!(count(&c, "#prob-sum", 1).await, 1, "a prediction of the drawing");
        let sum: f64 = out.attr("data-sum").await.unwrap().unwrap().parse().unwrap();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
        c.close().await.unwrap();
    });
}
