//! Text-to-image search and image-to-image similarity over the embedded collection. The
//! ranking math runs in the worker; this side shows the ranked thumbnails.

use leptos::prelude::*;
use siglens_protocol::{Output, Request, TextSettings};

use super::client::Reply;
use super::state::AppState;

#[derive(Clone, Debug, PartialEq)]
struct Hit {
    name: String,
    url: String,
    score: f32,
}

fn ranked(
    items: &[(u32, String, String, Vec<f32>)],
    scores: &[f32],
    skip: Option<u32>,
) -> Vec<Hit> {
    let mut hits: Vec<Hit> = items
        .iter()
        .zip(scores)
        .filter(|((id, ..), _)| Some(*id) != skip)
        .map(|((_, name, url, _), &score)| Hit {
            name: name.clone(),
            url: url.clone(),
            score,
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    hits
}

#[component]
fn HitList(hits: Vec<Hit>, id: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <ol id=id class="hits">
            {hits.into_iter().map(|h| view! {
                <li data-name=h.name.clone() data-score=h.score.to_string()>
                    <img src=h.url alt=h.name.clone() loading="lazy" />
                    <span class="name">{h.name.clone()}</span>
                    <span class="score">{format!("{what} {:.3}", h.score)}</span>
                </li>
            }).collect_view()}
        </ol>
    }
}

#[component]
pub fn SearchPanel(state: AppState) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let hits = RwSignal::new(None::<Vec<Hit>>);
    let error = RwSignal::new(None::<String>);

    let search = move || {
        let q = query.get_untracked().trim().to_string();
        let items = state.embedded_with_urls();
        if q.is_empty() || items.is_empty() {
            error.set(Some("type a query, with images embedded".into()));
            return;
        }
        error.set(None);
        // Raw text, no template (as the notebook's search); lower-cased like training.
        let settings = TextSettings {
            template: None,
            lowercase: true,
        };
        state.request(
            Request::EmbedTexts {
                texts: vec![q],
                settings,
            },
            Vec::new(),
            move |r| match r {
                Reply::Done(Output::Texts { embeddings }) => {
                    let image_embeddings = items.iter().map(|x| x.3.clone()).collect();
                    let items = items.clone();
                    state.request(
                        Request::Similarity {
                            image_embeddings,
                            text_embeddings: embeddings,
                        },
                        Vec::new(),
                        move |r| match r {
                            Reply::Done(Output::Similarity { probs, .. }) => {
                                let col: Vec<f32> = probs.iter().map(|row| row[0]).collect();
                                hits.set(Some(ranked(&items, &col, None)));
                            }
                            Reply::Failed(e) => error.set(Some(e.message)),
                            _ => {}
                        },
                    );
                }
                Reply::Failed(e) => error.set(Some(e.message)),
                _ => {}
            },
        );
    };

    view! {
        <section class="panel" aria-labelledby="search-h">
            <h2 id="search-h">"Search"</h2>
            <form class="row" on:submit=move |ev| { ev.prevent_default(); search(); }>
                <label for="search-query" class="visually-hidden">"Search your images"</label>
                <input id="search-query" type="search" placeholder="describe what you look for, in any language"
                    prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev)) />
                <button id="search" type="submit" disabled=move || state.model.get().is_none()>"Search"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || hits.get().map(|h| view! { <HitList hits=h id="search-results" what="p =" /> })}
        </section>
    }
}

#[component]
pub fn SimilarPanel(state: AppState) -> impl IntoView {
    let chosen = RwSignal::new(None::<u32>);
    let hits = RwSignal::new(None::<Vec<Hit>>);
    let error = RwSignal::new(None::<String>);

    let find = move |id: u32| {
        let items = state.embedded_with_urls();
        let Some(query) = items.iter().find(|x| x.0 == id).map(|x| x.3.clone()) else {
            return;
        };
        let all = items.iter().map(|x| x.3.clone()).collect();
        state.request(
            Request::Cosine {
                queries: vec![query],
                items: all,
            },
            Vec::new(),
            move |r| match r {
                Reply::Done(Output::Cosine { values }) => {
                    hits.set(Some(ranked(&items, &values[0], Some(id))));
                }
                Reply::Failed(e) => error.set(Some(e.message)),
                _ => {}
            },
        );
    };

    view! {
        <section class="panel" aria-labelledby="similar-h">
            <h2 id="similar-h">"Similar images"</h2>
            <label>
                "Image"
                <select id="similar-to" on:change=move |ev| {
                    let id = event_target_value(&ev).parse().ok();
                    chosen.set(id);
                    if let Some(id) = id { find(id) }
                }>
                    <option value="" selected=move || chosen.get().is_none()>"choose an image"</option>
                    <For each=move || state.embedded_names() key=|x| x.0 let:x>
                        <option value=x.0.to_string() selected=move || chosen.get() == Some(x.0)>{x.1}</option>
                    </For>
                </select>
            </label>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || hits.get().map(|h| view! { <HitList hits=h id="similar-results" what="cos" /> })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_dom::{all, attr, mount, text};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn items() -> Vec<(u32, String, String, Vec<f32>)> {
        ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32 + 1, n.to_string(), format!("blob:{n}"), vec![]))
            .collect()
    }

    #[wasm_bindgen_test]
    fn ranking_sorts_high_first_and_leaves_out_the_query_image() {
        let hits = ranked(&items(), &[0.1, 0.7, -0.2, 0.7], Some(2));
        let names: Vec<&str> = hits.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["d.jpg", "a.jpg", "c.jpg"]);
        let all_hits = ranked(&items(), &[0.1, 0.7, -0.2, 0.3], None);
        assert_eq!(all_hits.len(), 4);
        assert_eq!(all_hits[0].name, "b.jpg");
    }

    #[wasm_bindgen_test]
    fn hit_list_shows_thumbnail_name_and_score() {
        let hits = ranked(&items(), &[0.25, 0.5, 0.125, 0.0], None);
        let host = mount(move || view! { <HitList hits=hits id="t-hits" what="cos" /> });
        let li = all(&host, "ol#t-hits li");
        assert_eq!(li.len(), 4);
        assert_eq!(attr(&li[0], "data-name"), "b.jpg");
        assert_eq!(text(&all(&li[0], ".score")[0]), "cos 0.500");
        let img = &all(&li[0], "img")[0];
        assert_eq!(
            (attr(img, "src"), attr(img, "alt")),
            ("blob:b.jpg".into(), "b.jpg".into())
        );
    }
}
