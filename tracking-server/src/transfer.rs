//! Streaming artifact bodies between HTTP and the artifact store, so that neither an upload nor a
//! download is held in memory: an upload's frames go through a small bounded channel to the
//! store's blocking `put` (which writes a temp file and renames it into place), counted against
//! the size limit; a download is read from the store's reader on a blocking thread into a body
//! that hyper sends as it comes.

use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use tokio::sync::mpsc;

use homeml_tracking::artifacts::ArtifactStore;

use crate::error::{ApiError, ErrorCode};

/// Frames in flight between the connection and the store's thread.
const CHANNEL_FRAMES: usize = 8;
/// Read size of downloads.
const CHUNK: usize = 256 << 10;

/// A response body fed by a blocking reader thread.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
}

/// The body of a download: the reader's bytes, read off the async workers.
pub(crate) fn download(mut reader: Box<dyn Read + Send>) -> ChannelBody {
    let (tx, rx) = mpsc::channel(CHANNEL_FRAMES);
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        break; // the client went away
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::error!(error = %e, "reading an artifact for download failed");
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    ChannelBody { rx }
}

/// A `Read` over the frames an upload sends through the channel.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        self.cur.advance(n);
        Ok(n)
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::RequestTooLarge,
        format!(
            "artifact larger than the server's limit of {limit} bytes (homeml server --max-artifact-mb)"
        ),
    )
}

/// Streams an upload into `store` at `path`; at most `limit` bytes (413 past it, and nothing is
/// kept). `declared` is the request's Content-Length, refused up front when over the limit.
pub(crate) async fn upload(
    store: Arc<dyn ArtifactStore>,
    path: String,
    mut body: Incoming,
    declared: Option<u64>,
    limit: usize,
) -> Result<u64, ApiError> {
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let (tx, rx) = mpsc::channel(CHANNEL_FRAMES);
    let writer = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader {
            rx,
            cur: Bytes::new(),
        };
        store.put(&path, &mut reader).map_err(ApiError::from)
    });
    let mut total = 0usize;
    let mut failure = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                let Ok(data) = f.into_data() else { continue };
                total = total.saturating_add(data.len());
                if total > limit {
                    failure = Some(too_large(limit));
                    let _ = tx
                        .send(Err(io::Error::other("upload over the limit")))
                        .await;
                    break;
                }
                if tx.send(Ok(data)).await.is_err() {
                    break; // the store refused the upload; its error is answered below
                }
            }
            Err(e) => {
                failure = Some(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("cannot read the request body: {e}"),
                ));
                let _ = tx.send(Err(io::Error::other("upload interrupted"))).await;
                break;
            }
        }
    }
    drop(tx);
    let stored = writer.await.map_err(|e| {
        ApiError::new(
            ErrorCode::InternalError,
            format!("the upload's writer failed: {e}"),
        )
    })?;
    if let Some(f) = failure {
        return Err(f);
    }
    stored
}
