//! Zero-shot classification: labels and template in, sigmoid scores out, as sorted bars
//! per image and as the images x labels matrix with the value in each cell.

use leptos::prelude::*;
use siglens_protocol::{Output, Request, TextSettings};

use super::client::Reply;
use super::score_views::{ScoreBars, ScoreMatrix, ScoreTable};
use super::state::AppState;

const DEFAULT_LABELS: &str = "cat\ndog\ncoffee\nrocket\nastronaut";

/// One label per non-blank line, trimmed.
pub(crate) fn parse_labels(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[component]
pub fn ClassifyPanel(state: AppState) -> impl IntoView {
    let labels = RwSignal::new(DEFAULT_LABELS.to_string());
    let new_label = RwSignal::new(String::new());
    let template = RwSignal::new(TextSettings::default().template.unwrap_or_default());
    let lowercase = RwSignal::new(true);
    let threshold = RwSignal::new(0.5f32);
    let table = RwSignal::new(None::<ScoreTable>);
    let error = RwSignal::new(None::<String>);
    let running = RwSignal::new(false);

    let classify = move || {
        let images = state.embedded();
        let labels = parse_labels(&labels.get_untracked());
        if images.is_empty() {
            error.set(Some("add images (and load a model) first".into()));
            return;
        }
        if labels.is_empty() {
            error.set(Some("type at least one label".into()));
            return;
        }
        error.set(None);
        running.set(true);
        let settings = TextSettings {
            template: Some(template.get_untracked()),
            lowercase: lowercase.get_untracked(),
        };
        let ids: Vec<(u32, String)> = images.iter().map(|(i, n, _)| (*i, n.clone())).collect();
        let image_embeddings = images.into_iter().map(|(_, _, e)| e).collect();
        state.request(
            Request::Classify {
                image_embeddings,
                labels,
                settings,
            },
            Vec::new(),
            move |r| match r {
                Reply::Done(Output::Scores { labels, probs }) => {
                    running.set(false);
                    table.set(Some(ScoreTable {
                        images: ids.clone(),
                        labels,
                        probs,
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
        <section class="panel" aria-labelledby="classify-h">
            <h2 id="classify-h">"Classify"</h2>
            <div class="grid2">
                <div>
                    <label>
                        "Labels, one per line (paste a list here)"
                        <textarea id="labels" rows="6" prop:value=move || labels.get()
                            on:input=move |ev| labels.set(event_target_value(&ev))></textarea>
                    </label>
                    <form class="row" on:submit=move |ev| {
                        ev.prevent_default();
                        let l = new_label.get_untracked().trim().to_string();
                        if !l.is_empty() {
                            labels.update(|t| {
                                if !t.is_empty() && !t.ends_with('\n') { t.push('\n'); }
                                t.push_str(&l);
                            });
                            new_label.set(String::new());
                        }
                    }>
                        <label for="new-label" class="visually-hidden">"New label"</label>
                        <input id="new-label" type="text" placeholder="add a label"
                            prop:value=move || new_label.get() on:input=move |ev| new_label.set(event_target_value(&ev)) />
                        <button id="add-label" type="submit">"Add"</button>
                    </form>
                    <ul id="label-chips" class="chips" aria-label="labels">
                        {move || parse_labels(&labels.get()).into_iter().enumerate().map(|(i, l)| view! {
                            <li>
                                <span>{l.clone()}</span>
                                <button type="button" aria-label=format!("remove label {l}") on:click=move |_| {
                                    labels.update(|t| {
                                        let mut v = parse_labels(t);
                                        if i < v.len() { v.remove(i); }
                                        *t = v.join("\n");
                                    })
                                }>"×"</button>
                            </li>
                        }).collect_view()}
                    </ul>
                </div>
                <div>
                    <label>
                        "Prompt template (" <code>"{}"</code> " is the label)"
                        <input id="template" type="text" prop:value=move || template.get()
                            on:input=move |ev| template.set(event_target_value(&ev)) />
                    </label>
                    <label class="inline">
                        <input id="lowercase" type="checkbox" prop:checked=move || lowercase.get()
                            on:change=move |ev| lowercase.set(event_target_checked(&ev)) />
                        "lower-case texts (SigLIP 2 was trained on lower-cased text)"
                    </label>
                    <label>
                        {move || format!("Threshold for a match: {:.2}", threshold.get())}
                        <input id="threshold" type="range" min="0" max="1" step="0.01"
                            prop:value=move || threshold.get().to_string()
                            on:input=move |ev| threshold.set(event_target_value(&ev).parse().unwrap_or(0.5)) />
                    </label>
                    <div class="row">
                        <button id="classify" on:click=move |_| classify()
                            disabled=move || running.get() || state.model.get().is_none()>"Classify"</button>
                    </div>
                </div>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || table.get().map(|t| {
                let th = threshold.get();
                view! {
                    <p class="muted">
                        "Scores are independent sigmoid probabilities (SigLIP), not a softmax: "
                        "several labels can match one image, or none."
                    </p>
                    <div id="results" class="results">
                        {t.images.iter().zip(&t.probs).map(|((_, name), probs)| view! {
                            <ScoreBars name=name.clone() labels=t.labels.clone() probs=probs.clone() threshold=th />
                        }).collect_view()}
                    </div>
                    <h3>"Image × label matrix"</h3>
                    <ScoreMatrix table=t />
                }
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_labels;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn labels_are_lines_trimmed_without_blanks() {
        assert_eq!(
            parse_labels("  cat \n\n\t\ndog\r\na red car"),
            ["cat", "dog", "a red car"]
        );
        assert!(parse_labels(" \n \n").is_empty());
    }
}
