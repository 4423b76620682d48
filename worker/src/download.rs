//! Streaming HTTP download with byte progress, resuming a dropped connection with an HTTP
//! Range request where the server allows it and restarting cleanly where it does not.

use js_sys::{Reflect, Uint8Array};
use siglens_protocol::{ErrorKind, WorkerError};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, RequestInit, Response};

use crate::runtime::{now_ms, scope};

/// How often a dropped connection is retried before giving up.
const MAX_RESUMES: u32 = 3;

pub enum Piece {
    Bytes(Vec<u8>),
    /// The server could not resume: everything received so far must be dropped, the
    /// bytes start again from 0.
    Restart,
}

pub struct Download {
    pub url: String,
    reader: ReadableStreamDefaultReader,
    pub received: u64,
    pub total: Option<u64>,
    started_ms: f64,
    resumes_left: u32,
    /// HTTP requests made (the first, plus one per resume).
    pub requests: u32,
}

fn net_err(url: &str, what: impl std::fmt::Display) -> WorkerError {
    WorkerError::new(ErrorKind::Network, format!("{url}: {what}"))
}

pub(crate) fn js_msg(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            Reflect::get(e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// GET `url` from byte `from` on. Returns the response and the byte it really starts at
/// (0 when the server ignored the Range header). A 404 is `Ok(None)`.
async fn open(url: &str, from: u64) -> Result<Option<(Response, u64, Option<u64>)>, WorkerError> {
    let init = RequestInit::new();
    if from > 0 {
        let headers = web_sys::Headers::new().map_err(|e| net_err(url, js_msg(&e)))?;
        headers
            .set("Range", &format!("bytes={from}-"))
            .map_err(|e| net_err(url, js_msg(&e)))?;
        init.set_headers(&headers);
    }
    let resp: Response = JsFuture::from(scope().fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| {
            net_err(
                url,
                format!(
                    "could not fetch ({}); the network may be off, the server may not allow \
                     this site to read it (CORS), or this site's Content-Security-Policy may not \
                     list the host (connect-src)",
                    js_msg(&e)
                ),
            )
        })?
        .unchecked_into();
    let status = resp.status();
    let header = |k: &str| resp.headers().get(k).ok().flatten();
    // With a content-encoding the length counts compressed bytes, not what we read.
    let length: Option<u64> = match header("content-encoding") {
        Some(enc) if enc != "identity" => None,
        _ => header("content-length").and_then(|v| v.trim().parse().ok()),
    };
    match status {
        200 => Ok(Some((resp, 0, length))),
        404 => Ok(None),
        206 if from > 0 => {
            // "bytes a-b/total": resume only if it starts where we asked.
            let range = header("content-range").unwrap_or_default();
            let start = range
                .strip_prefix("bytes ")
                .and_then(|r| r.split('-').next())
                .and_then(|a| a.trim().parse::<u64>().ok());
            let total = range.rsplit('/').next().and_then(|t| t.trim().parse().ok());
            if start != Some(from) {
                return Err(net_err(
                    url,
                    format!("server sent range {range:?}, asked from {from}"),
                ));
            }
            Ok(Some((resp, from, total)))
        }
        _ => Err(net_err(
            url,
            format!("HTTP {status} {}", resp.status_text()).trim_end(),
        )),
    }
}

fn reader_of(url: &str, resp: &Response) -> Result<ReadableStreamDefaultReader, WorkerError> {
    let body = resp
        .body()
        .ok_or_else(|| net_err(url, "response has no body"))?;
    body.get_reader()
        .dyn_into()
        .map_err(|_| net_err(url, "response body is not readable"))
}

impl Download {
    pub async fn start(url: &str) -> Result<Self, WorkerError> {
        Self::start_optional(url)
            .await?
            .ok_or_else(|| net_err(url, "HTTP 404 Not Found"))
    }

    /// As [`Download::start`], but a missing file (404) is `Ok(None)`.
    pub async fn start_optional(url: &str) -> Result<Option<Self>, WorkerError> {
        let Some((resp, _, total)) = open(url, 0).await? else {
            return Ok(None);
        };
        Ok(Some(Self {
            url: url.to_string(),
            reader: reader_of(url, &resp)?,
            received: 0,
            total,
            started_ms: now_ms(),
            resumes_left: MAX_RESUMES,
            requests: 1,
        }))
    }

    /// The byte progress event for this download so far.
    pub fn progress(&self, phase: siglens_protocol::Phase) -> siglens_protocol::Progress {
        siglens_protocol::Progress::Bytes {
            phase,
            url: self.url.clone(),
            loaded: self.received,
            total: self.total,
            bytes_per_sec: self.bytes_per_sec(),
        }
    }

    pub fn bytes_per_sec(&self) -> f64 {
        let s = (now_ms() - self.started_ms) / 1000.0;
        if s > 0.0 {
            self.received as f64 / s
        } else {
            0.0
        }
    }

    /// The next piece, or `None` at the end (with the length checked against the
    /// server's).
    pub async fn next(&mut self) -> Result<Option<Piece>, WorkerError> {
        let failure = match JsFuture::from(self.reader.read()).await {
            Ok(chunk) => {
                let done = Reflect::get(&chunk, &"done".into())
                    .map(|d| d.is_truthy())
                    .unwrap_or(true);
                if !done {
                    let value: Uint8Array = Reflect::get(&chunk, &"value".into())
                        .map_err(|e| net_err(&self.url, js_msg(&e)))?
                        .unchecked_into();
                    self.received += value.length() as u64;
                    if let Some(t) = self.total {
                        if self.received > t {
                            return Err(WorkerError::new(
                                ErrorKind::BadModel,
                                format!(
                                    "{}: server sent more than its stated length of {t} bytes",
                                    self.url
                                ),
                            ));
                        }
                    }
                    return Ok(Some(Piece::Bytes(value.to_vec())));
                }
                match self.total {
                    Some(t) if self.received < t => {
                        format!("connection ended at byte {} of {t}", self.received)
                    }
                    _ => return Ok(None),
                }
            }
            Err(e) => format!(
                "connection dropped at byte {}: {}",
                self.received,
                js_msg(&e)
            ),
        };
        if self.resumes_left == 0 {
            return Err(net_err(
                &self.url,
                format!("{failure}; gave up after {MAX_RESUMES} retries"),
            ));
        }
        self.resumes_left -= 1;
        self.requests += 1;
        let (resp, start, total) = open(&self.url, self.received)
            .await?
            .ok_or_else(|| net_err(&self.url, "HTTP 404 Not Found (while resuming)"))?;
        self.reader = reader_of(&self.url, &resp)?;
        if total.is_some() {
            self.total = total;
        }
        if start == 0 && self.received > 0 {
            self.received = 0;
            return Ok(Some(Piece::Restart));
        }
        Ok(Some(Piece::Bytes(Vec::new())))
    }
}
