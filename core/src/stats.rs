//! Summary statistics shared by every family and the runner: the mean of a sample and its
//! 95 % confidence half-width from Student's t.
//!
//! One formula everywhere, so an interval printed by an algorithm's evaluation, by
//! `autodidact compare` and in a published table mean the same thing. Student's t rather than
//! the normal 1.96 because the usual samples are small (five seeds: t = 2.776, 42 % wider).

/// Two-sided 95 % quantiles of Student's t for 1 ..= 30 degrees of freedom (to 8 digits).
const T_975: [f64; 30] = [
    12.706_204_74,
    4.302_652_73,
    3.182_446_31,
    2.776_445_11,
    2.570_581_84,
    2.446_911_85,
    2.364_624_25,
    2.306_004_14,
    2.262_157_16,
    2.228_138_85,
    2.200_985_16,
    2.178_812_83,
    2.160_368_66,
    2.144_786_69,
    2.131_449_55,
    2.119_905_30,
    2.109_815_58,
    2.100_922_04,
    2.093_024_05,
    2.085_963_45,
    2.079_613_84,
    2.073_873_07,
    2.068_657_61,
    2.063_898_56,
    2.059_538_55,
    2.055_529_44,
    2.051_830_52,
    2.048_407_14,
    2.045_229_64,
    2.042_272_46,
];

/// The 97.5 % quantile of the standard normal distribution.
const Z_975: f64 = 1.959_963_984_540_054;

/// The two-sided 95 % quantile of Student's t with `df` degrees of freedom (`t(0.975, df)`);
/// infinite for `df = 0`.
pub fn t_975(df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T_975[df - 1],
        _ => {
            // Cornish–Fisher expansion around the normal quantile: below 1e-5 off from 31 on.
            let z = Z_975;
            let v = df as f64;
            z + (z.powi(3) + z) / (4.0 * v)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
                + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z)
                    / (384.0 * v.powi(3))
        }
    }
}

/// The mean of `xs` and the half-width of its 95 % confidence interval,
/// `t(0.975, n−1) · s / √n` with `s` the sample standard deviation.
///
/// With no value both are NaN. With one value the mean is that value and the half-width is
/// 0: a single sample has no spread to estimate, and 0 keeps the metric finite (the runner
/// stops a run on a non-finite metric); callers that must tell "one value" apart, like
/// `autodidact compare`, check the count.
pub fn mean_ci95(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, t_975(n - 1) * (var / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn small_sample_quantiles() {
        // Published tables: t(0.975; 1) = 12.706, (2) = 4.303, (4) = 2.776, (9) = 2.262,
        // (30) = 2.042; then 2.021 (40), 1.980 (120), towards 1.960.
        near(t_975(1), 12.706, 5e-4);
        near(t_975(2), 4.303, 5e-4);
        near(t_975(4), 2.776, 5e-4);
        near(t_975(9), 2.262, 5e-4);
        near(t_975(30), 2.042, 5e-4);
        near(t_975(31), 2.039_513_4, 1e-5);
        near(t_975(40), 2.021_075_4, 1e-5);
        near(t_975(120), 1.979_930_4, 1e-5);
        near(t_975(1_000_000), Z_975, 1e-5);
        assert_eq!(t_975(0), f64::INFINITY);
        // Decreasing in the degrees of freedom, across the table's end too.
        assert!((1..200).all(|d| t_975(d + 1) < t_975(d)));
    }

    #[test]
    fn intervals_by_hand() {
        // 1, 2, 3: mean 2, s = 1, half-width t(2) / √3 = 4.30265 / 1.73205 = 2.48414.
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        near(h, 2.484_138, 1e-6);
        // 1 … 5: mean 3, s = √2.5, half-width 2.77645 · √2.5 / √5 = 2.77645 / √2 = 1.96324.
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(m, 3.0);
        near(h, 1.963_243, 1e-6);
        // 0, 1, 0, 1: mean 0.5, s = √(1/3), half-width 3.18245 · 0.57735 / 2 = 0.918693.
        let (m, h) = mean_ci95(&[0.0, 1.0, 0.0, 1.0]);
        assert_eq!(m, 0.5);
        near(h, 0.918_693, 1e-6);
        // Equal values: no spread.
        assert_eq!(mean_ci95(&[0.25; 7]), (0.25, 0.0));
    }

    #[test]
    fn empty_and_single_samples() {
        let (m, h) = mean_ci95(&[]);
        assert!(m.is_nan() && h.is_nan());
        assert_eq!(mean_ci95(&[0.7]), (0.7, 0.0));
    }
}
