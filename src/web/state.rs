//! Page state shared by the panels, and the few actions that more than one panel starts.

use std::collections::HashMap;

use leptos::prelude::*;
use siglens_protocol::{ErrorKind, ItemResult, ModelInfo, Progress, Request, RequestId};
use wasm_bindgen::JsCast;
use web_sys::File;

use super::client::{Reply, WorkerClient, WorkerStatus};

#[derive(Clone, Debug, PartialEq)]
pub enum ImageState {
    /// Waiting for a model (or for the user to resume after a cancel).
    Queued,
    Working,
    Embedded(Vec<f32>),
    Failed(String),
}

impl ImageState {
    /// The gallery's class for this state (also its `data-state`).
    pub fn class(&self) -> &'static str {
        match self {
            ImageState::Queued => "queued",
            ImageState::Working => "working",
            ImageState::Embedded(_) => "embedded",
            ImageState::Failed(_) => "failed",
        }
    }
}

/// One dropped image. Its URL and state are signals of their own, so an embedding arriving
/// updates one gallery entry and the list itself changes only when images come or go
/// (a batch of n images would otherwise re-render, and copy, the whole list n times).
#[derive(Clone, Debug)]
pub struct ImageItem {
    pub id: u32,
    pub name: String,
    /// Object URL of a small PNG thumbnail; empty until made (or if the browser cannot
    /// decode the file).
    pub url: ArcRwSignal<String>,
    pub state: ArcRwSignal<ImageState>,
}

/// `items` in `k` contiguous slices whose lengths differ by at most one (no empty slice).
pub fn split_even<T>(items: Vec<T>, k: usize) -> Vec<Vec<T>> {
    let k = k.clamp(1, items.len().max(1));
    let (base, extra) = (items.len() / k, items.len() % k);
    let mut it = items.into_iter();
    (0..k)
        .map(|i| it.by_ref().take(base + usize::from(i < extra)).collect())
        .filter(|s: &Vec<T>| !s.is_empty())
        .collect()
}

/// What a running request is, so the UI can say so and offer to cancel it.
#[derive(Clone, Debug, PartialEq)]
pub struct Busy {
    pub what: String,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub client: StoredValue<WorkerClient, LocalStorage>,
    pub worker: RwSignal<WorkerStatus>,
    pub model: RwSignal<Option<ModelInfo>>,
    pub notices: RwSignal<Vec<String>>,
    pub images: RwSignal<Vec<ImageItem>>,
    /// The dropped files, by image id: re-read when (re-)embedding, never copied around.
    pub files: StoredValue<HashMap<u32, File>, LocalStorage>,
    next_image_id: StoredValue<u32>,
    pub busy: RwSignal<Option<Busy>>,
    /// Cluster of each image id from the last clustering (colours the map).
    pub cluster_of: RwSignal<HashMap<u32, usize>>,
    /// Cancel pressed for the running batch: requests not sent yet are cancelled on sending.
    cancel_pending: StoredValue<bool>,
    /// Vision-only engines sharing image batches (`pool.rs`), and how many are ready.
    pub image_workers: StoredValue<Vec<super::pool::ImageWorker>, LocalStorage>,
    pub image_workers_ready: RwSignal<usize>,
    pub next_worker_serial: StoredValue<u32>,
    /// The running batch's requests (engine, id) and how many slices are still out.
    running: StoredValue<Vec<(WorkerClient, RequestId)>, LocalStorage>,
    outstanding: StoredValue<usize>,
    batch_error: StoredValue<Option<siglens_protocol::WorkerError>, LocalStorage>,
}

impl AppState {
    pub fn new() -> Self {
        let worker = RwSignal::new(WorkerStatus::Starting);
        let model = RwSignal::new(None);
        let client = WorkerClient::new(move |s| {
            if matches!(s, WorkerStatus::Crashed(_)) {
                // A new worker has no model.
                model.set(None);
            }
            worker.set(s);
        });
        Self {
            client: StoredValue::new_local(client),
            worker,
            model,
            notices: RwSignal::new(Vec::new()),
            images: RwSignal::new(Vec::new()),
            files: StoredValue::new_local(HashMap::new()),
            next_image_id: StoredValue::new(1),
            busy: RwSignal::new(None),
            cluster_of: RwSignal::new(HashMap::new()),
            cancel_pending: StoredValue::new(false),
            image_workers: StoredValue::new_local(Vec::new()),
            image_workers_ready: RwSignal::new(0),
            next_worker_serial: StoredValue::new(1),
            running: StoredValue::new_local(Vec::new()),
            outstanding: StoredValue::new(0),
            batch_error: StoredValue::new_local(None),
        }
    }

    pub fn notice(&self, msg: impl Into<String>) {
        let msg = msg.into();
        self.notices.update(|n| {
            n.push(msg);
            let len = n.len();
            if len > 8 {
                n.drain(..len - 8);
            }
        });
    }

