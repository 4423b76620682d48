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

#[derive(Clone, Debug, PartialEq)]
pub struct ImageItem {
    pub id: u32,
    pub name: String,
    /// Object URL of a small PNG thumbnail; empty until made (or if the browser cannot
    /// decode the file).
    pub url: String,
    pub state: ImageState,
}

/// What a running request is, so the UI can say so and offer to cancel it.
#[derive(Clone, Debug, PartialEq)]
pub struct Busy {
    pub id: RequestId,
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
    /// Cancel pressed before the worker request was sent (files still being read).
    cancel_pending: StoredValue<bool>,
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

    /// Cancels the running batch (now, or as soon as its request is sent).
    pub fn cancel_busy(&self) {
        match self.busy.get_untracked() {
            Some(b) if b.id != 0 => self.client.with_value(|c| c.cancel(b.id)),
            Some(_) => self.cancel_pending.set_value(true),
            None => {}
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
        for file in files {
            let id = self.next_image_id.get_value();
            self.next_image_id.set_value(id + 1);
            let name = file.name();
            // The thumbnail arrives a moment later (empty until then).
            let me = *self;
            let f = file.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(url) = super::thumbnail::thumbnail_url(&f).await {
                    let mut stale = Some(url);
                    me.images.update(|v| {
                        if let Some(x) = v.iter_mut().find(|x| x.id == id) {
                            x.url = stale.take().unwrap_or_default();
                        }
                    });
                    // The image was removed meanwhile.
                    if let Some(u) = stale {
                        let _ = web_sys::Url::revoke_object_url(&u);
                    }
                }
            });
            let url = String::new();
            self.files.update_value(|m| {
                m.insert(id, file);
            });
            self.images.update(|v| {
                v.push(ImageItem {
                    id,
                    name,
                    url,
                    state: ImageState::Queued,
                })
            });
        }
        self.embed_queued();
    }

    pub fn remove_image(&self, id: u32) {
        self.images.update(|v| {
            if let Some(i) = v.iter().position(|x| x.id == id) {
                let _ = web_sys::Url::revoke_object_url(&v[i].url);
                v.remove(i);
            }
        });
        self.files.update_value(|m| {
            m.remove(&id);
        });
    }

    fn set_image(&self, id: u32, state: ImageState) {
        self.images.update(|v| {
            if let Some(x) = v.iter_mut().find(|x| x.id == id) {
                x.state = state;
            }
        });
    }

    /// Embeds every queued image in one request; results arrive one by one, so a cancel or
    /// a crash keeps the finished ones.
    pub fn embed_queued(&self) {
        if self.model.get_untracked().is_none() || self.busy.get_untracked().is_some() {
            return;
        }
        let queued: Vec<(u32, String)> = self
            .images
            .get_untracked()
            .iter()
            .filter(|x| x.state == ImageState::Queued)
            .map(|x| (x.id, x.name.clone()))
            .collect();
        if queued.is_empty() {
            return;
        }
        for (id, _) in &queued {
            self.set_image(*id, ImageState::Working);
        }
        let me = *self;
        // Placeholder id until the request is sent; blocks a second batch meanwhile.
        self.busy.set(Some(Busy {
            id: 0,
            what: format!("embedding {} images", queued.len()),
        }));
        wasm_bindgen_futures::spawn_local(async move {
            let mut buffers = Vec::with_capacity(queued.len());
            let mut ids = Vec::with_capacity(queued.len());
            let mut names = Vec::with_capacity(queued.len());
            for (id, name) in queued {
                let file = me.files.with_value(|m| m.get(&id).cloned());
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
                    Err(e) => me.set_image(id, ImageState::Failed(e)),
                }
            }
            let n = ids.len();
            let ids2 = ids.clone();
            let req = me.request(
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
                    Reply::Done(_) => me.finish_embedding(&ids2, None),
                    Reply::Failed(e) => me.finish_embedding(&ids2, Some(e)),
                },
            );
            // A synchronous failure may already have cleared `busy`.
            if me.busy.get_untracked().is_some_and(|b| b.id == 0) {
                me.busy.set(Some(Busy {
                    id: req,
                    what: format!("embedding {n} images"),
                }));
            }
            if me.cancel_pending.get_value() {
                me.cancel_pending.set_value(false);
                me.client.with_value(|c| c.cancel(req));
            }
        });
    }

    fn finish_embedding(&self, ids: &[u32], error: Option<siglens_protocol::WorkerError>) {
        // Whatever did not finish goes back to the queue.
        self.images.update(|v| {
            for x in v.iter_mut().filter(|x| ids.contains(&x.id)) {
                if x.state == ImageState::Working {
                    x.state = ImageState::Queued;
                }
            }
        });
        self.busy.set(None);
        match error {
            Some(e) if e.kind == ErrorKind::Cancelled => {
                self.notice("embedding cancelled; the images not done yet stay queued")
            }
            Some(e) => self.notice(format!("embedding stopped: {e}")),
            None => self.embed_queued(),
        }
    }

    /// Embedded images, in gallery order.
    pub fn embedded(&self) -> Vec<(u32, String, Vec<f32>)> {
        self.images
            .get()
            .into_iter()
            .filter_map(|x| match x.state {
                ImageState::Embedded(e) => Some((x.id, x.name, e)),
                _ => None,
            })
            .collect()
    }

    /// As [`AppState::embedded`], with each image's thumbnail URL:
    /// `(id, name, url, embedding)`.
    pub fn embedded_with_urls(&self) -> Vec<(u32, String, String, Vec<f32>)> {
        let urls: HashMap<u32, String> = self
            .images
            .get_untracked()
            .into_iter()
            .map(|x| (x.id, x.url))
            .collect();
        self.embedded()
            .into_iter()
            .map(|(id, name, e)| (id, name, urls.get(&id).cloned().unwrap_or_default(), e))
            .collect()
    }
}
