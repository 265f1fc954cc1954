//! `kiln-studio`: serve a logdir's runs (`--logdir runs --model model.safetensors`), or export
//! one run's report as a self-contained HTML file (`kiln-studio report RUN --out report.html`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kiln_studio::report::{Mode, render};
use kiln_studio::{AppState, Predictor, RunStore, class_names, newest_model, router};

#[derive(Parser)]
#[command(
    name = "kiln-studio",
    about = "Run reports, run comparison and live prediction for kiln's TensorBoard runs"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The directory of TensorBoard runs.
    #[arg(long, default_value = "runs")]
    logdir: PathBuf,
    /// A model saved with Model::save, for live prediction (default: the newest .safetensors
    /// under the logdir).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Where class names come from: `fashion-mnist` or an image folder (one directory per class).
    #[arg(long, global = true)]
    data: Option<String>,
    /// Class names, comma-separated (instead of --data).
    #[arg(long, value_delimiter = ',', global = true)]
    classes: Option<Vec<String>>,
    /// Port to listen on.
    #[arg(long, default_value_t = 6007)]
    port: u16,
    /// Address to bind (127.0.0.1: this machine only).
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Largest upload accepted, in MiB (larger ones get 413).
    #[arg(long, default_value_t = 10)]
    max_upload_mib: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Writes one run's report as a self-contained HTML file.
    Report {
        /// The run directory (the TensorBoard callback's log_dir).
        run: PathBuf,
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

fn classes(cli: &Cli) -> anyhow::Result<Option<Vec<String>>> {
    match (&cli.classes, &cli.data) {
        (Some(c), _) => Ok(Some(c.clone())),
        (None, Some(d)) => class_names(d).map(Some),
        (None, None) => Ok(None),
    }
}

fn export(run_dir: &Path, out: &Path, classes: &[String]) -> anyhow::Result<()> {
    let store = RunStore::open(run_dir)?;
    let mut run = store.run(".").with_context(|| {
        format!(
            "{} holds no TensorBoard run (no event files in it or in its train/ and validation/)",
            run_dir.display()
        )
    })?;
    run.name = run_dir.display().to_string();
    let html = render(&run, classes, Mode::Export);
    kiln_nn::checkpoint::atomic_write(out, html.as_bytes())?;
    println!(
        "report of {} written to {}",
        run_dir.display(),
        out.display()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let names = classes(&cli)?;
    if let Some(Command::Report { run, out }) = &cli.command {
        return export(run, out, names.as_deref().unwrap_or_default());
    }
    let store = RunStore::open(&cli.logdir)?;
    let model = cli.model.clone().or_else(|| newest_model(store.root()));
    let predictor = match &model {
        Some(path) => match Predictor::load(path, names.clone()) {
            Ok(p) => {
                println!(
                    "live prediction: {} ({} classes)",
                    path.display(),
                    p.classes.len()
                );
                Some(p)
            }
            Err(e) if cli.model.is_some() => return Err(e),
            Err(e) => {
                eprintln!("kiln-studio: no live prediction: {e:#}");
                None
            }
        },
        None => {
            eprintln!("kiln-studio: no model given (--model FILE): live prediction is off");
            None
        }
    };
    let classes = predictor
        .as_ref()
        .map(|p| p.classes.clone())
        .or(names)
        .unwrap_or_default();
    let state = Arc::new(AppState {
        store,
        predictor,
        classes,
        max_upload: cli.max_upload_mib << 20,
    });
    let addr = SocketAddr::new(cli.host, cli.port);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (is the port taken? use --port)"))?;
        println!(
            "kiln studio on http://{addr}/ (logdir {})",
            cli.logdir.display()
        );
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("server")
    })
}