    /// Cancels the running batch: every request sent, and each one still being prepared
    /// as soon as it is sent.
    pub fn cancel_busy(&self) {
        if self.busy.get_untracked().is_none() {
            return;
        }
        self.cancel_pending.set_value(true);
        for (engine, id) in self.running.get_value() {
            engine.cancel(id);
        }
    }

    pub fn request(
        &self,
        req: Request,
        buffers: Vec<js_sys::ArrayBuffer>,
        on: impl FnMut(Reply) + 'static,
    ) -> RequestId {
        self.client.with_value(|c| c.request(req, buffers, on))
    }

    pub fn add_files(&self, files: Vec<File>) {
        let mut items = Vec::with_capacity(files.len());
        for file in files {
            let id = self.next_image_id.get_value();
            self.next_image_id.set_value(id + 1);
            let name = file.name();
            let item = ImageItem {
                id,
                name,
                url: ArcRwSignal::new(String::new()),
                state: ArcRwSignal::new(ImageState::Queued),
            };
            // The thumbnail arrives a moment later (empty until then).
            let (me, url, f) = (*self, item.url.clone(), file.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(u) = super::thumbnail::thumbnail_url(&f).await {
                    if me.images.with_untracked(|v| v.iter().any(|x| x.id == id)) {
                        url.set(u);
                    } else {
                        // The image was removed meanwhile.
                        let _ = web_sys::Url::revoke_object_url(&u);
                    }
                }
            });
            self.files.update_value(|m| {
                m.insert(id, file);
            });
            items.push(item);
        }
        // One update for the whole drop: the gallery renders the new entries once.
        self.images.update(|v| v.extend(items));
        self.embed_queued();
    }

    pub fn remove_image(&self, id: u32) {
        self.images.update(|v| {
            if let Some(i) = v.iter().position(|x| x.id == id) {
                let _ = web_sys::Url::revoke_object_url(&v[i].url.get_untracked());
                v.remove(i);
            }
        });
        self.files.update_value(|m| {
            m.remove(&id);
        });
    }

    fn set_image(&self, id: u32, state: ImageState) {
        let item = self
            .images
            .with_untracked(|v| v.iter().find(|x| x.id == id).map(|x| x.state.clone()));
        if let Some(s) = item {
            s.set(state);
        }
    }

    /// Embeds every queued image, shared between the main engine and the ready image
    /// workers (contiguous slices, one request each). Results arrive one by one, so a
    /// cancel or a crash keeps the finished ones; unfinished images go back to the queue.
    pub fn embed_queued(&self) {
        if self.model.get_untracked().is_none() || self.busy.get_untracked().is_some() {
            return;
        }
        let queued: Vec<(u32, String)> = self.images.with_untracked(|v| {
            v.iter()
                .filter(|x| x.state.with_untracked(|s| *s == ImageState::Queued))
                .map(|x| {
                    x.state.set(ImageState::Working);
                    (x.id, x.name.clone())
                })
                .collect()
        });
        if queued.is_empty() {
            return;
        }
        let mut engines = vec![(self.client.get_value(), true)];
        engines.extend(self.ready_image_workers().into_iter().map(|c| (c, false)));
        let slices = split_even(queued, engines.len());
        let n: usize = slices.iter().map(Vec::len).sum();
        let on = if slices.len() > 1 {
            format!(" on {} engines", slices.len())
        } else {
            String::new()
        };
        self.busy.set(Some(Busy {
            what: format!("embedding {n} images{on}"),
        }));
        self.cancel_pending.set_value(false);
        self.running.set_value(Vec::new());
        self.batch_error.set_value(None);
        self.outstanding.set_value(slices.len());
        for ((engine, main), slice) in engines.into_iter().zip(slices) {
            let me = *self;
            wasm_bindgen_futures::spawn_local(
                async move { me.send_slice(engine, main, slice).await },
            );
        }
    }

    /// Reads one slice's files and sends them to `engine`.
    async fn send_slice(self, engine: WorkerClient, main: bool, slice: Vec<(u32, String)>) {
        let mut buffers = Vec::with_capacity(slice.len());
        let mut ids = Vec::with_capacity(slice.len());
        let mut names = Vec::with_capacity(slice.len());
        for (id, name) in slice {
            let file = self.files.with_value(|m| m.get(&id).cloned());
            let read = match file {
                Some(f) => wasm_bindgen_futures::JsFuture::from(f.array_buffer())
                    .await
                    .map_err(|e| format!("could not read the file: {e:?}")),
                None => Err("the file is gone".into()),
            };
            match read {
                Ok(b) => {
                    buffers.push(b.unchecked_into());
                    ids.push(id);
                    names.push(name);
                }
                Err(e) => self.set_image(id, ImageState::Failed(e)),
            }
        }
        let me = self;
        let ids2 = ids.clone();
        let req = engine.request(
            Request::EmbedImages { names },
            buffers,
            move |reply| match reply {
                Reply::Progress(Progress::Image { index, result }) => {
                    if let Some(&id) = ids2.get(index) {
                        me.set_image(
                            id,
                            match result {
                                ItemResult::Ok { embedding } => ImageState::Embedded(embedding),
                                ItemResult::Error { message } => ImageState::Failed(message),
                            },
                        );
                    }
                }
                Reply::Progress(_) => {}
                Reply::Done(_) => me.slice_done(&ids2, main, None),
                Reply::Failed(e) => me.slice_done(&ids2, main, Some(e)),
            },
        );
        self.running.update_value(|r| r.push((engine.clone(), req)));
        if self.cancel_pending.get_value() {
            engine.cancel(req);
        }
    }

    fn slice_done(&self, ids: &[u32], main: bool, error: Option<siglens_protocol::WorkerError>) {
        // Whatever did not finish goes back to the queue.
        let ids: std::collections::HashSet<u32> = ids.iter().copied().collect();
        self.images.with_untracked(|v| {
            for x in v.iter().filter(|x| ids.contains(&x.id)) {
                if x.state.with_untracked(|s| *s == ImageState::Working) {
                    x.state.set(ImageState::Queued);
                }
            }
        });
        // An image worker failing only loses its share for now: the next round gives it to
        // the engines left. The main engine failing, or a cancel, stops the batch.
        if let Some(e) = error.filter(|e| main || e.kind == ErrorKind::Cancelled) {
            self.batch_error.update_value(|b| {
                b.get_or_insert(e);
            });
        }
        let left = self.outstanding.get_value().saturating_sub(1);
        self.outstanding.set_value(left);
        if left > 0 {
            return;
        }
        self.busy.set(None);
        self.running.set_value(Vec::new());
        let cancelled = self.cancel_pending.get_value();
        self.cancel_pending.set_value(false);
        match self.batch_error.get_value() {
            Some(e) if e.kind == ErrorKind::Cancelled || cancelled => {
                self.notice("embedding cancelled; the images not done yet stay queued")
            }
            Some(e) => self.notice(format!("embedding stopped: {e}")),
            None if cancelled => {
                self.notice("embedding cancelled; the images not done yet stay queued")
            }
            None => self.embed_queued(),
        }
    }

    /// `f` of each embedded image and its embedding, in gallery order; tracks the list and
    /// each image's state.
    fn map_embedded<T>(&self, f: impl Fn(&ImageItem, &[f32]) -> T) -> Vec<T> {
        self.images.with(|v| {
            v.iter()
                .filter_map(|x| {
                    x.state.with(|s| match s {
                        ImageState::Embedded(e) => Some(f(x, e)),
                        _ => None,
                    })
                })
                .collect()
        })
    }

    /// Embedded images, in gallery order.
    pub fn embedded(&self) -> Vec<(u32, String, Vec<f32>)> {
        self.map_embedded(|x, e| (x.id, x.name.clone(), e.to_vec()))
    }

    /// The embedded images' ids and names, in gallery order (no embeddings copied: for
    /// lists that re-render as embeddings arrive).
    pub fn embedded_names(&self) -> Vec<(u32, String)> {
        self.map_embedded(|x, _| (x.id, x.name.clone()))
    }

    /// One embedded image's name and embedding.
    pub fn embedding_of(&self, id: u32) -> Option<(String, Vec<f32>)> {
        self.images.with_untracked(|v| {
            let x = v.iter().find(|x| x.id == id)?;
            x.state.with_untracked(|s| match s {
                ImageState::Embedded(e) => Some((x.name.clone(), e.clone())),
                _ => None,
            })
        })
    }

    /// As [`AppState::embedded`], with each image's thumbnail URL:
    /// `(id, name, url, embedding)`.
    pub fn embedded_with_urls(&self) -> Vec<(u32, String, String, Vec<f32>)> {
        self.map_embedded(|x, e| (x.id, x.name.clone(), x.url.get(), e.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::split_even;
    use wasm_bindgen_test::*;

    #[wasm_bindgen_test]
    fn slices_are_contiguous_balanced_and_never_empty() {
        let s = split_even((0..10).collect::<Vec<_>>(), 3);
        assert_eq!(s, vec![vec![0, 1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]);
        assert_eq!(
            split_even(vec![1, 2], 4),
            vec![vec![1], vec![2]],
            "more engines than images"
        );
        assert_eq!(split_even(Vec::<u8>::new(), 2), Vec::<Vec<u8>>::new());
        assert_eq!(
            split_even(vec![7], 0),
            vec![vec![7]],
            "zero engines means one"
        );
    }
}
