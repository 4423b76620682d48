//! "How fast is this device?": times the loaded model in the worker on random inputs
//! (the engine's `bench`, the same one `siglens bench` and `cargo xtask bench` use).

use leptos::prelude::*;
use siglens_protocol::{BenchTiming, Output, Request};

use super::client::Reply;
use super::state::AppState;

/// Batch sizes typed as "1, 8": positive integers only.
pub fn parse_batches(s: &str) -> Result<Vec<usize>, String> {
    let v: Vec<usize> = s
        .split([',', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<usize>()
                .ok()
                .filter(|&b| b > 0)
                .ok_or(format!("{t:?} is not a batch size"))
        })
        .collect::<Result<_, _>>()?;
    if v.is_empty() {
        return Err("give at least one batch size".into());
    }
    Ok(v)
}

#[derive(Clone, Debug, PartialEq)]
struct Row {
    kind: &'static str,
    t: BenchTiming,
}

#[component]
pub fn SpeedTest(state: AppState) -> impl IntoView {
    let batches = RwSignal::new("1, 8".to_string());
    let labels = RwSignal::new(10usize);
    let runs = RwSignal::new(5usize);
    let running = RwSignal::new(false);
    let rows = RwSignal::new(Vec::<Row>::new());
    let error = RwSignal::new(None::<String>);

    let measure = move || {
        let image_batches = match parse_batches(&batches.get_untracked()) {
            Ok(b) => b,
            Err(e) => return error.set(Some(e)),
        };
        error.set(None);
        rows.set(Vec::new());
        running.set(true);
        state.request(
            Request::Bench {
                image_batches,
                texts: labels.get_untracked(),
                warmup: 1,
                runs: runs.get_untracked(),
            },
            Vec::new(),
            move |r| match r {
                Reply::Done(Output::Bench { images, texts, .. }) => {
                    running.set(false);
                    let mut v: Vec<Row> = images
                        .into_iter()
                        .map(|t| Row { kind: "images", t })
                        .collect();
                    v.extend(texts.map(|t| Row { kind: "labels", t }));
                    rows.set(v);
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
        <details class="speed">
            <summary>"Speed test on this device"</summary>
            <p class="muted">"Times the loaded model on random inputs, in the engine worker (one core). Nothing leaves the device."</p>
            <div class="row">
                <label>"Image batches "
                    <input id="bench-batches" type="text" size="8" prop:value=batches
                        on:input=move |e| batches.set(event_target_value(&e))/>
                </label>
                <label>"Labels "
                    <input id="bench-labels" type="number" min="0" max="64" prop:value=move || labels.get().to_string()
                        on:input=move |e| labels.set(event_target_value(&e).parse().unwrap_or(0))/>
                </label>
                <label>"Runs "
                    <input id="bench-runs" type="number" min="1" max="49" prop:value=move || runs.get().to_string()
                        on:input=move |e| runs.set(event_target_value(&e).parse().unwrap_or(1))/>
                </label>
                <button id="bench-run" disabled=move || running.get() || state.model.get().is_none()
                    on:click=move |_| measure()>
                    {move || if running.get() { "Measuring…" } else { "Measure" }}
                </button>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <table id="bench-result" class="bench" hidden=move || rows.get().is_empty()>
                <thead><tr><th>"input"</th><th>"per call (median)"</th><th>"per item"</th><th>"items/s"</th></tr></thead>
                <tbody>
                    <For each=move || rows.get() key=|r| (r.kind, r.t.n) let:r>
                        <tr data-kind=r.kind data-n=r.t.n.to_string() data-median-s=r.t.median_s.to_string()
                            data-min-s=r.t.min_s.to_string()>
                            <td>{format!("{} x {}", r.t.n, r.kind)}</td>
                            <td>{format!("{:.0} ms", r.t.median_s * 1e3)}</td>
                            <td>{format!("{:.0} ms", r.t.median_s * 1e3 / r.t.n as f64)}</td>
                            <td>{format!("{:.2}", r.t.per_s)}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_batches;
    use wasm_bindgen_test::*;

    #[wasm_bindgen_test]
    fn batch_sizes_parse_or_say_why() {
        assert_eq!(parse_batches("1, 8 32"), Ok(vec![1, 8, 32]));
        assert!(parse_batches("0").is_err());
        assert!(parse_batches("eight").unwrap_err().contains("eight"));
        assert!(parse_batches(" ").is_err());
    }
}
