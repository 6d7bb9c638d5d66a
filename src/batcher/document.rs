//! Whole documents through the batcher: a file is opened from its headers on the CPU pool, then
//! its pages are decoded one at a time, each after taking its share of the process-wide pixel
//! budget ([`super::budget`]), and run through the stages a few pages at a time. Nothing of a
//! document is decoded before it is wanted: when the caller goes away (deadline, client gone,
//! job lease lost) the stream of pages is dropped and no further page is decoded or queued.

use std::sync::Arc;
use std::time::Instant;

use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::{Batcher, RequestMeta};
use crate::decode::{DecodeLimits, DecodedPage, PageReader};
use crate::document::{Document, Page};
use crate::error::{OcrError, Result};
use crate::options::EngineOptions;

/// Pages of one document in flight at once (decoded and between stages); the pixel budget
/// bounds what they hold together.
pub const DOCUMENT_PAGE_WINDOW: usize = 8;

/// An opened document shared between the pool threads that decode its pages.
type SharedReader = Arc<Mutex<PageReader>>;

impl Batcher {
    /// Runs `f` on the CPU pool; skipped when the caller has gone by the time a thread is free.
    async fn on_pool<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.pool.spawn(move || {
            // The caller gave up (deadline, client gone) while this waited for a thread.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(f());
        });
        rx.await
            .map_err(|_| OcrError::Internal(format!("{what} thread stopped")))?
    }

    /// Opens a file on the CPU pool: its size, format, page count and every page's pixels are
    /// checked from the headers; no page is decoded.
    pub async fn open(&self, bytes: bytes::Bytes, limits: DecodeLimits) -> Result<PageReader> {
        let metrics = self.metrics.clone();
        self.on_pool("decoder", move || {
            let t = Instant::now();
            let reader = PageReader::open(bytes, &limits);
            metrics.observe_stage_ms("open", t.elapsed().as_secs_f64() * 1000.0);
            reader
        })
        .await
    }

    /// Decodes every page of a file on the CPU pool, one page at a time under the pixel budget
    /// (used where all pages are wanted at once; [`Batcher::process_pages`] holds fewer).
    pub async fn decode(
        &self,
        bytes: bytes::Bytes,
        limits: DecodeLimits,
    ) -> Result<Vec<DecodedPage>> {
        let reader: SharedReader = Arc::new(Mutex::new(self.open(bytes, limits).await?));
        let count = reader.lock().page_count();
        let mut pages = Vec::with_capacity(count);
        for index in 0..count {
            pages.push(self.read_page(&reader, index).await?.0);
        }
        Ok(pages)
    }

    /// Opens a file and decodes its first page under the pixel budget, to refuse a document that
    /// cannot be read before work is queued for it; returns the page count. Waits for the budget
    /// until `deadline` at most (then answers `Unavailable`).
    pub async fn check_document(
        &self,
        bytes: bytes::Bytes,
        limits: DecodeLimits,
        deadline: Instant,
    ) -> Result<usize> {
        let reader: SharedReader = Arc::new(Mutex::new(self.open(bytes, limits).await?));
        let (count, pixels) = {
            let r = reader.lock();
            (r.page_count(), r.page_pixels(0))
        };
        let _permit = self
            .budget
            .acquire(pixels, Some(deadline))
            .await
            .map_err(|_| OcrError::Unavailable("pixel budget in use; try again".into()))?;
        self.read_page(&reader, 0).await?;
        Ok(count)
    }

    /// Decodes page `index` of `reader` on the CPU pool; returns it with its decode time in ms.
    async fn read_page(&self, reader: &SharedReader, index: usize) -> Result<(DecodedPage, f64)> {
        let (reader, metrics) = (reader.clone(), self.metrics.clone());
        self.on_pool("decoder", move || {
            let t = Instant::now();
            let page = reader.lock().read_page(index)?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            metrics.observe_stage_ms("decode", ms);
            Ok((page, ms))
        })
        .await
    }

    /// Pages `indices` of `reader` through every stage, in order, at most
    /// [`DOCUMENT_PAGE_WINDOW`] at a time: each page waits for its share of the pixel budget
    /// (until the request's deadline), is decoded, run and assembled. Dropping the stream stops
    /// the work: pages not yet started are never decoded.
    pub fn process_pages<'a>(
        &'a self,
        reader: PageReader,
        indices: Vec<usize>,
        options: Arc<EngineOptions>,
        meta: &'a RequestMeta,
    ) -> impl Stream<Item = Result<(usize, Page)>> + 'a {
        let reader: SharedReader = Arc::new(Mutex::new(reader));
        stream::iter(indices)
            .map(move |index| {
                let (reader, options) = (reader.clone(), options.clone());
                async move {
                    let page = self.process_one(&reader, index, options, meta).await?;
                    Ok((index, page))
                }
            })
            .buffered(DOCUMENT_PAGE_WINDOW)
    }

    /// One page of an opened document: budget, decode, stages.
    async fn process_one(
        &self,
        reader: &SharedReader,
        index: usize,
        options: Arc<EngineOptions>,
        meta: &RequestMeta,
    ) -> Result<Page> {
        if meta.expired() {
            return Err(meta.deadline_error());
        }
        let pixels = reader.lock().page_pixels(index);
        let permit = self
            .budget
            .acquire(pixels, meta.deadline)
            .await
            .map_err(|_| meta.deadline_error())?;
        let (page, decode_ms) = self.read_page(reader, index).await?;
        self.run_page(page, options, meta, decode_ms, Some(permit))
            .await
    }

    /// Opens `bytes` and runs every page (see [`Batcher::process_pages`]); the first failing
    /// page fails the document and stops the rest.
    pub async fn process_document(
        &self,
        bytes: bytes::Bytes,
        options: Arc<EngineOptions>,
        meta: &RequestMeta,
        source: Option<String>,
    ) -> Result<Document> {
        let reader = self.open(bytes, options.limits.clone()).await?;
        let indices = (0..reader.page_count()).collect();
        let pages = self
            .process_pages(reader, indices, options, meta)
            .map_ok(|(_, page)| page)
            .try_collect()
            .await?;
        Ok(Document { source, pages })
    }
}
