//! Extra image workers: on a multi-core device, batches of images are shared between the
//! main engine and a few vision-only engines (one per spare core, within the device's
//! memory). They start once the model is in the browser cache, read it from there (no
//! second download), and skip the text tower. A static host needs nothing for this: plain
//! workers, no cross-origin isolation.

use leptos::prelude::*;
use siglens_protocol::{ModelSource, Output, Request};

use super::client::{Reply, WorkerClient, WorkerStatus};
use super::state::AppState;

/// One vision-only engine; `ready` once its model is loaded.
#[derive(Clone)]
pub struct ImageWorker {
    serial: u32,
    pub client: WorkerClient,
    pub ready: bool,
}

/// Extra workers for a device with `cores` logical cores and about `memory_gb` GB, when one
/// engine takes `engine_bytes`: one per core beyond the main engine's, while all engines
/// together stay within half the device's memory; at most 7.
pub fn extra_workers(cores: usize, memory_gb: f64, engine_bytes: u64) -> usize {
    if engine_bytes == 0 {
        return 0;
    }
    let budget = memory_gb * 1e9 * 0.5 - engine_bytes as f64;
    let by_memory = (budget / engine_bytes as f64).floor().max(0.0) as usize;
    cores.saturating_sub(1).min(by_memory).min(7)
}

/// `navigator.hardwareConcurrency` and `navigator.deviceMemory` (Chromium only, capped at 8;
/// 4 GB assumed elsewhere).
fn device() -> (usize, f64) {
    let Some(nav) = web_sys::window().map(|w| w.navigator()) else {
        return (1, 4.0);
    };
    let cores = nav.hardware_concurrency() as usize;
    let memory = js_sys::Reflect::get(&nav, &"deviceMemory".into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(4.0);
    (cores.max(1), memory)
}

impl AppState {
    /// Starts the extra image workers for the model the main engine just loaded (if it is
    /// in the browser cache, so they read it instead of downloading it again).
    pub fn start_image_workers(
        &self,
        source: ModelSource,
        base: Option<String>,
        engine_bytes: u64,
    ) {
        self.stop_image_workers();
        let (cores, memory) = device();
        let n = extra_workers(cores, memory, engine_bytes);
        for _ in 0..n {
            let serial = self.next_worker_serial.get_value();
            self.next_worker_serial.set_value(serial + 1);
            let me = *self;
            let source = source.clone();
            let base = base.clone();
            let client =
                WorkerClient::named(&format!("siglens-images-{serial}"), move |s| match s {
                    WorkerStatus::Ready(_) => {
                        me.load_image_worker(serial, source.clone(), base.clone())
                    }
                    WorkerStatus::Crashed(why) => me.drop_image_worker(serial, Some(why)),
                    WorkerStatus::Starting => {}
                });
            self.image_workers.update_value(|v| {
                v.push(ImageWorker {
                    serial,
                    client,
                    ready: false,
                })
            });
        }
    }

    fn load_image_worker(&self, serial: u32, source: ModelSource, base: Option<String>) {
        let Some(client) = self.image_worker(serial) else {
            return;
        };
        let me = *self;
        client.request(
            Request::LoadModel {
                source,
                base,
                vision_only: true,
                cache_only: true,
            },
            Vec::new(),
            move |r| match r {
                Reply::Done(Output::Loaded { .. }) => {
                    me.image_workers.update_value(|v| {
                        if let Some(w) = v.iter_mut().find(|w| w.serial == serial) {
                            w.ready = true;
                        }
                    });
                    me.image_workers_ready.set(me.ready_image_workers().len());
                    // Images queued meanwhile (or left by a stopped batch).
                    me.embed_queued();
                }
                Reply::Failed(e) => me.drop_image_worker(serial, Some(e.message)),
                _ => {}
            },
        );
    }

    fn image_worker(&self, serial: u32) -> Option<WorkerClient> {
        self.image_workers.with_value(|v| {
            v.iter()
                .find(|w| w.serial == serial)
                .map(|w| w.client.clone())
        })
    }

    pub fn ready_image_workers(&self) -> Vec<WorkerClient> {
        self.image_workers.with_value(|v| {
            v.iter()
                .filter(|w| w.ready)
                .map(|w| w.client.clone())
                .collect()
        })
    }

    /// Removes one worker (it failed, or the pool is being cleared); its unfinished images
    /// go back to the queue through their batch's failure.
    fn drop_image_worker(&self, serial: u32, why: Option<String>) {
        let mut gone = None;
        self.image_workers.update_value(|v| {
            if let Some(i) = v.iter().position(|w| w.serial == serial) {
                gone = Some(v.remove(i));
            }
        });
        if let Some(w) = gone {
            if let Some(why) = why {
                self.notice(format!(
                    "an image worker stopped ({why}); the other engines go on"
                ));
            }
            w.client.stop();
            self.image_workers_ready
                .set(self.ready_image_workers().len());
        }
    }

    /// Stops every extra worker (a new model, or the main engine restarted).
    pub fn stop_image_workers(&self) {
        let serials: Vec<u32> = self
            .image_workers
            .with_value(|v| v.iter().map(|w| w.serial).collect());
        for s in serials {
            self.drop_image_worker(s, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::extra_workers;
    use wasm_bindgen_test::*;

    #[wasm_bindgen_test]
    fn one_worker_per_spare_core_within_half_the_memory() {
        const GB: u64 = 1_000_000_000;
        assert_eq!(extra_workers(2, 8.0, GB), 1);
        assert_eq!(
            extra_workers(8, 8.0, GB),
            3,
            "4 GB budget: 3 extra + the main engine"
        );
        assert_eq!(extra_workers(8, 8.0, GB / 4), 7, "capped at 7");
        assert_eq!(extra_workers(1, 8.0, GB), 0, "one core: no extra worker");
        assert_eq!(extra_workers(4, 2.0, GB), 0, "no memory to spare");
        assert_eq!(extra_workers(4, 8.0, 0), 0, "unknown engine size");
    }
}
