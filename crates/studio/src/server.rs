//! The HTTP server (axum): pages, embedded assets, files under the logdir, and the JSON API.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` `GET /compare` `GET /report?run=R` | the pages |
//! | `GET /api/runs` | every run: name, status, hparams, last/best of every scalar |
//! | `GET /api/runs/{run}/tags` | the run's scalar, image and text tags |
//! | `GET /api/runs/{run}/scalars?tag=split/tag` | `{"run", "tag", "points": [{step, wall_time, value}]}` |
//! | `GET /api/runs/{run}/evaluation` | the last evaluation examples and confusion matrix |
//! | `GET /api/model` | the loaded model's input and classes |
//! | `POST /api/predict` | image as the body or as multipart field `file` -> `{"classes", "probabilities"}` |
//! | `GET /files/{path}` | a file under the logdir (`safe_path`) |
//!
//! Errors are JSON `{"error": "..."}` with the status: 400 for a bad request or a file that is
//! not an image, 404 for anything unknown (traversal attempts included), 413 for a body over
//! the upload limit, 503 when no model is loaded. Reading run files happens on blocking tasks.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::predict::Predictor;
use crate::report::{Mode, render};
use crate::runs::{Run, RunStore};

/// What the handlers share.
pub struct AppState {
    /// The runs.
    pub store: RunStore,
    /// The model for live prediction, if one is loaded.
    pub predictor: Option<Predictor>,
    /// Class names for reports (the predictor's when loaded).
    pub classes: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_upload: usize,
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

/// The router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.max_upload;
    Router::new()
        .route("/", get(|| async { Html(crate::pages::runs_page()) }))
        .route(
            "/compare",
            get(|| async { Html(crate::pages::compare_page()) }),
        )
        .route("/report", get(report))
        .route("/assets/{name}", get(asset))
        .route("/files/{*path}", get(file))
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{*rest}", get(run_api))
        .route("/api/model", get(model_info))
        .route("/api/predict", post(predict))
        .fallback(|| async { not_found() })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Runs `f` on the store on a blocking task (it reads files).
async fn with_store<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&RunStore) -> T + Send + 'static,
) -> Result<T, Response> {
    let s = state.clone();
    tokio::task::spawn_blocking(move || f(&s.store))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[derive(Deserialize)]
struct RunQuery {
    run: Option<String>,
}

async fn report(State(s): State<Arc<AppState>>, Query(q): Query<RunQuery>) -> Response {
    let Some(name) = q.run else {
        return error(StatusCode::BAD_REQUEST, "give the run: /report?run=NAME");
    };
    match with_store(&s, move |st| st.run(&name)).await {
        Ok(Some(run)) => {
            let mode = Mode::Served {
                predict: s.predictor.is_some(),
            };
            Html(render(&run, &s.classes, mode)).into_response()
        }
        Ok(None) => not_found(),
        Err(e) => e,
    }
}

async fn asset(Path(name): Path<String>) -> Response {
    match crate::pages::asset(&name) {
        Some((ty, body)) => ([(header::CONTENT_TYPE, ty)], body).into_response(),
        None => not_found(),
    }
}

async fn file(State(s): State<Arc<AppState>>, Path(path): Path<String>) -> Response {
    let root = s.store.root().to_path_buf();
    let Some(full) = crate::safe_path::resolve(&root, &path) else {
        return not_found();
    };
    let ty = match full.extension().and_then(|e| e.to_str()) {
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("csv" | "txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(&full).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, ty)], bytes).into_response(),
        Err(_) => not_found(),
    }
}

fn run_json(r: &Run) -> serde_json::Value {
    let metrics: serde_json::Map<String, serde_json::Value> = r
        .data
        .summary()
        .into_iter()
        .map(|(k, (last, best))| (k, json!({"last": last, "best": best})))
        .collect();
    json!({"name": r.name, "status": r.data.status, "hparams": r.data.hparams,
           "metrics": metrics, "problems": r.data.problems})
}

async fn list_runs(State(s): State<Arc<AppState>>) -> Response {
    match with_store(&s, |st| st.map_runs(run_json)).await {
        Ok(runs) => axum::Json(runs).into_response(),
        Err(e) => e,
    }
}

#[derive(Deserialize)]
struct TagQuery {
    tag: Option<String>,
}

async fn run_api(
    State(s): State<Arc<AppState>>,
    Path(rest): Path<String>,
    Query(q): Query<TagQuery>,
) -> Response {
    let Some((name, what)) = rest.rsplit_once('/') else {
        return not_found();
    };
    let (name, what) = (name.to_string(), what.to_string());
    let answer = with_store(&s, move |st| {
        st.with_run(&name, |run| run_answer(run, &what, q.tag))
    });
    match answer.await {
        Ok(Some(r)) => r,
        Ok(None) => not_found(),
        Err(e) => e,
    }
}

/// What `GET /api/runs/{run}/{what}` answers for `run`.
fn run_answer(run: &Run, what: &str, tag: Option<String>) -> Response {
    let d = &run.data;
    match what {
        "tags" => axum::Json(json!({
            "scalars": d.scalars.keys().collect::<Vec<_>>(),
            "images": d.images.keys().collect::<Vec<_>>(),
            "texts": d.texts.keys().collect::<Vec<_>>(),
        }))
        .into_response(),
        "scalars" => {
            let Some(tag) = tag else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "give the tag: ?tag=train/epoch_loss",
                );
            };
            match d.scalars.get(&tag) {
                Some(points) => axum::Json(json!({"run": run.name, "tag": tag, "points": points}))
                    .into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "run {:?} has no scalar {tag:?} (it has: {})",
                        run.name,
                        d.scalars.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
        "evaluation" => axum::Json(json!({"confusion": d.confusion, "evaluation": d.evaluation}))
            .into_response(),
        _ => not_found(),
    }
}

async fn model_info(State(s): State<Arc<AppState>>) -> Response {
    match &s.predictor {
        Some(p) => axum::Json(json!({"input": p.input, "classes": p.classes})).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "no model is loaded"),
    }
}

async fn predict(State(s): State<Arc<AppState>>, req: Request) -> Response {
    let Some(p) = &s.predictor else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no model is loaded: start kiln-studio with --model FILE (saved with Model::save)",
        );
    };
    // A declared length over the limit is refused before any byte of the body is read (a body
    // without one is cut off at the limit by DefaultBodyLimit, also with 413).
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared.filter(|&l| l > s.max_upload as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is {len} bytes; the limit is {} bytes (kiln-studio --max-upload-mib)",
                s.max_upload
            ),
        );
    }
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let bytes = match multipart {
        true => match file_field(req, &s).await {
            Ok(b) => b,
            Err(r) => return r,
        },
        false => match Bytes::from_request(req, &s).await {
            Ok(b) => b,
            Err(e) => return error(e.status(), e.body_text()),
        },
    };
    if bytes.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "empty body: send the image as the request body or as the multipart field `file`",
        );
    }
    let spec = p.input.clone();
    let x = match tokio::task::spawn_blocking(move || spec.convert(&bytes)).await {
        Ok(Ok(x)) => x,
        Ok(Err(reason)) => return error(StatusCode::BAD_REQUEST, reason),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match p.predict(x).await {
        Ok(pred) => axum::Json(pred).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The bytes of the multipart field `file`.
async fn file_field(req: Request, s: &Arc<AppState>) -> Result<Bytes, Response> {
    let mut form = Multipart::from_request(req, s)
        .await
        .map_err(|e| error(e.status(), e.body_text()))?;
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                return field
                    .bytes()
                    .await
                    .map_err(|e| error(e.status(), e.body_text()));
            }
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "the multipart request has no field named `file`",
                ));
            }
            Err(e) => return Err(error(e.status(), e.body_text())),
        }
    }
}
