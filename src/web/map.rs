//! The 2-D UMAP map of the collection (computed in the worker): thumbnails at their
//! positions, framed in their cluster's colour, with zoom and hover.

use leptos::prelude::*;
use siglens_protocol::{Output, Request};

use super::client::Reply;
use super::state::AppState;

/// Cluster frame colours (Okabe-Ito, readable for colour-blind people); grey = none.
const PALETTE: [&str; 8] = [
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000",
];

#[derive(Clone, Debug, PartialEq)]
struct Point {
    id: u32,
    name: String,
    url: String,
    x: f32,
    y: f32,
}

/// Map coordinates to a 0..1000 square with a margin for the thumbnails.
fn normalise(coords: &[[f32; 2]]) -> Vec<(f32, f32)> {
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for c in coords {
        for d in 0..2 {
            lo[d] = lo[d].min(c[d]);
            hi[d] = hi[d].max(c[d]);
        }
    }
    let span = |d: usize| (hi[d] - lo[d]).max(1e-6);
    coords
        .iter()
        .map(|c| {
            (
                60.0 + 880.0 * (c[0] - lo[0]) / span(0),
                60.0 + 880.0 * (c[1] - lo[1]) / span(1),
            )
        })
        .collect()
}

#[component]
pub fn MapPanel(state: AppState) -> impl IntoView {
    let points = RwSignal::new(None::<Vec<Point>>);
    let error = RwSignal::new(None::<String>);
    let running = RwSignal::new(false);
    let zoom = RwSignal::new(1.0f32);
    let hovered = RwSignal::new(None::<String>);

    let run = move || {
        let embedded = state.embedded_with_urls();
        if embedded.len() < 3 {
            error.set(Some("the map needs at least 3 embedded images".into()));
            return;
        }
        error.set(None);
        running.set(true);
        let meta: Vec<(u32, String, String)> = embedded
            .iter()
            .map(|(id, name, url, _)| (*id, name.clone(), url.clone()))
            .collect();
        let embeddings = embedded.into_iter().map(|(_, _, _, e)| e).collect();
        state.request(Request::Map { embeddings }, Vec::new(), move |r| match r {
            Reply::Done(Output::Map { coords }) => {
                running.set(false);
                let xy = normalise(&coords);
                points.set(Some(
                    meta.iter()
                        .zip(xy)
                        .map(|((id, name, url), (x, y))| Point {
                            id: *id,
                            name: name.clone(),
                            url: url.clone(),
                            x,
                            y,
                        })
                        .collect(),
                ));
            }
            Reply::Failed(e) => {
                running.set(false);
                error.set(Some(e.message));
            }
            _ => {}
        });
    };

    // Zoom about the centre by shrinking the viewBox.
    let view_box = move || {
        let z = zoom.get();
        let size = 1000.0 / z;
        let off = (1000.0 - size) / 2.0;
        format!("{off} {off} {size} {size}")
    };

    view! {
        <section class="panel" aria-labelledby="map-h">
            <h2 id="map-h">"Map"</h2>
            <div class="row">
                <button id="make-map" on:click=move |_| run()
                    disabled=move || running.get() || state.model.get().is_none()>"Draw the UMAP map"</button>
                <button aria-label="zoom in" on:click=move |_| zoom.update(|z| *z = (*z * 1.5).min(8.0))>"+"</button>
                <button aria-label="zoom out" on:click=move |_| zoom.update(|z| *z = (*z / 1.5).max(1.0))>"−"</button>
                <span class="muted" aria-live="polite">{move || hovered.get().unwrap_or_else(|| "Similar images land close together; frames show clusters.".into())}</span>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || points.get().map(|pts| {
                let clusters = state.cluster_of.get();
                let thumb = 56.0 / zoom.get().sqrt();
                view! {
                    <svg id="map" class="map" role="group" aria-label="UMAP map of the images" viewBox=view_box
                        on:wheel=move |ev: leptos::ev::WheelEvent| {
                            ev.prevent_default();
                            let f = if ev.delta_y() < 0.0 { 1.2 } else { 1.0 / 1.2 };
                            zoom.update(|z| *z = (*z * f).clamp(1.0, 8.0));
                        }>
                        {pts.into_iter().map(|p| {
                            let colour = clusters.get(&p.id).map_or("#888888", |c| PALETTE[c % PALETTE.len()]);
                            let (x, y) = (p.x - thumb / 2.0, p.y - thumb / 2.0);
                            let name = p.name.clone();
                            let label = match clusters.get(&p.id) {
                                Some(c) => format!("{}, cluster {}", p.name, c + 1),
                                None => p.name.clone(),
                            };
                            view! {
                                <g class="map-point" data-name=p.name.clone() data-x=p.x.to_string() data-y=p.y.to_string()
                                    tabindex="0" role="img" aria-label=label
                                    on:mouseenter=move |_| hovered.set(Some(name.clone()))
                                    on:focus={ let n = p.name.clone(); move |_| hovered.set(Some(n.clone())) }>
                                    <title>{p.name.clone()}</title>
                                    <rect x=(x - 3.0).to_string() y=(y - 3.0).to_string()
                                        width=(thumb + 6.0).to_string() height=(thumb + 6.0).to_string() fill=colour rx="3" />
                                    <image href=p.url x=x.to_string() y=y.to_string() width=thumb.to_string() height=thumb.to_string()
                                        preserveAspectRatio="xMidYMid slice" />
                                </g>
                            }
                        }).collect_view()}
                    </svg>
                }
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn points_fill_the_square_inside_the_margin() {
        let p = normalise(&[[-2.0, 10.0], [0.0, 30.0], [2.0, 20.0]]);
        assert_eq!(p, [(60.0, 60.0), (500.0, 940.0), (940.0, 500.0)]);
        // All at one spot: no division by zero, all at the margin corner.
        let same = normalise(&[[1.0, 1.0], [1.0, 1.0]]);
        assert!(same.iter().all(|&(x, y)| x == 60.0 && y == 60.0));
    }
}
