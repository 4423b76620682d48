//! How classification scores are drawn: sorted bars per image and the images x labels
//! heatmap with the value in each cell. Plain props, no app state, so they are tested alone.

use leptos::prelude::*;

/// Sigmoid probabilities of one classification run.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreTable {
    /// (image id, file name), in gallery order.
    pub images: Vec<(u32, String)>,
    pub labels: Vec<String>,
    /// rows = images, columns = labels.
    pub probs: Vec<Vec<f32>>,
}

/// Heatmap colour for a probability: transparent at 0, the accent colour at 1.
pub fn cell_style(p: f32) -> String {
    format!(
        "background: rgba(37, 99, 235, {:.3})",
        p.clamp(0.0, 1.0) * 0.85
    )
}

/// Label indices, highest probability first.
fn order_by_score(probs: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    order
}

/// One image's scores as horizontal bars, highest first; bars at or over `threshold` are
/// marked as matches (sigmoid scores are independent, so several or none can match).
#[component]
pub fn ScoreBars(
    name: String,
    labels: Vec<String>,
    probs: Vec<f32>,
    threshold: f32,
) -> impl IntoView {
    let order = order_by_score(&probs);
    view! {
        <figure class="scores" data-image=name.clone()>
            <figcaption>{name.clone()}</figcaption>
            <svg role="img" aria-label=format!("scores for {name}")
                viewBox=format!("0 0 300 {}", 18 * order.len()) width="100%">
                {order.iter().enumerate().map(|(row, &j)| {
                    let p = probs[j];
                    let y = row * 18;
                    let cls = if p >= threshold { "bar match" } else { "bar" };
                    view! {
                        <g class=cls data-label=labels[j].clone() data-score=p.to_string()>
                            <text x="0" y=y + 13 class="bar-label">{labels[j].clone()}</text>
                            <rect x="110" y=y + 3 height="12" width=format!("{:.1}", 150.0 * p.clamp(0.0, 1.0)) />
                            <text x="265" y=y + 13>{format!("{p:.3}")}</text>
                        </g>
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}

/// The images x labels table, as in the notebook: the value in each cell, shaded by it.
#[component]
pub fn ScoreMatrix(table: ScoreTable) -> impl IntoView {
    let t = table;
    view! {
        <div class="matrix-wrap">
            <table id="matrix" class="matrix">
                <thead><tr><th scope="col">"image"</th>
                    {t.labels.iter().map(|l| view! { <th scope="col">{l.clone()}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {t.images.iter().zip(&t.probs).map(|((_, name), row)| view! {
                        <tr><th scope="row">{name.clone()}</th>
                            {row.iter().map(|&p| view! {
                                <td style=cell_style(p) data-prob=p.to_string()>{format!("{p:.3}")}</td>
                            }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_dom::{all, attr, mount, text};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn alpha(style: &str) -> f32 {
        let inner = style.rsplit(',').next().unwrap_or_default();
        inner
            .trim_end_matches(')')
            .trim()
            .parse()
            .unwrap_or(f32::NAN)
    }

    #[wasm_bindgen_test]
    fn bars_are_sorted_and_marked_at_the_threshold() {
        let labels: Vec<String> = ["cat", "dog", "car", "sky"].map(String::from).into();
        let probs = vec![0.2, 0.9, 0.5, 0.0001];
        let host = mount(move || {
            view! {
                <ScoreBars name="a.jpg".to_string() labels=labels probs=probs threshold=0.5 />
            }
        });
        let bars = all(&host, "g.bar");
        let order: Vec<String> = bars.iter().map(|g| attr(g, "data-label")).collect();
        assert_eq!(order, ["dog", "car", "cat", "sky"]);
        let matches: Vec<String> = all(&host, "g.match")
            .iter()
            .map(|g| attr(g, "data-label"))
            .collect();
        assert_eq!(
            matches,
            ["dog", "car"],
            "p >= threshold is a match, also exactly at it"
        );
        assert_eq!(text(&bars[0]), "dog0.900");
        assert_eq!(text(&bars[3]), "sky0.000");
        let widths: Vec<String> = all(&host, "g.bar rect")
            .iter()
            .map(|r| attr(r, "width"))
            .collect();
        assert_eq!(widths, ["135.0", "75.0", "30.0", "0.0"]);
        assert_eq!(
            attr(&all(&host, "svg")[0], "aria-label"),
            "scores for a.jpg"
        );
    }

    #[wasm_bindgen_test]
    fn matrix_shows_every_value_shaded_by_it() {
        let table = ScoreTable {
            images: vec![(1, "a.jpg".into()), (2, "b.png".into())],
            labels: vec!["cat".into(), "dog".into(), "car".into()],
            probs: vec![vec![0.9, 0.1, 0.5], vec![0.0, 1.0, 0.25]],
        };
        let host = mount(move || view! { <ScoreMatrix table=table /> });
        let heads: Vec<String> = all(&host, "thead th").iter().map(text).collect();
        assert_eq!(heads, ["image", "cat", "dog", "car"]);
        let rows: Vec<String> = all(&host, "tbody th").iter().map(text).collect();
        assert_eq!(rows, ["a.jpg", "b.png"]);
        let cells = all(&host, "tbody td");
        let values: Vec<String> = cells.iter().map(text).collect();
        assert_eq!(
            values,
            ["0.900", "0.100", "0.500", "0.000", "1.000", "0.250"]
        );
        let shades: Vec<f32> = cells.iter().map(|c| alpha(&attr(c, "style"))).collect();
        assert_eq!(shades[3], 0.0);
        assert!((shades[4] - 0.85).abs() < 1e-6);
        assert!(shades[0] > shades[2] && shades[2] > shades[5] && shades[5] > shades[1]);
    }

    #[wasm_bindgen_test]
    fn shading_is_clamped() {
        assert_eq!(alpha(&cell_style(-3.0)), 0.0);
        assert_eq!(alpha(&cell_style(7.0)), 0.85);
        assert!(cell_style(f32::NAN).starts_with("background: rgba(37, 99, 235,"));
    }
}
