//! K-means clusters of the embedded images (computed in the worker), a gallery per cluster,
//! with the suggested k (best silhouette) shown.

use leptos::prelude::*;
use siglens_protocol::{Output, Request};

use super::client::Reply;
use super::state::AppState;

#[derive(Clone, Debug, PartialEq)]
struct Result {
    k: usize,
    suggested: usize,
    silhouettes: Vec<(usize, f64)>,
    /// Per cluster: (name, thumbnail URL).
    groups: Vec<Vec<(String, String)>>,
}

#[component]
pub fn ClustersPanel(state: AppState) -> impl IntoView {
    // Empty: use the suggested k.
    let k_text = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result>);
    let error = RwSignal::new(None::<String>);
    let running = RwSignal::new(false);

    let run = move || {
        let embedded = state.embedded_with_urls();
        let k = k_text
            .get_untracked()
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&k| k > 0);
        error.set(None);
        running.set(true);
        let ids: Vec<u32> = embedded.iter().map(|x| x.0).collect();
        let meta: Vec<(String, String)> = embedded
            .iter()
            .map(|(_, name, url, _)| (name.clone(), url.clone()))
            .collect();
        let embeddings = embedded.into_iter().map(|(_, _, _, e)| e).collect();
        state.request(
            Request::Cluster { embeddings, k },
            Vec::new(),
            move |r| match r {
                Reply::Done(Output::Clusters {
                    k,
                    labels,
                    suggested_k,
                    silhouette_by_k,
                }) => {
                    running.set(false);
                    state
                        .cluster_of
                        .set(ids.iter().copied().zip(labels.iter().copied()).collect());
                    let mut groups = vec![Vec::new(); k];
                    for (m, &l) in meta.iter().zip(&labels) {
                        groups[l].push(m.clone());
                    }
                    result.set(Some(Result {
                        k,
                        suggested: suggested_k,
                        silhouettes: silhouette_by_k,
                        groups,
                    }));
                }
                Reply::Failed(e) => {
                    running.set(false);
                    error.set(Some(e.message));
                }
                _ => {}
            },
        );
    };

    view! {
        <section class="panel" aria-labelledby="clusters-h">
            <h2 id="clusters-h">"Clusters"</h2>
            <form class="row" on:submit=move |ev| { ev.prevent_default(); run(); }>
                <label for="cluster-k">"Number of clusters (empty: suggested)"</label>
                <input id="cluster-k" type="number" min="1" max="50" style="width: 6rem"
                    prop:value=move || k_text.get() on:input=move |ev| k_text.set(event_target_value(&ev)) />
                <button id="cluster" type="submit" disabled=move || running.get() || state.model.get().is_none()>
                    "Cluster"
                </button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || result.get().map(|r| view! {
                <p id="cluster-summary" class="muted" data-k=r.k.to_string() data-suggested=r.suggested.to_string()>
                    {format!(
                        "{} clusters. Suggested k = {} (highest mean silhouette: {}).",
                        r.k, r.suggested,
                        r.silhouettes.iter().map(|(k, s)| format!("k={k}: {s:.3}")).collect::<Vec<_>>().join(", "),
                    )}
                </p>
                <div id="clusters" class="clusters">
                    {r.groups.into_iter().enumerate().map(|(i, g)| {
                        let size = g.len();
                        view! {
                        <figure class="cluster" data-cluster=i.to_string() data-size=size.to_string()>
                            <figcaption>{format!("Cluster {} ({} images)", i + 1, size)}</figcaption>
                            <ul class="gallery">
                                {g.into_iter().map(|(name, url)| view! {
                                    <li class="thumb" data-name=name.clone()>
                                        <img src=url alt=name.clone() loading="lazy" />
                                        <span class="name">{name.clone()}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        </figure>
                    }}).collect_view()}
                </div>
            })}
        </section>
    }
}
