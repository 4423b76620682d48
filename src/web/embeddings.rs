//! Looking at embeddings (the first N dimensions as bars, as the notebook shows) and
//! exporting them all as JSON, CSV or NPY.

use leptos::prelude::*;
use siglens_protocol::{ExportFormat, Output, Request, TextSettings};

use super::client::Reply;
use super::export::{export_images, export_texts};
use super::state::AppState;

#[derive(Clone, Debug, PartialEq)]
struct Shown {
    title: String,
    values: Vec<f32>,
}

/// Bars around a zero line, scaled to the largest magnitude shown.
#[component]
fn DimBars(shown: Shown, n: usize) -> impl IntoView {
    let vals: Vec<f32> = shown.values.iter().copied().take(n).collect();
    let max = vals.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let w = 24usize;
    let h = 120.0f32;
    let norm: f32 = shown.values.iter().map(|v| v * v).sum::<f32>().sqrt();
    view! {
        <figure class="dims" data-title=shown.title.clone() data-norm=norm.to_string()>
            <figcaption>{format!("{} — first {} of {} dimensions (L2 norm {:.4})", shown.title, vals.len(), shown.values.len(), norm)}</figcaption>
            <svg role="img" aria-label=format!("first {} dimensions of {}", vals.len(), shown.title)
                viewBox=format!("0 0 {} {}", w * vals.len().max(1), h + 14.0) width="100%">
                <line x1="0" x2=(w * vals.len()).to_string() y1=(h / 2.0).to_string() y2=(h / 2.0).to_string() class="axis" />
                {vals.iter().enumerate().map(|(i, &v)| {
                    let bh = (v.abs() / max) * (h / 2.0 - 4.0);
                    let y = if v >= 0.0 { h / 2.0 - bh } else { h / 2.0 };
                    let cls = if v >= 0.0 { "pos" } else { "neg" };
                    view! {
                        <g data-dim=i.to_string() data-value=v.to_string()>
                            <rect x=(i * w + 3).to_string() y=y.to_string() width=(w - 6).to_string() height=bh.to_string()
                                class=cls>
                                <title>{format!("d{i} = {v:.5}")}</title>
                            </rect>
                            <text x=(i * w + w / 2).to_string() y=(h + 12.0).to_string() text-anchor="middle">{i.to_string()}</text>
                        </g>
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}

#[component]
pub fn EmbeddingsPanel(state: AppState) -> impl IntoView {
    let n = RwSignal::new(10usize);
    let shown = RwSignal::new(None::<Shown>);
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let export_list = RwSignal::new(String::new());
    // One text per line; blank lines are skipped.
    let texts_to_export = move || -> Vec<String> {
        export_list
            .get_untracked()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    let no_texts = move || state.model.get().is_none() || export_list.get().trim().is_empty();

    let show_text = move || {
        let t = text.get_untracked();
        if t.trim().is_empty() {
            return;
        }
        let settings = TextSettings {
            template: None,
            lowercase: true,
        };
        state.request(
            Request::EmbedTexts {
                texts: vec![t.clone()],
                settings,
            },
            Vec::new(),
            move |r| match r {
                Reply::Done(Output::Texts { mut embeddings }) => shown.set(Some(Shown {
                    title: format!("text \"{t}\""),
                    values: embeddings.remove(0),
                })),
                Reply::Failed(e) => error.set(Some(e.message)),
                _ => {}
            },
        );
    };

    view! {
        <section class="panel" aria-labelledby="emb-h">
            <h2 id="emb-h">"Embeddings"</h2>
            <div class="grid2">
                <label>
                    "Show an image's embedding"
                    <select id="emb-image" on:change=move |ev| {
                        let id: Option<u32> = event_target_value(&ev).parse().ok();
                        if let Some((name, e)) = id.and_then(|id| state.embedding_of(id)) {
                            shown.set(Some(Shown { title: name, values: e }));
                        }
                    }>
                        <option value="">"choose an image"</option>
                        <For each=move || state.embedded_names() key=|x| x.0 let:x>
                            <option value=x.0.to_string()>{x.1}</option>
                        </For>
                    </select>
                </label>
                <form on:submit=move |ev| { ev.prevent_default(); show_text(); }>
                    <label for="emb-text">"…or a text's"</label>
                    <div class="row">
                        <input id="emb-text" type="text" prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev)) />
                        <button type="submit" disabled=move || state.model.get().is_none()>"Embed"</button>
                    </div>
                </form>
            </div>
            <label>
                {move || format!("Dimensions shown: {}", n.get())}
                <input id="emb-n" type="range" min="2" max="64" step="1" prop:value=move || n.get().to_string()
                    on:input=move |ev| n.set(event_target_value(&ev).parse().unwrap_or(10)) />
            </label>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || shown.get().map(|s| view! { <DimBars shown=s n=n.get() /> })}
            <h3>"Export (L2-normalised; the file is made here and saved, nothing is uploaded)"</h3>
            <div class="row" role="group" aria-label="export image embeddings">
                <span>"Every image embedding, in gallery order:"</span>
                <button id="export-json" on:click=move |_| export_images(state, ExportFormat::Json)
                    aria-label="export image embeddings as JSON"
                    disabled=move || state.model.get().is_none()>"JSON"</button>
                <button id="export-csv" on:click=move |_| export_images(state, ExportFormat::Csv)
                    aria-label="export image embeddings as CSV"
                    disabled=move || state.model.get().is_none()>"CSV"</button>
                <button id="export-npy" on:click=move |_| export_images(state, ExportFormat::Npy)
                    aria-label="export image embeddings as NPY"
                    disabled=move || state.model.get().is_none()>"NPY"</button>
            </div>
            <label for="export-texts">"Texts to export, one per line (lower-cased, no template, as `siglens embed --text`):"</label>
            <textarea id="export-texts" rows="3" prop:value=move || export_list.get()
                on:input=move |ev| export_list.set(event_target_value(&ev))></textarea>
            <div class="row" role="group" aria-label="export text embeddings">
                <span>"Their embeddings:"</span>
                <button id="export-texts-json" on:click=move |_| export_texts(state, ExportFormat::Json, texts_to_export())
                    aria-label="export text embeddings as JSON" disabled=no_texts>"JSON"</button>
                <button id="export-texts-csv" on:click=move |_| export_texts(state, ExportFormat::Csv, texts_to_export())
                    aria-label="export text embeddings as CSV" disabled=no_texts>"CSV"</button>
                <button id="export-texts-npy" on:click=move |_| export_texts(state, ExportFormat::Npy, texts_to_export())
                    aria-label="export text embeddings as NPY" disabled=no_texts>"NPY"</button>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_dom::{all, attr, mount, text};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn dim_bars_show_the_first_n_signed_around_zero() {
        let values: Vec<f32> = (0..16)
            .map(|i| if i % 2 == 0 { 0.1 * i as f32 } else { -0.05 })
            .collect();
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        let shown = Shown {
            title: "x.png".into(),
            values,
        };
        let host = mount(move || view! { <DimBars shown=shown n=10 /> });
        let bars = all(&host, "g[data-dim]");
        assert_eq!(bars.len(), 10, "only the first n of 16");
        let classes: Vec<String> = all(&host, "g[data-dim] rect")
            .iter()
            .map(|r| attr(r, "class"))
            .collect();
        assert_eq!(classes[1], "neg");
        assert_eq!(classes[2], "pos");
        // The largest magnitude shown (d8 = 0.8) gets the full half-height; d9's -0.05 is small.
        let heights: Vec<f32> = all(&host, "g[data-dim] rect")
            .iter()
            .map(|r| attr(r, "height").parse().unwrap_or(f32::NAN))
            .collect();
        assert!((heights[8] - 56.0).abs() < 1e-4, "{heights:?}");
        assert!((heights[9] - 56.0 * 0.05 / 0.8).abs() < 1e-4, "{heights:?}");
        let fig = &all(&host, "figure.dims")[0];
        let shown_norm: f32 = attr(fig, "data-norm").parse().unwrap_or(f32::NAN);
        assert!(
            (shown_norm - norm).abs() < 1e-5,
            "the norm is over all 16 dimensions"
        );
        assert!(text(fig).starts_with("x.png — first 10 of 16 dimensions"));
    }
}
