//! Embedding export formats shared by the CLI and the web app: CSV and NumPy `.npy`.

/// `name,d0,d1,...` with a header row; names are quoted when they need it.
pub fn to_csv(names: &[String], rows: &[Vec<f32>]) -> String {
    let dim = rows.first().map_or(0, Vec::len);
    let mut out = String::from("name");
    for i in 0..dim {
        out.push_str(&format!(",d{i}"));
    }
    out.push('\n');
    for (name, row) in names.iter().zip(rows) {
        out.push_str(&csv_field(name));
        for v in row {
            // Shortest representation that reads back as the same f32.
            out.push_str(&format!(",{v}"));
        }
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A NumPy `.npy` (format 1.0) of `float32` with shape `(rows, dim)`, C order.
pub fn to_npy(rows: &[Vec<f32>]) -> Vec<u8> {
    let dim = rows.first().map_or(0, Vec::len);
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {dim}), }}",
        rows.len()
    );
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + rows.len() * dim * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for row in rows {
        for v in row {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_data_follows() {
        let rows = vec![vec![1.0f32, -2.5, 3.25], vec![0.0, 1e-8, f32::MAX]];
        let b = to_npy(&rows);
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
        assert!(
            header.contains("'shape': (2, 3)") && header.ends_with('\n'),
            "{header}"
        );
        let data: Vec<f32> = b[10 + hlen..]
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(data, rows.concat());
    }

    #[test]
    fn csv_quotes_awkward_names_and_roundtrips_values() {
        let rows = vec![vec![0.1f32, -0.2], vec![1.0 / 3.0, 7.0]];
        let names = vec!["a,b \"c\".jpg".to_string(), "plain.png".to_string()];
        let csv = to_csv(&names, &rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "name,d0,d1");
        assert!(lines[1].starts_with("\"a,b \"\"c\"\".jpg\","));
        let back: Vec<f32> = lines[2]
            .split(',')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(back, rows[1]);
    }
}
