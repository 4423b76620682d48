//! SigLIP's scoring: logits = cos(img, txt) * exp(logit_scale) + logit_bias, and an
//! independent **sigmoid** per pair (SigLIP is trained with a sigmoid loss; a softmax over
//! labels would invent a competition between them that the model never learned).

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let n = (dot(a, a) * dot(b, b)).sqrt();
    if n == 0.0 {
        0.0
    } else {
        dot(a, b) / n
    }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub fn l2_normalized(v: &[f32]) -> Vec<f32> {
    let n = dot(v, v).sqrt();
    if n == 0.0 {
        v.to_vec()
    } else {
        v.iter().map(|x| x / n).collect()
    }
}

/// Rows = images, columns = texts; embeddings must already be L2-normalised.
pub fn logits(images: &[Vec<f32>], texts: &[Vec<f32>], scale: f32, bias: f32) -> Vec<Vec<f32>> {
    images
        .iter()
        .map(|i| texts.iter().map(|t| dot(i, t) * scale + bias).collect())
        .collect()
}

pub fn probs(logits: &[Vec<f32>]) -> Vec<Vec<f32>> {
    logits
        .iter()
        .map(|r| r.iter().map(|&l| sigmoid(l)).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_scores_are_independent_per_label() {
        let img = vec![vec![1.0, 0.0]];
        let txt = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]];
        let p = probs(&logits(&img, &txt, 10.0, -5.0));
        assert!((p[0][0] - sigmoid(5.0)).abs() < 1e-7);
        assert!((p[0][1] - sigmoid(-5.0)).abs() < 1e-7);
        // Duplicated labels get the same score; nothing sums to one.
        assert_eq!(p[0][0], p[0][2]);
        assert!(p[0].iter().sum::<f32>() > 1.0);
    }

    #[test]
    fn cosine_of_parallel_vectors_is_one() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
